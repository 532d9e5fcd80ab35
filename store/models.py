"""SQLAlchemy tables of the desk. Rows stay inside ``store/``; repositories hand out
domain objects.

Enums are stored as their string (or int) values, not as database enum types, so adding
a status or a decline reason needs no migration of a type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite keeps no zone, so values are written as naive UTC there and given back
    ``tzinfo=UTC`` on read; naive datetimes are refused on write because their meaning
    (local? UTC?) is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; one fixed zone keeps string comparison == time comparison.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base holding the desk's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class AccountRow(Base):
    """A support number (licence) with the domains it covers."""

    __tablename__ = "accounts"

    support_number: Mapped[str] = mapped_column(String, primary_key=True)
    domains: Mapped[list[Any]] = mapped_column(JSON)
    plan: Mapped[str] = mapped_column(String)
    valid_until: Mapped[date | None] = mapped_column(Date)
    purchased_on: Mapped[date | None] = mapped_column(Date)
    organisation: Mapped[str] = mapped_column(String)
    admins: Mapped[list[Any] | None] = mapped_column(JSON)
    direct: Mapped[bool] = mapped_column(Boolean, server_default=true())


class CustomerRow(Base):
    """A customer's profile, keyed by the participant key ``platform:id``."""

    __tablename__ = "customers"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    platform: Mapped[str] = mapped_column(String)
    external_id: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    locale: Mapped[str] = mapped_column(String)
    support_number: Mapped[str] = mapped_column(String)
    domain: Mapped[str] = mapped_column(String)
    phone: Mapped[str] = mapped_column(String)
    current_ticket: Mapped[int | None] = mapped_column(Integer)
    unreachable: Mapped[bool] = mapped_column(Boolean)
    # The running conversation ({"kind", "data", "at"}), beside the profile it belongs
    # to: one read and one write per step (migration 0006).
    conversation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # Moved on by every write on PostgreSQL, where a step writes the profile back only
    # at the version it read (migration 0019; SQLite's single writer keeps 0).
    version: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        # Customers in the middle of a conversation, found at start-up (migration 0011).
        Index(
            "ix_customers_in_conversation",
            "key",
            postgresql_where=text("conversation IS NOT NULL"),
            sqlite_where=text("conversation IS NOT NULL"),
        ),
    )


class PersonLinkRow(Base):
    """A participant linked to others as one person (``store.people``), and the
    one-time code it issued to link another, while it is pending."""

    __tablename__ = "person_links"
    __table_args__ = (
        Index("ix_person_links_person", "person"),
        Index("ix_person_links_code", "code", unique=True),
    )

    participant: Mapped[str] = mapped_column(String, primary_key=True)
    person: Mapped[str] = mapped_column(String)
    code: Mapped[str | None] = mapped_column(String)
    code_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TicketRow(Base):
    """The ticket aggregate's root row."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer", "customer_platform", "customer_id", "created_at"),
        Index("ix_tickets_department_status", "department", "status"),
        Index("ix_tickets_support_number_created_at", "support_number", "created_at"),
        # The search index's catch-up reads the tickets changed since its watermark.
        Index("ix_tickets_updated_at_number", "updated_at", "number"),
        # AUTOINCREMENT: SQLite must never hand out a number again, even of a deleted row.
        {"sqlite_autoincrement": True},
    )

    # Identity column on PostgreSQL: the database hands out numbers, never read-then-write.
    number: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    customer_platform: Mapped[str] = mapped_column(String)
    customer_id: Mapped[str] = mapped_column(String)
    customer_name: Mapped[str] = mapped_column(String)
    department: Mapped[str] = mapped_column(String)
    category: Mapped[str] = mapped_column(String)
    request_type: Mapped[str] = mapped_column(String)
    critical: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    steps: Mapped[str] = mapped_column(Text)
    support_number: Mapped[str] = mapped_column(String)
    domain: Mapped[str] = mapped_column(String)
    phone: Mapped[str] = mapped_column(String)
    locale: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    priority: Mapped[int] = mapped_column(Integer)
    assignee_platform: Mapped[str | None] = mapped_column(String)
    assignee_id: Mapped[str | None] = mapped_column(String)
    assignee_name: Mapped[str] = mapped_column(String)
    decline_reason: Mapped[str | None] = mapped_column(String)
    follow_up_of: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.number", ondelete="SET NULL")
    )
    origin_channel: Mapped[str] = mapped_column(String)
    # One community post can never become two tickets, even under concurrent escalations.
    origin_post_ref: Mapped[str | None] = mapped_column(String, unique=True)
    origin_post_link: Mapped[str | None] = mapped_column(Text)
    escalated_by: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime | None] = mapped_column()
    # Service levels (migration 0002).
    plan: Mapped[str] = mapped_column(String, server_default="")
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolution_due: Mapped[datetime | None] = mapped_column()
    first_response_budget: Mapped[float | None] = mapped_column(Float)
    resolution_budget: Mapped[float | None] = mapped_column(Float)
    first_response_clock: Mapped[str | None] = mapped_column(String(16))
    resolution_clock: Mapped[str | None] = mapped_column(String(16))
    first_response_warn: Mapped[float | None] = mapped_column(Float)
    resolution_warn: Mapped[float | None] = mapped_column(Float)
    first_response_at: Mapped[datetime | None] = mapped_column()
    sla_alerts: Mapped[str] = mapped_column(String, server_default="")
    # The ticker's durable timer: when this ticket next needs a look (SLA, reminders).
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    # The agents' queue's sort key with the priority (migration 0008).
    queue_due: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    off_hours: Mapped[bool] = mapped_column(Boolean, server_default=false())
    paid: Mapped[bool] = mapped_column(Boolean, server_default=false())
    quote_price: Mapped[str | None] = mapped_column(String)
    quote_note: Mapped[str | None] = mapped_column(Text)
    quote_state: Mapped[str | None] = mapped_column(String)
    quote_at: Mapped[datetime | None] = mapped_column()
    quote_decided_at: Mapped[datetime | None] = mapped_column()
    # The customer's satisfaction after closing (migration 0016).
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column()
    # Optimistic locking (migration 0006): a save names the version it loaded.
    version: Mapped[int] = mapped_column(Integer, server_default="0")

    entries: Mapped[list[EntryRow]] = relationship(
        order_by="EntryRow.seq", lazy="raise", passive_deletes=True
    )
    attachments: Mapped[list[AttachmentRow]] = relationship(
        order_by="AttachmentRow.id", lazy="raise", passive_deletes=True
    )
    history: Mapped[list[StatusChangeRow]] = relationship(
        order_by="StatusChangeRow.seq", lazy="raise", passive_deletes=True
    )


# Open tickets, spelled as queries spell them (a partial index is used only for a query
# that repeats its condition): the agents' queue reads this index in queue order,
# highest priority first, then soonest due (migration 0008).
OPEN_TICKETS = "tickets.status NOT IN ('closed', 'declined')"
Index(
    "ix_tickets_open_queue",
    TicketRow.department,
    TicketRow.priority.desc(),
    TicketRow.queue_due,
    TicketRow.number,
    postgresql_where=text(OPEN_TICKETS),
    sqlite_where=text(OPEN_TICKETS),
)
# A lead's queue (every department) in the same order, read without a sort.
Index(
    "ix_tickets_open_queue_all",
    TicketRow.priority.desc(),
    TicketRow.queue_due,
    TicketRow.number,
    postgresql_where=text(OPEN_TICKETS),
    sqlite_where=text(OPEN_TICKETS),
)
# An organisation's counts per status, read from the index alone.
Index("ix_tickets_support_number_status", TicketRow.support_number, TicketRow.status)


class EntryRow(Base):
    """One message or note of a ticket's thread; ``seq`` is its index in the thread."""

    __tablename__ = "ticket_entries"
    # Two units appending to the same loaded thread collide here instead of both winning.
    __table_args__ = (UniqueConstraint("ticket_number", "seq"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    ticket_number: Mapped[int] = mapped_column(ForeignKey("tickets.number", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column()
    author_platform: Mapped[str | None] = mapped_column(String)
    author_id: Mapped[str | None] = mapped_column(String)
    author_name: Mapped[str] = mapped_column(String)


class AttachmentRow(Base):
    """A file of a ticket; ``entry_seq`` is NULL for files given at intake."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_ticket_number", "ticket_number"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    ticket_number: Mapped[int] = mapped_column(ForeignKey("tickets.number", ondelete="CASCADE"))
    entry_seq: Mapped[int | None] = mapped_column(Integer)
    file_ref: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(String)
    size: Mapped[int] = mapped_column(BigInteger)
    platform: Mapped[str] = mapped_column(String)
    # How the platform delivered it ("photo", "document"): it is sent on the same way.
    kind: Mapped[str] = mapped_column(String, server_default="")
    # The desk's copy of the bytes (a ``stored_files`` key, or the folder store's).
    stored: Mapped[str] = mapped_column(String, server_default="")


class StoredFileRow(Base):
    """The bytes of a file someone sent, by their SHA-256 (``store.files``)."""

    __tablename__ = "stored_files"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StatusChangeRow(Base):
    """One step of a ticket's status history; ``seq`` is its index in the history."""

    __tablename__ = "status_history"
    # Doubles as optimistic locking: two units moving the same ticket cannot both commit.
    __table_args__ = (UniqueConstraint("ticket_number", "seq"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    ticket_number: Mapped[int] = mapped_column(ForeignKey("tickets.number", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    old: Mapped[str | None] = mapped_column(String)
    new: Mapped[str] = mapped_column(String)
    at: Mapped[datetime] = mapped_column()
    by: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """A notification to deliver once; ``id`` is its idempotency key."""

    __tablename__ = "outbox"
    __table_args__ = (
        # Each recipient's open queue in order (unfinished rows only): relays take only
        # its oldest row, found with one seek per recipient (migration 0007).
        Index(
            "ix_outbox_open_queue",
            "channel",
            "recipient",
            "created_at",
            "position",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    channel: Mapped[str] = mapped_column(String)
    audience: Mapped[str] = mapped_column(String)
    recipient: Mapped[str] = mapped_column(String)
    ticket_number: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    choices: Mapped[list[Any]] = mapped_column(JSON)
    locale: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column()
    # Order of the notifications one unit of work wrote (they share created_at).
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    # While SENDING: whether a platform call carrying it may have gone out (a run's
    # rows are started one call at a time), and the claim that holds it (migration
    # 0012). A crash leaves only started rows in doubt.
    started: Mapped[bool] = mapped_column(Boolean, server_default=true())
    lease_token: Mapped[str | None] = mapped_column(String)


class InboxRow(Base):
    """A platform update whose effects were committed; a redelivery stops here."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_handled_at", "handled_at"),)

    channel: Mapped[str] = mapped_column(String, primary_key=True)
    bot: Mapped[str] = mapped_column(String, primary_key=True)
    update_id: Mapped[str] = mapped_column(String, primary_key=True)
    handled_at: Mapped[datetime] = mapped_column()
    # What the update was answered (the customer's replies): a redelivery, e.g. after
    # a crash between the commit and the reply, is answered the same way.
    answer: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))


class HeldMessageRow(Base):
    """A customer's message flood control kept back until the flood is over."""

    __tablename__ = "held_messages"
    __table_args__ = (
        Index("ix_held_messages_customer_key_id", "customer_key", "id"),
        Index("ix_held_messages_held_at", "held_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    # The participant key ("platform:id") of the customer.
    customer_key: Mapped[str] = mapped_column(String)
    # The update it came in ("channel/bot/update id"): kept once however often it comes.
    update_key: Mapped[str] = mapped_column(String, unique=True)
    text: Mapped[str] = mapped_column(Text)
    # Its files, as attachments' fields (``bot.ticket.Attachment``).
    files: Mapped[list[Any]] = mapped_column(JSON)
    held_at: Mapped[datetime] = mapped_column()


class QuotaUsageRow(Base):
    """Tickets an account filed in one quota month, counted atomically."""

    __tablename__ = "quota_usage"

    support_number: Mapped[str] = mapped_column(String, primary_key=True)
    month: Mapped[str] = mapped_column(String, primary_key=True)
    used: Mapped[int] = mapped_column(Integer)


class PendingUpdateRow(Base):
    """An update received from a platform and not yet handled: the durable hand-off
    between the receiver and the workers when there is no Redis stream."""

    __tablename__ = "pending_updates"
    __table_args__ = (
        UniqueConstraint("channel", "bot", "update_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    channel: Mapped[str] = mapped_column(String)
    bot: Mapped[str] = mapped_column(String)
    update_id: Mapped[str] = mapped_column(String)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")


class ChannelLinkRow(Base):
    """A channel's own reference to a desk object (a ticket's topic, its card message)."""

    __tablename__ = "channel_links"
    __table_args__ = (Index("ix_channel_links_value", "channel", "kind", "value"),)

    channel: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String, primary_key=True)
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(String)


class HelpArticleRow(Base):
    """A help article in one language, as last indexed from the policy's folder."""

    __tablename__ = "help_articles"

    slug: Mapped[str] = mapped_column(String, primary_key=True)
    lang: Mapped[str] = mapped_column(String, primary_key=True)
    title: Mapped[str] = mapped_column(String)
    keywords: Mapped[list[Any]] = mapped_column(JSON)
    departments: Mapped[list[Any]] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)


class SearchCollectionRow(Base):
    """One searchable collection (the help centre): the fingerprint of what it was
    last built from, and the row a rebuild locks."""

    __tablename__ = "search_collections"

    collection: Mapped[str] = mapped_column(String, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String)


class SearchDocumentRow(Base):
    """A document's analysed terms (``bot.knowledge.analysis``). The full-text index
    over ``terms`` is not in the metadata: an FTS5 table kept by triggers on SQLite, a
    generated ``tsv`` column with a GIN index on PostgreSQL (migration 0015)."""

    __tablename__ = "search_documents"
    __table_args__ = (
        UniqueConstraint("collection", "key", "lang"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    collection: Mapped[str] = mapped_column(String)
    key: Mapped[str] = mapped_column(String)
    lang: Mapped[str] = mapped_column(String)
    # " technical sales ": each scope between spaces, matched with LIKE '% x %'.
    scope: Mapped[str] = mapped_column(String)
    title_terms: Mapped[str] = mapped_column(Text)
    keyword_terms: Mapped[str] = mapped_column(Text)
    body_terms: Mapped[str] = mapped_column(Text)
    # All three, for the full-text index.
    terms: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(Integer)


class HelpDeflectionRow(Base):
    """A request a help article solved before it became a ticket."""

    __tablename__ = "help_deflections"
    __table_args__ = (
        Index("ix_help_deflections_at", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column()
    customer: Mapped[str] = mapped_column(String)
    department: Mapped[str] = mapped_column(String)
    category: Mapped[str] = mapped_column(String)
    slug: Mapped[str] = mapped_column(String)
    lang: Mapped[str] = mapped_column(String)


class HelpFeedbackRow(Base):
    """A customer's "Was this helpful?" answer about an article (one per customer and
    article: answering again replaces it)."""

    __tablename__ = "help_feedback"

    customer: Mapped[str] = mapped_column(String, primary_key=True)
    slug: Mapped[str] = mapped_column(String, primary_key=True)
    lang: Mapped[str] = mapped_column(String, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String)
    comment: Mapped[str] = mapped_column(Text)


class IncidentRow(Base):
    """One problem many customers have; its tickets are linked in incident_tickets."""

    __tablename__ = "incidents"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String)
    # " technical sales ": each department between spaces, matched with LIKE '% x %'.
    departments: Mapped[str] = mapped_column(String)
    opened_by: Mapped[str] = mapped_column(String)
    opened_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String)
    resolved_at: Mapped[datetime | None] = mapped_column()


class IncidentTicketRow(Base):
    """A ticket's incident (one at most: the ticket is the key)."""

    __tablename__ = "incident_tickets"
    __table_args__ = (Index("ix_incident_tickets_incident_id", "incident_id"),)

    ticket_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Integer, ForeignKey("incidents.id"))
