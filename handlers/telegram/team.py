"""Agents in their department's team chat: card buttons and messages in a ticket's thread.

A message in a ticket's forum topic (or, in a plain group, a reply to the ticket's
card or to one of its messages) answers the customer; ``/note`` keeps it internal;
``/ask``, ``/resolve``, ``/claim``, ``/block``, ``/unblock`` do what they say and
``/quote PRICE [| NOTE]`` sends the customer a price to accept or refuse. ``/queue``
anywhere in the chat lists the open tickets of the chat's departments, most urgent
first. Whether the agent may act is decided by the desk (``TicketService``) from the
``Actor`` built here: the departments whose team chat they belong to, or a lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import replace
from functools import partial

from aiogram import Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Filter
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageReactionUpdated,
    User,
)

from bot.agent_commands import Usage, read_agent_command
from bot.choice_codec import CHOICE_PREFIX, TOKEN_PREFIX
from bot.commands import (
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    Command,
    DeclineTicket,
    ResendNotification,
    ResolveTicket,
    TransferTicket,
    UnblockTicket,
)
from bot.desk import parse_number
from bot.errors import DeskError, DuplicateUpdate, NotAllowed
from bot.inputs import UpdateRef
from bot.paging import Page
from bot.participant import Actor
from bot.reply import Reply
from bot.stats import chart_png, parse_period, report_replies
from bot.ticket import Attachment, DeclineReason
from bot.transcript import FORMATS, export
from bot.views import found_tickets, page_footer, queue_counts, queue_line
from bot.worker import LAST_ATTEMPT
from handlers.telegram import filters
from handlers.telegram.cards import (
    Action,
    AgentButton,
    departments_keyboard,
    reasons_keyboard,
)
from handlers.telegram.context import TelegramContext
from handlers.telegram.delivery import KIND_MESSAGE, KIND_PROMPT, KIND_TOPIC, ref
from handlers.telegram.inbound import attachments_of, new_emoji
from handlers.telegram.render import AGENT_PREFIX, CHANNEL

log = logging.getLogger(__name__)

# "/name" or "/name@bot" as the first word: a command, not an answer that starts with "/".
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s|$)")
# Callback data of the queue's Previous / Next buttons: "qp:<page>".
QUEUE_PAGE_PREFIX = "qp:"
# Messages waiting for a team chat before /queue says the chat is behind.
BEHIND_AT = 3
# An agent's next message in a thread is their question for this long after Ask.
ASK_WAIT = 15 * 60
# LinkStore kind: key "<chat>:<thread or 0>:<agent>" -> "<number>:<unix time of Ask>".
KIND_ASKING = "asking"
# A card refresh refused for now (429, network) is tried again this often, in the background.
CARD_RETRIES = 3


class TeamChat(Filter):
    """Only chats configured as some department's team chat."""

    async def __call__(self, event: Message | CallbackQuery, tg: TelegramContext) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        if message is None or message.chat.type not in filters.GROUP_TYPES:
            return False
        return message.chat.id in tg.team_chats()


def _lang(tg: TelegramContext) -> str:
    return tg.policy.default_language


# -- buttons on the card ----------------------------------------------------------------------


async def on_card_button(query: CallbackQuery, tg: TelegramContext) -> None:
    lang = _lang(tg)
    button = AgentButton.parse(query.data or "")
    message = query.message
    if button is None or not isinstance(message, Message):
        await tg.answer_query(
            query, tg.renderer.label("telegram.button_expired", lang), show_alert=True
        )
        return
    actor = await tg.agent(query.from_user.id, query.from_user.full_name)
    number = button.number
    thread_id = message.message_thread_id if message.is_topic_message else None
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
        menu = button.action in (Action.DECLINE_REASON, Action.TRANSFER_TO)
        tracked = await tg.notifier.open_menu_id(message.chat.id, number) if menu else None
        text = await _execute(tg, actor, command, message.chat.id, tg.query_ref(query))
        done = text == _done(tg, number)
        await tg.answer_query(query, text, show_alert=not done)
        if done and menu:
            # The pick is made: the menu's other buttons would only be refused now (a
            # ticket closed or moved away had its menu taken off with the card's edit).
            if tracked == message.message_id:
                await tg.notifier.retire_menu(message.chat.id, number)
            else:  # a menu this desk no longer tracks
                await tg.notifier.pacer.wait(message.chat.id)
                with contextlib.suppress(TelegramAPIError):  # e.g. removed already
                    await message.edit_reply_markup(reply_markup=None)
        return
    # The remaining buttons open a follow-up question; only for those who may act.
    if not await _may_act(tg, actor, number):
        await tg.answer_query(
            query, tg.renderer.label("telegram.agent.refused", lang), show_alert=True
        )
        return
    chat_id = message.chat.id
    if button.action == Action.ASK:
        await _prompt_question(tg, query.from_user, chat_id, thread_id, number)
    else:
        if button.action == Action.DECLINE:
            markup = reasons_keyboard(tg.renderer, number, lang)
            key = "telegram.prompt.decline"
        else:
            ticket = await tg.tickets.get(number)
            others = [d for d in tg.policy.departments if d != ticket.department]
            markup = departments_keyboard(tg.renderer, number, others, lang)
            key = "telegram.prompt.transfer"
        sent = await tg.direct(
            chat_id,
            partial(
                tg.bot.send_message,
                chat_id,
                tg.renderer.text(key, lang, {"number": number}),
                reply_markup=markup,
                message_thread_id=thread_id,
            ),
        )
        if sent is not None:
            # One menu of a ticket open at a time: the one before loses its buttons.
            await tg.notifier.open_menu(chat_id, number, sent.message_id)
    await tg.answer_query(query)


async def _prompt_question(
    tg: TelegramContext, agent: User, chat_id: int, thread_id: int | None, number: int
) -> None:
    """Ask the agent for their question the way agents type: a ForceReply prompt (their
    app opens a reply to it), and their next message in this thread counts as the
    question even when it is not a reply (kept for ``ASK_WAIT`` seconds)."""
    text = tg.renderer.text(
        "telegram.prompt.ask",
        _lang(tg),
        {"number": number, "agent": agent.full_name, "agent_id": agent.id},
    )
    prompt = await tg.direct(
        chat_id,
        partial(
            tg.bot.send_message,
            chat_id,
            text,
            parse_mode="HTML",
            message_thread_id=thread_id,
            # Selective: only the agent mentioned in the prompt is made to reply.
            reply_markup=ForceReply(force_reply=True, selective=True),
        ),
    )
    if prompt is not None:
        await tg.links.set(CHANNEL, KIND_PROMPT, ref(chat_id, prompt.message_id), f"ask:{number}")
    await tg.links.set(
        CHANNEL,
        KIND_ASKING,
        _asking_key(chat_id, thread_id, agent.id),
        f"{number}:{time.time():.0f}",
    )


def _asking_key(chat_id: int, thread_id: int | None, user_id: int) -> str:
    return f"{chat_id}:{thread_id or 0}:{user_id}"


async def _pending_question(tg: TelegramContext, message: Message) -> int | None:
    """The ticket whose question this agent's message is, after they pressed Ask in
    this thread (once: the question is asked, the next message is an answer again)."""
    user = message.from_user
    if user is None:
        return None
    thread_id = message.message_thread_id if message.is_topic_message else None
    key = _asking_key(message.chat.id, thread_id, user.id)
    found = await tg.links.get(CHANNEL, KIND_ASKING, key)
    number, _, since = (found or "").partition(":")
    if not number.isdigit() or not since.isdigit():
        return None
    await tg.links.set(CHANNEL, KIND_ASKING, key, "")
    if time.time() - int(since) > ASK_WAIT:
        return None
    return int(number)


async def _may_act(tg: TelegramContext, actor: Actor, number: int) -> bool:
    try:
        ticket = await tg.tickets.get(number)
    except DeskError:
        return False
    return actor.serves(ticket.department)


def _done(tg: TelegramContext, number: int) -> str:
    return tg.renderer.label("telegram.agent.done", _lang(tg), {"number": number})


async def _execute(
    tg: TelegramContext, actor: Actor, command: Command, chat_id: int, update: UpdateRef
) -> str:
    """Carry out the command (once for ``update``); the short text to show the agent."""
    number = getattr(command, "number", 0)
    try:
        ticket = await tg.tickets.execute(actor, command, update=update)
    except DuplicateUpdate:
        return _done(tg, number)  # done when it first came
    except NotAllowed:
        return tg.renderer.label("telegram.agent.refused", _lang(tg))
    except DeskError as exc:
        reply = tg.error_reply(exc)
        return tg.renderer.label(reply.key, _lang(tg), reply.params)
    except Exception:
        if not LAST_ATTEMPT.get():
            raise  # the worker hands the update over again (nothing was committed)
        log.exception("agent command %s on #%s failed", type(command).__name__, number)
        return tg.renderer.label("telegram.apology", _lang(tg))
    try:
        await tg.notifier.refresh_card(chat_id, ticket)
    except TelegramRetryAfter as exc:
        tg.background(_refresh_later(tg, chat_id, number, float(exc.retry_after)))
    except (TelegramNetworkError, TelegramServerError):
        tg.background(_refresh_later(tg, chat_id, number, 1.0))
    except TelegramAPIError as exc:
        log.warning("card of #%s in %s not refreshed: %s", number, chat_id, exc)
    return _done(tg, number)


async def _refresh_later(tg: TelegramContext, chat_id: int, number: int, pause: float) -> None:
    """Bring the card up to date once Telegram lets us (the change is made already):
    the ticket is read again, so the card shows its state as of then."""
    for _ in range(CARD_RETRIES):
        await asyncio.sleep(pause)
        try:
            await tg.notifier.refresh_card(chat_id, await tg.tickets.get(number))
            return
        except TelegramRetryAfter as exc:
            pause = float(exc.retry_after)
        except (TelegramNetworkError, TelegramServerError):
            pause *= 2
        except (TelegramAPIError, DeskError) as exc:
            log.warning("card of #%s in %s not refreshed: %s", number, chat_id, exc)
            return
    log.warning("card of #%s in %s not refreshed after %d tries", number, chat_id, CARD_RETRIES)


async def on_notice_button(query: CallbackQuery, tg: TelegramContext) -> None:
    """A button on a team notice: "Send it again" on a message a crash left in doubt."""
    lang = _lang(tg)
    value = await tg.renderer.codec.decode(query.data or "")
    message = query.message
    action, _, notification_id = (value or "").partition(":")
    if action != "resend" or not notification_id or not isinstance(message, Message):
        await tg.answer_query(
            query, tg.renderer.label("telegram.button_expired", lang), show_alert=True
        )
        return
    found = await tg.links.get(CHANNEL, KIND_MESSAGE, ref(message.chat.id, message.message_id))
    if found is None or not found.isdigit():
        await tg.answer_query(
            query, tg.renderer.label("telegram.button_expired", lang), show_alert=True
        )
        return
    actor = await tg.agent(query.from_user.id, query.from_user.full_name)
    command = ResendNotification(number=int(found), notification_id=notification_id)
    try:
        reply = await tg.tickets.resend(actor, command)
    except NotAllowed:
        reply = Reply("telegram.agent.refused")
    except DeskError as exc:
        reply = tg.error_reply(exc)
    await tg.answer_query(query, tg.renderer.label(reply.key, lang, reply.params), show_alert=True)


async def on_foreign_team_button(query: CallbackQuery, tg: TelegramContext) -> None:
    """Buttons we never made (forged or from an old version) change nothing."""
    await tg.answer_query(
        query, tg.renderer.label("telegram.button_expired", _lang(tg)), show_alert=True
    )


# -- messages in a ticket's thread ----------------------------------------------------------


async def _ticket_of(
    tg: TelegramContext, message: Message, *, asking: bool = False
) -> tuple[int | None, bool]:
    """The ticket a team message is about, and whether it is the question an "ask"
    prompt waits for (a reply to the prompt, or with ``asking``, the agent's next
    message in the thread after they pressed Ask)."""
    chat_id = message.chat.id
    replied = message.reply_to_message
    if replied is not None:
        prompt = await tg.links.get(CHANNEL, KIND_PROMPT, ref(chat_id, replied.message_id))
        if prompt is not None:
            action, _, prompted = prompt.partition(":")
            if asking and action == "ask":
                await _pending_question(tg, message)  # asked: no longer pending
            return int(prompted), action == "ask"
    pending = await _pending_question(tg, message) if asking else None
    if message.is_topic_message and message.message_thread_id is not None:
        key = await tg.links.find(CHANNEL, KIND_TOPIC, ref(chat_id, message.message_thread_id))
        if key is not None:
            number = int(key.partition(":")[0])
            return number, pending == number
    if replied is not None:
        found = await tg.links.get(CHANNEL, KIND_MESSAGE, ref(chat_id, replied.message_id))
        if found is not None and found.isdigit():
            return int(found), pending == int(found)
    if pending is not None and not message.is_topic_message:
        return pending, True  # a plain group: the next message after Ask is the question
    return None, False


def command_name(text: str) -> str | None:
    """The command a team message starts with (lower case, without "@bot"), if any."""
    match = _COMMAND.match(text)
    return match.group(1).lower() if match else None


# Written in a ticket's topic; transfer and decline have their menus on the card.
TOPIC_COMMANDS = frozenset({"note", "ask", "resolve", "claim", "block", "unblock", "quote"})


def _agent_command(
    number: int, text: str, files: list[Attachment], asking: bool
) -> Command | Reply:
    """The desk command a message in a ticket's thread stands for, or a usage hint."""
    name = command_name(text)
    if name is not None:
        rest = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
        read = read_agent_command(name, number, rest, files=tuple(files), allowed=TOPIC_COMMANDS)
        if read is Usage.QUOTE:
            return Reply("telegram.agent.quote_usage")
        if isinstance(read, Usage):
            # An unknown or incomplete command must never reach the customer as an answer.
            return Reply("telegram.agent.help")
        return read
    if asking and not files:
        return AskCustomer(number=number, text=text)
    return AnswerCustomer(number=number, text=text, attachments=tuple(files))


async def _on_thread_messages(tg: TelegramContext, user: User, messages: list[Message]) -> None:
    first = messages[0]
    text = "\n".join(m.text or m.caption or "" for m in messages).strip()
    thread_id = first.message_thread_id if first.is_topic_message else None
    if len(messages) == 1 and command_name(text) == "queue":
        await _show_queue(tg, user, first)
        return
    if len(messages) == 1 and command_name(text) == "find":
        await _find(tg, user, first, _rest(text))
        return
    if len(messages) == 1 and command_name(text) == "stats":
        await _stats(tg, user, first, _rest(text))
        return
    if len(messages) == 1 and command_name(text) == "incident":
        await _incident(tg, user, first, _rest(text))
        return
    # Plain text may be the question an agent's Ask waits for; commands never are.
    number, asking = await _ticket_of(tg, first, asking=command_name(text) is None)
    if number is None:
        if command_name(text) is not None:
            await tg.say(
                first.chat.id,
                [Reply("telegram.agent.no_ticket")],
                _lang(tg),
                thread_id=thread_id,
                reply_to=first,
            )
        return
    if len(messages) == 1 and command_name(text) == "transcript":
        await _send_transcript(tg, user, first, number, _rest(text) or "html")
        return
    files = await tg.keep([a for m in messages for a in attachments_of(m)])
    command = _agent_command(number, text, files, asking)
    if isinstance(command, Reply):
        await tg.say(first.chat.id, [command], _lang(tg), thread_id=thread_id, reply_to=first)
        return
    actor = await tg.agent(user.id, user.full_name)
    update = tg.message_ref(first)
    done = _done(tg, number)
    # Answers and notes keep their files; other commands carry none.
    files_left = bool(files) and not isinstance(command, AnswerCustomer | AddNote)
    if files_left and isinstance(command, AskCustomer | ResolveTicket):
        # The files go to the customer as an answer, then the question or resolution.
        answer = AnswerCustomer(number=number, text="", attachments=tuple(files))
        files_ref = replace(update, update_id=update.update_id + "/files")
        outcome = await _execute(tg, actor, answer, first.chat.id, files_ref)
        if outcome != done:
            await tg.direct(first.chat.id, partial(first.reply, outcome, parse_mode=None))
            return
        files_left = False
    outcome = await _execute(tg, actor, command, first.chat.id, update)
    if files_left and outcome == done:
        # /claim, /block, /quote carry no files: the agent must know they stayed.
        await tg.say(
            first.chat.id,
            [Reply("telegram.agent.files_not_sent", {"number": number})],
            _lang(tg),
            thread_id=thread_id,
            reply_to=first,
        )
    if outcome == done and not isinstance(command, AddNote):
        return  # the card and the thread show what happened
    if isinstance(command, AddNote) and outcome == done:
        outcome = tg.renderer.label("telegram.agent.note_saved", _lang(tg), {"number": number})
    await tg.direct(first.chat.id, partial(first.reply, outcome, parse_mode=None))


def _rest(text: str) -> str:
    """What follows a command's name."""
    parts = text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


async def _here(tg: TelegramContext, user: User, chat_id: int) -> Actor | None:
    """The agent working for this chat's departments only (a lead too); None when
    they serve none of them."""
    here = frozenset(tg.team_chats().get(chat_id, ()))
    actor = await tg.agent(user.id, user.full_name)
    mine = here if actor.lead else actor.departments & here
    return replace(actor, departments=mine, lead=False) if mine else None


async def _find(tg: TelegramContext, user: User, message: Message, words: str) -> None:
    """``/find WORDS``: this chat's departments' tickets that best match."""
    lang = _lang(tg)
    thread_id = message.message_thread_id if message.is_topic_message else None
    actor = await _here(tg, user, message.chat.id)
    if actor is None:
        replies = [Reply("telegram.agent.refused")]
    elif not words:
        replies = [Reply("find.usage")]
    else:
        replies = found_tickets(words, await tg.tickets.find(actor, words))
    await tg.say(message.chat.id, replies, lang, thread_id=thread_id, reply_to=message)


async def _incident(tg: TelegramContext, user: User, message: Message, arg: str) -> None:
    """``/incident ...`` anywhere in a team chat, for this chat's departments."""
    lang = _lang(tg)
    thread_id = message.message_thread_id if message.is_topic_message else None
    actor = await _here(tg, user, message.chat.id)
    if actor is None or tg.incidents is None:
        replies = [Reply("telegram.agent.refused")]
    else:
        try:
            replies = await tg.incidents.handle(actor, arg)
        except DeskError as exc:
            replies = [Reply(exc.key, dict(exc.params))]
    await tg.say(message.chat.id, replies, lang, thread_id=thread_id, reply_to=message)


async def _stats(tg: TelegramContext, user: User, message: Message, arg: str) -> None:
    """``/stats [7d|30d]``: this chat's departments' figures, as text and a chart."""
    lang = _lang(tg)
    thread_id = message.message_thread_id if message.is_topic_message else None
    actor = await _here(tg, user, message.chat.id)
    days = parse_period(arg)
    if actor is None or tg.stats is None:
        replies = [Reply("telegram.agent.refused")]
    elif days is None:
        replies = [Reply("stats.usage")]
    else:
        report = await tg.stats.report(actor.departments, days)
        await tg.say(
            message.chat.id, report_replies(report), lang, thread_id=thread_id, reply_to=message
        )
        # Drawing takes a while: off the event loop.
        chart = await asyncio.to_thread(chart_png, report, tg.renderer.translator, lang)
        caption = tg.renderer.text("stats.chart.title", lang, {"days": days})
        await tg.direct(
            message.chat.id,
            partial(
                tg.bot.send_photo,
                message.chat.id,
                BufferedInputFile(chart, "dashboard.png"),
                message_thread_id=thread_id,
                caption=caption,
            ),
        )
        return
    await tg.say(message.chat.id, replies, lang, thread_id=thread_id, reply_to=message)


async def _send_transcript(
    tg: TelegramContext, user: User, message: Message, number: int, fmt: str
) -> None:
    """``/transcript [html|md]`` in a ticket's topic: the whole ticket as a file there."""
    lang = _lang(tg)
    thread_id = message.message_thread_id if message.is_topic_message else None
    if fmt not in FORMATS:
        await tg.say(
            message.chat.id,
            [Reply("transcript.usage")],
            lang,
            thread_id=thread_id,
            reply_to=message,
        )
        return
    actor = await tg.agent(user.id, user.full_name)
    try:
        replies = await tg.tickets.transcript(number, actor)
    except NotAllowed:
        await tg.say(
            message.chat.id,
            [Reply("telegram.agent.refused")],
            lang,
            thread_id=thread_id,
            reply_to=message,
        )
        return
    ticket = await tg.tickets.get(number)
    exported = export(ticket, replies, tg.renderer.translator, lang, fmt)
    caption = tg.renderer.text("transcript.caption", lang, {"number": number})
    await tg.direct(
        message.chat.id,
        partial(
            tg.bot.send_document,
            message.chat.id,
            BufferedInputFile(exported.data, exported.name),
            message_thread_id=thread_id,
            caption=caption,
        ),
    )


async def _show_queue(tg: TelegramContext, user: User, message: Message) -> None:
    """Page 1 (or the page named: ``/queue 2``) of this chat's departments' open
    tickets, in the desk's queue order; its buttons turn the page in place."""
    lang = _lang(tg)
    _, _, arg = (message.text or "").partition(" ")
    number = parse_number(arg.strip() or "1")
    shown = await _queue_page(tg, user, message.chat.id, number or 1)
    if shown is None:
        await tg.say(message.chat.id, [Reply("telegram.agent.refused")], lang, reply_to=message)
        return
    text, markup = shown
    await tg.direct(
        message.chat.id,
        # A reply: in the agent's topic, if they asked in one.
        partial(message.reply, text, parse_mode="HTML", reply_markup=markup),
    )


async def on_queue_page(query: CallbackQuery, tg: TelegramContext) -> None:
    """Previous / Next under a queue: the same message shows the other page."""
    lang = _lang(tg)
    message = query.message
    number = parse_number((query.data or "")[len(QUEUE_PAGE_PREFIX) :])
    if number is None or not isinstance(message, Message):
        await tg.answer_query(
            query, tg.renderer.label("telegram.button_expired", lang), show_alert=True
        )
        return
    shown = await _queue_page(tg, query.from_user, message.chat.id, number)
    if shown is None:
        await tg.answer_query(
            query, tg.renderer.label("telegram.agent.refused", lang), show_alert=True
        )
        return
    text, markup = shown
    try:
        await tg.notifier.pacer.wait(message.chat.id)
        await message.edit_text(text, parse_mode="HTML", reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in str(exc):
            raise
    await tg.answer_query(query)


async def _queue_page(
    tg: TelegramContext, user: User, chat_id: int, number: int
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The text and buttons of page ``number`` of the queue as ``user`` sees it in this
    chat; None when they are no agent here."""
    lang = _lang(tg)
    here = frozenset(tg.team_chats().get(chat_id, ()))
    actor = await tg.agent(user.id, user.full_name)
    mine = here if actor.lead else actor.departments & here
    if not mine:
        return None
    # In this chat the agent works for its departments only (a lead included).
    actor = replace(actor, departments=mine, lead=False)
    counts = await tg.tickets.queue_counts(actor)
    total = sum(counts.values())
    page = Page(min(max(number, 1), Page().count(total)))
    if not total:
        return tg.renderer.reply(Reply("telegram.queue.empty"), lang).parts[0], None
    tickets = await tg.tickets.queue(actor, page=page)
    replies = [Reply("telegram.queue.header", {"count": total})]
    if tg.outbox is not None:
        # Telegram lets ~20 messages a minute into a group: say when this one is behind.
        behind = await tg.outbox.backlog(CHANNEL, str(chat_id))
        if behind.count >= BEHIND_AT:
            minutes = behind.minutes(tg.tickets.now())
            replies.append(
                Reply("telegram.queue.behind", {"count": behind.count, "minutes": minutes})
            )
    if page.number == 1:
        replies.append(queue_counts(counts))
    replies += [queue_line(t) for t in tickets]
    footer = page_footer(page, total, lambda n: f"{QUEUE_PAGE_PREFIX}{n}")
    markup = None
    if footer is not None:
        replies.append(replace(footer, choices=()))
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=tg.renderer.label(choice.key, lang), callback_data=choice.value
                    )
                    for choice in footer.choices
                ]
            ]
        )
    lines = [tg.renderer.reply(reply, lang).parts[0] for reply in replies]
    return "\n".join(lines), markup


async def on_team_album_part(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return

    async def flush(parts: list[Message]) -> None:
        await _on_thread_messages(tg, user, parts)

    tg.albums.add(message, flush)


async def on_team_message(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or user.is_bot:
        return
    await _on_thread_messages(tg, user, [message])


async def _say_in_ticket_thread(tg: TelegramContext, message: Message, key: str) -> None:
    """Tell an agent something about their message, if it is about a ticket (other
    talk in the team chat is none of the bot's business)."""
    user = message.from_user
    if user is None or user.is_bot:
        return
    number, _ = await _ticket_of(tg, message)
    if number is None:
        return
    thread_id = message.message_thread_id if message.is_topic_message else None
    await tg.say(message.chat.id, [Reply(key)], _lang(tg), thread_id=thread_id, reply_to=message)


async def on_team_unsupported(message: Message, tg: TelegramContext) -> None:
    """A voice message, sticker, location... in a ticket's thread reaches nobody."""
    await _say_in_ticket_thread(tg, message, "telegram.file.unsupported")


async def on_team_edited(message: Message, tg: TelegramContext) -> None:
    """An edit is not passed on: the customer already has the first version."""
    await _say_in_ticket_thread(tg, message, "telegram.edit_not_forwarded")


async def on_team_reaction(reaction: MessageReactionUpdated, tg: TelegramContext) -> None:
    """An agent's reaction on a ticket's message in the team chat (a customer's message
    mirrored there): the desk decides what it means (a 👍 marks it seen)."""
    user, emoji = reaction.user, new_emoji(reaction)
    if user is None or user.is_bot or not emoji:
        return
    chat_id = reaction.chat.id
    if chat_id not in tg.team_chats():
        return
    found = await tg.links.get(CHANNEL, KIND_MESSAGE, ref(chat_id, reaction.message_id))
    if found is None or not found.isdigit():
        return
    actor = await tg.agent(user.id, user.full_name)
    try:
        await tg.tickets.react(actor, int(found), emoji, update=tg.reaction_ref(reaction, emoji))
    except DeskError as exc:
        # A stranger's or an old message's reaction: nothing to say in the team chat.
        log.info("reaction of %s on #%s not taken: %s", user.id, found, exc)


async def on_member_change(update: ChatMemberUpdated, tg: TelegramContext) -> None:
    """Someone joined or left a chat: their departments are looked up afresh."""
    tg.forget_member(update.chat.id, update.new_chat_member.user.id)


async def _not_escalate(message: Message) -> bool:
    """/escalate belongs to the community router, even in a chat that is both."""
    return command_name(message.text or message.caption or "") != "escalate"


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-team")
    router.message.filter(TeamChat())
    router.callback_query.filter(TeamChat())
    router.callback_query.register(on_card_button, filters.data_prefix(AGENT_PREFIX))
    router.callback_query.register(on_queue_page, filters.data_prefix(QUEUE_PAGE_PREFIX))
    router.edited_message.filter(TeamChat())
    router.message.register(on_team_album_part, filters.album_part, _not_escalate)
    router.message.register(on_team_message, filters.thread_content, _not_escalate)
    router.message.register(on_team_unsupported, filters.unsupported_media)
    router.edited_message.register(on_team_edited)
    router.callback_query.register(
        on_notice_button, filters.data_prefix(CHOICE_PREFIX, TOKEN_PREFIX)
    )
    router.callback_query.register(on_foreign_team_button)
    router.chat_member.register(on_member_change)
    router.message_reaction.register(on_team_reaction)
    return router
