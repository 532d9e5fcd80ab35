"""The outbox's open queues: a partial index over unfinished rows only, in each
recipient's order, so a relay finds every recipient's oldest row with a seek per
recipient instead of ranking every unfinished row (a team chat's backlog); it
replaces the status index too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out (see 0001): DeliveryStatus.PENDING and SENDING.
OPEN = sa.text("status IN ('pending', 'sending')")


def upgrade() -> None:
    # Both replaced by the partial index: on a large table of delivered rows SQLite's
    # planner (without statistics) drove the relay's claim through the status index.
    op.drop_index("ix_outbox_recipient_queue", table_name="outbox")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.create_index(
        "ix_outbox_open_queue",
        "outbox",
        ["channel", "recipient", "created_at", "position", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_open_queue", table_name="outbox")
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index(
        "ix_outbox_recipient_queue",
        "outbox",
        ["channel", "recipient", "status", "created_at", "position"],
    )
