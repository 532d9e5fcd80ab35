"""Initial schema: accounts, customers, tickets with thread and history, outbox,
conversation states and channel links.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported from store.models: a migration must keep
# describing the schema of its own day when the models move on.
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("support_number", sa.String(), nullable=False),
        sa.Column("domains", sa.JSON(), nullable=False),
        sa.Column("plan", sa.String(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("purchased_on", sa.Date(), nullable=True),
        sa.Column("organisation", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("support_number", name="pk_accounts"),
    )
    op.create_table(
        "customers",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("support_number", sa.String(), nullable=False),
        sa.Column("domain", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("current_ticket", sa.Integer(), nullable=True),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_customers"),
    )
    op.create_table(
        "tickets",
        sa.Column("number", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("customer_platform", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("customer_name", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("request_type", sa.String(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("support_number", sa.String(), nullable=False),
        sa.Column("domain", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignee_platform", sa.String(), nullable=True),
        sa.Column("assignee_id", sa.String(), nullable=True),
        sa.Column("assignee_name", sa.String(), nullable=False),
        sa.Column("decline_reason", sa.String(), nullable=True),
        sa.Column("follow_up_of", sa.Integer(), nullable=True),
        sa.Column("origin_channel", sa.String(), nullable=False),
        sa.Column("origin_post_ref", sa.String(), nullable=True),
        sa.Column("origin_post_link", sa.Text(), nullable=True),
        sa.Column("escalated_by", sa.String(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["follow_up_of"],
            ["tickets.number"],
            name="fk_tickets_follow_up_of_tickets",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("number", name="pk_tickets"),
        sa.UniqueConstraint("origin_post_ref", name="uq_tickets_origin_post_ref"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_tickets_customer", "tickets", ["customer_platform", "customer_id", "created_at"]
    )
    op.create_index("ix_tickets_department_status", "tickets", ["department", "status"])
    op.create_index(
        "ix_tickets_support_number_created_at", "tickets", ["support_number", "created_at"]
    )
    op.create_table(
        "ticket_entries",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("author_platform", sa.String(), nullable=True),
        sa.Column("author_id", sa.String(), nullable=True),
        sa.Column("author_name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_number"],
            ["tickets.number"],
            name="fk_ticket_entries_ticket_number_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_entries"),
        sa.UniqueConstraint("ticket_number", "seq", name="uq_ticket_entries_ticket_number_seq"),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=True),
        sa.Column("file_ref", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("mime_type", sa.String(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_number"],
            ["tickets.number"],
            name="fk_attachments_ticket_number_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
    )
    op.create_index("ix_attachments_ticket_number", "attachments", ["ticket_number"])
    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("old", sa.String(), nullable=True),
        sa.Column("new", sa.String(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("by", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_number"],
            ["tickets.number"],
            name="fk_status_history_ticket_number_tickets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_history"),
        sa.UniqueConstraint("ticket_number", "seq", name="uq_status_history_ticket_number_seq"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("audience", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "conversation_states",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_conversation_states"),
    )
    op.create_table(
        "channel_links",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "kind", "key", name="pk_channel_links"),
    )
    op.create_index("ix_channel_links_value", "channel_links", ["channel", "kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_channel_links_value", table_name="channel_links")
    op.drop_table("channel_links")
    op.drop_table("conversation_states")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("status_history")
    op.drop_index("ix_attachments_ticket_number", table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("ticket_entries")
    op.drop_index("ix_tickets_support_number_created_at", table_name="tickets")
    op.drop_index("ix_tickets_department_status", table_name="tickets")
    op.drop_index("ix_tickets_customer", table_name="tickets")
    op.drop_table("tickets")
    op.drop_table("customers")
    op.drop_table("accounts")
