"""Follow-through: requests a help article solved before they became tickets (deflected
requests); what customers answer to "Was this helpful?" under an article; the
customer's 1-5 rating of a closed ticket (with optional words) on the ticket; incidents
and their tickets; an index for the ticket search's catch-up (tickets changed since its
watermark), every ticket given an ``updated_at`` for it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("rating_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating_comment", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE tickets SET updated_at = created_at WHERE updated_at IS NULL")
    op.create_index("ix_tickets_updated_at_number", "tickets", ["updated_at", "number"])
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("departments", sa.String(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "incident_tickets",
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_tickets_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("ticket_number", name=op.f("pk_incident_tickets")),
    )
    op.create_index("ix_incident_tickets_incident_id", "incident_tickets", ["incident_id"])
    op.create_table(
        "help_deflections",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("lang", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_deflections")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_help_deflections_at", "help_deflections", ["at"])
    op.create_table(
        "help_feedback",
        sa.Column("customer", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("lang", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("customer", "slug", "lang", name=op.f("pk_help_feedback")),
    )


def downgrade() -> None:
    op.drop_index("ix_incident_tickets_incident_id", table_name="incident_tickets")
    op.drop_table("incident_tickets")
    op.drop_table("incidents")
    op.drop_index("ix_tickets_updated_at_number", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("rated_at")
        batch.drop_column("rating_comment")
        batch.drop_column("rating_score")
    op.drop_table("help_feedback")
    op.drop_index("ix_help_deflections_at", table_name="help_deflections")
    op.drop_table("help_deflections")
