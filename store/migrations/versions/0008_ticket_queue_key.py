"""The agents' queue's stored sort key: ``tickets.queue_due`` (the due time that
matters next, kept by the desk with every change), and a partial index over open
tickets in queue order, so a page of the queue is a range scan, not a sort of every
open ticket by a key computed from the business calendar.

Open tickets filed before this migration get their due time when the desk starts
(``TicketService.fill_queue_due``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out (see 0001): the statuses of a ticket that is over.
OPEN = sa.text("tickets.status NOT IN ('closed', 'declined')")


def upgrade() -> None:
    op.add_column("tickets", sa.Column("queue_due", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tickets_open_queue",
        "tickets",
        ["department", sa.text("priority DESC"), "queue_due", "number"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    # A lead's queue of every department, in the same order.
    op.create_index(
        "ix_tickets_open_queue_all",
        "tickets",
        [sa.text("priority DESC"), "queue_due", "number"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    # An organisation's counts per status.
    op.create_index("ix_tickets_support_number_status", "tickets", ["support_number", "status"])


def downgrade() -> None:
    op.drop_index("ix_tickets_support_number_status", table_name="tickets")
    op.drop_index("ix_tickets_open_queue_all", table_name="tickets")
    op.drop_index("ix_tickets_open_queue", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("queue_due")
