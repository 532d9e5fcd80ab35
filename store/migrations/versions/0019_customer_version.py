"""A version on each customer's profile: on PostgreSQL a step reads the profile
without locking it and writes it back only if nobody wrote it meanwhile (the version
it read), so a step is two statements and no explicit transaction. SQLite has one
writing process, whose own queue orders a customer's updates: it keeps 0.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite's view customer_steps (migration 0017) leaves the version out: written
    # through it, a profile keeps the version it has.
    op.add_column(
        "customers", sa.Column("version", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): rebuilding the table, as a batch would,
    # breaks the view over it.
    op.drop_column("customers", "version")
