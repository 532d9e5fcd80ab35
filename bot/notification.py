"""Outbox notifications: what to tell whom, rendered later in the recipient's language."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.reply import Choice


class Audience(StrEnum):
    CUSTOMER = "customer"
    TEAM = "team"
    COMMUNITY = "community"


@dataclass(frozen=True, kw_only=True)
class Notification:
    """One message to deliver once. ``id`` is its idempotency key."""

    channel: str
    audience: Audience
    recipient: str
    key: str
    created_at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    locale: str = "en"
    ticket_number: int | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


# Team news that goes first when a team chat's messages wait for their turn: a new (or
# transferred-in) ticket, SLA alerts, and a customer or message the team may be losing.
URGENT_KEYS = frozenset(
    {
        "team.ticket_opened",
        "sla.team_warning",
        "sla.team_breached",
        "sla.team_critical_off_hours",
        "team.customer_unreachable",
        "team.delivery_uncertain",
        "team.delivery_uncertain_here",
    }
)


def is_urgent(notification: Notification) -> bool:
    return notification.key in URGENT_KEYS or bool(notification.params.get("critical"))


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits for one recipient: unfinished notifications and the oldest's time."""

    count: int = 0
    oldest: datetime | None = None

    def minutes(self, now: datetime) -> int:
        """How long the oldest has waited, in whole minutes."""
        return int((now - self.oldest).total_seconds() // 60) if self.oldest else 0


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """A notification as the relay sees it: with its delivery bookkeeping."""

    notification: Notification
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str = ""
    # The claim that holds it while SENDING (one token per claim, kept by renewals).
    lease: str | None = None
    # A call carrying it may have gone out (SENDING only): a crash leaves it in doubt.
    started: bool = False
