"""Neutral replies -> Telegram HTML messages with inline keyboards.

Every user-provided parameter is HTML-escaped (the catalog templates are trusted
markup); texts longer than Telegram's 4096 characters are split at line
boundaries, keeping HTML tags balanced in every part. Choice values travel as
callback data with a short prefix; values that do not fit Telegram's 64 bytes are
replaced by a stable token, remembered (and optionally kept in the ``LinkStore``)
so that the button still works.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.choice_codec import ChoiceCodec
from bot.i18n import Translator
from bot.ports import LinkStore
from bot.reply import Choice, Reply

CHANNEL = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64
# Callback-data prefixes: short, stable, never renamed (old buttons must keep working).
AGENT_PREFIX = "a:"

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")


def escape(value: str) -> str:
    """HTML-escape user text for Telegram's HTML parse mode."""
    return html.escape(value, quote=False)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One reply as Telegram messages: the keyboard goes with the last part."""

    parts: tuple[str, ...]
    markup: InlineKeyboardMarkup | None = None


class CallbackCodec(ChoiceCodec):
    """Choice values <-> callback data (at most 64 bytes)."""

    def __init__(self, links: LinkStore | None = None) -> None:
        super().__init__(CHANNEL, links)

    def fits(self, data: str) -> bool:
        return len(data.encode()) <= CALLBACK_LIMIT


class Renderer:
    """Renders replies in one language with one translator and callback codec."""

    def __init__(self, translator: Translator, codec: CallbackCodec | None = None) -> None:
        self.translator = translator
        self.codec = codec or CallbackCodec()

    def text(self, key: str, lang: str, params: dict[str, object] | None = None) -> str:
        return self.translator.text(key, lang, params, escape)

    def label(self, key: str, lang: str, params: dict[str, object] | None = None) -> str:
        """Button labels are plain text: no markup, so nothing to escape."""
        return self.translator.text(key, lang, params)

    def keyboard(self, choices: Sequence[Choice], lang: str) -> InlineKeyboardMarkup | None:
        if not choices:
            return None
        return _markup(
            tuple(
                (self.translator.choice(choice, lang), self.codec.encode(choice.value))
                for choice in choices
            )
        )

    def reply(self, reply: Reply, lang: str) -> Rendered:
        text = self.translator.reply(reply, lang, escape)
        return Rendered(tuple(split_text(text)), self.keyboard(reply.choices, lang))

    def replies(self, replies: Iterable[Reply], lang: str) -> list[Rendered]:
        """Consecutive replies without choices are joined into as few messages as fit."""
        out: list[Rendered] = []
        pending: list[str] = []
        previous = ""
        for reply in replies:
            text = self.translator.reply(reply, lang, escape)
            # Lines of one list (same key) stay together; different messages get a gap.
            if pending and previous == reply.key:
                pending[-1] += "\n" + text
            else:
                pending.append(text)
            previous = reply.key
            if reply.choices:
                joined = "\n\n".join(pending)
                out.append(Rendered(tuple(split_text(joined)), self.keyboard(reply.choices, lang)))
                pending, previous = [], ""
        if pending:
            out.append(Rendered(tuple(split_text("\n\n".join(pending)))))
        return out


@functools.lru_cache(maxsize=1024)
def _markup(buttons: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup:
    """A keyboard of one button a row, (label, callback data) each. Most keyboards are
    the same few menus in four languages: each is built once (aiogram's models cost
    more to build than the rest of a reply) and shared, as nothing changes a sent one."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data)] for text, data in buttons
        ]
    )


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` characters, at line boundaries when
    possible; HTML tags open at a cut are closed and reopened in the next part."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    open_tags: list[tuple[str, str]] = []  # (name, the full opening tag)
    rest = text
    while rest:
        prefix = "".join(tag for _, tag in open_tags)
        if len(prefix) + len(rest) <= limit:
            parts.append(prefix + rest)
            break
        budget = limit - len(prefix)
        while True:
            cut = _cut_point(rest, budget)
            chunk = rest[:cut]
            still_open = _open_after(open_tags, chunk)
            closing = "".join(f"</{name}>" for name, _ in reversed(still_open))
            part = prefix + chunk.rstrip("\n") + closing
            if len(part) <= limit or budget <= 1:
                break
            budget -= len(part) - limit
        parts.append(part)
        rest, open_tags = rest[cut:], still_open
    return [p for p in parts if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    """Where to cut: after the last newline within budget, else at a space, else hard —
    never inside a tag or an entity."""
    window = text[:budget]
    for sep in ("\n", " "):
        at = window.rfind(sep)
        if at > budget // 4:
            return at + 1
    cut = budget
    # Do not split a tag ("<b ...>") or an entity ("&amp;").
    lt, gt = window.rfind("<"), window.rfind(">")
    if lt > gt:
        cut = lt
    amp, semi = window.rfind("&"), window.rfind(";")
    if amp > semi and budget - amp < 10:
        cut = min(cut, amp)
    return max(cut, 1)


def _open_after(open_tags: list[tuple[str, str]], chunk: str) -> list[tuple[str, str]]:
    stack = list(open_tags)
    for match in _TAG.finditer(chunk):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        else:
            stack.append((name, match.group(0)))
    return stack
