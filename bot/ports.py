"""Ports: the protocols that the store and the channels implement for the desk."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from bot.account import Account
from bot.customer import Customer, Profile
from bot.dialog import TicketBrief
from bot.held import HeldMessage
from bot.incident import Incident
from bot.inputs import UpdateRef
from bot.knowledge.article import Article, Feedback, FeedbackCounts
from bot.knowledge.ranking import Matches
from bot.notification import Backlog, Notification, OutboxItem
from bot.paging import Page
from bot.participant import Participant
from bot.ticket import Status, Ticket


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class TicketRepository(Protocol):
    async def add(self, ticket: Ticket) -> int:
        """Insert a new ticket; the database assigns (and this sets) ``ticket.number``."""
        ...

    async def get(self, number: int) -> Ticket:
        """The whole ticket with thread and history; raises ``TicketNotFound``."""
        ...

    async def get_many(self, numbers: Collection[int]) -> list[Ticket]:
        """The tickets of these numbers that exist, whole, in no set order."""
        ...

    async def save(self, ticket: Ticket) -> None:
        """Persist scalar changes and the entries/history appended since it was loaded,
        if the stored ticket is still at ``ticket.version`` (then the version moves on);
        otherwise raise ``ConcurrentUpdate`` and write nothing."""
        ...

    async def briefs(
        self, customer: Participant, statuses: frozenset[Status]
    ) -> list[TicketBrief]:
        """Light summaries of the customer's tickets in those statuses, newest first
        (no thread, history or files are read)."""
        ...

    async def brief(self, number: int) -> TicketBrief | None:
        """A light summary of one ticket, None when there is no such ticket."""
        ...

    async def waiting_since(self, customer: Participant) -> list[tuple[int, datetime]]:
        """The customer's tickets Waiting for customer, with when each was last asked."""
        ...

    async def for_customer(
        self,
        customer: Participant,
        statuses: frozenset[Status] | None = None,
        *,
        page: Page | None = None,
        linked: Collection[Participant] = (),
    ) -> list[Ticket]:
        """The customer's tickets (and those of ``linked``: the same person elsewhere),
        newest first; all statuses when ``statuses`` is None; one ``page`` of them (all
        when None)."""
        ...

    async def for_account(
        self,
        support_number: str,
        statuses: frozenset[Status] | None = None,
        *,
        customer: Participant | None = None,
        page: Page | None = None,
    ) -> list[Ticket]:
        """Tickets filed under a support number (an organisation's view), newest first;
        only ``customer``'s when given."""
        ...

    async def queue(
        self,
        departments: frozenset[str] | None,
        statuses: frozenset[Status],
        *,
        page: Page | None = None,
    ) -> list[Ticket]:
        """Tickets of those departments (all when None) in those statuses, in queue
        order: highest priority first, then soonest ``queue_due``, then number."""
        ...

    async def count_for_customer(
        self, customer: Participant, linked: Collection[Participant] = ()
    ) -> dict[Status, int]:
        """How many of the customer's (and ``linked``'s) tickets are in each status
        (absent: none)."""
        ...

    async def count_for_account(
        self, support_number: str, customer: Participant | None = None
    ) -> dict[Status, int]: ...

    async def count_queue(self, departments: frozenset[str] | None) -> dict[Status, int]:
        """Open tickets of those departments (all when None) per status."""
        ...

    async def people_of_account(self, support_number: str) -> list[tuple[Participant, str]]:
        """Who filed tickets under a support number, with their names, by name."""
        ...

    async def without_queue_due(self, limit: int = 500) -> list[Ticket]:
        """Open tickets filed before the queue kept its sort key (migration 0008)."""
        ...

    async def by_post(self, post_ref: str) -> Ticket | None:
        """The ticket escalated from this community post, if any."""
        ...

    async def count_opened(
        self,
        support_number: str,
        since: datetime,
        until: datetime,
        exclude_department: str | None = None,
    ) -> int:
        """Tickets filed under a support number in ``[since, until)``, not counting
        those of ``exclude_department``."""
        ...

    async def claim_due(
        self, now: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[int, datetime]]:
        """Take up to ``limit`` tickets whose ``next_check_at`` has come, earliest first,
        by moving their check to ``until`` (a lease: another ticker skips them, and a
        ticker that dies leaves them due again then). Returns (number, until) pairs."""
        ...

    async def open_by_department(self, departments: frozenset[str] | None) -> dict[str, int]:
        """Open tickets per department (of ``departments``; None: all)."""
        ...

    async def filed_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[Ticket]:
        """Tickets filed since ``since`` in ``departments`` (None: all)."""
        ...

    async def ratings_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[tuple[str, str, int]]:
        """(department, assignee name, score) of the ratings given since ``since``."""
        ...

    async def changed_since(self, after: tuple[datetime, int] | None, limit: int) -> list[Ticket]:
        """Tickets changed after ``after`` (``updated_at``, then number), in that order."""
        ...

    async def recent(self, limit: int = 50, status: Status | None = None) -> list[Ticket]:
        """The newest tickets, for the admin CLI."""
        ...


class AccountRepository(Protocol):
    async def get(self, support_number: str) -> Account | None:
        """The account, read at most once per unit of work (``CustomerRepository.profile``
        counts as its read): steps of one update may ask again and again."""
        ...

    async def put(self, account: Account) -> None:
        """Insert or replace by support number."""
        ...

    async def all(self) -> list[Account]: ...


class CustomerRepository(Protocol):
    async def get(self, participant: Participant) -> Customer | None: ...

    async def profile(self, participant: Participant) -> Profile:
        """The profile, its account and whether a ticket awaits their answer, in one
        read. Where several workers share the store (PostgreSQL) the read also holds
        the profile's row until the unit ends, so the participant's next update, in
        any worker, reads only once this one is committed."""
        ...

    async def create(self, customer: Customer) -> None:
        """Insert a first profile; ``ConcurrentUpdate`` when the participant got one
        meanwhile (an update of theirs in another worker, an escalation), so the
        update runs again on that one."""
        ...

    async def put(self, customer: Customer) -> None:
        """Insert or replace by participant."""
        ...

    async def add(self, customer: Customer) -> None:
        """Insert a profile unless the participant has one (which is left as it is)."""
        ...

    async def mark_unreachable(self, participant: Participant) -> bool:
        """Mark the profile unreachable and touch nothing else of it (the customer's
        own update may be changing the rest); False when it was marked already or
        there is no profile."""
        ...

    async def in_conversation(self, limit: int) -> list[Participant]:
        """Customers with a conversation under way (at most ``limit``)."""
        ...


class Inbox(Protocol):
    async def record(
        self, update: UpdateRef, at: datetime, answer: list[Any] | None = None
    ) -> None:
        """Note that ``update`` had its effects (and what it was answered), in the
        current transaction; raises ``DuplicateUpdate`` when it was recorded before."""
        ...

    async def seen(self, update: UpdateRef) -> bool:
        """Whether ``update`` was recorded (committed) before."""
        ...

    async def answer(self, update: UpdateRef) -> list[Any] | None:
        """What ``update`` was answered when it was handled, if that was kept."""
        ...

    async def forget(self, before: datetime) -> int:
        """Drop the records of updates handled before ``before``; how many went."""
        ...


class QuotaCounter(Protocol):
    """Tickets counted against an account's monthly quota, one counter per month."""

    async def used(self, support_number: str, month: datetime) -> int | None:
        """The count for the quota month starting at ``month``; None before the first
        ticket of that month was counted."""
        ...

    async def take(
        self, support_number: str, month: datetime, count: int, limit: int, start: int | None
    ) -> int | None:
        """Add ``count`` to the month's counter in one atomic step, only if the total
        stays within ``limit``: the new total, or None (and nothing counted) when it
        would not or when there is no counter yet. With ``start``, a missing counter is
        created at that value first."""
        ...

    async def used_once(self, support_number: str, keys: Collection[str]) -> frozenset[str]:
        """Which of the one-off ``keys`` (e.g. once-per-account categories) the account
        has used."""
        ...

    async def take_once(self, support_number: str, key: str) -> bool:
        """Use the one-off ``key`` of the account, atomically: False (and nothing
        changed) when it was used already."""
        ...


class HeldMessages(Protocol):
    """Messages flood control kept back, per participant, in the order they came."""

    async def hold(self, who: Participant, update: str, message: HeldMessage, keep: int) -> bool:
        """Keep ``message`` (known by ``update``, kept once however often it comes) unless
        ``who`` has ``keep`` held already; whether it is kept."""
        ...

    async def take(self, who: Participant) -> list[HeldMessage]:
        """Every message held for ``who``, oldest first, no longer held."""
        ...

    async def due(self, before: datetime, limit: int = 100) -> list[Participant]:
        """Participants whose oldest held message came before ``before``."""
        ...


class PersonLinks(Protocol):
    """One person's participants on several platforms (a customer on Telegram and on
    Discord), linked with a one-time code."""

    async def issue(self, who: Participant, code: str, until: datetime) -> None:
        """``who`` may be linked by ``code`` until ``until`` (a newer code replaces it)."""
        ...

    async def redeem(self, code: str, now: datetime) -> Participant | None:
        """Who issued ``code``, if it is still good at ``now``; a code works once."""
        ...

    async def link(self, one: Participant, other: Participant) -> None:
        """``one`` and ``other`` (and whoever either was linked to) are one person."""
        ...

    async def linked(self, who: Participant) -> list[Participant]:
        """The other participants of ``who``'s person (none when never linked)."""
        ...


class Outbox(Protocol):
    async def add(self, notification: Notification) -> None:
        """Queue a notification in the current transaction."""
        ...


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """What the search index keeps of a document: its analysed terms per field
    (``bot.knowledge.analysis``), its language, and the scopes it belongs to (an
    article's departments) that a search may be narrowed to."""

    collection: str
    key: str
    lang: str
    scope: tuple[str, ...]
    title: tuple[str, ...]
    keywords: tuple[str, ...]
    body: tuple[str, ...]


class SearchIndex(Protocol):
    """Full-text search on analysed terms (SQLite FTS5, PostgreSQL tsvector). It finds
    candidates and counts; ``bot.knowledge.ranking`` ranks them, the same for every
    store."""

    async def replace(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        """Make ``documents`` the whole of ``collection``."""
        ...

    async def put(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        """Add ``documents`` to ``collection``, replacing those of the same key."""
        ...

    async def watermark(self, collection: str) -> str:
        """How far ``collection`` was brought up to date ("" if never)."""
        ...

    async def set_watermark(self, collection: str, value: str) -> None: ...

    async def matches(
        self,
        collection: str,
        terms: Collection[str],
        *,
        langs: Collection[str],
        scope: str | None = None,
        limit: int = 500,
    ) -> Matches:
        """Documents of ``langs`` (and ``scope``) holding any of ``terms``, with the
        number of documents of ``langs`` in ``collection`` (whatever their scope), their
        mean length and how many hold each of ``terms``: one round trip."""
        ...

    async def vocabulary(self, collection: str, lang: str) -> set[str]:
        """Every term of ``collection``'s documents in ``lang``."""
        ...


@dataclass(frozen=True, slots=True)
class Deflection:
    """An intake that ended because a help article solved the problem."""

    at: datetime
    customer: str
    department: str
    category: str
    slug: str = ""
    lang: str = ""


class HelpArticles(Protocol):
    """The help centre's articles as last indexed."""

    async def replace(self, articles: Sequence[Article], fingerprint: str) -> None:
        """Make ``articles`` the whole help centre, remembering the files' fingerprint."""
        ...

    async def fingerprint(self, *, lock: bool = False) -> str:
        """The fingerprint of the files last indexed ("" if never); ``lock`` holds the
        index until the commit, so two workers starting at once index it once."""
        ...

    async def get(self, keys: Sequence[tuple[str, str]]) -> list[Article]:
        """The articles of these ``(slug, lang)``, in that order (missing ones left out)."""
        ...

    async def all(self) -> list[Article]: ...

    async def record_deflection(self, deflection: Deflection) -> None:
        """A request an article solved: no ticket was filed."""
        ...

    async def deflections(self, since: datetime) -> dict[str, int]:
        """Deflected requests per department since ``since``."""
        ...

    async def record_feedback(self, feedback: Feedback) -> None:
        """Keep ``feedback``, replacing the same customer's earlier one on the article."""
        ...

    async def feedback(self, since: datetime | None = None) -> list[FeedbackCounts]:
        """Per article: helpful, not helpful and why (the answers given since ``since``,
        or all); most "not helpful" first."""
        ...


class IncidentRepository(Protocol):
    async def add(self, incident: Incident) -> int:
        """Store a new incident; its id."""
        ...

    async def get(self, incident_id: int) -> Incident | None:
        """The incident with its linked tickets; None if there is none."""
        ...

    async def open_in(self, departments: frozenset[str] | None) -> list[Incident]:
        """Open incidents of any of ``departments`` (None: all), newest first."""
        ...

    async def link(self, incident_id: int, number: int) -> None:
        """Ticket ``number`` belongs to the incident (a ticket belongs to one at most)."""
        ...

    async def resolve(self, incident_id: int, at: datetime) -> None: ...

    async def of_ticket(self, number: int) -> int | None:
        """The incident ticket ``number`` belongs to, if any."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    tickets: TicketRepository
    accounts: AccountRepository
    customers: CustomerRepository
    outbox: Outbox
    inbox: Inbox
    quota: QuotaCounter
    held: HeldMessages
    people: PersonLinks
    search: SearchIndex
    articles: HelpArticles
    incidents: IncidentRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """A new, independent unit of work per call. ``read_only``: the unit only reads
    (and never commits); a store may then skip the transaction (PostgreSQL: no BEGIN
    and ROLLBACK round trips around the reads, each seeing what was committed)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


class OutboxStore(Protocol):
    """The relay's side of the outbox table.

    A recipient's messages form a queue in creation order: only its oldest unfinished
    (PENDING or SENDING) row may be claimed, so several relays keep the order and a
    message waiting for a retry holds back the later ones.

    The calls that record outcomes (``claim_due`` with ``delivered``,
    ``mark_all_delivered``, ``reschedule``, ``mark_failed``) also write, in their
    transaction, the links the notifiers kept while delivering (``App.delivery_links``).
    """

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        *,
        delivered: Collection[str] = (),
        run: int = 1,
        leading: Callable[[Sequence[Notification]], str] | None = None,
    ) -> list[OutboxItem]:
        """In one transaction: mark the ``delivered`` rows DELIVERED at ``now``, then move
        to SENDING, leased until ``now + lease_seconds``, the oldest unfinished row of up
        to ``limit`` recipients where that row is PENDING and due. Rows locked by another
        claimer are skipped where the database can (SKIP LOCKED); returns the claimed
        rows oldest first, each with the claim's ``lease`` token. With ``run`` > 1, a
        team chat's claimed row brings up to ``run - 1`` of the chat's next rows along,
        and up to ``2 * run`` later rows of the same tickets (a run, for
        ``deliver_run``: each ticket's first waiting rows, in order). A row claimed
        alone is started at once (it goes straight to its send); of a run, the row
        ``leading`` names (its notifier sends it first; the head without it) is
        started with the claim and the others as their calls come
        (``mark_progress``). Each item says whether it is started."""
        ...

    async def mark_delivered(self, notification_id: str, at: datetime) -> None: ...

    async def backlog(self, channel: str, recipient: str) -> Backlog:
        """How many of the recipient's notifications are unfinished (pending or being
        sent), and since when the oldest waits: how far behind a chat is."""
        ...

    async def mark_all_delivered(self, notification_ids: Collection[str], at: datetime) -> None:
        """Mark the SENDING (or UNCERTAIN) ones of these rows DELIVERED, in one statement."""
        ...

    async def reschedule(
        self,
        notification_id: str,
        at: datetime,
        error: str,
        attempted: bool = True,
        lease: str | None = None,
    ) -> None:
        """A SENDING row (held by claim ``lease`` when given) back to PENDING, due at
        ``at``; attempts + 1 when ``attempted``."""
        ...

    async def renew(self, notification_ids: Collection[str], until: datetime) -> None:
        """The SENDING ones of these rows stay leased until ``until``: still being sent."""
        ...

    async def release(self, notification_ids: Collection[str], lease: str | None = None) -> None:
        """SENDING rows back to PENDING as they were, no attempt counted: what a failed
        or stopped run did not try. With ``lease``, only rows still held by that claim
        (``OutboxItem.lease``)."""
        ...

    async def mark_progress(
        self, started: Collection[str], delivered: Collection[str], at: datetime, lease: str
    ) -> int:
        """In one transaction (with the links kept meanwhile): the ``delivered`` rows
        DELIVERED at ``at``, and the ``started`` ones still held by claim ``lease``
        marked as started (a platform call carrying them may go out now: after a crash
        they are in doubt, not sent again); returns how many of ``started`` are held."""
        ...

    async def mark_failed(
        self, notification_id: str, error: str, unreachable: bool, lease: str | None = None
    ) -> None:
        """A SENDING row (held by claim ``lease`` when given) given up: FAILED, or
        UNREACHABLE; attempts + 1."""
        ...

    async def take_expired(self, now: datetime, lease_seconds: float) -> list[OutboxItem]:
        """SENDING rows whose lease ran out before ``now``: those never started go back
        to PENDING (not tried: sent again in their turn); the started ones are returned,
        leased again to this caller (another caller does not get them until that lease
        runs out) for reporting them with ``mark_uncertain``."""
        ...

    async def mark_uncertain(self, notification_ids: Collection[str]) -> int:
        """SENDING rows become UNCERTAIN: never claimed again, and no longer holding back
        their recipient's later messages; returns how many changed."""
        ...

    async def resend(self, notification_id: str) -> bool:
        """An UNCERTAIN row back to PENDING and due at once, attempts kept; False when the
        row is not UNCERTAIN (already resent, or unknown)."""
        ...

    async def get(self, notification_id: str) -> OutboxItem | None: ...

    async def items(
        self, statuses: Sequence[str] | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...


class Locks(Protocol):
    """Mutual exclusion by key across every worker sharing the store."""

    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait for ``key`` and hold it for the ``async with`` block."""
        ...


class RateLimiter(Protocol):
    """Sliding-window limits (message floods, per-chat send rates)."""

    # True when every call is a round trip to a store shared by the fleet (Redis): a
    # caller may start it early and do other waiting meanwhile.
    remote: bool

    async def hit(
        self, key: str, limit: int, window_seconds: float, event: str | None = None
    ) -> bool:
        """Count one event for ``key``; False when it is over ``limit`` in the window.
        A named ``event`` counted already in the window passes without counting again
        (an update handed over again after a failure)."""
        ...

    async def take(self, key: str, limit: int, window_seconds: float, count: int) -> int:
        """Count up to ``count`` events for ``key`` at once, as many as the window has
        room for; how many were counted (0 when it is full)."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """Nothing for ``key`` for ``seconds`` from now (a longer hold stays)."""
        ...

    async def held_for(self, key: str) -> float:
        """Seconds left of ``key``'s hold (0: none)."""
        ...


# A channel link's address: (channel, kind, key).
LinkKey = tuple[str, str, str]


class LinkStore(Protocol):
    """A channel's own references to desk objects (a ticket's forum topic, its card
    message), kept by the desk so channels stay free of SQL. A notifier's store may
    keep its writes for the relay to record with the delivery (read back at once)."""

    async def get(self, channel: str, kind: str, key: str) -> str | None: ...

    async def get_many(self, links: Sequence[LinkKey]) -> dict[LinkKey, str]:
        """Several links (channel, kind, key) at once: those found, by link."""
        ...

    async def set(self, channel: str, kind: str, key: str, value: str) -> None: ...

    async def find(self, channel: str, kind: str, value: str) -> str | None:
        """Reverse lookup: the key stored with this value."""
        ...


class FileStore(Protocol):
    """The desk's copies of the files people send, so that every channel can show them
    (a Telegram file id means nothing on Discord, and Discord's links expire)."""

    async def put(self, data: bytes) -> str:
        """Keep ``data``; its key (the same bytes always get the same key)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key``; None when there are none."""
        ...

    async def link(self, key: str, file_name: str) -> str | None:
        """A time-limited link that downloads the file, offered where a channel cannot
        take the file itself; None when the store has no links (database, folder)."""
        ...


class DeliveryError(Exception):
    """A notifier could not deliver now; the relay retries after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecipientUnreachable(Exception):
    """The recipient cannot be reached at all (blocked the bot, left, deleted)."""


class Notifier(Protocol):
    """A channel's delivery of outbox notifications."""

    channel: str

    async def deliver(self, notification: Notification) -> None:
        """Send it or raise ``DeliveryError`` / ``RecipientUnreachable``."""
        ...


class RunProgress(Protocol):
    """How far a run got, told by its notifier as it goes (``RunNotifier.deliver_run``).

    A crash in the middle of a run leaves in doubt only the notifications a platform
    call may have carried without the outcome being recorded: those reported to
    ``sending`` and not yet to ``delivered``. The ones never reported to ``sending``
    were not tried, and are sent after a restart.
    """

    async def sending(self, notification_ids: Collection[str]) -> None:
        """A platform call carrying (a part of) these is about to be made: returns once
        that is stored, so call it before the call, every time a call carries one of
        them for the first time. Raises when the run is no longer this relay's (its
        lease ran out and another relay took the rows): then nothing more may be sent."""
        ...

    def delivered(self, notification_id: str) -> None:
        """All of this notification went out (recorded with the next ``sending``, or
        when the run ends)."""
        ...


@runtime_checkable
class RunNotifier(Notifier, Protocol):
    """A notifier that delivers a team chat's waiting notifications together, joining
    what it can (one message for several of a ticket's, one card edit)."""

    async def deliver_run(
        self, notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        """Deliver them all, in their order within each ticket, or raise as ``deliver``
        does; parts that went out before the error are not sent again on the retry.
        With ``progress``, tell it each call's notifications before the call, and each
        notification once all of it went out."""
        ...

    def leading(self, notifications: Sequence[Notification]) -> str:
        """The id of the notification ``deliver_run`` sends first of these (a run, in
        the order claimed): the claim starts it, so its first call costs no commit."""
        ...


@dataclass(frozen=True, slots=True)
class QueuedUpdate:
    """A platform update as a receiver hands it over: its id, the ordering key (the
    chat or person whose updates must be handled in the order received) and the raw
    update."""

    update_id: str
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClaimedUpdate:
    """A queued update held by one worker; ``attempts`` counts the times it was handed
    out, this one included; ``ref`` is the queue's own handle."""

    ref: str
    update: QueuedUpdate
    attempts: int


class UpdateQueue(Protocol):
    """The durable hand-off of one channel's (one bot's) updates from its one receiver
    to its workers. A key's updates are held by one worker at a time and handed out in
    the order they were put; another worker gets the key's next ones only after the
    earlier ones are done, unless a lease ran out while they were still being worked
    on."""

    async def put(self, updates: Sequence[QueuedUpdate]) -> None:
        """Store ``updates`` durably, in this order; one already waiting is not stored
        again. Returns once they are stored: only then may the platform be told."""
        ...

    async def claim(self, worker: str, limit: int, wait: float) -> list[ClaimedUpdate]:
        """Up to ``limit`` waiting updates for ``worker`` (a name unique per process),
        leased to it; waits up to ``wait`` seconds when there are none."""
        ...

    async def renew(self, worker: str) -> None:
        """Extend the leases of what ``worker`` holds."""
        ...

    async def done(self, worker: str, claimed: ClaimedUpdate) -> None:
        """``claimed`` was handled (or given up): it is not handed out again."""
        ...

    async def leave(self, worker: str) -> None:
        """``worker`` stops: what it holds goes to other workers (after its lease at
        the latest)."""
        ...
