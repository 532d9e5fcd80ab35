"""The ticket aggregate: status, thread and history, and the only allowed moves."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum, StrEnum

from bot.errors import AlreadyRated, InvalidInput, InvalidTransition
from bot.participant import Actor, Participant


class Status(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    WAITING = "waiting"
    # A paid modification's quote waits for the customer's consent (seed 001: work
    # starts only once they agree).
    AWAITING_APPROVAL = "awaiting_approval"
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
    # Not an agent's choice: the customer refused a paid modification's quote.
    QUOTE_REFUSED = "quote_refused"


# The reasons an agent may give (the rest are the desk's own).
AGENT_DECLINE_REASONS = tuple(r for r in DeclineReason if r is not DeclineReason.QUOTE_REFUSED)


class QuoteRefusal(StrEnum):
    """What a refused quote does to its ticket (the policy's ``[quotes] on_refusal``)."""

    # The request is declined, by the customer (reason ``quote_refused``).
    DECLINE = "decline"
    # The paid work is off, the request goes on as a consultation.
    CONSULTATION = "consultation"


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
    # An agent has seen the customer's messages (a reaction on them, bot.reactions).
    SEEN = "seen"
    # Written by the customer while the ticket was Blocked (seed 000: no messages while
    # a fix is applied): kept, and passed on to the team when it is unblocked.
    HELD = "held"


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
    # The desk's copy of the bytes (``bot.ports.FileStore`` key); "" when it has none.
    stored: str = ""


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
    # The clock each target counts on ("business" or "calendar" hours) and, for a range
    # ("24-48 h"), the seconds after which the team is warned (its lower bound).
    first_response_clock: str = "business"
    resolution_clock: str = "business"
    first_response_warn: float | None = None
    resolution_warn: float | None = None


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


# The lifecycle (domain.md). Blocked is left by unblocking, back to Accepted. A quote
# (Awaiting approval) is left by the customer's decision (Accepted, or as the policy
# says for a refusal), by declining, or by closing when nobody answers it; it is never
# resolved, blocked or asked about before the customer has decided.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {
            Status.ACCEPTED,
            Status.WAITING,
            Status.AWAITING_APPROVAL,
            Status.RESOLVED,
            Status.BLOCKED,
            Status.DECLINED,
        }
    ),
    Status.ACCEPTED: frozenset(
        {
            Status.WAITING,
            Status.AWAITING_APPROVAL,
            Status.RESOLVED,
            Status.BLOCKED,
            Status.DECLINED,
        }
    ),
    Status.WAITING: frozenset(
        {
            Status.ACCEPTED,
            Status.AWAITING_APPROVAL,
            Status.RESOLVED,
            Status.BLOCKED,
            Status.DECLINED,
            Status.CLOSED,
        }
    ),
    Status.AWAITING_APPROVAL: frozenset({Status.ACCEPTED, Status.DECLINED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.ACCEPTED}),
    Status.BLOCKED: frozenset({Status.ACCEPTED}),
    Status.CLOSED: frozenset(),
    Status.DECLINED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Rating:
    """The customer's satisfaction with a closed ticket: 1-5, and optional words."""

    score: int
    at: datetime
    comment: str = ""


RATING_MIN, RATING_MAX = 1, 5


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
    # Filed as a paid request past the monthly quota: not counted; the team quotes first.
    paid: bool = False
    quote: Quote | None = None
    # One per ticket, given after it closed.
    rating: Rating | None = None
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

    def offer_quote(self, price: str, note: str, at: datetime, by: str) -> StatusChange:
        """A price for paid work: the ticket waits for the customer's approval. A new
        quote while one waits replaces it (recorded as Awaiting approval -> Awaiting
        approval, so reminders count from the latest price). Only an open ticket being
        worked on takes one: never a Resolved, Blocked, Closed or Declined one."""
        price, note = price.strip(), note.strip()
        if not price:
            raise InvalidInput("a quote needs a price")
        if self.status is Status.AWAITING_APPROVAL:
            self.withdraw_quote()
            change = StatusChange(self.status, self.status, at, by, price)
            self.history.append(change)
            self.updated_at = at
        else:
            change = self.move(Status.AWAITING_APPROVAL, at, by, price)
        self.quote = Quote(price, note, QuoteState.PENDING, at)
        return change

    def decide_quote(
        self, accepted: bool, at: datetime, by: str, on_refusal: QuoteRefusal
    ) -> StatusChange:
        """The customer's answer to the waiting quote: accepted, work starts (Accepted);
        refused, the request is declined by the customer or goes on as a consultation,
        as ``on_refusal`` says."""
        quote = self.quote
        if (
            self.status is not Status.AWAITING_APPROVAL
            or quote is None
            or quote.state is not QuoteState.PENDING
        ):
            raise InvalidTransition(f"#{self.number} has no quote waiting", number=self.number)
        state = QuoteState.ACCEPTED if accepted else QuoteState.REFUSED
        self.quote = replace(quote, state=state, decided_at=at)
        reason = f"quote_{state.value}"
        if accepted or on_refusal is QuoteRefusal.CONSULTATION:
            if not accepted:
                self.request_type = RequestType.CONSULTATION
            return self.move(Status.ACCEPTED, at, by, reason)
        change = self.move(Status.DECLINED, at, by, DeclineReason.QUOTE_REFUSED.value)
        self.decline_reason = DeclineReason.QUOTE_REFUSED
        return change

    def rate(self, score: int, at: datetime) -> None:
        """The customer's 1-5 for a closed ticket; once (a second one raises)."""
        if self.status is not Status.CLOSED:
            raise InvalidTransition(f"#{self.number} is {self.status}", number=self.number)
        if self.rating is not None:
            raise AlreadyRated(f"#{self.number} is rated", number=self.number)
        if not RATING_MIN <= score <= RATING_MAX:
            raise InvalidInput(f"rating {score}", number=self.number)
        self.rating = Rating(score, at)

    def comment_rating(self, text: str) -> None:
        """The optional words after the rating; once."""
        if self.rating is None or self.rating.comment:
            raise AlreadyRated(f"#{self.number} has no rating to comment", number=self.number)
        self.rating = replace(self.rating, comment=text)

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

    def held_entries(self) -> list[tuple[int, ThreadEntry]]:
        """What the customer wrote while the ticket was blocked this last time (index in
        the thread, entry): passed on to the team when it is unblocked."""
        since = next((c.at for c in reversed(self.history) if c.new is Status.BLOCKED), None)
        if since is None:
            return []
        return [
            (i, e)
            for i, e in enumerate(self.entries)
            if e.kind is EntryKind.HELD and e.at >= since
        ]

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
