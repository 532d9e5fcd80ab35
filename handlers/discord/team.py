"""Agents in their department's team channel on Discord: the card's buttons, the
ticket thread's messages, ``/note``, ``/quote`` and ``/transcript`` in a ticket thread,
``/find``, ``/incident`` and ``/stats`` anywhere in a team channel.

Whatever an agent writes in a ticket's thread goes to the customer (files included);
``/note`` stays internal; the card's Ask customer and ``/quote`` open forms. Whether
the agent may act is decided by the desk (``TicketService``) from the ``Actor`` built
here from the member's roles (the policy's agent roles per department, lead roles).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import discord

from bot.commands import (
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    Command,
    DeclineTicket,
    QuoteTicket,
    ResendNotification,
    ResolveTicket,
    TransferTicket,
    UnblockTicket,
)
from bot.errors import DeskError, DuplicateUpdate, NotAllowed
from bot.inputs import UpdateRef
from bot.participant import Actor
from bot.reply import Field, Form, Reply
from bot.stats import chart_png, parse_period, report_replies
from bot.ticket import DeclineReason
from bot.transcript import FORMATS, export
from bot.views import found_tickets
from bot.worker import LAST_ATTEMPT
from handlers.discord.cards import Action, AgentButton, departments_view, reasons_view
from handlers.discord.context import DiscordContext, interaction_data
from handlers.discord.customer import attachment, form_values
from handlers.discord.delivery import KIND_THREAD
from handlers.discord.render import CHANNEL

log = logging.getLogger(__name__)

# The agents' forms (modal custom ids "agent.ask:<number>", "agent.quote:<number>").
ASK_FORM = "agent.ask"
QUOTE_FORM = "agent.quote"


def ask_form(number: int) -> Form:
    return Form(
        f"{ASK_FORM}:{number}",
        "discord.form.ask",
        (Field("text", "discord.field.question", long=True, min_length=1, max_length=2000),),
    )


def quote_form(number: int) -> Form:
    return Form(
        f"{QUOTE_FORM}:{number}",
        "discord.form.quote",
        (
            Field("price", "discord.field.price", min_length=1, max_length=50),
            Field("note", "discord.field.note", long=True, required=False, max_length=1000),
        ),
    )


def _lang(ctx: DiscordContext) -> str:
    return ctx.policy.default_language


async def ticket_of_thread(ctx: DiscordContext, channel: Any) -> int | None:
    """The ticket whose thread ``channel`` is, if any."""
    channel_id = getattr(channel, "id", None)
    if channel_id is None:
        return None
    key = await ctx.links.find(CHANNEL, KIND_THREAD, str(channel_id))
    if key is None:
        return None
    number = key.partition(":")[0]
    return int(number) if number.isdigit() else None


def in_team_channel(ctx: DiscordContext, channel: Any) -> bool:
    """A team channel, or a thread in one."""
    parent_id = getattr(channel, "parent_id", None)
    teams = ctx.team_channels()
    return getattr(channel, "id", None) in teams or parent_id in teams


async def execute(ctx: DiscordContext, actor: Actor, command: Command, update: UpdateRef) -> Reply:
    """Carry out the command (once for ``update``) and bring the card up to date; what
    to tell the agent."""
    number = getattr(command, "number", 0)
    done = Reply("discord.agent.done", {"number": number})
    try:
        ticket = await ctx.tickets.execute(actor, command, update=update)
    except DuplicateUpdate:
        return done  # done when it first came
    except NotAllowed:
        return Reply("discord.agent.refused")
    except DeskError as exc:
        return ctx.error_reply(exc)
    except Exception:
        if not LAST_ATTEMPT.get():
            raise
        log.exception("agent command %s on #%s failed", type(command).__name__, number)
        return Reply("discord.apology")
    for channel_id in ctx.team_channels():
        try:
            await ctx.notifier.refresh_card(channel_id, ticket)
        except discord.HTTPException as exc:
            # The relay's next notification of this ticket brings the card up to date.
            log.warning("card of #%s in %s not refreshed: %s", number, channel_id, exc)
    return done


async def _tell(ctx: DiscordContext, interaction: discord.Interaction, reply: Reply) -> None:
    await ctx.send(interaction, [reply], _lang(ctx))


# -- the card -----------------------------------------------------------------------------


async def on_card_button(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    data: dict[str, Any] = interaction_data(interaction)
    picked = (data.get("values") or [""])[0]
    button = AgentButton.parse(str(data.get("custom_id", "")), str(picked))
    if button is None:
        await ctx.defer(interaction, update=True)
        await _tell(ctx, interaction, Reply("discord.button_expired"))
        return
    actor = ctx.agent(interaction.user)
    number = button.number
    command: Command | None = None
    match button.action:
        case Action.CLAIM:
            command = ClaimTicket(number=number)
        case Action.RESOLVE:
            command = ResolveTicket(number=number)
        case Action.BLOCK:
            command = BlockTicket(number=number)
        case Action.UNBLOCK:
            command = UnblockTicket(number=number)
        case Action.DECLINE_REASON:
            command = DeclineTicket(number=number, reason=DeclineReason(button.value))
        case Action.TRANSFER_TO:
            command = TransferTicket(number=number, department=button.value)
    if command is not None:
        await ctx.defer(interaction, update=True)
        await _tell(
            ctx, interaction, await execute(ctx, actor, command, ctx.interaction_ref(interaction))
        )
        return
    # The other buttons open a form or a menu: only for those who may act.
    if not await _may_act(ctx, actor, number):
        await ctx.defer(interaction, update=True)
        await _tell(ctx, interaction, Reply("discord.agent.refused"))
        return
    lang = _lang(ctx)
    if button.action in (Action.ASK, Action.QUOTE):
        form = ask_form(number) if button.action == Action.ASK else quote_form(number)
        await interaction.response.send_modal(ctx.renderer.modal(form, lang))
        return
    await ctx.defer(interaction)
    if button.action == Action.DECLINE:
        view = reasons_view(ctx.renderer, number, lang)
        key = "discord.prompt.decline"
    else:
        ticket = await ctx.tickets.get(number)
        others = [d for d in ctx.policy.departments if d != ticket.department]
        view = departments_view(ctx.renderer, number, others, lang)
        key = "discord.prompt.transfer"
    await interaction.followup.send(
        ctx.renderer.text(key, lang, {"number": number}), view=view, ephemeral=True
    )


async def _may_act(ctx: DiscordContext, actor: Actor, number: int) -> bool:
    try:
        ticket = await ctx.tickets.get(number)
    except DeskError:
        return False
    return actor.serves(ticket.department)


async def on_agent_form(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    """The Ask customer or quote form, submitted."""
    name, _, number_text = str(interaction_data(interaction).get("custom_id", "")).partition(":")
    await ctx.defer(interaction)
    if not number_text.isdigit():
        await _tell(ctx, interaction, Reply("discord.button_expired"))
        return
    number = int(number_text)
    texts, _ = form_values(interaction)
    command: Command
    if name == ASK_FORM:
        command = AskCustomer(number=number, text=texts.get("text", "").strip())
    else:
        command = QuoteTicket(
            number=number, price=texts.get("price", "").strip(), note=texts.get("note", "").strip()
        )
    actor = ctx.agent(interaction.user)
    await _tell(
        ctx, interaction, await execute(ctx, actor, command, ctx.interaction_ref(interaction))
    )


async def on_resend(ctx: DiscordContext, interaction: discord.Interaction, value: str) -> None:
    """ "Send it again" on a team notice about a message a crash left in doubt."""
    await ctx.defer(interaction, update=True)
    number = await ticket_of_thread(ctx, interaction.channel)
    _, _, notification_id = value.partition(":")
    if number is None or not notification_id:
        await _tell(ctx, interaction, Reply("discord.button_expired"))
        return
    command = ResendNotification(number=number, notification_id=notification_id)
    try:
        reply = await ctx.tickets.resend(ctx.agent(interaction.user), command)
    except NotAllowed:
        reply = Reply("discord.agent.refused")
    except DeskError as exc:
        reply = ctx.error_reply(exc)
    await _tell(ctx, interaction, reply)


# -- the thread ---------------------------------------------------------------------------


async def on_thread_message(ctx: DiscordContext, message: discord.Message) -> None:
    """An agent's message in a ticket's thread: an answer to the customer."""
    number = await ticket_of_thread(ctx, message.channel)
    if number is None:
        return
    files = tuple(await ctx.keep([attachment(a) for a in message.attachments]))
    if not message.content.strip() and not files:
        return
    actor = ctx.agent(message.author)
    command = AnswerCustomer(number=number, text=message.content, attachments=files)
    outcome = await execute(ctx, actor, command, ctx.message_ref(message))
    if outcome.key != "discord.agent.done":
        await ctx.say(message.channel, [outcome], _lang(ctx))


async def on_note(ctx: DiscordContext, interaction: discord.Interaction, text: str) -> None:
    """``/note TEXT`` in a ticket's thread: stays with the team."""
    await ctx.defer(interaction)
    number = await ticket_of_thread(ctx, interaction.channel)
    if number is None:
        await _tell(ctx, interaction, Reply("discord.agent.no_ticket"))
        return
    outcome = await execute(
        ctx,
        ctx.agent(interaction.user),
        AddNote(number=number, text=text),
        ctx.interaction_ref(interaction),
    )
    if outcome.key == "discord.agent.done":
        outcome = Reply("discord.agent.note_saved", {"number": number})
    await _tell(ctx, interaction, outcome)


async def on_quote(ctx: DiscordContext, interaction: discord.Interaction) -> None:
    """``/quote`` in a ticket's thread: the price form."""
    number = await ticket_of_thread(ctx, interaction.channel)
    actor = ctx.agent(interaction.user)
    if number is None or not await _may_act(ctx, actor, number):
        await ctx.defer(interaction)
        key = "discord.agent.no_ticket" if number is None else "discord.agent.refused"
        await _tell(ctx, interaction, Reply(key))
        return
    await interaction.response.send_modal(ctx.renderer.modal(quote_form(number), _lang(ctx)))


# -- search, incidents, the dashboard, transcripts --------------------------------------------


def here(ctx: DiscordContext, user: discord.abc.User, channel: Any) -> Actor | None:
    """The agent working for this team channel's departments only (a lead too); None
    when they serve none of them, or outside a team channel."""
    teams = ctx.team_channels()
    channel_id = getattr(channel, "id", None)
    found = teams.get(channel_id) if isinstance(channel_id, int) else None
    if found is None:
        parent_id = getattr(channel, "parent_id", None)
        found = teams.get(parent_id) if isinstance(parent_id, int) else None
    here = frozenset(found or ())
    actor = ctx.agent(user)
    mine = here if actor.lead else actor.departments & here
    return replace(actor, departments=mine, lead=False) if mine else None


async def on_find(ctx: DiscordContext, interaction: discord.Interaction, words: str) -> None:
    """``/find WORDS``: this team channel's departments' tickets that best match (told
    to the agent alone)."""
    await ctx.defer(interaction)
    actor = here(ctx, interaction.user, interaction.channel)
    words = words.strip()
    if actor is None:
        replies = [Reply("discord.agent.refused")]
    elif not words:
        replies = [Reply("find.usage")]
    else:
        replies = found_tickets(words, await ctx.tickets.find(actor, words))
    await ctx.send(interaction, replies, _lang(ctx))


async def on_incident(ctx: DiscordContext, interaction: discord.Interaction, arg: str) -> None:
    """``/incident new|add|update|resolve|list ...`` for this team channel's
    departments; the answer is for the whole channel to see."""
    actor = here(ctx, interaction.user, interaction.channel)
    await ctx.defer(interaction, public=actor is not None)
    if actor is None or ctx.incidents is None:
        replies = [Reply("discord.agent.refused")]
    else:
        try:
            replies = await ctx.incidents.handle(actor, arg)
        except DeskError as exc:
            replies = [ctx.error_reply(exc)]
    await ctx.send(interaction, replies, _lang(ctx), public=actor is not None)


def stats_for(
    ctx: DiscordContext, interaction: discord.Interaction, period: str
) -> tuple[Actor, int] | None:
    """Who asks ``/stats`` here and for how many days; None when it is refused or the
    period is not understood (answered privately then)."""
    actor = here(ctx, interaction.user, interaction.channel)
    days = parse_period(period)
    if actor is None or ctx.stats is None or days is None:
        return None
    return actor, days


async def on_stats(ctx: DiscordContext, interaction: discord.Interaction, period: str) -> None:
    """``/stats [7d|30d]``: this team channel's departments' figures, as text and a
    chart (a PNG attachment), for the channel to see."""
    lang = _lang(ctx)
    asked = stats_for(ctx, interaction, period)
    if asked is None or ctx.stats is None:
        await ctx.defer(interaction)
        actor = here(ctx, interaction.user, interaction.channel)
        refused = parse_period(period) is not None or actor is None
        await _tell(ctx, interaction, Reply("discord.agent.refused" if refused else "stats.usage"))
        return
    actor, days = asked
    await ctx.defer(interaction, public=True)
    report = await ctx.stats.report(actor.departments, days)
    await ctx.send(interaction, report_replies(report), lang, public=True)
    # Drawing takes a while: off the event loop.
    chart = await asyncio.to_thread(chart_png, report, ctx.renderer.translator, lang)
    caption = ctx.renderer.text("stats.chart.title", lang, {"days": days})
    await ctx.send_file(interaction, caption, chart, "dashboard.png")


async def transcript_for(
    ctx: DiscordContext, interaction: discord.Interaction, fmt: str
) -> tuple[Actor, int] | Reply:
    """Who asks ``/transcript`` and of which ticket (this thread's), or why not."""
    number = await ticket_of_thread(ctx, interaction.channel)
    if number is None or fmt not in FORMATS:
        return Reply("discord.agent.no_ticket" if number is None else "transcript.usage")
    actor = ctx.agent(interaction.user)
    if not await _may_act(ctx, actor, number):
        return Reply("discord.agent.refused")
    return actor, number


async def on_transcript(ctx: DiscordContext, interaction: discord.Interaction, fmt: str) -> None:
    """``/transcript [html|md]`` in a ticket's thread: the whole ticket as a file there."""
    lang = _lang(ctx)
    asked = await transcript_for(ctx, interaction, fmt)
    if isinstance(asked, Reply):
        await ctx.defer(interaction)
        await _tell(ctx, interaction, asked)
        return
    actor, number = asked
    await ctx.defer(interaction, public=True)
    try:
        replies = await ctx.tickets.transcript(number, actor)
    except NotAllowed:
        await _tell(ctx, interaction, Reply("discord.agent.refused"))
        return
    ticket = await ctx.tickets.get(number)
    exported = export(ticket, replies, ctx.renderer.translator, lang, fmt)
    caption = ctx.renderer.text("transcript.caption", lang, {"number": number})
    await ctx.send_file(interaction, caption, exported.data, exported.name)
