"""Every message exists in every language, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.i18n import LANGUAGES, Translator, pick_language, read_catalogs
from bot.policy import load_policy
from bot.reply import Reply, Text
from bot.ticket import DeclineReason, Priority, Status

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Literal keys in the code: "prefix.name" strings under the message families.
KEY_LITERAL = re.compile(
    r"[\"']((?:desk|notice|team|view|choice|error|community|console|intake|files|followup|sla|"
    r"weekday|telegram|tg|quote|training|discord|help|rating|find|transcript|incident|stats|cli)"
    r"\.[a-z0-9_.]+)[\"']"
)
CATALOGS = read_catalogs()


def _code_keys() -> set[str]:
    keys: set[str] = set()
    for folder in ("bot", "conversations", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            keys.update(KEY_LITERAL.findall(path.read_text(encoding="utf-8")))
    keys.discard("desk.example.toml")
    return keys


def test_all_languages_are_present() -> None:
    assert set(LANGUAGES) <= set(CATALOGS)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_english_key_is_translated_with_the_same_placeholders(lang: str) -> None:
    english, other = CATALOGS["en"], CATALOGS[lang]
    missing = sorted(set(english) - set(other))
    assert missing == []
    wrong = [
        key
        for key, text in english.items()
        if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(other[key]))
    ]
    assert wrong == []


def test_every_key_the_code_uses_exists_in_english() -> None:
    missing = sorted(k for k in _code_keys() if k not in CATALOGS["en"])
    assert missing == []


def test_enum_families_are_complete() -> None:
    english = CATALOGS["en"]
    needed = (
        [f"status.{s.value}" for s in Status]
        + [f"priority.{p.name.lower()}" for p in Priority]
        + [f"decline.{r.value}" for r in DeclineReason]
        + [f"language.{lang}" for lang in LANGUAGES]
    )
    assert [k for k in needed if k not in english] == []


def test_policy_labels_overlay_catalogs_with_fallback_to_english() -> None:
    translator = Translator(CATALOGS, load_policy().labels())
    assert translator.text("department.sales", "cs") == "Obchodní oddělení"
    assert translator.text("plan.premium", "ru") == "Премиум"
    nested = Reply(
        "notice.status", {"number": 7, "title": "X", "status": Text("status.waiting"), "text": ""}
    )
    assert "Čeká na reakci klienta" in translator.reply(nested, "cs")


def test_user_text_is_escaped_but_templates_are_not() -> None:
    translator = Translator({"en": {"k": "<b>{who}</b> said {text}"}})
    out = translator.text(
        "k", "en", {"who": "<i>x</i>", "text": "a & b"}, escape=lambda s: s.upper()
    )
    assert out == "<b><I>X</I></b> said A & B"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("cs-CZ", "cs"), ("pl", "pl"), ("ru_RU", "ru"), ("de", "en"), (None, "en"), ("", "en")],
)
def test_platform_locale_maps_to_a_supported_language(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def _write_po(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'msgid ""\nmsgstr ""\n\nmsgid "desk.hello"\nmsgstr "{text}"\n', "utf-8")


def test_catalogs_read_once_are_read_again_when_a_file_changes(tmp_path: Path) -> None:
    po = tmp_path / "en" / "desk.po"
    _write_po(po, "Hello")
    (tmp_path / "cs").mkdir()  # a language with no messages yet is still one
    assert read_catalogs(tmp_path) == {"cs": {}, "en": {"desk.hello": "Hello"}}
    assert read_catalogs(tmp_path) == {"cs": {}, "en": {"desk.hello": "Hello"}}

    _write_po(po, "Hello again")
    assert read_catalogs(tmp_path)["en"] == {"desk.hello": "Hello again"}
    _write_po(tmp_path / "cs" / "desk.po", "Ahoj")
    assert read_catalogs(tmp_path)["cs"] == {"desk.hello": "Ahoj"}
