"""Write a gettext catalog from a {key: text} dict (used to maintain bot/locales)."""

from __future__ import annotations

import sys
from pathlib import Path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_po(path: Path, lang: str, messages: dict[str, str]) -> None:
    lines = [
        'msgid ""',
        'msgstr ""',
        '"Project-Id-Version: supportbot\\n"',
        f'"Language: {lang}\\n"',
        '"MIME-Version: 1.0\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        "",
    ]
    for key, text in messages.items():
        lines += [f"msgid {_quote(key)}", f"msgstr {_quote(text)}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit("import write_po from this module")
