"""Service-level targets on their own clocks: each ticket keeps whether its first
response and resolution count business or calendar hours, and, for a target given as
a range ("24-48 h"), when the team is warned (its lower bound). Older tickets counted
business hours and warned at ``[sla] warn_at``: NULL reads as that.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("first_response_clock", sa.String(16)),
    ("resolution_clock", sa.String(16)),
    ("first_response_warn", sa.Float()),
    ("resolution_warn", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
