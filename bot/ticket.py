"""The ticket aggregate: status, thread and history, and the only allowed moves."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum, StrEnum

from bot.errors import InvalidTransition
from bot.participant import Actor, Participant


class Status(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"
    BLOCKED = "blocked"
    DECLINED = "declined"

    @property
    def is_open(self) -> bool:
        return self not in (Status.CLOSED, Status.DECLINED)


OPEN_STATUSES = frozenset(s for s in Status if s.is_open)


class RequestType(StrEnum):
    BUG = "bug"
    MODIFICATION = "modification"
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    PAYMENT = "payment"
    TRAINING = "training"


class DeclineReason(StrEnum):
    """Reasons a request may be refused (seed 002)."""

    MISSING_INFORMATION = "missing_information"
    CANNOT_REPRODUCE = "cannot_reproduce"
    SEVERAL_PROBLEMS = "several_problems"
    MODIFIED_TEMPLATES = "modified_templates"
    NEEDS_DEVELOPMENT = "needs_development"
    OUT_OF_SCOPE = "out_of_scope"
    THIRD_PARTY = "third_party"


class Priority(IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


class EntryKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    NOTE = "note"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file kept on the platform; ``file_ref`` is the platform's own reference."""

    file_ref: str
    file_name: str
    mime_type: str
    size: int
    platform: str = ""
    # How the platform delivered it ("photo", "document"); "" when not known (not stored).
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a ticket was opened: the channel, and the community post if escalated."""

    channel: str
    post_ref: str | None = None
    post_link: str | None = None
    escalated_by: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    kind: EntryKind
    text: str
    at: datetime
    author: Participant | None = None
    author_name: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusChange:
    old: Status | None
    new: Status
    at: datetime
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """The service levels a ticket was filed under: its plan and SLA due times.

    Budgets are the business time each target allows; waiting for the customer
    pauses the clock, so effective due times move later (``bot.sla``).
    """

    plan: str
    first_response_due: datetime
    resolution_due: datetime
    first_response_budget: float
    resolution_budget: float


class QuoteState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Quote:
    """A price for a paid modification; work starts only once the customer accepts."""

    price: str
    note: str
    state: QuoteState
    at: datetime
    decided_at: datetime | None = None


# The lifecycle (domain.md). Blocked is left by unblocking, back to Accepted.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.ACCEPTED, Status.WAITING, Status.RESOLVED, Status.BLOCKED, Status.DECLINED}
    ),
    Status.ACCEPTED: frozenset({Status.WAITING, Status.RESOLVED, Status.BLOCKED, Status.DECLINED}),
    Status.WAITING: frozenset(
        {Status.ACCEPTED, Status.RESOLVED, Status.BLOCKED, Status.DECLINED, Status.CLOSED}
    ),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.ACCEPTED}),
    Status.BLOCKED: frozenset({Status.ACCEPTED}),
    Status.CLOSED: frozenset(),
    Status.DECLINED: frozenset(),
}


@dataclass(slots=True)
class Ticket:
    """One customer problem. Mutated only through its methods, which enforce ``ALLOWED``."""

    customer: Participant
    customer_name: str
    department: str
    category: str
    request_type: RequestType
    title: str
    description: str
    origin: Origin
    created_at: datetime
    critical: bool = False
    steps: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    support_number: str = ""
    domain: str = ""
    phone: str = ""
    locale: str = "en"
    status: Status = Status.NEW
    priority: Priority = Priority.NORMAL
    assignee: Participant | None = None
    assignee_name: str = ""
    decline_reason: DeclineReason | None = None
    follow_up_of: int | None = None
    number: int | None = None
    updated_at: datetime | None = None
    entries: list[ThreadEntry] = field(default_factory=list)
    history: list[StatusChange] = field(default_factory=list)
    # Service levels (bot/schedule.py keeps these up to date).
    terms: ServiceTerms | None = None
    first_response_at: datetime | None = None
    sla_alerts: frozenset[str] = frozenset()
    next_check_at: datetime | None = None
    # When it is due in the agents' queue (the SLA time that matters next; filing time
    # without service levels): the queue's stored sort key, with the priority.
    queue_due: datetime | None = None
    reminded_at: datetime | None = None
    off_hours: bool = False
    quote: Quote | None = None
    # The stored version this copy was loaded at; a save of a stale copy is refused.
    version: int = 0

    # -- lifecycle -------------------------------------------------------------------

    def can_move(self, new: Status) -> bool:
        return new in ALLOWED[self.status]

    def move(self, new: Status, at: datetime, by: str, reason: str = "") -> StatusChange:
        """Change status if the lifecycle allows it; otherwise raise and change nothing."""
        if not self.can_move(new):
            raise InvalidTransition(
                f"{self.status} -> {new}", number=self.number, status=self.status.value
            )
        change = StatusChange(self.status, new, at, by, reason)
        self.status = new
        if not new.is_open:
            self.withdraw_quote()
        self.history.append(change)
        self.updated_at = at
        return change

    def ask_again(self, at: datetime, by: str, reason: str) -> StatusChange:
        """Another question while Waiting for customer: recorded as Waiting -> Waiting,
        so the reminder and auto-close timers count from the latest question."""
        if self.status is not Status.WAITING:
            raise InvalidTransition(f"{self.status} is not waiting", number=self.number)
        change = StatusChange(Status.WAITING, Status.WAITING, at, by, reason)
        self.history.append(change)
        self.updated_at = at
        return change

    def withdraw_quote(self) -> None:
        """A declined or closed ticket cannot take a pending quote any more."""
        if self.quote is not None and self.quote.state is QuoteState.PENDING:
            self.quote = replace(self.quote, state=QuoteState.WITHDRAWN)

    def record_filed(self, at: datetime, by: str) -> None:
        self.history.append(StatusChange(None, Status.NEW, at, by))
        self.updated_at = at

    def assign(self, agent: Actor) -> None:
        self.assignee = agent.participant
        self.assignee_name = agent.name

    def add_entry(self, entry: ThreadEntry) -> None:
        self.entries.append(entry)
        self.attachments.extend(entry.attachments)
        self.updated_at = entry.at

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def label(self) -> str:
        return f"#{self.number} {self.title}"
