"""The data path for a fleet: ticket versions, an inbox of handled updates, atomic
quota counters, conversation state beside the profile, a durable queue of received
updates, and the outbox index that lets relays take each recipient's oldest row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Written out here rather than imported from store.models (see 0001).
TS = sa.DateTime(timezone=True)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Optimistic locking: every save is ``WHERE version = :loaded``.
    op.add_column(
        "tickets", sa.Column("version", sa.Integer(), server_default="0", nullable=False)
    )
    # Each platform update has its effect once (a redelivery stops at the primary key).
    op.create_table(
        "inbox",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("bot", sa.String(), nullable=False),
        sa.Column("update_id", sa.String(), nullable=False),
        sa.Column("handled_at", TS, nullable=False),
        # What the update was answered, to answer a redelivery the same way.
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("channel", "bot", "update_id", name="pk_inbox"),
    )
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"])
    # Tickets counted against a monthly quota, taken with one conditional UPDATE.
    op.create_table(
        "quota_usage",
        sa.Column("support_number", sa.String(), nullable=False),
        sa.Column("month", sa.String(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("support_number", "month", name="pk_quota_usage"),
    )
    # The conversation lives in the profile's row: one read and one write per step.
    op.add_column("customers", sa.Column("conversation", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE customers SET conversation = (SELECT data FROM conversation_states"
        " WHERE conversation_states.key = customers.key)"
    )
    op.drop_table("conversation_states")
    # Updates received from a platform and not yet handled (the durable hand-off
    # between the one receiver and the workers when no Redis stream is configured).
    op.create_table(
        "pending_updates",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("bot", sa.String(), nullable=False),
        sa.Column("update_id", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_updates"),
        sa.UniqueConstraint(
            "channel", "bot", "update_id", name="uq_pending_updates_channel_bot_update_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_outbox_recipient_queue",
        "outbox",
        ["channel", "recipient", "status", "created_at", "position"],
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_queue", table_name="outbox")
    op.drop_table("pending_updates")
    op.create_table(
        "conversation_states",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_conversation_states"),
    )
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("conversation")
    op.drop_table("quota_usage")
    op.drop_index("ix_inbox_handled_at", table_name="inbox")
    op.drop_table("inbox")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("version")
