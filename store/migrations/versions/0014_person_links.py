"""One customer on several platforms: ``person_links`` (a participant, the person it
belongs to, and the one-time code it issued to link another while it is pending).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_links",
        sa.Column("participant", sa.String(), primary_key=True),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=True),
        sa.Column("code_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_person_links_person", "person_links", ["person"])
    op.create_index("ix_person_links_code", "person_links", ["code"], unique=True)


def downgrade() -> None:
    op.drop_table("person_links")
