"""Messages flood control keeps back (issue 12): a customer's messages over the flood
limit are kept here, in order, until the flood is over and they are joined into the
customer's ticket, instead of being dropped.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_messages",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("customer_key", sa.String(), nullable=False),
        sa.Column("update_key", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_messages")),
        sa.UniqueConstraint("update_key", name=op.f("uq_held_messages_update_key")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_held_messages_customer_key_id", "held_messages", ["customer_key", "id"])
    op.create_index("ix_held_messages_held_at", "held_messages", ["held_at"])


def downgrade() -> None:
    op.drop_index("ix_held_messages_held_at", table_name="held_messages")
    op.drop_index("ix_held_messages_customer_key_id", table_name="held_messages")
    op.drop_table("held_messages")
