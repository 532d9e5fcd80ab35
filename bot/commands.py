"""Commands: what someone asks the desk to do. Imperative names, frozen, with id and time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.knowledge.article import FeedbackReason
from bot.ticket import Attachment, DeclineReason


def _id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Command:
    id: str = field(default_factory=_id)
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class TicketDraft:
    """Everything intake collected for one ticket."""

    category: str
    title: str
    description: str
    steps: str = ""
    attachments: tuple[Attachment, ...] = ()
    support_number: str = ""
    domain: str = ""
    phone: str = ""
    follow_up_of: int | None = None
    # Set when entitlement sends the customer elsewhere (e.g. expired support -> sales);
    # None routes by category.
    department: str | None = None
    # An open incident the customer joined at intake: the ticket becomes one of its.
    incident: int | None = None
    # A paid request past the monthly quota (not counted against it).
    paid: bool = False


# Issued by conversations -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LookupAccount(Command):
    support_number: str


@dataclass(frozen=True, kw_only=True)
class OpenTickets(Command):
    """File one ticket per draft (several when the customer split a description)."""

    drafts: tuple[TicketDraft, ...]


@dataclass(frozen=True, kw_only=True)
class AppendToTicket(Command):
    number: int
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SuggestArticles(Command):
    """Find help articles for what the customer wrote, in their department."""

    text: str
    department: str


@dataclass(frozen=True, kw_only=True)
class ShowArticle(Command):
    slug: str
    lang: str


@dataclass(frozen=True, kw_only=True)
class RecordDeflection(Command):
    """The customer's problem was solved by an article: no ticket, one deflected request."""

    department: str
    category: str
    slug: str = ""
    lang: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordFeedback(Command):
    """The customer's "Was this helpful?" answer about an article."""

    slug: str
    lang: str
    helpful: bool
    reason: FeedbackReason | None = None
    comment: str = ""


# Issued by agents ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ClaimTicket(Command):
    number: int


@dataclass(frozen=True, kw_only=True)
class AnswerCustomer(Command):
    number: int
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AskCustomer(Command):
    number: int
    text: str


@dataclass(frozen=True, kw_only=True)
class ResolveTicket(Command):
    number: int
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class DeclineTicket(Command):
    number: int
    reason: DeclineReason
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class TransferTicket(Command):
    number: int
    department: str
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class BlockTicket(Command):
    number: int
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class UnblockTicket(Command):
    number: int
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ResendNotification(Command):
    """Send again a message of ticket ``number`` whose delivery is uncertain."""

    number: int
    notification_id: str


@dataclass(frozen=True, kw_only=True)
class MarkSeen(Command):
    """The agent has seen the customer's latest messages (e.g. reacted to one)."""

    number: int


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    number: int
    text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class QuoteTicket(Command):
    """A paid modification: the price the customer must accept before work starts."""

    number: int
    price: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class LinkToIncident(Command):
    """Ticket ``number`` is one of the incident's: its customer gets the updates."""

    number: int
    incident_id: int
    title: str


@dataclass(frozen=True, kw_only=True)
class PostIncidentUpdate(Command):
    """One incident update, as it goes to one of its tickets."""

    number: int
    incident_id: int
    title: str
    text: str


# Issued by customers about an existing ticket --------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WriteToTicket(Command):
    number: int
    text: str
    attachments: tuple[Attachment, ...] = ()
    # Messages flood control held back, joined into this one (0: an ordinary message).
    held: int = 0


@dataclass(frozen=True, kw_only=True)
class ConfirmResolution(Command):
    number: int


@dataclass(frozen=True, kw_only=True)
class DisputeResolution(Command):
    number: int
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class RateTicket(Command):
    """1-5 for a closed ticket."""

    number: int
    score: int


@dataclass(frozen=True, kw_only=True)
class CommentRating(Command):
    number: int
    text: str


@dataclass(frozen=True, kw_only=True)
class AcceptQuote(Command):
    number: int


@dataclass(frozen=True, kw_only=True)
class RefuseQuote(Command):
    number: int


# Issued by moderators --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EscalatePost(Command):
    """Turn a community post into a ticket for its author."""

    author_platform: str
    author_id: str
    author_name: str
    post_ref: str
    post_link: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    department: str | None = None
    locale: str = "en"


AgentCommand = (
    ClaimTicket
    | AnswerCustomer
    | AskCustomer
    | ResolveTicket
    | DeclineTicket
    | TransferTicket
    | BlockTicket
    | UnblockTicket
    | AddNote
    | QuoteTicket
    | MarkSeen
)
