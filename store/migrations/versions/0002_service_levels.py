"""Service levels on tickets: plan, SLA due times and budgets, first response,
alerts sent, the ticker's next check, reminders, off-hours flag, quotes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: batch would rebuild the SQLite table and drop
    # its AUTOINCREMENT (ticket numbers must never come back).
    columns: list[sa.Column[Any]] = [
        sa.Column("plan", sa.String(), server_default="", nullable=False),
        sa.Column("first_response_due", TS, nullable=True),
        sa.Column("resolution_due", TS, nullable=True),
        sa.Column("first_response_budget", sa.Float(), nullable=True),
        sa.Column("resolution_budget", sa.Float(), nullable=True),
        sa.Column("first_response_at", TS, nullable=True),
        sa.Column("sla_alerts", sa.String(), server_default="", nullable=False),
        sa.Column("next_check_at", TS, nullable=True),
        sa.Column("reminded_at", TS, nullable=True),
        sa.Column("off_hours", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("quote_price", sa.String(), nullable=True),
        sa.Column("quote_note", sa.Text(), nullable=True),
        sa.Column("quote_state", sa.String(), nullable=True),
        sa.Column("quote_at", TS, nullable=True),
        sa.Column("quote_decided_at", TS, nullable=True),
    ]
    for column in columns:
        op.add_column("tickets", column)
    op.create_index("ix_tickets_next_check_at", "tickets", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_next_check_at", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        for column in (
            "quote_decided_at",
            "quote_at",
            "quote_state",
            "quote_note",
            "quote_price",
            "off_hours",
            "reminded_at",
            "next_check_at",
            "sla_alerts",
            "first_response_at",
            "resolution_budget",
            "first_response_budget",
            "resolution_due",
            "first_response_due",
            "plan",
        ):
            batch.drop_column(column)
