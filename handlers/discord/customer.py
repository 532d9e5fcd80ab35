"""Customers on Discord: ``/ticket new|list|show`` anywhere, their DMs, the buttons,
select menus and forms (modals) of the desk's replies.

Every update becomes one desk input (``CommandGiven``, ``TextSent``, ``FileSent``,
``ChoicePicked``, ``FormSent``) with the update's identity for ``Desk.answer``; its
replies are rendered here, privately (ephemeral) in a server. Interactions are
acknowledged first (Discord allows three seconds) and answered when the desk is done;
a button that opens a form is answered with the form itself, which needs nothing from
the desk. Order, de-duplication and flood control are the desk's.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.choice_codec import CHOICE_PREFIX, TOKEN_PREFIX
from bot.inputs import ChoicePicked, CommandGiven, FileSent, FormSent, Input, TextSent
from bot.reply import Form, Reply
from bot.ticket import Attachment
from bot.worker import LAST_ATTEMPT
from conversations import feedback, intake
from handlers.discord.context import DiscordContext, interaction_data, participant
from handlers.discord.render import CHANNEL, FORM_PREFIX, SELECT_ID

log = logging.getLogger(__name__)

# /ticket list's filters, as the desk names them.
LIST_FILTERS = ("all", "open", "done")
# The desk's forms a button may open, by name (known without asking the desk: a modal
# must be the first answer to the press).
FORMS = {**intake.FORMS, **feedback.FORMS}


def attachment(item: discord.Attachment) -> Attachment:
    """A Discord upload as a desk attachment (its URL is the platform's reference)."""
    return Attachment(
        file_ref=item.url,
        file_name=item.filename,
        mime_type=item.content_type or "application/octet-stream",
        size=item.size,
        platform=CHANNEL,
    )


async def handle_input(
    ctx: DiscordContext,
    interaction: discord.Interaction,
    event: Input,
    *,
    pressed: bool = False,
) -> None:
    """One input of the member behind ``interaction`` (acknowledged already) through the
    desk, and its answer; ``pressed``: a button on a message, where another page of a
    list is shown in place."""
    user = interaction.user
    lang = ctx.locale(interaction)
    try:
        answer = await ctx.desk.answer(
            participant(user),
            event,
            name=user.display_name,
            locale=lang,
            update=ctx.interaction_ref(interaction),
        )
        replies, lang = answer.replies, answer.locale
        if answer.in_place and pressed and await ctx.show_instead(interaction, replies, lang):
            return
    except Exception:
        if not LAST_ATTEMPT.get():
            raise
        log.exception("desk failed on %s from discord:%s", type(event).__name__, user.id)
        replies = [Reply("discord.apology")]
    if replies:
        await ctx.send(interaction, replies, lang)


# -- slash commands -------------------------------------------------------------------------


async def on_ticket_new(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    await ctx.defer(interaction)
    await handle_input(ctx, interaction, CommandGiven("new"))


async def on_ticket_list(
    ctx: DiscordContext, interaction: discord.Interaction, which: str, page: int
) -> None:
    await ctx.defer(interaction)
    arg = f"{which} {max(page, 1)}" if which in LIST_FILTERS else ""
    await handle_input(ctx, interaction, CommandGiven("tickets", arg))


async def on_ticket_show(
    ctx: DiscordContext, interaction: discord.Interaction, number: int
) -> None:
    await ctx.defer(interaction)
    await handle_input(ctx, interaction, CommandGiven("ticket", str(number)))


async def on_help(ctx: DiscordContext, interaction: discord.Interaction, words: str) -> None:
    """``/help``: what the desk offers; ``/help WORDS``: the help articles that match."""
    await ctx.defer(interaction)
    await handle_input(ctx, interaction, CommandGiven("help", words.strip()))


async def on_link(ctx: DiscordContext, interaction: discord.Interaction, code: str) -> None:
    """``/link``: a code for the customer's other platform; ``/link CODE``: use one."""
    await ctx.defer(interaction)
    await handle_input(ctx, interaction, CommandGiven("link", code.strip()))


# -- components and forms -----------------------------------------------------------------


def is_choice(custom_id: str) -> bool:
    return custom_id.startswith((CHOICE_PREFIX, TOKEN_PREFIX, SELECT_ID))


async def on_choice(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    """A button or a select menu of a desk reply."""
    data: dict[str, Any] = interaction_data(interaction)
    custom_id = str(data.get("custom_id", ""))
    if custom_id == SELECT_ID:
        values = data.get("values") or [""]
        custom_id = str(values[0])
    value = await ctx.renderer.codec.decode(custom_id)
    await ctx.defer(interaction, update=True)
    if value is None:
        await ctx.send(interaction, [Reply("discord.button_expired")], ctx.locale(interaction))
        return
    await handle_input(ctx, interaction, ChoicePicked(value), pressed=True)


async def open_form(ctx: DiscordContext, interaction: discord.Interaction, form: Form) -> None:
    """Answer a press with the form as a modal (at once: nothing to ask the desk)."""
    await interaction.response.send_modal(ctx.renderer.modal(form, ctx.locale(interaction)))


async def on_form_button(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    name = str(interaction_data(interaction).get("custom_id", ""))[len(FORM_PREFIX) :]
    form = FORMS.get(name)
    if form is None:
        await ctx.defer(interaction, update=True)
        await ctx.send(interaction, [Reply("discord.button_expired")], ctx.locale(interaction))
        return
    await open_form(ctx, interaction, form)


def form_values(
    interaction: discord.Interaction,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What a submitted modal holds: text by field, and uploaded attachment ids."""
    data: dict[str, Any] = interaction_data(interaction)
    texts: dict[str, str] = {}
    uploads: dict[str, list[str]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "components" in item:
                walk(item["components"])
            elif "component" in item:
                walk([item["component"]])
            elif "values" in item:
                uploads[str(item.get("custom_id"))] = [str(v) for v in item["values"]]
            elif "value" in item:
                texts[str(item.get("custom_id"))] = str(item["value"])

    walk(list(data.get("components", [])))
    return texts, uploads


def form_files(interaction: discord.Interaction, ids: list[str]) -> list[Attachment]:
    resolved: dict[str, Any] = dict(interaction_data(interaction).get("resolved") or {})
    found = resolved.get("attachments", {})
    out: list[Attachment] = []
    for attachment_id in ids:
        item = found.get(attachment_id)
        if item is not None:
            out.append(
                Attachment(
                    file_ref=str(item["url"]),
                    file_name=str(item.get("filename", "file")),
                    mime_type=str(item.get("content_type") or "application/octet-stream"),
                    size=int(item.get("size", 0)),
                    platform=CHANNEL,
                )
            )
    return out


async def on_form(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    """A submitted desk form: its fields (and files) in one input."""
    name = str(interaction_data(interaction).get("custom_id", ""))
    await ctx.defer(interaction, update=interaction.message is not None)
    texts, uploads = form_values(interaction)
    files = await ctx.keep([f for ids in uploads.values() for f in form_files(interaction, ids)])
    event = FormSent(name, tuple(texts.items()), tuple(files))
    await handle_input(ctx, interaction, event)


# -- direct messages ------------------------------------------------------------------------


async def on_direct_message(ctx: DiscordContext, message: discord.Message) -> None:
    """A message in the bot's DM: joins the customer's open ticket, answers a running
    intake, ... whatever the desk makes of it."""
    user = message.author
    files = tuple(await ctx.keep([attachment(a) for a in message.attachments]))
    event: Input = FileSent(files, message.content) if files else TextSent(message.content)
    if not files and not message.content.strip():
        return  # a sticker, an embed only: nothing to take
    try:
        answer = await ctx.desk.answer(
            participant(user), event, name=user.display_name, update=ctx.message_ref(message)
        )
        replies, lang = answer.replies, answer.locale
    except Exception:
        if not LAST_ATTEMPT.get():
            raise
        log.exception("desk failed on a DM from discord:%s", user.id)
        replies, lang = [Reply("discord.apology")], await ctx.desk.language(participant(user))
    if replies:
        await ctx.say(message.channel, replies, lang)
