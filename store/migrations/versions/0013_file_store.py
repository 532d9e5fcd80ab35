"""The desk keeps a copy of the files people send: ``stored_files`` (bytes by their
SHA-256) and each attachment's ``stored`` key, so that a file sent on one channel can
be shown on another (a Telegram file id means nothing on Discord).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "attachments", sa.Column("stored", sa.String(), server_default="", nullable=False)
    )
    op.create_table(
        "stored_files",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_files")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("stored")
