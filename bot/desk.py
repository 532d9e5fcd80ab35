"""The customer's side of the desk: every message, command and button of a customer.

``Desk.answer`` (and ``Desk.handle``, its replies only) is the one entry point
channels call for a customer. One update is one unit of work, taken through the
``Gate``: the participant's lock (one update of a customer at a time across every
worker), flood control, then one transaction holding the profile (language, linked
account, the ticket they look at, the running conversation), the pure conversation
step, the ticket changes and their outbox rows, and the inbox row that makes a
redelivered update do nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.account import Account, normalise_support_number
from bot.announce import price_param, quote_choices, rating_choices
from bot.commands import (
    AcceptQuote,
    AppendToTicket,
    Command,
    CommentRating,
    ConfirmResolution,
    DisputeResolution,
    LookupAccount,
    OpenTickets,
    RateTicket,
    RecordDeflection,
    RecordFeedback,
    RefuseQuote,
    ShowArticle,
    SuggestArticles,
    WriteToTicket,
)
from bot.customer import Customer
from bot.dialog import DeskContext, Dialog, TicketBrief, Transition
from bot.errors import (
    AlreadyRated,
    ConcurrentUpdate,
    DeskError,
    DuplicateUpdate,
    InvalidTransition,
    TicketNotFound,
)
from bot.gate import FloodRule, Gate
from bot.held import HeldMessage, join_held
from bot.i18n import LANGUAGES, pick_language
from bot.incidents import matching_incident
from bot.inputs import (
    AccountLooked,
    AddedToTicket,
    ArticlesFound,
    ArticleShown,
    ChoicePicked,
    CommandGiven,
    DeflectionRecorded,
    FeedbackRecorded,
    FileSent,
    Input,
    RatingCommented,
    Refused,
    TextSent,
    TicketsFiled,
    UpdateRef,
)
from bot.knowledge.article import Article, Feedback, FeedbackReason, brief, readable
from bot.knowledge.centre import HelpCentre
from bot.notification import Audience, Notification
from bot.paging import Page
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import Clock, Deflection, Locks, RateLimiter, UnitOfWork, UnitOfWorkFactory
from bot.reactions import Signal
from bot.reply import Choice, Moment, Reply, Text, dump_replies, load_replies
from bot.ticket import OPEN_STATUSES, EntryKind, Status, Ticket
from bot.tickets import MESSAGE_LIMIT, TicketClosed, TicketService
from bot.views import page_footer

log = logging.getLogger(__name__)

TICKET_FILTERS: dict[str, frozenset[Status] | None] = {
    "all": None,
    "open": frozenset(
        {Status.NEW, Status.ACCEPTED, Status.WAITING, Status.AWAITING_APPROVAL, Status.BLOCKED}
    ),
    "done": frozenset({Status.RESOLVED, Status.CLOSED, Status.DECLINED}),
}
THREAD_PREVIEW = 5
# Pages of a list anyone may ask for (a forged button asks for page 10**9).
MAX_PAGE = 10_000
# A conversation untouched this long is over (intake.timed_out).
CONVERSATION_TTL = timedelta(days=3)
# At start-up, a conversation whose last step was this recent was interrupted by the
# restart: its customer is reminded where they were (once per step).
RESUME_WINDOW = timedelta(hours=1)
RESUME_LIMIT = 1000
# Codes that link a customer's participants (``/link``): no 0/O or 1/I to misread.
LINK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8
LINK_CODE_TTL = timedelta(minutes=10)
# Ticket numbers a customer may type: ASCII digits, within the database's integer range.
MAX_NUMBER = 2**31 - 1
# Articles ``/help WORDS`` lists.
HELP_RESULTS = 5
# Listed so the catalog test (and a reader) sees the keys built from the reasons.
REASON_KEYS = {reason: f"help.reason.{reason.value}" for reason in FeedbackReason}
_REASON_LABELS = (
    "help.reason.outdated",
    "help.reason.unclear",
    "help.reason.unsolved",
    "help.reason.other",
)


def parse_number(text: str) -> int | None:
    """``12``, ``#12`` -> 12; anything else (``²``, ``99999999999999``) -> None."""
    digits = text.strip().lstrip("#")
    if not digits.isascii() or not digits.isdigit():
        return None
    number = int(digits)
    return number if 0 < number <= MAX_NUMBER else None


@dataclass(frozen=True, slots=True)
class Answer:
    """What to show the customer for one update, and in which language."""

    replies: list[Reply]
    locale: str
    # The answer of a redelivered update, given again: the channel adds nothing of its
    # own (refusals of files, say) a second time.
    again: bool = False
    # Another page of the list whose button was pressed: a channel that can shows it in
    # place of that message.
    in_place: bool = False
    # The customer's message joined this ticket and nothing needs saying about it: a
    # channel marks the message as received (Telegram: a reaction on it) instead of a
    # reply after every message.
    acknowledged: int | None = None
    # Tickets this update filed (a channel may give each a thread of its own).
    opened: tuple[int, ...] = ()


class _Flooded(Exception):
    """The update was over the flood limit (found out inside its unit of work, which
    then keeps nothing); ``told``: whether to tell them (once a window)."""

    def __init__(self, told: bool) -> None:
        super().__init__("flooded")
        self.told = told


class _Turn:
    """One update's working set: its unit of work, and the customer's profile as the
    update changes it (written once, at the end, if it changed)."""

    def __init__(
        self,
        uow: UnitOfWork,
        customer: Customer,
        new: bool,
        awaited: bool = False,
        held: bool = False,
    ) -> None:
        self.uow = uow
        self.customer = customer
        # A ticket of theirs waits for their answer (read with the profile).
        self.answer_awaited = awaited
        self._stored = None if new else customer
        # The answer turns the page of the list whose button was pressed.
        self.in_place = False
        # The ticket the customer's message joined without a reply (``Answer``).
        self.acknowledged: int | None = None
        # Messages of theirs are held by flood control (read with the profile).
        self.held = held
        # Tickets filed in this update (``Answer.opened``).
        self.opened: tuple[int, ...] = ()

    @property
    def who(self) -> Participant:
        return self.customer.participant

    @property
    def conversation(self) -> dict[str, Any] | None:
        return self.customer.conversation

    def remember(self, **changes: Any) -> None:
        self.customer = replace(self.customer, **changes)

    async def account(self) -> Account | None:
        """The account of the customer's support number, as stored (the profile's read
        brought it into the unit of work, which reads an account once)."""
        number = self.customer.support_number
        return await self.uow.accounts.get(number) if number else None

    async def flush(self) -> None:
        if self._stored is None:
            await self.uow.customers.create(self.customer)
        elif self.customer != self._stored:
            await self.uow.customers.put(self.customer)
        self._stored = self.customer


class Desk:
    """Customers' conversations with the desk, on any channel."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        tickets: TicketService,
        policy: DeskPolicy,
        clock: Clock,
        dialogs: Sequence[Dialog[Any]],
        *,
        gate: Gate | None = None,
        limiter: RateLimiter | None = None,
        flood: FloodRule | None = None,
        locks: Locks | None = None,
        help_centre: HelpCentre | None = None,
    ) -> None:
        self._uow = uow
        # None: no help centre; intake offers no articles and /help WORDS finds none.
        self._help_centre = help_centre
        self._tickets = tickets
        self._policy = policy
        self._clock = clock
        self._gate = gate or tickets.gate
        self._limiter = limiter
        self._flood = flood or FloodRule()
        # A customer's updates one at a time (None: the gate's locks). Where the store
        # writes a profile only at the version it read (PostgreSQL) and the update
        # queue gives a chat to one worker at a time, this process's queue suffices.
        self._locks = locks
        self._dialogs = {dialog.kind: dialog for dialog in dialogs}
        if "intake" not in self._dialogs:
            raise ValueError("the desk needs an intake dialog")

    # -- entry points -----------------------------------------------------------------

    async def handle(
        self,
        who: Participant,
        event: Input,
        *,
        name: str = "",
        locale: str | None = None,
        update: UpdateRef | None = None,
    ) -> list[Reply]:
        """One customer input in, the replies to show out."""
        answer = await self.answer(who, event, name=name, locale=locale, update=update)
        return answer.replies

    async def answer(
        self,
        who: Participant,
        event: Input,
        *,
        name: str = "",
        locale: str | None = None,
        update: UpdateRef | None = None,
    ) -> Answer:
        """One customer input in: the replies, in the customer's language. A redelivered
        ``update`` answers nothing and changes nothing. Over the flood limit a message
        is kept for later and a command or button is not carried out (``FloodRule``)."""
        early: asyncio.Task[bool | None] | None = None
        if self._limiter is not None and self._limiter.remote:
            # The flood check is a round trip to the fleet's store: it runs while the
            # update's unit of work opens and reads the profile, and is asked for
            # before the step (over the limit, that unit keeps nothing).
            early = asyncio.ensure_future(self._over_flood(who, update))
        else:
            over = await self._over_flood(who, update)
            if over is not None:
                return await self._hold(who, event, update, over, locale)

        async def work(uow: UnitOfWork) -> Answer:
            turn = await self._turn(uow, who, name, locale)
            if early is not None and (over := await early) is not None:
                raise _Flooded(over)
            # Messages a flood kept back come first: they were written before this one.
            replies = await self._release(turn) if turn.held else []
            replies += await self._dispatch(turn, event)
            await turn.flush()
            return Answer(
                replies,
                turn.customer.locale,
                in_place=turn.in_place,
                acknowledged=turn.acknowledged,
                opened=turn.opened,
            )

        async def refused(uow: UnitOfWork, exc: DeskError) -> Answer:
            log.info("refused for %s: %s", who.key, exc)
            turn = await self._turn(uow, who, name, locale)
            await turn.flush()  # a first contact is remembered even when refused
            return Answer([Reply(exc.key, _plain(exc.params))], turn.customer.locale)

        def keep(answer: Answer) -> list[Any]:
            return [answer.locale, dump_replies(answer.replies), answer.acknowledged]

        try:
            return await self._gate.run(who, update, work, refused, keep=keep, locks=self._locks)
        except DuplicateUpdate:
            log.info("update %s of %s was handled already: answered again", update, who.key)
            return await self._answered(update, locale)
        except _Flooded as flood:
            return await self._hold(who, event, update, flood.told, locale)
        finally:
            if early is not None and not early.done():
                early.cancel()  # the gate failed before the step asked for it

    async def react(
        self,
        who: Participant,
        number: int,
        emoji: Sequence[str],
        *,
        name: str = "",
        locale: str | None = None,
        update: UpdateRef | None = None,
    ) -> Answer:
        """The customer reacted with ``emoji`` to the message that announced ticket
        ``number``'s resolution: a reaction the policy counts as confirming confirms it,
        as the Confirm button does; any other changes nothing."""
        if self._policy.reactions.customer_signal(emoji) is not Signal.CONFIRM:
            return Answer([], pick_language(locale, self._policy.languages))
        press = ChoicePicked(f"confirm:{number}")
        return await self.answer(who, press, name=name, locale=locale, update=update)

    async def _answered(self, update: UpdateRef | None, locale: str | None) -> Answer:
        """A redelivered update's answer, as it was given (the customer may never have
        seen it: the process may have died between the commit and the reply)."""
        kept = None
        if update is not None:
            async with self._uow() as uow:
                kept = await uow.inbox.answer(update)
        if not kept:
            return Answer([], pick_language(locale, self._policy.languages), again=True)
        acknowledged = kept[2] if len(kept) > 2 and isinstance(kept[2], int) else None
        return Answer(load_replies(kept[1]), str(kept[0]), again=True, acknowledged=acknowledged)

    async def throttle(
        self, who: Participant, update: UpdateRef | None = None
    ) -> list[Reply] | None:
        """Flood control for what a channel answers by itself (a sticker, an edit):
        None while ``who`` is within the limit; over it, what to tell them (once per
        window; nothing after that)."""
        over = await self._over_flood(who, update)
        if over is None:
            return None
        return [self._flood_notice()] if over else []

    async def _over_flood(self, who: Participant, update: UpdateRef | None) -> bool | None:
        """None within the flood limit; over it, whether to tell them (once a window)."""
        if self._limiter is None:
            return None
        over = await self._flood.check(self._limiter, who.key, update)
        if over is not None:
            log.info("flood from %s (%s)", who.key, "told" if over else "quiet")
        return over

    def _flood_notice(self) -> Reply:
        window = self._flood.window
        return Reply("desk.flood", {"limit": self._flood.limit, "minutes": _minutes(window)})

    async def _hold(
        self,
        who: Participant,
        event: Input,
        update: UpdateRef | None,
        told: bool,
        locale: str | None,
    ) -> Answer:
        """Over the flood limit: a message is kept (joined into the desk's next step for
        them, or into their ticket by the clock once the flood is over); a command or a
        button is not carried out. The notice, once a window, says both."""
        lang = pick_language(locale, self._policy.languages)
        replies = [self._flood_notice()] if told else []
        if not isinstance(event, TextSent | FileSent):
            return Answer(replies, lang)
        text = event.text if isinstance(event, TextSent) else event.caption
        files = event.files if isinstance(event, FileSent) else ()
        now = self._clock.now()
        # Known by its update (a redelivery is kept once); without one, on its own.
        key = str(update) if update is not None else f"{who.key}@{uuid.uuid4().hex}"
        async with self._uow() as uow:
            if update is not None and await uow.inbox.seen(update):
                return await self._answered(update, locale)
            customer = await uow.customers.get(who)
            lang = customer.locale if customer is not None else lang
            message = HeldMessage(text, now, files)
            if not await uow.held.hold(who, key, message, self._flood.keep):
                # Kept as many as we keep: this one is not, and the sender must know.
                keep = self._flood.keep
                log.warning("flood from %s: %d messages held, more refused", who.key, keep)
                full = await self._flood.tell_once(self._limiter_or_none(), who.key, "full")
                replies = [Reply("desk.flood_full", {"count": self._flood.keep})] if full else []
            answer = Answer(replies, lang)
            if update is not None:
                await uow.inbox.record(update, now, [lang, dump_replies(replies), None])
            await uow.commit()
        return answer

    def _limiter_or_none(self) -> RateLimiter:
        assert self._limiter is not None  # only over a limit, which needs a limiter
        return self._limiter

    async def _release(self, turn: _Turn) -> list[Reply]:
        """The messages flood control kept for this customer, joined, taken as if sent
        now (before the update at hand): into the ticket they write to, or as their
        answer to the conversation's step."""
        replies: list[Reply] = []
        held = await turn.uow.held.take(turn.who)
        turn.held = False
        for piece in join_held(held, MESSAGE_LIMIT):
            event: TextSent | FileSent = (
                FileSent(piece.files, piece.text, held=piece.count)
                if piece.files
                else TextSent(piece.text, held=piece.count)
            )
            try:
                replies += await self._dispatch(turn, event)
            except ConcurrentUpdate:
                raise  # the gate runs the whole update again
            except DeskError as exc:
                # Refused (a file the desk does not take...): said, not silently lost.
                log.info("held messages of %s refused: %s", turn.who.key, exc)
                replies.append(Reply(exc.key, _plain(exc.params)))
        log.info("flood of %s over: %d held messages joined", turn.who.key, len(held))
        return replies

    async def release_held(self, limit: int = 100) -> int:
        """The clock's part of flood control: messages kept back longer than the flood
        window, of customers who have not written since, are joined in now; what the
        desk says about them reaches the customer through the outbox. How many
        customers' messages were joined."""
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.held.due(now - timedelta(seconds=self._flood.window), limit)
        for who in due:

            async def work(uow: UnitOfWork, who: Participant = who) -> None:
                turn = await self._turn(uow, who, "", None)
                if not turn.held:
                    return  # their own update took them meanwhile
                replies = await self._release(turn)
                await turn.flush()
                for reply in replies:
                    await uow.outbox.add(_to_customer(who, reply, turn.customer.locale, now))

            try:
                await self._gate.run(who, None, work, locks=self._locks)
            except Exception:
                # One customer's trouble must not keep the others' messages held.
                log.exception("releasing the held messages of %s failed", who.key)
        return len(due)

    async def customer(
        self, who: Participant, *, name: str = "", locale: str | None = None
    ) -> Customer:
        """The customer's profile, created on first contact."""

        async def work(uow: UnitOfWork) -> Customer:
            turn = await self._turn(uow, who, name, locale)
            await turn.flush()
            return turn.customer

        # Through the gate: a profile another worker wrote meanwhile is read again.
        return await self._gate.run(who, None, work, locks=self._locks)

    async def remind_interrupted(self, within: timedelta = RESUME_WINDOW) -> int:
        """At start-up: customers whose conversation took its last step shortly before
        (a restart interrupted them, maybe mid-answer) are reminded where they were:
        the step's question and buttons again, through the outbox, once per step
        however many workers start. How many were reminded."""
        started = self._clock.now()
        async with self._uow() as uow:
            customers = await uow.customers.in_conversation(RESUME_LIMIT)
        reminded = 0
        for who in customers:

            async def remind(uow: UnitOfWork, who: Participant = who) -> bool:
                turn = await self._turn(uow, who, "", None)
                stored = turn.conversation
                if stored is None or not _interrupted(stored, started, within):
                    return False
                dialog = self._dialogs.get(str(stored.get("kind", "intake")))
                if dialog is None:
                    return False
                try:
                    state = dialog.load(stored.get("data", stored))
                except ValueError:
                    return False
                context = await self._context(turn, dialog, state, None)
                replies = [Reply("desk.resumed"), *dialog.resume(state, context)]
                for reply in replies:
                    await uow.outbox.add(_to_customer(who, reply, turn.customer.locale, started))
                turn.remember(conversation=stored | {"reminded": stored["at"]})
                await turn.flush()
                return True

            if await self._gate.run(who, None, remind, locks=self._locks):
                reminded += 1
        return reminded

    async def language(self, who: Participant) -> str:
        return (await self.customer(who)).locale

    async def _turn(
        self, uow: UnitOfWork, who: Participant, name: str, locale: str | None
    ) -> _Turn:
        profile = await uow.customers.profile(who)
        found = profile.customer
        if found is None:
            created = Customer(
                who, name=name, locale=pick_language(locale, self._policy.languages)
            )
            return _Turn(uow, created, new=True)
        turn = _Turn(uow, found, new=False, awaited=profile.answer_awaited, held=profile.held)
        if (name and name != found.name) or found.unreachable:
            # Whoever writes to us can be reached again.
            turn.remember(name=name or found.name, unreachable=False)
        return turn

    # -- dispatch -------------------------------------------------------------------------

    async def _dispatch(self, turn: _Turn, event: Input) -> list[Reply]:
        if isinstance(event, CommandGiven):
            return await self._command(turn, event)
        if isinstance(event, ChoicePicked) and ":" in event.value:
            handled = await self._global_choice(turn, event.value)
            if handled is not None:
                return handled
        if isinstance(event, TextSent | FileSent) and event.ticket is not None:
            brief = await turn.uow.tickets.brief(event.ticket)
            if brief is not None and brief.status in OPEN_STATUSES:
                # Written in the ticket's own thread: it is about that ticket, whatever
                # the customer's conversation elsewhere is doing (it carries on).
                return await self._write(turn, event.ticket, event)
            # A closed ticket's thread: read as any message (a follow-up is offered).
            event = replace(event, ticket=None)
        stored = turn.conversation
        notes: list[Reply] = []
        if stored is not None and self._abandoned(stored):
            # A conversation left for days is over; the message is read afresh.
            notes = await self._step(turn, CommandGiven("timeout"), stored)
            stored = None
        if stored is not None and isinstance(event, TextSent | FileSent):
            waiting = await self._question_since(turn, stored)
            if waiting is not None:
                # An agent asked something after this conversation began: the answer
                # belongs to that ticket, and the conversation waits where it was.
                answered = await self._write(turn, waiting, event)
                turn.remember(conversation=stored | {"at": self._stamp()})
                return [*answered, Reply("desk.conversation_paused")]
        if stored is not None:
            return await self._step(turn, event, stored)
        if isinstance(event, TextSent | FileSent):
            return [*notes, *(await self._loose_message(turn, event))]
        return [*notes, Reply("desk.choice_expired"), *self._help()]

    def _stamp(self) -> str:
        return self._clock.now().isoformat()

    def _abandoned(self, stored: dict[str, Any]) -> bool:
        try:
            at = datetime.fromisoformat(str(stored["at"]))
        except (KeyError, ValueError):
            return False
        return self._clock.now() - at > CONVERSATION_TTL

    async def _question_since(self, turn: _Turn, stored: dict[str, Any]) -> int | None:
        """The customer's ticket that went Waiting for customer after the conversation's
        last step, if any."""
        if not turn.answer_awaited:
            return None
        try:
            since = datetime.fromisoformat(str(stored["at"]))
        except (KeyError, ValueError):
            return None
        for number, asked in await turn.uow.tickets.waiting_since(turn.who):
            if asked > since:
                return number
        return None

    async def _command(self, turn: _Turn, event: CommandGiven) -> list[Reply]:
        name, arg = event.name.lower().lstrip("/"), event.arg.strip()
        if name == "start":
            if arg.startswith("t") and (number := parse_number(arg[1:])) is not None:
                return await self._show_ticket(turn, number)
            return [Reply("desk.welcome", {"name": turn.customer.name}), *self._help()]
        if name == "help":
            return await self._search_help(turn, arg) if arg else self._help()
        if name == "new":
            turn.remember(conversation=None)
            return await self._begin(turn)
        if name == "training" and "training" in self._dialogs:
            turn.remember(conversation=None)
            return await self._begin(turn, "training")
        if name == "tickets":
            which, _, page = arg.partition(" ")
            number = _page_number(page.strip() or "1")
            if which in TICKET_FILTERS and number is not None:
                return await self._list(turn, which, number)
            if which == "org" and number is not None:
                return await self._list_organisation(turn, None, number)
            filters = [Choice(f"tickets:{f}", f"filter.{f}") for f in TICKET_FILTERS]
            if await self._organisation(turn) is not None:
                filters.append(Choice("tickets:org", "filter.org"))
            return [Reply("desk.tickets_filter", choices=tuple(filters))]
        if name == "ticket":
            number = parse_number(arg)
            if number is None:
                return [Reply("desk.ticket_usage")]
            return await self._show_ticket(turn, number)
        if name == "language":
            return self._set_language(turn, arg)
        if name == "link":
            return await self._link(turn, arg)
        stored = turn.conversation
        if stored is not None and name in ("cancel", "skip"):
            return await self._step(turn, CommandGiven(name, arg), stored)
        if name == "cancel":
            return [Reply("desk.nothing_to_cancel")]
        return [Reply("desk.unknown_command", {"command": name}), *self._help()]

    async def _global_choice(self, turn: _Turn, value: str) -> list[Reply] | None:
        """Buttons that work whatever the customer is doing (they may be old messages)."""
        prefix, _, arg = value.partition(":")
        if prefix == "tickets":
            # tickets:FILTER[:PAGE], tickets:org[:PAGE], tickets:by[:PAGE]:WHO (a
            # participant key, itself "platform:id"; buttons of old messages lack PAGE).
            which, _, rest = arg.partition(":")
            # A page named: the list's own Previous / Next (the filter menu names none).
            turn.in_place = rest[:1].isdigit()
            if which == "by":
                page, _, who = rest.partition(":")
                number = _page_number(page) if who and page.isdigit() else 1
                who = who if who and page.isdigit() else rest
                if number is not None and who:
                    return await self._list_organisation(turn, who, number)
            number = _page_number(rest or "1")
            if which in TICKET_FILTERS and number is not None:
                return await self._list(turn, which, number)
            if which == "org" and number is not None:
                return await self._list_organisation(turn, None, number)
        if prefix == "lang":
            return self._set_language(turn, arg)
        if prefix == "art":
            slug, _, lang = arg.partition(":")
            return await self._show_article(turn, slug, lang)
        if prefix in ("fb", "fr"):
            return await self._feedback(turn, prefix, arg)
        number = parse_number(arg) if arg.isdigit() else None
        if prefix in ("quote_yes", "quote_no") and number is not None:
            decision: Command = (
                AcceptQuote(number=number) if prefix == "quote_yes" else RefuseQuote(number=number)
            )
            decided = await self._customer_acts(turn, decision)
            if decided is None:
                return [Reply("desk.already_done", {"number": number})]
            if prefix == "quote_yes":
                return [Reply("desk.quote_accepted", {"number": number})]
            if decided.status is Status.DECLINED:
                return [Reply("desk.quote_refused", {"number": number})]
            return [Reply("desk.quote_refused_consultation", {"number": number})]
        if prefix in ("confirm", "dispute", "ticket", "followup") and number is not None:
            if prefix == "ticket":
                return await self._show_ticket(turn, number)
            if prefix == "followup":
                return await self._begin(turn, closed_ticket=number)
            command: Command = (
                ConfirmResolution(number=number)
                if prefix == "confirm"
                else DisputeResolution(number=number)
            )
            if await self._customer_acts(turn, command) is None:
                return [Reply("desk.already_done", {"number": number})]
            if prefix == "confirm":
                return [
                    Reply("desk.resolution_confirmed", {"number": number}),
                    Reply("rating.ask", {"number": number}, rating_choices(number)),
                ]
            return [Reply("desk.dispute_sent", {"number": number})]
        if prefix == "rate":
            return await self._rate(turn, arg)
        return None

    async def _rate(self, turn: _Turn, arg: str) -> list[Reply]:
        """``rate:N:SCORE`` under a closed ticket's notice: recorded at once (one per
        ticket), then the customer may add words (the ``rating`` dialog) unless a
        conversation is running, which their next message belongs to."""
        number_text, _, score_text = arg.partition(":")
        number = parse_number(number_text)
        if number is None or not score_text.isdigit():
            return [Reply("desk.choice_expired")]
        try:
            await self._tickets.execute_in(
                turn.uow,
                self._actor(turn),
                RateTicket(number=number, score=int(score_text)),
                locale=turn.customer.locale,
            )
        except AlreadyRated:
            return [Reply("rating.already", {"number": number})]
        except InvalidTransition as exc:
            if isinstance(exc, ConcurrentUpdate):
                raise
            return [Reply("desk.already_done", {"number": number})]
        if turn.conversation is not None:
            return [Reply("rating.thanks")]
        return await self._begin(turn, "rating", number=number)

    async def _customer_acts(self, turn: _Turn, command: Command) -> Ticket | None:
        """Carry out a customer's button on a ticket: the ticket after it, or None when
        it was done already."""
        try:
            return await self._tickets.execute_in(
                turn.uow, self._actor(turn), command, locale=turn.customer.locale
            )
        except ConcurrentUpdate:
            raise  # not done already: the gate retries on fresh state
        except InvalidTransition:
            return None

    # -- conversations ----------------------------------------------------------------------

    async def _begin(self, turn: _Turn, kind: str = "intake", **options: Any) -> list[Reply]:
        if closed := options.get("closed_ticket"):
            ticket = await self._own_ticket(turn, int(closed))
            options["category"] = ticket.category
        dialog = self._dialogs[kind]
        context = await self._context(turn, dialog, None, None)
        return await self._run(turn, dialog, dialog.start(context, **options))

    async def _step(self, turn: _Turn, event: Input, stored: dict[str, Any]) -> list[Reply]:
        # States stored before conversations had kinds are intakes.
        dialog = self._dialogs.get(str(stored.get("kind", "intake")))
        try:
            if dialog is None:
                raise ValueError(f"no dialog {stored.get('kind')!r}")
            state = dialog.load(stored.get("data", stored))
        except ValueError:
            log.warning("dropping unreadable conversation state of %s", turn.who.key)
            turn.remember(conversation=None)
            return [Reply("desk.conversation_lost"), *self._help()]
        context = await self._context(turn, dialog, state, event)
        return await self._run(turn, dialog, dialog.advance(state, event, context))

    async def _run(
        self, turn: _Turn, dialog: Dialog[Any], transition: Transition[Any]
    ) -> list[Reply]:
        replies = list(transition.replies)
        notes: list[Reply] = []
        # A conversation's command is carried out and its answer fed straight back.
        while transition.command is not None and transition.state is not None:
            answer, extra = await self._carry_out(turn, transition.command)
            notes.extend(extra)
            context = await self._context(turn, dialog, transition.state, answer)
            transition = dialog.advance(transition.state, answer, context)
            replies.extend(transition.replies)
        if transition.state is None:
            turn.remember(conversation=None)
        else:
            data = {
                "kind": dialog.kind,
                "data": dialog.dump(transition.state),
                "at": self._stamp(),
            }
            turn.remember(conversation=data)
        return replies + notes

    async def _filing_notes(self, turn: _Turn, tickets: list[Ticket]) -> list[Reply]:
        """When to expect an answer, and what is left of the monthly quota."""
        notes: list[Reply] = []
        for ticket in tickets:
            for expected in self._tickets.schedule.expectations(ticket):
                if expected not in notes:
                    notes.append(expected)
        for number in sorted({t.support_number for t in tickets if t.support_number}):
            left = await self._tickets.quota_left(number, uow=turn.uow)
            if left is not None:
                notes.append(left)
        return notes

    async def _carry_out(self, turn: _Turn, command: Command) -> tuple[Input, list[Reply]]:
        """Carry out a conversation's command: its answer, and notes for the customer."""
        match command:
            case LookupAccount(support_number=raw):
                number = normalise_support_number(raw)
                found = await turn.uow.accounts.get(number)
                account = self._tickets.schedule.entitled_account(found)
                if account is not None and account.is_valid_on(self._clock.now().date()):
                    # Given once, remembered: the next intake skips this question.
                    turn.remember(support_number=number)
                return AccountLooked(number, account), []
            case OpenTickets(drafts=drafts):
                try:
                    opened = await self._tickets.open_tickets(
                        turn.customer, drafts, turn.who.platform, uow=turn.uow
                    )
                except DeskError as exc:
                    return Refused(exc.key, tuple(_plain(exc.params).items())), []
                first = drafts[0]
                turn.remember(
                    current_ticket=opened[-1].number,
                    domain=first.domain or turn.customer.domain,
                    phone=first.phone or turn.customer.phone,
                )
                filed = TicketsFiled(tuple(t.number for t in opened if t.number is not None))
                turn.opened += filed.numbers
                return filed, await self._filing_notes(turn, opened)
            case SuggestArticles(text=text, department=department):
                lang = turn.customer.locale
                suggested: list[Article] = []
                if self._help_centre is not None:
                    suggested = await self._help_centre.suggest(turn.uow, text, lang, department)
                incident = await matching_incident(turn.uow, department, text, lang)
                return ArticlesFound(tuple(brief(a) for a in suggested), incident), []
            case ShowArticle(slug=slug, lang=lang):
                article = await self._article(turn, slug, lang)
                if article is None:
                    return ArticleShown(None), []
                return ArticleShown(brief(article), readable(article.body)), []
            case CommentRating(number=number):
                try:
                    await self._tickets.execute_in(
                        turn.uow, self._actor(turn), command, locale=turn.customer.locale
                    )
                except AlreadyRated as exc:
                    return Refused(exc.key, (("number", number),)), []
                return RatingCommented(number), []
            case RecordFeedback():
                await self._record_feedback(
                    turn,
                    command.slug,
                    command.lang,
                    command.helpful,
                    command.reason,
                    command.comment,
                )
                return FeedbackRecorded(), []
            case RecordDeflection():
                if command.slug:
                    # "This solved it" after reading the article: it helped.
                    await self._record_feedback(turn, command.slug, command.lang, True)
                await turn.uow.articles.record_deflection(
                    Deflection(
                        at=self._clock.now(),
                        customer=turn.who.key,
                        department=command.department,
                        category=command.category,
                        slug=command.slug,
                        lang=command.lang,
                    )
                )
                return DeflectionRecorded(), []
            case AppendToTicket(number=number, text=text, attachments=files):
                await self._tickets.execute_in(
                    turn.uow,
                    self._actor(turn),
                    WriteToTicket(number=number, text=text, attachments=files),
                    locale=turn.customer.locale,
                )
                turn.remember(current_ticket=number)
                return AddedToTicket(number), []
        raise DeskError(f"conversation issued unsupported command {type(command).__name__}")

    async def _context(
        self, turn: _Turn, dialog: Dialog[Any], state: Any, event: Input | None
    ) -> DeskContext:
        """The facts of this step; open tickets are read only for a step that uses them."""
        customer = turn.customer
        account = self._tickets.schedule.entitled_account(await turn.account())
        today = self._clock.now().date()
        briefs: tuple[TicketBrief, ...] = ()
        if dialog.reads_open_tickets(state, event):
            briefs = tuple(await turn.uow.tickets.briefs(turn.who, OPEN_STATUSES))
        quota, notice, used_once = None, None, frozenset[str]()
        if account is not None and dialog.reads_account_usage(state, event):
            quota, notice = await self._tickets.quota_status(account, uow=turn.uow)
            used_once = await self._tickets.used_once(account, uow=turn.uow)
        return DeskContext(
            quota=quota,
            quota_notice=notice,
            used_once=used_once,
            policy=self._policy,
            today=today,
            training_eligible=self._tickets.schedule.training_eligible(account, today),
            training_days=self._tickets.schedule.levels.onboarding.days,
            training_trial=self._tickets.schedule.levels.onboarding.trial,
            locale=customer.locale,
            channel=turn.who.platform,
            account=account,
            domain=customer.domain,
            phone=customer.phone,
            open_tickets=briefs,
        )

    # -- messages outside a conversation -------------------------------------------------------

    async def _loose_message(self, turn: _Turn, event: TextSent | FileSent) -> list[Reply]:
        """A message with no conversation running joins the customer's open ticket."""
        current: TicketBrief | None = None
        if turn.customer.current_ticket is not None:
            current = await turn.uow.tickets.brief(turn.customer.current_ticket)
            if current is not None and current.status not in OPEN_STATUSES:
                # They are looking at a closed ticket: offer a follow-up, never another,
                # and carry what they wrote into it.
                return await self._begin(
                    turn,
                    closed_ticket=current.number,
                    carried_text=event.text if isinstance(event, TextSent) else event.caption,
                    carried_files=event.files if isinstance(event, FileSent) else (),
                )
        if current is None:
            open_tickets = await turn.uow.tickets.briefs(turn.who, OPEN_STATUSES)
            current = open_tickets[0] if open_tickets else None
        if current is None:
            return [Reply("desk.no_open_ticket"), *(await self._begin(turn))]
        return await self._write(turn, current.number, event, current.title)

    async def _write(
        self, turn: _Turn, number: int, event: TextSent | FileSent, title: str | None = None
    ) -> list[Reply]:
        """The customer's message joins ticket ``number``."""
        text = event.text if isinstance(event, TextSent) else event.caption
        files = event.files if isinstance(event, FileSent) else ()
        try:
            ticket = await self._tickets.execute_in(
                turn.uow,
                self._actor(turn),
                WriteToTicket(number=number, text=text, attachments=files, held=event.held),
                locale=turn.customer.locale,
            )
        except TicketClosed:
            # Closed is read-only: what they wrote goes into the follow-up offered.
            return await self._begin(
                turn, closed_ticket=number, carried_text=text, carried_files=files
            )
        turn.remember(current_ticket=number)
        if ticket.status is Status.BLOCKED:
            return [Reply("notice.blocked_kept", {"number": number})]
        if event.held:
            # What a flood kept back is in now: said exactly, however often.
            return [Reply("desk.held_added", {"count": event.held, "number": number})]
        if sum(entry.kind is EntryKind.CUSTOMER for entry in ticket.entries) > 1:
            # Said once per request; later messages are only marked as received.
            turn.acknowledged = number
            return []
        shown = title if title is not None else ticket.title
        return [Reply("desk.added_to_ticket", {"number": number, "title": shown})]

    # -- views ------------------------------------------------------------------------------------

    async def _list(self, turn: _Turn, which: str, number: int = 1) -> list[Reply]:
        """A page of the customer's requests, newest first; the first page says how
        many there are in each filter."""
        statuses = TICKET_FILTERS[which]
        page = Page(number)
        # The same person on another platform (``/link``): one list on both.
        linked = await turn.uow.people.linked(turn.who)
        counts = await turn.uow.tickets.count_for_customer(turn.who, linked)
        tickets = await turn.uow.tickets.for_customer(turn.who, statuses, page=page, linked=linked)
        if not tickets:
            return [Reply("desk.no_tickets", {"filter": Text(f"filter.{which}")})]
        lines = [
            Reply(
                "desk.ticket_line",
                {"number": t.number, "title": t.title, "status": Text(f"status.{t.status}")},
            )
            for t in tickets
        ]
        choices = tuple(
            Choice(f"ticket:{t.number}", "choice.open_ticket", {"number": t.number})
            for t in tickets
        )
        total = _in_filter(counts, statuses)
        return [
            Reply("desk.tickets_header", {"filter": Text(f"filter.{which}")}),
            *(_filter_counts(counts) if page.number == 1 else []),
            *_with_buttons(lines, choices, page, total, lambda n: f"tickets:{which}:{n}"),
        ]

    async def _organisation(self, turn: _Turn) -> Account | None:
        """The customer's account if they are one of its organisation admins."""
        if not turn.customer.support_number:
            return None
        account = await turn.account()
        if account is None or turn.who.key not in account.admins:
            return None
        return account

    async def _list_organisation(
        self, turn: _Turn, opener: str | None, number: int = 1
    ) -> list[Reply]:
        """An organisation admin's view: a page of every ticket of the account, and who
        opened it; ``opener`` (a participant key) narrows it to one person's tickets."""
        account = await self._organisation(turn)
        if account is None:
            return [Reply("error.not_allowed")]
        page = Page(number)
        who = Participant.parse(opener) if opener else None
        tickets = await turn.uow.tickets.for_account(
            account.support_number, customer=who, page=page
        )
        if not tickets:
            return [Reply("desk.no_tickets", {"filter": Text("filter.org")})]
        counts = await turn.uow.tickets.count_for_account(account.support_number, who)
        people = await turn.uow.tickets.people_of_account(account.support_number)
        header = Reply("desk.tickets_header", {"filter": Text("filter.org")})
        by_person = tuple(
            Choice(f"tickets:by:1:{person.key}", "choice.by_person", {"who": name})
            for person, name in people[:10]
        )
        lines = [
            Reply(
                "desk.ticket_line_by",
                {
                    "number": t.number,
                    "title": t.title,
                    "status": Text(f"status.{t.status}"),
                    "who": t.customer_name or t.customer.external_id,
                },
            )
            for t in tickets
        ]
        value = (
            (lambda n: f"tickets:by:{n}:{opener}") if opener else (lambda n: f"tickets:org:{n}")
        )
        return [
            header,
            *(_filter_counts(counts) if page.number == 1 else []),
            *_with_buttons(lines, by_person, page, _in_filter(counts, None), value),
        ]

    async def _show_ticket(self, turn: _Turn, number: int) -> list[Reply]:
        ticket = await self._own_ticket(turn, number)
        owner = ticket.customer == turn.who
        if owner:
            turn.remember(current_ticket=number)
        replies = [
            Reply(
                "desk.ticket_view",
                {
                    "number": number,
                    "title": ticket.title,
                    "status": Text(f"status.{ticket.status}"),
                    "department": Text(f"department.{ticket.department}"),
                    "category": Text(f"category.{ticket.category}"),
                    "created": Moment(
                        ticket.created_at,
                        self._tickets.schedule.timezone(ticket.department),
                        "short",
                    ),
                },
            )
        ]
        visible = [e for e in ticket.entries if e.kind.value in ("customer", "agent", "held")]
        for entry in visible[-THREAD_PREVIEW:]:
            who = Text("desk.you") if entry.kind.value != "agent" else entry.author_name
            replies.append(Reply("desk.thread_entry", {"who": who, "text": entry.text}))
        if not owner:
            return replies  # an organisation admin reads along; the buttons are the owner's
        hint: Reply
        if ticket.status is Status.RESOLVED:
            hint = Reply(
                "desk.hint_resolved",
                {"number": number},
                (
                    Choice(f"confirm:{number}", "choice.confirm_resolution"),
                    Choice(f"dispute:{number}", "choice.dispute_resolution"),
                ),
            )
        elif ticket.status is Status.BLOCKED:
            hint = Reply("notice.blocked_wait", {"number": number})
        elif ticket.status is Status.AWAITING_APPROVAL and ticket.quote is not None:
            hint = Reply(
                "desk.hint_quote",
                {
                    "number": number,
                    "price": price_param(ticket.quote.price, self._policy.quote_currency),
                    "note": ticket.quote.note,
                },
                quote_choices(number),
            )
        elif ticket.is_open:
            hint = Reply("desk.hint_open", {"number": number})
        else:
            hint = Reply(
                "desk.hint_closed",
                {"number": number},
                (Choice(f"followup:{number}", "choice.follow_up"),),
            )
        replies.append(hint)
        return replies

    async def _link(self, turn: _Turn, code: str) -> list[Reply]:
        """``/link``: a one-time code to give on the customer's other platform;
        ``/link CODE`` there: the two are one person, with one list of requests."""
        now = self._clock.now()
        if not code:
            new = "".join(secrets.choice(LINK_ALPHABET) for _ in range(LINK_CODE_LENGTH))
            await turn.uow.people.issue(turn.who, new, now + LINK_CODE_TTL)
            minutes = int(LINK_CODE_TTL.total_seconds() // 60)
            return [Reply("desk.link_code", {"code": new, "minutes": minutes})]
        other = await turn.uow.people.redeem(code.strip().upper(), now)
        if other is None or other == turn.who:
            return [Reply("desk.link_unknown")]
        await turn.uow.people.link(other, turn.who)
        return [Reply("desk.linked")]

    def _set_language(self, turn: _Turn, code: str) -> list[Reply]:
        if code not in self._policy.languages:
            return [
                Reply(
                    "desk.language_pick",
                    choices=tuple(
                        Choice(f"lang:{lang}", f"language.{lang}")
                        for lang in self._policy.languages
                        if lang in LANGUAGES
                    ),
                )
            ]
        turn.remember(locale=code)
        return [Reply("desk.language_set", {"language": Text(f"language.{code}")})]

    def offers(self, kind: str) -> bool:
        """Whether the desk runs the dialog ``kind`` (e.g. "training": only where the
        policy offers a training)."""
        return kind in self._dialogs

    def _help(self) -> list[Reply]:
        training: str | Text = ""
        if self.offers("training"):
            days = self._tickets.schedule.levels.onboarding.days
            training = Text(
                "desk.help_training", {"training": Text("category.training"), "days": days}
            )
        return [Reply("desk.help", {"training": training})]

    # -- help centre ------------------------------------------------------------------------------

    async def _article(self, turn: _Turn, slug: str, lang: str) -> Article | None:
        if self._help_centre is None:
            return None
        return await self._help_centre.article(turn.uow, slug, lang)

    async def _search_help(self, turn: _Turn, words: str) -> list[Reply]:
        """``/help WORDS``: the best articles in the customer's language, any time (an
        intake running meanwhile stays where it was)."""
        found = []
        if self._help_centre is not None:
            found = await self._help_centre.search(
                turn.uow, words, turn.customer.locale, limit=HELP_RESULTS
            )
        if not found:
            return [Reply("help.nothing_found", {"query": words})]
        choices = tuple(
            Choice(
                f"art:{f.article.slug}:{f.article.lang}",
                "help.choice.read",
                {"title": f.article.title},
            )
            for f in found
        )
        return [Reply("help.found", {"query": words, "count": len(found)}, choices)]

    async def _show_article(self, turn: _Turn, slug: str, lang: str) -> list[Reply]:
        article = await self._article(turn, slug, lang)
        if article is None:
            return [Reply("help.article_gone")]
        key = f"{article.slug}:{article.lang}"
        return [
            Reply("help.article", {"title": article.title, "body": readable(article.body)}),
            Reply(
                "help.was_helpful",
                choices=(
                    Choice(f"fb:y:{key}", "help.choice.yes"),
                    Choice(f"fb:n:{key}", "help.choice.no"),
                ),
            ),
        ]

    async def _feedback(self, turn: _Turn, prefix: str, arg: str) -> list[Reply]:
        """``fb:y|n:SLUG:LANG`` (Was this helpful?) and ``fr:REASON:SLUG:LANG`` (why not):
        yes is thanked, no asks for a reason, "other" for the customer's own words."""
        answer, _, key = arg.partition(":")
        slug, _, lang = key.partition(":")
        if await self._article(turn, slug, lang) is None:
            return [Reply("help.article_gone")]
        if prefix == "fb" and answer == "y":
            await self._record_feedback(turn, slug, lang, True)
            return [Reply("help.thanks")]
        if prefix == "fb":
            reasons = tuple(
                Choice(f"fr:{reason.value}:{key}", REASON_KEYS[reason])
                for reason in FeedbackReason
            )
            return [Reply("help.why_not", choices=reasons)]
        try:
            reason = FeedbackReason(answer)
        except ValueError:
            return [Reply("desk.choice_expired")]
        if reason is FeedbackReason.OTHER and turn.conversation is None:
            return await self._begin(turn, "feedback", slug=slug, lang=lang)
        # Another reason; or "other" while a conversation runs, which the customer's next
        # message belongs to: recorded without their words.
        await self._record_feedback(turn, slug, lang, False, reason)
        return [Reply("help.thanks")]

    async def _record_feedback(
        self,
        turn: _Turn,
        slug: str,
        lang: str,
        helpful: bool,
        reason: FeedbackReason | None = None,
        comment: str = "",
    ) -> None:
        feedback = Feedback(
            at=self._clock.now(),
            customer=turn.who.key,
            slug=slug,
            lang=lang,
            helpful=helpful,
            reason=None if helpful else reason,
            comment=comment,
        )
        await turn.uow.articles.record_feedback(feedback)

    # -- helpers ----------------------------------------------------------------------------------

    async def _own_ticket(self, turn: _Turn, number: int) -> Ticket:
        ticket = await turn.uow.tickets.get(number)
        if ticket.customer != turn.who and ticket.customer not in await turn.uow.people.linked(
            turn.who
        ):
            organisation = await self._organisation(turn)
            if organisation is None or ticket.support_number != organisation.support_number:
                # Someone else's ticket looks exactly like a missing one.
                raise TicketNotFound(f"#{number}", number=number)
        return ticket

    @staticmethod
    def _actor(turn: _Turn) -> Actor:
        return Actor(turn.who, turn.customer.name, Role.CUSTOMER)


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def _to_customer(who: Participant, reply: Reply, locale: str, now: datetime) -> Notification:
    """A reply the desk gives outside an update of the customer's (the clock's), for
    the outbox to deliver where they are."""
    return Notification(
        channel=who.platform,
        audience=Audience.CUSTOMER,
        recipient=who.external_id,
        key=reply.key,
        params=dict(reply.params),
        choices=reply.choices,
        locale=locale,
        created_at=now,
    )


def _interrupted(stored: dict[str, Any], started: datetime, within: timedelta) -> bool:
    """The conversation's last step was shortly before ``started`` and its customer
    has not been reminded of it yet."""
    try:
        at = datetime.fromisoformat(str(stored["at"]))
    except (KeyError, ValueError):
        return False
    return stored.get("reminded") != stored["at"] and started - within <= at < started


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | Text)}


def _page_number(text: str) -> int | None:
    """A page number someone typed or a button carries (1 up to a sane bound)."""
    number = parse_number(text)
    return number if number is not None and 1 <= number <= MAX_PAGE else None


def _in_filter(counts: dict[Status, int], statuses: frozenset[Status] | None) -> int:
    return sum(n for status, n in counts.items() if statuses is None or status in statuses)


def _filter_counts(counts: dict[Status, int]) -> list[Reply]:
    """How many requests each filter holds (the first page of a list says it)."""
    return [
        Reply(
            "desk.tickets_counts",
            {
                which: Text(f"desk.count.{which}", {"count": _in_filter(counts, statuses)})
                for which, statuses in TICKET_FILTERS.items()
            },
        )
    ]


def _with_buttons(
    lines: list[Reply],
    choices: tuple[Choice, ...],
    page: Page,
    total: int,
    value: Callable[[int], str],
) -> list[Reply]:
    """A list's lines with its buttons at the end, after "Page 2 of 5" and with the
    Previous / Next buttons when there are several pages: one message to turn in place."""
    footer = page_footer(page, total, value)
    if footer is None:
        return [*lines[:-1], replace(lines[-1], choices=choices)]
    return [*lines, replace(footer, choices=(*choices, *footer.choices))]
