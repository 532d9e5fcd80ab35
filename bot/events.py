"""Domain events: what happened to a ticket. Past-tense names; they feed the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.ticket import DeclineReason, Status


@dataclass(frozen=True, kw_only=True)
class Event:
    number: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, kw_only=True)
class TicketOpened(Event):
    escalated: bool = False
    # An escalation filed elsewhere than asked: the department the author's plan does
    # not cover (the ticket went to one it does).
    not_covered: str | None = None


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event):
    old: Status
    new: Status
    by_name: str
    text: str = ""
    decline_reason: DeclineReason | None = None
    # The customer made this change and was answered directly: no notice for them.
    by_customer: bool = False
    # Messages the customer wrote while it was blocked, passed on by this change.
    held: int = 0


@dataclass(frozen=True, kw_only=True)
class TicketClaimed(Event):
    agent_name: str


@dataclass(frozen=True, kw_only=True)
class CustomerWrote(Event):
    text: str
    files: int = 0
    entry: int = -1  # index of the message in the ticket's thread
    held: int = 0  # messages held back by flood control, joined into this one


@dataclass(frozen=True, kw_only=True)
class AgentAnswered(Event):
    agent_name: str
    text: str
    files: int = 0
    entry: int = -1  # index of the message in the ticket's thread
    # Files over what the customer's channel lets the bot send ("«a.zip», «b.png»"),
    # that limit and the channel; empty when all of them go.
    too_large: str = ""
    limit_mb: int | float = 0
    channel: str = ""


@dataclass(frozen=True, kw_only=True)
class AgentAsked(Event):
    agent_name: str
    text: str


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    agent_name: str
    text: str


@dataclass(frozen=True, kw_only=True)
class TicketTransferred(Event):
    old_department: str
    new_department: str
    by_name: str


@dataclass(frozen=True, kw_only=True)
class QuoteOffered(Event):
    agent_name: str
    price: str
    note: str


@dataclass(frozen=True, kw_only=True)
class QuoteDecided(Event):
    accepted: bool
    # Where the decision took the ticket: Accepted, or Declined when the policy
    # declines a refused quote.
    outcome: Status = Status.ACCEPTED


@dataclass(frozen=True, kw_only=True)
class CustomerReminded(Event):
    """The customer has not answered a question for a while."""


@dataclass(frozen=True, kw_only=True)
class AutoClosed(Event):
    reason: str  # "waiting" or "resolved" (bot.schedule.AutoClose)


@dataclass(frozen=True, kw_only=True)
class TeamAlerted(Event):
    """A service-level notice for the team (SLA warning or breach, critical off hours)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TicketRated(Event):
    """The customer rated a closed ticket (``comment`` when they added words later)."""

    score: int
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class IncidentLinked(Event):
    incident_id: int
    title: str


@dataclass(frozen=True, kw_only=True)
class IncidentUpdated(Event):
    incident_id: int
    title: str
    text: str


@dataclass(frozen=True, kw_only=True)
class CustomerUnreachable(Event):
    """Messages to the customer cannot be delivered (they blocked the bot)."""


@dataclass(frozen=True, kw_only=True)
class DeliveryUncertain(Event):
    """A message was being sent when its relay stopped: it may not have arrived.

    ``key`` and ``params`` are the message's own, so the team can see which one it was;
    ``team_chat`` is set (``channel``, ``recipient``) when the message was for a team
    chat rather than the customer: that chat is the one to tell.
    """

    notification_id: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    team_chat: tuple[str, str] | None = None
