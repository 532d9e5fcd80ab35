"""Delivering outbox notifications on Telegram (the channel's ``Notifier``).

Customers get the rendered message (with buttons where an answer is expected) and
any files an agent attached. Team chats that are forum supergroups get one topic per
ticket (``#12 Title``) opened by a ticket card that is edited on every change and
closed with the ticket; plain groups get one card per ticket, and the ticket's
messages reply to it. References (topic, card, messages) live in the ``LinkStore``.

Telegram's answers map onto the relay's vocabulary: 429 -> ``DeliveryError`` with
``retry_after``, network and server errors -> ``DeliveryError`` (the relay backs
off), a blocked bot or a missing chat -> ``RecipientUnreachable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)

from bot.errors import TicketNotFound
from bot.files import DEFAULT_LIMITS, FileLimits, too_large
from bot.notification import Audience, Notification, is_urgent
from bot.ports import DeliveryError, LinkKey, LinkStore, RecipientUnreachable, RunProgress
from bot.reactions import confirmable
from bot.reply import Reply, decode_params
from bot.ticket import Attachment, EntryKind, Ticket
from bot.views import card, card_opening
from handlers.telegram.cards import card_keyboard
from handlers.telegram.pacing import SendPacer
from handlers.telegram.render import CHANNEL, TEXT_LIMIT, Renderer

log = logging.getLogger(__name__)

TicketReader = Callable[[int], Awaitable[Ticket]]
# The tickets of these numbers that exist, by number (``bot.tickets.Tickets.get_many``).
TicketsReader = Callable[[Collection[int]], Awaitable[Mapping[int, Ticket]]]
# The card's lines below the ticket itself: SLA due times and their state, the quote.
CardLines = Callable[[Ticket], list[Reply]]
# The departments working in a team chat (a card elsewhere keeps no buttons).
ChatDepartments = Callable[[int], Collection[str]]
# The desk's copy of a file (``bot.ports.FileStore.get``).
FileReader = Callable[[str], Awaitable[bytes | None]]
# Images another channel received, sent on as photos (anything else as a document).
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# sendPhoto takes at most 10 MB; a larger image goes as a document.
PHOTO_LIMIT = 10 * 1024 * 1024

# A download link to the desk's copy (``bot.ports.FileStore.link``), None if none.
FileLinker = Callable[[str, str], Awaitable[str | None]]

# LinkStore kinds (stable: stored in the database).
KIND_TOPIC = "topic"  # key "<number>:<chat>" -> "<chat>:<thread>"
# key "<number>:<chat>" -> "<chat>:<message>#<fingerprint of what the card shows>"
KIND_CARD = "card"
KIND_MESSAGE = "msg"  # key "<chat>:<message>" -> "<number>" (replies in plain groups)
KIND_SENT = "sent"  # key notification id -> parts already delivered
KIND_PROMPT = "prompt"  # key "<chat>:<message>" -> "<action>:<number>"
# key "<chat>:<message>" -> "<number>": a customer's message announcing a resolution
KIND_RESOLUTION = "resolution"
# key "<chat>" -> the business connection a customer last wrote through ("": the bot's
# own chat): where the desk's messages to them go.
KIND_ROUTE = "route"
# key "<connection id>" -> "<owner user id>:on|off" (Telegram Business)
KIND_BUSINESS = "business"
# key "<chat>" -> "1": a private chat where the bot's topics cannot be made (plain chat)
KIND_NO_TOPICS = "no_topics"
# key "<number>:<chat>" -> "<chat>:<message>": the ticket's menu (Transfer, Decline) open
# in that team chat ("": none); one at a time, its buttons taken off when it is done with
KIND_MENU = "menu"
# How long a customer's route is trusted in memory before it is read again.
ROUTE_TTL = 30.0

TOPIC_NAME_LIMIT = 128
# The team's notice of a new (or transferred-in) ticket: the card says what it says.
OPENING = "team.ticket_opened"
# Characters left free on a new card that carries the opening, for what later edits add.
CARD_SPARE = 1024
# Between the notifications joined into one team message.
JOINER = "\n\n"
# How a file came in (``Attachment.kind``) and the name given to received photos.
KIND_PHOTO = "photo"
KIND_DOCUMENT = "document"
PHOTO_MIME = "image/jpeg"
PHOTO_NAME = "photo_"
# Notification keys whose text carries the files of the entry that caused them.
_FILES_FROM = {
    "notice.answer": EntryKind.AGENT,
    "team.customer_wrote": EntryKind.CUSTOMER,
    "team.customer_wrote_held": EntryKind.CUSTOMER,
}


def ref(chat_id: int, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def card_ref(chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None) -> str:
    """A card's link: where it is and a fingerprint of what it shows."""
    shown = text + (markup.model_dump_json() if markup is not None else "")
    digest = hashlib.blake2b(shown.encode(), digest_size=8).hexdigest()
    return f"{ref(chat_id, message_id)}#{digest}"


def parse_ref(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    chat, _, item = value.rpartition(":")
    try:
        return int(chat), int(item)
    except ValueError:
        return None


def ticket_key(number: int, chat_id: int) -> str:
    return f"{number}:{chat_id}"


def deep_link(bot_username: str, number: int) -> str:
    return f"https://t.me/{bot_username}?start=t{number}"


def topic_name(ticket: Ticket) -> str:
    return ticket.label[:TOPIC_NAME_LIMIT]


# How long what a run read at its start stands for the store: a run paced to a
# group's 20 messages a minute reads each ticket again when its turn comes.
RUN_READ_FRESH = 1.0


class Prefetched:
    """Links read together at the start of a delivery. Each is used once: a second
    read of it goes to the store (the delivery may have written it since)."""

    def __init__(self, asked: Sequence[LinkKey], found: dict[LinkKey, str]) -> None:
        self._values = {link: found.get(link) for link in asked}

    def has(self, link: LinkKey) -> bool:
        return link in self._values

    def take(self, link: LinkKey) -> str | None:
        return self._values.pop(link)


@dataclass
class RunRead:
    """A run's tickets and links, read together before its first send; taken for the
    store's until ``until`` (``time.monotonic``)."""

    tickets: Mapping[int, Ticket]
    links: Prefetched
    until: float

    def fresh(self) -> bool:
        return time.monotonic() < self.until


class TelegramNotifier:
    """``bot.ports.Notifier`` for channel ``telegram``."""

    channel = CHANNEL

    def __init__(
        self,
        bot: Bot,
        renderer: Renderer,
        links: LinkStore,
        tickets: TicketReader,
        *,
        tickets_many: TicketsReader | None = None,
        pacer: SendPacer | None = None,
        team_language: str = "en",
        card_lines: CardLines | None = None,
        chat_departments: ChatDepartments | None = None,
        files: FileReader | None = None,
        file_link: FileLinker | None = None,
        limits: FileLimits = DEFAULT_LIMITS,
    ) -> None:
        self.bot = bot
        self.files = files
        self.file_link = file_link
        self.limits = limits
        self.renderer = renderer
        self.links = links
        self.tickets = tickets
        self.tickets_many = tickets_many
        self.card_lines = card_lines
        self.chat_departments = chat_departments
        self.pacer = pacer or SendPacer()
        self.team_language = team_language
        self._forum: dict[int, bool] = {}
        self._username: str | None = None
        # Private chat -> (business connection or "", until when it is trusted).
        self._routes: dict[int, tuple[str, float]] = {}

    # -- entry point --------------------------------------------------------------------

    async def deliver(self, notification: Notification) -> None:
        with self._as_delivery():
            await self._deliver(notification)

    async def deliver_run(
        self, notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        """A team chat's waiting notifications (``bot.ports.RunNotifier``): each ticket's
        joined into as few messages as fit, after one card update; tickets with urgent
        news (a new ticket, an SLA alert) first, each ticket's in order. ``progress``
        hears of every call's notifications before the call, and of each notification
        once all of it went out."""
        track = progress or UNTRACKED
        with self._as_delivery():
            groups = _by_ticket(notifications)
            ahead = await self._read_ahead(groups)
            for group in groups:
                first = group[0]
                if _is_team(first):
                    chat_id, number = _chat_id(first.recipient), _ticket_number(first)
                    await self._to_team(group, chat_id, number, track, ahead)
                else:
                    for n in group:
                        await track.sending((n.id,))
                        await self._deliver(n)
                        track.delivered(n.id)

    async def _read_ahead(self, groups: Sequence[Sequence[Notification]]) -> RunRead | None:
        """The tickets of a run's team notifications and the links their deliveries
        read, in two round trips at once instead of two a ticket (None for a run of
        one ticket, or without a reader of many tickets)."""
        team = [g for g in groups if _is_team(g[0])]
        if self.tickets_many is None or len(team) < 2:
            return None
        numbers = [_ticket_number(g[0]) for g in team]
        links = [link for g in team for link in _team_links(g)]
        tickets, known = await asyncio.gather(self.tickets_many(numbers), self._prefetch(links))
        return RunRead(tickets, known, time.monotonic() + RUN_READ_FRESH)

    def leading(self, notifications: Sequence[Notification]) -> str:
        """The one ``deliver_run`` sends first: its first ticket's first."""
        return _by_ticket(notifications)[0][0].id

    @contextlib.contextmanager
    def _as_delivery(self) -> Iterator[None]:
        """Sends made inside are routine (direct answers go first within a group's
        minute) and Telegram's errors come out in the relay's vocabulary."""
        try:
            with self.pacer.routine():
                yield
        except TelegramRetryAfter as exc:
            raise DeliveryError(str(exc), retry_after=float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise RecipientUnreachable(str(exc)) from exc
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise DeliveryError(str(exc)) from exc
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if _unreachable(str(exc)):
                raise RecipientUnreachable(str(exc)) from exc
            raise DeliveryError(str(exc)) from exc

    async def _deliver(self, n: Notification) -> None:
        if n.audience is Audience.COMMUNITY:
            await self._to_community(n)
        elif _is_team(n):
            await self._to_team([n], _chat_id(n.recipient), _ticket_number(n))
        else:
            await self._to_customer(n, _chat_id(n.recipient))

    # -- customers ------------------------------------------------------------------------

    async def _to_customer(self, n: Notification, chat_id: int) -> None:
        """Into the customer's chat: through the company's account when that is where
        they wrote (Telegram Business), else into the ticket's own topic of the bot's
        chat when the chat has topics."""
        reply = Reply(n.key, decode_params(n.params), n.choices)
        rendered = self.renderer.reply(reply, n.locale)
        await self.renderer.codec.save()
        done = await self._progress(n)
        business = await self.route(chat_id)
        if business is not None and await self.business_off(business):
            # The company disabled or ended the connection: no send could get through.
            raise RecipientUnreachable(f"business connection {business} is off")
        thread = None
        if business is None and n.ticket_number is not None:
            thread = await self.customer_topic(chat_id, n.ticket_number)
        for i, part in enumerate(rendered.parts):
            if i < done:
                continue
            last = i == len(rendered.parts) - 1
            sent = await self.send_text(
                chat_id,
                part,
                rendered.markup if last else None,
                thread_id=thread,
                business=business,
            )
            if last and (number := confirmable(n)) is not None:
                # The customer may confirm by reacting to this message (bot.reactions).
                key = ref(chat_id, sent.message_id)
                await self.links.set(CHANNEL, KIND_RESOLUTION, key, str(number))
            await self._advance(n, i + 1)
        step = len(rendered.parts)
        for batch in self._batches(await self._entry_files(n)):
            step += 1
            if step > done:  # a retry goes on after the last part delivered
                await self.send_batch(
                    chat_id, batch, thread_id=thread, business=business, lang=n.locale
                )
                await self._advance(n, step)

    # -- where a customer is ---------------------------------------------------------------

    async def route(self, chat_id: int) -> str | None:
        """The business connection the desk's messages to this customer go through (the
        one they last wrote through), None for the bot's own chat."""
        now = time.monotonic()
        cached = self._routes.get(chat_id)
        if cached is None or cached[1] < now:
            found = await self.links.get(CHANNEL, KIND_ROUTE, str(chat_id)) or ""
            cached = (found, now + ROUTE_TTL)
            self._routes[chat_id] = cached
        return cached[0] or None

    async def business_off(self, connection: str) -> bool:
        """Whether the company disabled or ended the business connection, or took the
        bot's right to reply through it (a ``business_connection`` update said so)."""
        found = await self.links.get(CHANNEL, KIND_BUSINESS, connection)
        return (found or "").endswith(":off")

    def cached_route(self, chat_id: int) -> str | None:
        """The route this process knows for the chat, without asking the store."""
        cached = self._routes.get(chat_id)
        if cached is None:
            return None
        return cached[0] or None

    def set_route(self, chat_id: int, business: str) -> None:
        self._routes[chat_id] = (business, time.monotonic() + ROUTE_TTL)

    async def private_topics(self) -> bool:
        """Whether the bot has topics in its private chats (BotFather's threaded mode;
        Bot API 9.3 ``has_topics_enabled``)."""
        me = await self.bot.me()
        return bool(me.has_topics_enabled)

    async def customer_topic(self, chat_id: int, number: int) -> int | None:
        """The ticket's own topic in the customer's private chat (made on first use), the
        team's topic's counterpart; None where the chat has no topics: the bot has none
        in private chats, or this chat refused one (remembered: plain chat from then)."""
        if chat_id <= 0 or not await self.private_topics():
            return None
        key = ticket_key(number, chat_id)
        found = parse_ref(await self.links.get(CHANNEL, KIND_TOPIC, key))
        if found is not None:
            return found[1]
        if await self.links.get(CHANNEL, KIND_NO_TOPICS, str(chat_id)):
            return None
        try:
            ticket = await self.tickets(number)
        except TicketNotFound:
            return None
        try:
            await self.pacer.wait(chat_id)
            topic = await self.bot.create_forum_topic(chat_id, topic_name(ticket))
        except TelegramBadRequest as exc:
            log.info("no topics in the chat of %s (plain chat from now): %s", chat_id, exc)
            await self.links.set(CHANNEL, KIND_NO_TOPICS, str(chat_id), "1")
            return None
        await self.links.set(CHANNEL, KIND_TOPIC, key, ref(chat_id, topic.message_thread_id))
        return topic.message_thread_id

    # -- community --------------------------------------------------------------------------

    async def _to_community(self, n: Notification) -> None:
        post = parse_ref(n.recipient)
        if post is None:
            raise RecipientUnreachable(f"not a Telegram post reference: {n.recipient!r}")
        chat_id, message_id = post
        if await self._progress(n):
            return
        text = self.renderer.reply(Reply(n.key, decode_params(n.params)), n.locale).parts
        markup = None
        if n.ticket_number is not None:
            link = deep_link(await self.username(), n.ticket_number)
            label = self.renderer.label("telegram.button.continue_privately", n.locale)
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text=label, url=link)]]
            )
        await self.send_text(
            chat_id,
            text[0],
            markup,
            reply_parameters=ReplyParameters(
                message_id=message_id, allow_sending_without_reply=True
            ),
        )
        await self._advance(n, 1)

    # -- teams --------------------------------------------------------------------------------

    async def _to_team(
        self,
        ns: Sequence[Notification],
        chat_id: int,
        number: int,
        progress: RunProgress | None = None,
        ahead: RunRead | None = None,
    ) -> None:
        """One ticket's notifications to one team chat: its topic (opened if new), its
        card (sent, or edited once to the ticket's state), then their texts joined into
        as few messages as fit, each one's files right after its text."""
        track = progress or UNTRACKED
        # The ticket, and the links this delivery reads (the topic, the card, how far
        # each notification got): as the run read them if that is recent, else in one
        # round trip, both at once (two connections on PostgreSQL, one wait).
        ticket: Ticket | None
        if ahead is not None and ahead.fresh():
            ticket, known = ahead.tickets.get(number), ahead.links
        else:
            ticket, known = await asyncio.gather(
                self._ticket(number), self._prefetch(_team_links(ns))
            )
        thread_id: int | None = None
        if ticket is not None and await self.is_forum(chat_id):
            thread_id = await self._topic(chat_id, ticket, known)
        # A new card carries the opening when it fits: that call is the opening's.
        openings = [n.id for n in ns if n.key == OPENING]
        card_id, opening_on_card = (
            await self._card(chat_id, thread_id, ticket, openings, track, known)
            if ticket is not None
            else (None, False)
        )
        reclose = ticket is None or not self._active_here(chat_id, ticket)
        reply_to = (
            ReplyParameters(message_id=card_id, allow_sending_without_reply=True)
            if card_id is not None and thread_id is None
            else None
        )
        pieces: list[_Piece] = []

        async def flush() -> None:
            for message in _joined(pieces):
                text = JOINER.join(piece.text for piece in message)
                await track.sending([piece.notification.id for piece in message])
                sent = await self._in_thread(
                    chat_id, thread_id, text, reply_to, message[-1].markup, reclose=reclose
                )
                await self.links.set(CHANNEL, KIND_MESSAGE, ref(chat_id, sent), str(number))
                for piece in message:
                    await self._advance(piece.notification, piece.index + 1)
                    if piece.final:
                        track.delivered(piece.notification.id)
            pieces.clear()

        for n in ns:
            skip = await self._progress(n, known)
            # Choices on a team notice (e.g. "Send it again") go on its last part.
            rendered = self.renderer.reply(
                Reply(n.key, decode_params(n.params), n.choices), n.locale
            )
            if n.key == OPENING and opening_on_card and skip < len(rendered.parts):
                # The card just sent says all of it: a new ticket costs its topic and card.
                await self._advance(n, len(rendered.parts))
                skip = len(rendered.parts)
            files = await self._files_of(n, ticket)
            last = len(rendered.parts) - 1
            mine = [
                _Piece(n, i, part, rendered.markup if i == last else None, i == last and not files)
                for i, part in enumerate(rendered.parts)
                if i >= skip
            ]
            pieces += mine
            if files:
                # Its files follow its text before the next one's: the thread's order.
                await self.renderer.codec.save()
                await flush()
                await self._team_files(n, files, chat_id, thread_id, reply_to, skip, track)
                track.delivered(n.id)
            elif not mine:
                track.delivered(n.id)  # nothing of it left to send
        await self.renderer.codec.save()
        await flush()
        if ticket is not None and thread_id is not None and not self._active_here(chat_id, ticket):
            # Closed, or transferred to a department working elsewhere: nobody acts here.
            await self._close_topic(chat_id, thread_id)

    async def _ticket(self, number: int) -> Ticket | None:
        try:
            return await self.tickets(number)
        except TicketNotFound:
            return None

    async def _files_of(self, n: Notification, ticket: Ticket | None) -> list[Attachment]:
        """The Telegram files a team notification carries."""
        if ticket is not None and n.key == OPENING:
            return [a for a in ticket.attachments if self._sendable(a)]
        return await self._entry_files(n, ticket)

    async def _team_files(
        self,
        n: Notification,
        files: Sequence[Attachment],
        chat_id: int,
        thread_id: int | None,
        reply_to: ReplyParameters | None,
        done: int,
        progress: RunProgress,
    ) -> None:
        """The files a team notification carries, album by album, after its texts."""
        step = len(self.renderer.reply(Reply(n.key, decode_params(n.params)), n.locale).parts)
        for batch in self._batches(files):
            step += 1
            if step <= done:  # delivered by an earlier attempt
                continue
            await progress.sending((n.id,))
            for message in await self.send_batch(
                chat_id, batch, thread_id=thread_id, reply_parameters=reply_to
            ):
                await self.links.set(
                    CHANNEL, KIND_MESSAGE, ref(chat_id, message.message_id), str(n.ticket_number)
                )
            await self._advance(n, step)

    def _batches(self, files: Sequence[Attachment]) -> list[list[Attachment]]:
        return file_batches(files, self.limits.sendable(CHANNEL))

    def _over_limit(self, attachment: Attachment) -> bool:
        return _over(attachment, self.limits.sendable(CHANNEL))

    async def _too_large(self, attachment: Attachment, lang: str | None) -> str:
        """What is said in place of a file Telegram would refuse (HTML, one part)."""
        link = None
        if attachment.stored and self.file_link is not None:
            link = await self.file_link(attachment.stored, attachment.file_name)
        limit = self.limits.sendable(CHANNEL)
        notice = too_large(attachment, attachment.size, limit, link)
        return self.renderer.reply(notice, lang or self.team_language).parts[0]

    def _sendable(self, attachment: Attachment) -> bool:
        """A Telegram file (sent on by its id), or another channel's the desk kept."""
        return attachment.platform in ("", CHANNEL) or bool(
            attachment.stored and self.files is not None
        )

    async def _media(self, attachment: Attachment) -> str | BufferedInputFile:
        """What to send for a file: Telegram's id, or the desk's copy uploaded."""
        if attachment.platform in ("", CHANNEL) or self.files is None:
            return attachment.file_ref
        data = await self.files(attachment.stored)
        if data is None:
            raise DeliveryError(f"the desk's copy of {attachment.file_name!r} is missing")
        return BufferedInputFile(data, attachment.file_name or "file")

    async def is_forum(self, chat_id: int) -> bool:
        if chat_id not in self._forum:
            chat = await self.bot.get_chat(chat_id)
            self._forum[chat_id] = bool(chat.is_forum)
        return self._forum[chat_id]

    async def _topic(self, chat_id: int, ticket: Ticket, known: Prefetched | None = None) -> int:
        assert ticket.number is not None
        key = ticket_key(ticket.number, chat_id)
        found = parse_ref(await self._link(KIND_TOPIC, key, known))
        if found is not None:
            return found[1]
        await self.pacer.wait(chat_id)
        topic = await self.bot.create_forum_topic(chat_id, topic_name(ticket))
        await self.links.set(CHANNEL, KIND_TOPIC, key, ref(chat_id, topic.message_thread_id))
        return topic.message_thread_id

    async def _card(
        self,
        chat_id: int,
        thread_id: int | None,
        ticket: Ticket,
        openings: Collection[str] = (),
        progress: RunProgress | None = None,
        known: Prefetched | None = None,
    ) -> tuple[int, bool]:
        """Send the ticket card, or edit it to the ticket's current state; its message
        id, and whether it was sent now with the whole opening on it (then it carries
        the ``openings`` notifications, told to ``progress`` before it goes)."""
        assert ticket.number is not None
        found = await self.refresh_card(chat_id, ticket, known)
        if found is not None:
            return found, False
        lines, opening = self._card_parts(ticket)
        text = _folded(lines, opening, TEXT_LIMIT)[0]
        markup = self._card_markup(chat_id, ticket)
        # Folded into the card only with room to spare: edits as the ticket goes on
        # (a quote, the SLA lines) must keep it on.
        opening_on_card = _folded(lines, opening, TEXT_LIMIT - CARD_SPARE)[1]
        if opening_on_card and openings:
            await (progress or UNTRACKED).sending(openings)
        reclose = not self._active_here(chat_id, ticket)
        message_id = await self._in_thread(chat_id, thread_id, text, None, markup, reclose=reclose)
        key = ticket_key(ticket.number, chat_id)
        await self.links.set(CHANNEL, KIND_CARD, key, card_ref(chat_id, message_id, text, markup))
        await self.links.set(CHANNEL, KIND_MESSAGE, ref(chat_id, message_id), str(ticket.number))
        return message_id, opening_on_card

    async def refresh_card(
        self, chat_id: int, ticket: Ticket, known: Prefetched | None = None
    ) -> int | None:
        """Edit the ticket's card in ``chat_id`` to the ticket's current state (not every
        change is announced to the team, e.g. an answer that took the ticket); the card's
        message id, None when the chat has no card for it yet."""
        assert ticket.number is not None
        key = ticket_key(ticket.number, chat_id)
        value = await self._link(KIND_CARD, key, known)
        found = parse_ref((value or "").partition("#")[0])
        if value is None or found is None:
            return None
        if not self._active_here(chat_id, ticket):
            # Closed or moved away: a menu still open for it here would only be refused.
            await self.retire_menu(chat_id, ticket.number)
        text, markup = self._card_content(chat_id, ticket)
        shown = card_ref(chat_id, found[1], text, markup)
        if value == shown:
            # The card shows this already: an edit would only cost a call of the chat's
            # budget and come back "message is not modified".
            return found[1]
        try:
            await self.pacer.wait(chat_id)
            await self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=found[1], reply_markup=markup
            )
        except TelegramBadRequest as exc:
            if "not modified" not in str(exc):
                raise
        await self.links.set(CHANNEL, KIND_CARD, key, shown)
        return found[1]

    async def open_menu(self, chat_id: int, number: int, message_id: int) -> None:
        """A menu of the ticket's (Transfer, Decline) was just sent to the team chat: the
        one open before it there is taken off, so only the newest can be pressed."""
        await self.retire_menu(chat_id, number)
        await self.links.set(
            CHANNEL, KIND_MENU, ticket_key(number, chat_id), ref(chat_id, message_id)
        )

    async def open_menu_id(self, chat_id: int, number: int) -> int | None:
        """The message id of the ticket's open menu in the team chat, if any."""
        found = parse_ref(await self.links.get(CHANNEL, KIND_MENU, ticket_key(number, chat_id)))
        return found[1] if found is not None else None

    async def retire_menu(self, chat_id: int, number: int) -> None:
        """Take the buttons off the ticket's open menu in the team chat, if it has one
        (picked from, replaced by another menu, or the ticket closed or moved away)."""
        key = ticket_key(number, chat_id)
        found = parse_ref(await self.links.get(CHANNEL, KIND_MENU, key))
        if found is None:
            return
        try:
            await self.pacer.wait(chat_id)
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=found[1], reply_markup=None
            )
        except TelegramBadRequest as exc:
            # Gone already, or without buttons: nothing is left to press either way.
            log.info("menu %s of #%s in %s not retired: %s", found[1], number, chat_id, exc)
        await self.links.set(CHANNEL, KIND_MENU, key, "")

    def _card_content(
        self, chat_id: int, ticket: Ticket
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        return self.card_text(ticket), self._card_markup(chat_id, ticket)

    def _card_markup(self, chat_id: int, ticket: Ticket) -> InlineKeyboardMarkup | None:
        if not self._works_here(chat_id, ticket):
            return None  # transferred away: this chat no longer works on it
        return card_keyboard(self.renderer, ticket, self.team_language)

    def _works_here(self, chat_id: int, ticket: Ticket) -> bool:
        """Whether the ticket's department works in this team chat (unknown: yes)."""
        return not self.chat_departments or ticket.department in self.chat_departments(chat_id)

    def _active_here(self, chat_id: int, ticket: Ticket) -> bool:
        return ticket.is_open and self._works_here(chat_id, ticket)

    def card_text(self, ticket: Ticket) -> str:
        """The card as of now: the ticket, then its service levels and quote, then what
        the customer wrote when filing if all of it fits in one message (otherwise the
        opening notification says it in a message of its own)."""
        return _folded(*self._card_parts(ticket), TEXT_LIMIT)[0]

    def _card_parts(self, ticket: Ticket) -> tuple[str, str | None]:
        """The card's lines, and the opening when it is one message."""
        # The channel's card (times in the department's zone), or a bare one.
        lines = self.card_lines(ticket) if self.card_lines else [card(ticket)]
        text = "\n".join(self.renderer.reply(line, self.team_language).parts[0] for line in lines)
        opening = self.renderer.reply(card_opening(ticket), self.team_language).parts
        return text, opening[0] if len(opening) == 1 else None

    async def _in_thread(
        self,
        chat_id: int,
        thread_id: int | None,
        text: str,
        reply_to: ReplyParameters | None,
        markup: InlineKeyboardMarkup | None = None,
        *,
        reclose: bool = True,
    ) -> int:
        try:
            message = await self.send_text(
                chat_id, text, markup, thread_id=thread_id, reply_parameters=reply_to
            )
        except TelegramBadRequest as exc:
            if thread_id is None or "TOPIC_CLOSED" not in str(exc):
                raise
            # Something arrived after the ticket was closed (or moved away): say it, then
            # close again; a ticket that is back in this chat keeps its topic open.
            await self.pacer.wait(chat_id)
            await self.bot.reopen_forum_topic(chat_id, thread_id)
            message = await self.send_text(chat_id, text, markup, thread_id=thread_id)
            if reclose:
                await self._close_topic(chat_id, thread_id)
        return message.message_id

    async def _close_topic(self, chat_id: int, thread_id: int) -> None:
        try:
            await self.pacer.wait(chat_id)
            await self.bot.close_forum_topic(chat_id, thread_id)
        except TelegramBadRequest as exc:
            if "TOPIC_NOT_MODIFIED" not in str(exc):
                raise

    # -- sending ------------------------------------------------------------------------------

    async def send_text(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        thread_id: int | None = None,
        reply_parameters: ReplyParameters | None = None,
        business: str | None = None,
    ) -> Message:
        await self.pacer.wait(chat_id)
        return await self.bot.send_message(
            chat_id,
            text,
            parse_mode="HTML",
            reply_markup=markup,
            message_thread_id=thread_id,
            reply_parameters=reply_parameters,
            link_preview_options=None,
            business_connection_id=business,
        )

    async def send_files(
        self,
        chat_id: int,
        files: Sequence[Attachment],
        *,
        thread_id: int | None = None,
        reply_parameters: ReplyParameters | None = None,
    ) -> list[Message]:
        """Send Telegram files by id: albums of photos or documents, others one by one."""
        sent: list[Message] = []
        for batch in self._batches(files):
            sent += await self.send_batch(
                chat_id, batch, thread_id=thread_id, reply_parameters=reply_parameters
            )
        return sent

    async def send_batch(
        self,
        chat_id: int,
        batch: Sequence[Attachment],
        *,
        thread_id: int | None = None,
        reply_parameters: ReplyParameters | None = None,
        business: str | None = None,
        lang: str | None = None,
    ) -> list[Message]:
        """One message or album of files of one kind (see ``file_batches``); a file
        over the upload limit is said instead (``_too_large``)."""
        if self._over_limit(batch[0]):
            return [
                await self.send_text(
                    chat_id,
                    await self._too_large(batch[0], lang),
                    thread_id=thread_id,
                    reply_parameters=reply_parameters,
                    business=business,
                )
            ]
        photo = is_photo(batch[0])
        # Telegram counts an album's messages, not the call.
        await self.pacer.wait(chat_id, len(batch))
        if len(batch) == 1:
            kwargs: dict[str, Any] = {
                "message_thread_id": thread_id,
                "reply_parameters": reply_parameters,
                "business_connection_id": business,
            }
            single = await self._media(batch[0])
            if photo:
                return [await self.bot.send_photo(chat_id, single, **kwargs)]
            return [await self.bot.send_document(chat_id, single, **kwargs)]
        media: list[InputMediaPhoto | InputMediaDocument] = []
        for a in batch:
            item = await self._media(a)
            media.append(InputMediaPhoto(media=item) if photo else InputMediaDocument(media=item))
        return list(
            await self.bot.send_media_group(
                chat_id,
                media,  # type: ignore[arg-type]
                message_thread_id=thread_id,
                reply_parameters=reply_parameters,
                business_connection_id=business,
            )
        )

    async def username(self) -> str:
        if self._username is None:
            me = await self.bot.me()
            self._username = me.username or ""
        return self._username

    # -- bookkeeping --------------------------------------------------------------------------

    async def _prefetch(self, links: list[LinkKey]) -> Prefetched:
        return Prefetched(links, await self.links.get_many(links))

    async def _link(self, kind: str, key: str, known: Prefetched | None) -> str | None:
        """A link of this channel: as prefetched for this delivery, else as stored."""
        link = (CHANNEL, kind, key)
        if known is not None and known.has(link):
            return known.take(link)
        return await self.links.get(*link)

    async def _progress(self, n: Notification, known: Prefetched | None = None) -> int:
        """How many parts of this notification a previous attempt already delivered."""
        value = await self._link(KIND_SENT, n.id, known)
        return int(value) if value and value.isdigit() else 0

    async def _advance(self, n: Notification, parts: int) -> None:
        await self.links.set(CHANNEL, KIND_SENT, n.id, str(parts))

    async def _entry_files(
        self, n: Notification, ticket: Ticket | None = None
    ) -> list[Attachment]:
        """The Telegram files of the thread entry this notification announces."""
        kind = _FILES_FROM.get(n.key)
        if kind is None or not n.params.get("files") or n.ticket_number is None:
            return []
        if ticket is None:
            try:
                ticket = await self.tickets(n.ticket_number)
            except TicketNotFound:
                return []
        index = n.params.get("entry")
        if isinstance(index, int | str) and str(index).isdigit():
            # The core names the entry: exactly its files, even when texts repeat.
            at = int(index)
            if at < len(ticket.entries) and ticket.entries[at].kind is kind:
                entry = ticket.entries[at]
                return [a for a in entry.attachments if self._sendable(a)]
            return []
        text = n.params.get("text", "")
        for entry in reversed(ticket.entries):
            if entry.kind is kind and entry.text == text and entry.attachments:
                return [a for a in entry.attachments if self._sendable(a)]
        return []


@dataclass(frozen=True, slots=True)
class _Piece:
    """One part of a team notification's text, on its way into a joined message;
    ``final`` when nothing of the notification comes after it."""

    notification: Notification
    index: int
    text: str
    markup: InlineKeyboardMarkup | None
    final: bool = False


class _Untracked:
    """``RunProgress`` for a notification delivered on its own: its claim started it."""

    async def sending(self, notification_ids: Collection[str]) -> None:
        return None

    def delivered(self, notification_id: str) -> None:
        return None


UNTRACKED: RunProgress = _Untracked()


def _joined(pieces: Sequence[_Piece], limit: int = TEXT_LIMIT) -> list[list[_Piece]]:
    """Consecutive pieces of different notifications in one message while they fit; a
    piece with buttons ends its message (the buttons go under it)."""
    messages: list[list[_Piece]] = []
    size = 0
    for piece in pieces:
        current = messages[-1] if messages else None
        if (
            current is not None
            and current[-1].markup is None
            and current[-1].notification is not piece.notification
            and size + len(JOINER) + len(piece.text) <= limit
        ):
            current.append(piece)
            size += len(JOINER) + len(piece.text)
        else:
            messages.append([piece])
            size = len(piece.text)
    return messages


def _folded(lines: str, opening: str | None, room: int) -> tuple[str, bool]:
    """The card's text with the opening after its lines when it fits in ``room``, and
    whether it did."""
    if opening is not None and len(lines) + len(JOINER) + len(opening) <= room:
        return f"{lines}{JOINER}{opening}", True
    return lines, False


def _team_links(ns: Sequence[Notification]) -> list[LinkKey]:
    """The links delivering one ticket's notifications to a team chat reads: the
    ticket's topic and card there, and how far each notification got."""
    key = ticket_key(_ticket_number(ns[0]), _chat_id(ns[0].recipient))
    return [(CHANNEL, KIND_TOPIC, key), (CHANNEL, KIND_CARD, key)] + [
        (CHANNEL, KIND_SENT, n.id) for n in ns
    ]


def _is_team(n: Notification) -> bool:
    """A team notification about a ticket (delivered into the ticket's topic)."""
    return n.audience is Audience.TEAM and n.ticket_number is not None


def _ticket_number(n: Notification) -> int:
    assert n.ticket_number is not None
    return n.ticket_number


def _by_ticket(notifications: Sequence[Notification]) -> list[list[Notification]]:
    """A run by ticket, each ticket's in order; tickets with urgent news first, then
    in the order their first notification came. Notifications of no ticket stay alone."""
    groups: dict[object, list[Notification]] = {}
    for n in notifications:
        key: object = n.ticket_number if n.ticket_number is not None else n.id
        groups.setdefault(key, []).append(n)
    ordered = list(groups.values())
    ordered.sort(key=lambda group: not any(is_urgent(n) for n in group))  # stable
    return ordered


def is_photo(attachment: Attachment) -> bool:
    """Whether Telegram knows the file as a photo (sendPhoto); anything else, even a PNG
    sent as a file, must go back as a document or Telegram refuses the file id."""
    if attachment.platform not in ("", CHANNEL):
        # Another channel's: sent by its bytes, as a photo if sendPhoto takes it.
        return attachment.mime_type in PHOTO_TYPES and attachment.size <= PHOTO_LIMIT
    if attachment.kind:
        return attachment.kind == KIND_PHOTO
    # Not stored with the ticket: Telegram's file ids tell (photos start "AgAC",
    # documents "BQAC"); otherwise the name we give photos on receipt.
    if attachment.file_ref.startswith("AgAC"):
        return True
    if attachment.file_ref.startswith("BQAC"):
        return False
    return attachment.mime_type == PHOTO_MIME and attachment.file_name.startswith(PHOTO_NAME)


def _over(attachment: Attachment, limit: int | None) -> bool:
    """Another channel's file larger than Telegram lets a bot upload (``limit``);
    Telegram's own go by file id, whatever their size."""
    return (
        limit is not None and attachment.platform not in ("", CHANNEL) and attachment.size > limit
    )


def file_batches(files: Sequence[Attachment], limit: int | None = None) -> list[list[Attachment]]:
    """Files in sendable groups: photos, then documents, at most 10 to an album; then
    each file over ``limit`` alone (said, not sent)."""
    fitting = [a for a in files if not _over(a, limit)]
    photos = [a for a in fitting if is_photo(a)]
    documents = [a for a in fitting if not is_photo(a)]
    return [
        group[start : start + 10]
        for group in (photos, documents)
        for start in range(0, len(group), 10)
    ] + [[a] for a in files if _over(a, limit)]


# Telegram's refusals that mean the customer cannot be written to at all: the chat is
# gone, or the company's account no longer lets the bot answer in it (a business
# connection disabled, revoked or unknown). Retrying would not help.
_UNREACHABLE = (
    "chat not found",
    "business_connection_not_allowed",
    "business_connection_invalid",
)


def _unreachable(error: str) -> bool:
    return any(marker in error.lower() for marker in _UNREACHABLE)


def _chat_id(recipient: str) -> int:
    value = recipient.rpartition(":")[2] if recipient.startswith("telegram:") else recipient
    try:
        return int(value)
    except ValueError:
        raise RecipientUnreachable(f"not a Telegram chat id: {recipient!r}") from None


__all__ = ["TelegramNotifier", "deep_link", "parse_ref", "ref"]
