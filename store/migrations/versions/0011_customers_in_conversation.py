"""Customers in the middle of a conversation, found at start-up (a restart reminds
them where they were, ``Desk.remind_interrupted``): a partial index, so the search
reads only them however many customers there are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_CONVERSATION = sa.text("conversation IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_customers_in_conversation",
        "customers",
        ["key"],
        postgresql_where=IN_CONVERSATION,
        sqlite_where=IN_CONVERSATION,
    )


def downgrade() -> None:
    op.drop_index("ix_customers_in_conversation", table_name="customers")
