"""Plain-text rendering of neutral replies for the terminal: choices are numbered."""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import Translator
from bot.reply import Choice, Reply


def _plain(text: str) -> str:
    # Terminal output has no markup; only control characters could hurt it.
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in text)


def render(
    translator: Translator, replies: Iterable[Reply], lang: str
) -> tuple[list[str], list[tuple[str, str]]]:
    """Lines to print, and the (value, label) choices of the last reply that had any."""
    lines: list[str] = []
    choices: list[tuple[str, str]] = []
    for reply in replies:
        lines.append(translator.reply(reply, lang, _plain))
        if reply.choices:
            choices = [(c.value, translator.choice(c, lang, _plain)) for c in reply.choices]
            lines.extend(f"  {i}) {label}" for i, (_, label) in enumerate(choices, 1))
    return lines, choices


def choice_labels(translator: Translator, choices: Iterable[Choice], lang: str) -> list[str]:
    return [translator.choice(c, lang, _plain) for c in choices]
