"""Intake fidelity (issue 9): ``accounts.direct`` (the licence was bought directly from
the vendor, not through a reseller; a plan may serve only direct customers) and
``tickets.paid`` (filed as a paid request past the monthly quota: not counted, the team
quotes before work).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Accounts on file before the flag were taken as direct customers.
    op.add_column(
        "accounts", sa.Column("direct", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "tickets", sa.Column("paid", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("paid")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("direct")
