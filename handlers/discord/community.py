"""The community: a moderator turns a member's message (in a channel or a forum post)
into a ticket with the message command "Escalate to ticket".

The desk opens the ticket for the message's author (text, attachments and the jump
link) once per message; the bot answers in the message's channel or thread and DMs the
author, both through the outbox.
"""

from __future__ import annotations

import logging

import discord

from bot.commands import EscalatePost
from bot.errors import DeskError, DuplicateUpdate, NotAllowed
from bot.i18n import pick_language
from bot.reply import Reply
from handlers.discord.context import DiscordContext
from handlers.discord.customer import attachment
from handlers.discord.render import CHANNEL

log = logging.getLogger(__name__)


async def on_escalate(
    ctx: DiscordContext, interaction: discord.Interaction, message: discord.Message
) -> None:
    await ctx.defer(interaction)
    lang = ctx.locale(interaction)

    async def tell(*replies: Reply) -> None:
        await ctx.send(interaction, list(replies), lang)

    actor = await ctx.moderator_of(interaction.user)
    if actor is None:
        await tell(Reply("discord.escalate.refused"))
        return
    author = message.author
    if author.bot or message.webhook_id is not None:
        await tell(Reply("discord.escalate.not_a_member"))
        return
    files = tuple(await ctx.keep([attachment(a) for a in message.attachments]))
    if not message.content.strip() and not files:
        await tell(Reply("discord.escalate.nothing_to_file"))
        return
    escalation = EscalatePost(
        author_platform=CHANNEL,
        author_id=str(author.id),
        author_name=author.display_name,
        post_ref=f"{message.channel.id}:{message.id}",
        post_link=message.jump_url,
        text=message.content,
        attachments=files,
        locale=pick_language(None, ctx.policy.languages),
    )
    try:
        ticket = await ctx.tickets.escalate(
            actor, escalation, update=ctx.interaction_ref(interaction)
        )
    except DuplicateUpdate:
        return
    except NotAllowed:
        await tell(Reply("discord.escalate.refused"))
        return
    except DeskError as exc:
        await tell(ctx.error_reply(exc))
        return
    await tell(Reply("discord.escalate.done", {"number": ticket.number}))
