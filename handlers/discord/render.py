"""Neutral replies -> Discord messages: markdown text, buttons, select menus, modals.

User-provided parameters are escaped for Discord's markdown and mentions (the catalog
templates are trusted); texts longer than Discord's 2,000 characters are split at line
boundaries. A choice is a button (a select menu when there are more than five, as a
category list is), its value travelling as the component's custom id with a short
prefix; a value over Discord's 100 characters is replaced by a stable token kept in
the ``LinkStore``. A reply that offers a form (``Reply.form``) gets a button that
opens it as a modal.

Components are built as discord.py ``View`` objects that are stopped before sending:
presses are read by custom id in the channel's interaction handler, statelessly, so
they keep working after a restart and in any worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import discord

from bot.choice_codec import ChoiceCodec
from bot.i18n import Translator
from bot.ports import LinkStore
from bot.reply import Choice, Form, Reply

CHANNEL = "discord"
TEXT_LIMIT = 2000
EMBED_LIMIT = 4096
CUSTOM_ID_LIMIT = 100
BUTTONS_PER_ROW = 5
SELECT_LIMIT = 25
# Custom-id prefixes: short, stable, never renamed (old buttons must keep working).
SELECT_ID = "s:"
AGENT_PREFIX = "a:"
FORM_PREFIX = "f:"
# The keys of a list's page buttons (``bot.views.page_footer``).
PAGE_KEYS = frozenset({"choice.page_previous", "choice.page_next"})


def escape(value: str) -> str:
    """User text as Discord shows it literally: no markdown, no pings."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(value))


@dataclass(frozen=True, slots=True)
class Rendered:
    """One reply as Discord messages: the components go with the last part."""

    parts: tuple[str, ...]
    view: discord.ui.View | None = None


def static_view(*items: discord.ui.Item[discord.ui.View]) -> discord.ui.View:
    """Components to send, stopped: discord.py keeps no callback for them (a press is
    read by its custom id in the interaction handler)."""
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


class CustomIdCodec(ChoiceCodec):
    """Choice values <-> custom ids (at most 100 characters)."""

    def __init__(self, links: LinkStore | None = None) -> None:
        super().__init__(CHANNEL, links)

    def fits(self, data: str) -> bool:
        return len(data) <= CUSTOM_ID_LIMIT


class Renderer:
    """Renders replies in one language with one translator and custom-id codec."""

    def __init__(self, translator: Translator, codec: CustomIdCodec | None = None) -> None:
        self.translator = translator
        self.codec = codec or CustomIdCodec()

    def text(self, key: str, lang: str, params: dict[str, object] | None = None) -> str:
        return self.translator.text(key, lang, params, escape)

    def label(self, key: str, lang: str, params: dict[str, object] | None = None) -> str:
        """Labels (buttons, modal fields) are plain text: nothing to escape."""
        return self.translator.text(key, lang, params)[:80]

    def view(
        self, choices: Sequence[Choice], lang: str, form: Form | None = None
    ) -> discord.ui.View | None:
        """Buttons for the choices (a select menu for more than five), and a button that
        opens ``form``."""
        items: list[discord.ui.Item[discord.ui.View]] = []
        if form is not None:
            items.append(
                discord.ui.Button(
                    label=self.label(form.key, lang),
                    style=discord.ButtonStyle.primary,
                    custom_id=FORM_PREFIX + form.name,
                    row=0,
                )
            )
        # A list's Previous / Next stay buttons under it, whatever else it offers.
        paging = [c for c in choices if c.key in PAGE_KEYS]
        rest = [c for c in choices if c.key not in PAGE_KEYS]
        if len(rest) > BUTTONS_PER_ROW:
            items.append(
                discord.ui.Select(
                    custom_id=SELECT_ID,
                    options=[
                        discord.SelectOption(
                            label=self.translator.choice(choice, lang)[:100],
                            value=self.codec.encode(choice.value),
                        )
                        for choice in rest[:SELECT_LIMIT]
                    ],
                    row=1,
                )
            )
        else:
            items += [self._button(choice, lang, row=1) for choice in rest]
        items += [self._button(choice, lang, row=2) for choice in paging]
        return static_view(*items) if items else None

    def _button(
        self, choice: Choice, lang: str, *, row: int
    ) -> discord.ui.Button[discord.ui.View]:
        return discord.ui.Button(
            label=self.translator.choice(choice, lang)[:80],
            style=discord.ButtonStyle.secondary,
            custom_id=self.codec.encode(choice.value),
            row=row,
        )

    def reply(self, reply: Reply, lang: str) -> Rendered:
        text = self.translator.reply(reply, lang, escape)
        return Rendered(tuple(split_text(text)), self.view(reply.choices, lang, reply.form))

    def replies(self, replies: Iterable[Reply], lang: str) -> list[Rendered]:
        """Consecutive replies without choices are joined into as few messages as fit."""
        out: list[Rendered] = []
        pending: list[str] = []
        previous = ""
        for reply in replies:
            text = self.translator.reply(reply, lang, escape)
            if pending and previous == reply.key:
                pending[-1] += "\n" + text
            else:
                pending.append(text)
            previous = reply.key
            if reply.choices or reply.form is not None:
                joined = "\n\n".join(pending)
                view = self.view(reply.choices, lang, reply.form)
                out.append(Rendered(tuple(split_text(joined)), view))
                pending, previous = [], ""
        if pending:
            out.append(Rendered(tuple(split_text("\n\n".join(pending)))))
        return out

    def modal(self, form: Form, lang: str) -> discord.ui.Modal:
        """``form`` as a Discord modal: a text input per text field (one line or
        several), a file upload for files; labels in ``lang``."""
        modal = discord.ui.Modal(title=self.label(form.key, lang)[:45], custom_id=form.name)
        for field in form.fields:
            component: discord.ui.Item[discord.ui.Modal]
            if field.files:
                component = discord.ui.FileUpload(
                    custom_id=field.name, required=field.required, max_values=10
                )
            else:
                component = discord.ui.TextInput(
                    custom_id=field.name,
                    style=discord.TextStyle.paragraph if field.long else discord.TextStyle.short,
                    required=field.required,
                    min_length=field.min_length or None,
                    max_length=min(field.max_length, 4000),
                )
            modal.add_item(
                discord.ui.Label(text=self.label(field.key, lang)[:45], component=component)
            )
        modal.stop()
        return modal


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` characters, at line boundaries when
    possible, else at a space, else hard."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n"), window.rfind(" "))
        if cut <= limit // 4:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return [p for p in parts if p.strip()] or [""]
