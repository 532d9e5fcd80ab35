"""Ports: the protocols that the store and the channels implement for the desk."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from bot.account import Account
from bot.customer import Customer
from bot.notification import Notification, OutboxItem
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

    async def save(self, ticket: Ticket) -> None:
        """Persist scalar changes and the entries/history appended since it was loaded."""
        ...

    async def for_customer(
        self, customer: Participant, statuses: frozenset[Status] | None = None
    ) -> list[Ticket]:
        """The customer's tickets, newest first; all statuses when ``statuses`` is None."""
        ...

    async def for_account(
        self, support_number: str, statuses: frozenset[Status] | None = None
    ) -> list[Ticket]:
        """Tickets filed under a support number (an organisation's view), newest first."""
        ...

    async def queue(
        self, departments: frozenset[str] | None, statuses: frozenset[Status]
    ) -> list[Ticket]:
        """Tickets of those departments (all when None) in those statuses, oldest first."""
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

    async def due(self, now: datetime, limit: int = 100) -> list[int]:
        """Numbers of tickets whose ``next_check_at`` has come, earliest first."""
        ...

    async def recent(self, limit: int = 50, status: Status | None = None) -> list[Ticket]:
        """The newest tickets, for the admin CLI."""
        ...


class AccountRepository(Protocol):
    async def get(self, support_number: str) -> Account | None: ...

    async def put(self, account: Account) -> None:
        """Insert or replace by support number."""
        ...

    async def all(self) -> list[Account]: ...


class CustomerRepository(Protocol):
    async def get(self, participant: Participant) -> Customer | None: ...

    async def put(self, customer: Customer) -> None:
        """Insert or replace by participant."""
        ...


class Outbox(Protocol):
    async def add(self, notification: Notification) -> None:
        """Queue a notification in the current transaction."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    tickets: TicketRepository
    accounts: AccountRepository
    customers: CustomerRepository
    outbox: Outbox

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class OutboxStore(Protocol):
    """The relay's side of the outbox table."""

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[OutboxItem]:
        """Atomically move due pending rows to SENDING (SKIP LOCKED where supported)."""
        ...

    async def mark_delivered(self, notification_id: str, at: datetime) -> None: ...

    async def reschedule(
        self, notification_id: str, at: datetime, error: str, attempted: bool = True
    ) -> None:
        """Back to PENDING, due at ``at``; attempts + 1 when it was ``attempted``."""
        ...

    async def mark_failed(self, notification_id: str, error: str, unreachable: bool) -> None: ...

    async def expire_leases(self, now: datetime) -> int:
        """SENDING rows whose lease ran out become UNCERTAIN (never re-sent); returns count."""
        ...

    async def items(
        self, statuses: Sequence[str] | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...


class StateStore(Protocol):
    """Conversation state per participant; survives restarts when persistent."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any]) -> None: ...

    async def delete(self, key: str) -> None: ...


class RateLimiter(Protocol):
    """Sliding-window limits (message floods, per-chat send rates)."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> bool:
        """Count one event for ``key``; False when it is over ``limit`` in the window."""
        ...


class LinkStore(Protocol):
    """A channel's own references to desk objects (a ticket's forum topic, its card
    message), kept by the desk so channels stay free of SQL."""

    async def get(self, channel: str, kind: str, key: str) -> str | None: ...

    async def set(self, channel: str, kind: str, key: str, value: str) -> None: ...

    async def find(self, channel: str, kind: str, value: str) -> str | None:
        """Reverse lookup: the key stored with this value."""
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
