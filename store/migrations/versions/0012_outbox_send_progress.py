"""How far a claimed outbox row got: ``started`` (a platform call carrying it may have
gone out) and ``lease_token`` (the claim that holds it). After a crash only started
rows are in doubt; a run's rows never tried go back to waiting, and a relay that lost
its lease cannot start, or give back, rows another relay holds now.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        # Rows being sent at the upgrade count as started: in doubt, as they were.
        batch.add_column(
            sa.Column("started", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("lease_token", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_token")
        batch.drop_column("started")
