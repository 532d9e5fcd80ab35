"""What every Telegram handler needs, built once per channel and passed to handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BusinessConnection,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    MessageReactionUpdated,
    ReactionTypeEmoji,
    ReactionTypeUnion,
    ReplyParameters,
    User,
)

from bot.desk import Desk
from bot.errors import DeskError
from bot.incidents import IncidentService
from bot.inputs import UpdateRef
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import FileStore, LinkStore, OutboxStore, RateLimiter
from bot.reply import Reply
from bot.stats import StatsService
from bot.ticket import Attachment
from bot.tickets import TicketService
from handlers.telegram.delivery import (
    KIND_BUSINESS,
    KIND_ROUTE,
    KIND_TOPIC,
    TelegramNotifier,
    ref,
)
from handlers.telegram.inbound import AlbumCollector, RecentAlbums
from handlers.telegram.render import CHANNEL, Renderer

log = logging.getLogger(__name__)

T = TypeVar("T")

# Private chats whose last keyboard this process remembers (``retire_keyboards``).
KEPT_KEYBOARDS = 10_000
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})


@dataclass(frozen=True, slots=True)
class Where:
    """Where a customer wrote, so the answer goes there: their chat, the ticket's topic
    in it (private-chat topics), and the business connection when they wrote to the
    company's own account (the answer then goes out as the company)."""

    chat_id: int
    thread_id: int | None = None
    business: str | None = None


def where_of(message: Message) -> Where:
    thread = message.message_thread_id if message.is_topic_message else None
    return Where(message.chat.id, thread, message.business_connection_id)


@dataclass(frozen=True, slots=True)
class Tuning:
    """Channel knobs: album collection time, caches, direct replies (flood control is
    the desk's: ``FLOOD_LIMIT``, ``FLOOD_WINDOW_SECONDS``)."""

    album_wait: float = 1.0
    membership_ttl: float = 10.0
    # Direct replies (not through the outbox): tries on a 429 or network error, and the
    # longest they may wait in all before the reply is given up (and logged).
    direct_tries: int = 3
    direct_budget: float = 10.0
    direct_backoff: float = 0.5


@dataclass
class TelegramContext:
    bot: Bot
    desk: Desk
    tickets: TicketService
    policy: DeskPolicy
    renderer: Renderer
    links: LinkStore
    limiter: RateLimiter
    notifier: TelegramNotifier
    # The outbox, to tell agents how far behind their chat is (None: not told).
    outbox: OutboxStore | None = None
    # Agents' /incident and leads' /stats (None: not offered).
    incidents: IncidentService | None = None
    stats: StatsService | None = None
    tuning: Tuning = field(default_factory=Tuning)
    albums: AlbumCollector = field(default_factory=AlbumCollector)
    posts: RecentAlbums = field(default_factory=RecentAlbums)
    # Private chat -> the last direct reply there with buttons (this process's).
    _keyboards: OrderedDict[int, int] = field(default_factory=OrderedDict)
    # The desk's file store: a copy of every file received, for the other channels.
    files: FileStore | None = None
    _members: dict[tuple[int, int], tuple[float, str]] = field(default_factory=dict)
    # Business connection -> the user id of the account it belongs to.
    _business: dict[str, int] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- who is who -------------------------------------------------------------------------

    def team_chats(self) -> dict[int, list[str]]:
        """Team chat id -> the departments working there."""
        out: dict[int, list[str]] = {}
        for dept in self.policy.departments.values():
            for chat in dept.team_channels.get(CHANNEL, ()):
                if chat.lstrip("-").isdigit():
                    out.setdefault(int(chat), []).append(dept.key)
        return out

    async def member_status(self, chat_id: int, user_id: int) -> str:
        now = time.monotonic()
        cached = self._members.get((chat_id, user_id))
        if cached is not None and now - cached[0] < self.tuning.membership_ttl:
            return cached[1]
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
            status = str(getattr(member.status, "value", member.status))
            if status == "restricted" and not getattr(member, "is_member", False):
                status = "left"  # restricted, but no longer in the chat
        except TelegramAPIError as exc:
            log.warning("membership of %s in %s unknown: %s", user_id, chat_id, exc)
            status = "unknown"
        self._members[(chat_id, user_id)] = (now, status)
        return status

    def forget_member(self, chat_id: int, user_id: int) -> None:
        """A membership changed (a ``chat_member`` update): ask Telegram next time."""
        self._members.pop((chat_id, user_id), None)

    async def customer_language(self, user: User) -> str:
        """The user's language, making their profile with Telegram's language on first
        contact (whatever the first contact is: a file, a sticker, a button...)."""
        who = Participant(CHANNEL, str(user.id))
        customer = await self.desk.customer(who, name=user.full_name, locale=user.language_code)
        return customer.locale

    async def agent(self, user_id: int, name: str) -> Actor:
        """The agent acting: departments whose team chat they belong to; leads serve all.
        The core authorises every action against this."""
        who = Participant(CHANNEL, str(user_id))
        departments: set[str] = set()
        for chat_id, keys in self.team_chats().items():
            if await self.member_status(chat_id, user_id) in MEMBER_STATUSES:
                departments.update(keys)
        actor = Actor(
            who, name, Role.AGENT, frozenset(departments), lead=who.key in self.policy.leads
        )
        return await self.tickets.as_person(actor)  # a lead linked on another platform

    async def moderator(self, chat_id: int, user_id: int, name: str) -> Actor | None:
        """A group administrator or a configured moderator; None for anyone else."""
        who = Participant(CHANNEL, str(user_id))
        if await self.tickets.is_moderator(who):  # listed, or linked to one listed
            return Actor(who, name, Role.MODERATOR)
        if await self.member_status(chat_id, user_id) in ADMIN_STATUSES:
            return Actor(who, name, Role.MODERATOR)
        return None

    # -- what an update is ---------------------------------------------------------------

    def message_ref(self, message: Message) -> UpdateRef:
        """A message's identity, the same however often Telegram delivers it."""
        return UpdateRef(CHANNEL, str(self.bot.id), f"m:{message.chat.id}:{message.message_id}")

    def reaction_ref(self, reaction: MessageReactionUpdated, emoji: list[str]) -> UpdateRef:
        """A reaction's identity: who put which emoji on which message."""
        who = reaction.user.id if reaction.user is not None else 0
        what = f"r:{reaction.chat.id}:{reaction.message_id}:{who}:{''.join(emoji)}"
        return UpdateRef(CHANNEL, str(self.bot.id), what)

    def query_ref(self, query: CallbackQuery) -> UpdateRef:
        """A button press's identity (Telegram gives each press its own id)."""
        return UpdateRef(CHANNEL, str(self.bot.id), f"q:{query.id}")

    async def answer_query(
        self, query: CallbackQuery, text: str | None = None, show_alert: bool = False
    ) -> None:
        """Answer a button press. Telegram refuses an answer to a press that is too
        old (an update handled again after a failure, a slow first try): the press is
        still handled, only its little notice is lost."""
        try:
            await query.answer(text, show_alert=show_alert)
        except TelegramBadRequest as exc:
            log.info("press %s not answered: %s", query.id, exc)

    async def keep(self, files: Sequence[Attachment]) -> list[Attachment]:
        """The files with the desk's copy of each (downloaded from Telegram), so that
        agents on other channels see them; a file that cannot be fetched now stays a
        Telegram-only file."""
        if self.files is None:
            return list(files)
        out: list[Attachment] = []
        for attachment in files:
            try:
                data = await self.bot.download(attachment.file_ref)
            except (TelegramAPIError, OSError) as exc:
                log.warning("file %s not kept: %s", attachment.file_name, exc)
                out.append(attachment)
                continue
            key = await self.files.put(data.read()) if data is not None else ""
            out.append(replace(attachment, stored=key))
        return out

    # -- saying things ------------------------------------------------------------------------

    async def say(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        lang: str,
        *,
        thread_id: int | None = None,
        reply_to: Message | None = None,
        business: str | None = None,
    ) -> list[Message]:
        sent: list[Message] = []
        for rendered in self.renderer.replies(replies, lang):
            await self.renderer.codec.save()
            for i, part in enumerate(rendered.parts):
                markup: InlineKeyboardMarkup | None = (
                    rendered.markup if i == len(rendered.parts) - 1 else None
                )
                message = await self.direct(
                    chat_id,
                    partial(
                        self.bot.send_message,
                        chat_id,
                        part,
                        parse_mode="HTML",
                        reply_markup=markup,
                        message_thread_id=thread_id,
                        business_connection_id=business,
                        reply_parameters=ReplyParameters(
                            message_id=reply_to.message_id, allow_sending_without_reply=True
                        )
                        if reply_to
                        else None,
                    ),
                )
                if message is not None:
                    sent.append(message)
                    if markup is not None and chat_id > 0:
                        self._remember_keyboard(chat_id, message.message_id)
        return sent

    async def say_at(
        self,
        where: Where,
        replies: Sequence[Reply],
        lang: str,
        *,
        reply_to: Message | None = None,
    ) -> list[Message]:
        """``say`` where a customer wrote (their topic, the company's account)."""
        return await self.say(
            where.chat_id,
            replies,
            lang,
            thread_id=where.thread_id,
            reply_to=reply_to,
            business=where.business,
        )

    async def mark_received(self, message: Message, where: Where) -> None:
        """Mark a customer's message as received instead of saying so: the policy's
        ``received`` reaction; in a business chat, where a bot cannot react, the
        message is marked read (as the company's people would see it read)."""
        mark: Callable[[], Awaitable[bool]]
        if where.business is not None:
            mark = partial(
                self.bot.read_business_message,
                business_connection_id=where.business,
                chat_id=message.chat.id,
                message_id=message.message_id,
            )
        else:
            reaction: list[ReactionTypeUnion] = [
                ReactionTypeEmoji(emoji=self.policy.reactions.received)
            ]
            mark = partial(
                self.bot.set_message_reaction,
                chat_id=message.chat.id,
                message_id=message.message_id,
                reaction=reaction,
            )
        try:
            await self.direct(message.chat.id, mark)
        except TelegramBadRequest as exc:
            log.info("message %s not marked received: %s", message.message_id, exc)

    # -- a customer's own threads and the company's account ---------------------------

    async def topic_ticket(self, where: Where) -> int | None:
        """The ticket whose topic (in the customer's private chat) a message is in."""
        if where.thread_id is None:
            return None
        key = await self.notifier.links.find(
            CHANNEL, KIND_TOPIC, ref(where.chat_id, where.thread_id)
        )
        number = (key or "").partition(":")[0]
        return int(number) if number.isdigit() else None

    async def open_ticket_topics(self, where: Where, numbers: Sequence[int], lang: str) -> None:
        """Give each ticket just filed its own topic in the customer's chat, when the chat
        has topics (Bot API 9.3; chosen per chat at run time), saying there what it is
        for: the customer writes about that request there, and its answers arrive
        there. A company's account has no topics of the bot's."""
        if where.business is not None:
            return
        for number in numbers:
            thread = await self.notifier.customer_topic(where.chat_id, number)
            if thread is not None:
                opened = Reply("telegram.topic.opened", {"number": number})
                await self.say(where.chat_id, [opened], lang, thread_id=thread)

    async def remember_route(self, where: Where) -> None:
        """Where the desk's later messages to this customer go: through the business
        connection they last wrote through, or straight to the bot's chat."""
        if where.chat_id <= 0:
            return
        route = where.business or ""
        if where.business is None and not self.notifier.cached_route(where.chat_id):
            return  # straight to the bot, and no other way known here: nothing to change
        if await self.notifier.route(where.chat_id) == (where.business or None):
            return
        await self.links.set(CHANNEL, KIND_ROUTE, str(where.chat_id), route)
        self.notifier.set_route(where.chat_id, route)

    async def business_owner(self, connection: str) -> int | None:
        """The user id of the account a business connection belongs to (the company's
        own messages in its chats come from it)."""
        if connection in self._business:
            return self._business[connection]
        found = await self.links.get(CHANNEL, KIND_BUSINESS, connection)
        owner = found.partition(":")[0] if found else ""
        if not owner.isdigit():
            try:
                owner = str((await self.bot.get_business_connection(connection)).user.id)
            except TelegramAPIError as exc:
                log.warning("business connection %s unknown: %s", connection, exc)
                return None
        self._business[connection] = int(owner)
        return int(owner)

    async def connect_business(self, connection: BusinessConnection) -> None:
        """A business connection made, changed or ended: who owns it, whether the bot
        may answer through it."""
        can_reply = bool(connection.rights and connection.rights.can_reply)
        on = connection.is_enabled and can_reply
        value = f"{connection.user.id}:{'on' if on else 'off'}"
        await self.links.set(CHANNEL, KIND_BUSINESS, connection.id, value)
        self._business[connection.id] = connection.user.id
        if connection.is_enabled and not can_reply:
            log.warning(
                "business connection %s of %s does not let the bot reply: customers there "
                "get no answers until 'reply to messages' is allowed",
                connection.id,
                connection.user.id,
            )
        log.info("business connection %s of %s: %s", connection.id, connection.user.id, value)

    def _remember_keyboard(self, chat_id: int, message_id: int) -> None:
        self._keyboards[chat_id] = message_id
        self._keyboards.move_to_end(chat_id)
        while len(self._keyboards) > KEPT_KEYBOARDS:
            self._keyboards.popitem(last=False)

    async def take_buttons_off(self, where: Where, message_id: int) -> None:
        """The buttons of that message were used one way or another: they go."""
        chat_id = where.chat_id
        edit = partial(
            self.bot.edit_message_reply_markup,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=None,
            business_connection_id=where.business,
        )
        try:
            await self.direct(chat_id, edit)
        except TelegramBadRequest as exc:
            # Gone already, or without buttons: nothing is left to press either way.
            log.info("buttons of %s in %s not removed: %s", message_id, chat_id, exc)

    async def retire_keyboards(self, where: Where, pressed: Message | None = None) -> None:
        """The conversation in a private chat moved on: the buttons of the message
        pressed (they were used) and of the last reply with buttons (they belonged to
        the step before) are taken off, so no old keyboard stays live. Buttons a
        notification brought (a resolution to confirm) stay until they are used."""
        retired = {self._keyboards.pop(where.chat_id, None)}
        if pressed is not None and pressed.reply_markup is not None:
            retired.add(pressed.message_id)
        for message_id in sorted(m for m in retired if m is not None):
            await self.take_buttons_off(where, message_id)

    async def show_instead(self, message: Message, replies: Sequence[Reply], lang: str) -> bool:
        """Edit ``message`` to show ``replies`` (another page of the list it shows);
        False when they do not fit one message, or Telegram refused the edit (the caller
        then sends them as new messages)."""
        rendered = self.renderer.replies(replies, lang)
        if len(rendered) != 1 or len(rendered[0].parts) != 1:
            return False
        await self.renderer.codec.save()
        edit = partial(
            message.edit_text,
            rendered[0].parts[0],
            parse_mode="HTML",
            reply_markup=rendered[0].markup,
        )
        try:
            return await self.direct(message.chat.id, edit) is not None
        except TelegramBadRequest as exc:
            # Unchanged (a double press) is shown already; anything else: send anew.
            return "not modified" in str(exc)

    async def direct(self, chat_id: int, send: Callable[[], Awaitable[T]]) -> T | None:
        """Make one direct call to Telegram (a reply, a prompt), paced; a 429 is retried
        after its ``retry_after`` and a network or server error after a short backoff,
        a few times within ``Tuning.direct_budget``; None (logged) when it never got
        through. Other errors are raised."""
        tuning = self.tuning
        waited = 0.0
        for attempt in range(1, tuning.direct_tries + 1):
            await self.notifier.pacer.wait(chat_id)
            try:
                return await send()
            except TelegramRetryAfter as exc:
                pause, error = float(exc.retry_after), str(exc)
            except (TelegramNetworkError, TelegramServerError) as exc:
                pause, error = tuning.direct_backoff * 2 ** (attempt - 1), str(exc)
            if attempt == tuning.direct_tries or waited + pause > tuning.direct_budget:
                log.warning("reply to %s given up after %d tries: %s", chat_id, attempt, error)
                return None
            log.info("reply to %s retried in %.1fs: %s", chat_id, pause, error)
            waited += pause
            await asyncio.sleep(pause)
        return None

    def background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the handler returns (cancelled when the channel closes)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def error_reply(self, exc: DeskError) -> Reply:
        return Reply(exc.key, {k: v for k, v in exc.params.items() if isinstance(v, str | int)})
