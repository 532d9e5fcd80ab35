"""SQLite: a customer's profile and the update's inbox row written by one statement.

A view with the columns of both tables and an INSTEAD OF INSERT trigger that writes
the profile (insert or update by key) and then the inbox row, all inside the one
statement: an update already in the inbox fails the statement, profile included. It
is SQLite's way to what PostgreSQL does with a data-modifying WITH
(``store/inbox.py``): every customer step writes one statement instead of two.

The view must list every column of ``customers``: a migration that adds one drops
and creates the view and its trigger again (a test compares the two).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CUSTOMER = (
    "key",
    "platform",
    "external_id",
    "name",
    "locale",
    "support_number",
    "domain",
    "phone",
    "current_ticket",
    "unreachable",
    "conversation",
)
INBOX = ("channel", "bot", "update_id", "handled_at", "answer")


def create_customer_steps(customer: Sequence[str], inbox: Sequence[str]) -> None:
    """The view and its trigger over the given columns (later migrations reuse it)."""
    own, other = [f'"{name}"' for name in customer], [f'"{name}"' for name in inbox]
    columns = [*(f"c.{name}" for name in own), *(f"i.{name}" for name in other)]
    op.execute(
        f"CREATE VIEW customer_steps AS SELECT {', '.join(columns)} "
        "FROM customers AS c, inbox AS i WHERE 0"
    )
    changed = ", ".join(f"{name} = excluded.{name}" for name in own if name != '"key"')
    op.execute(
        "CREATE TRIGGER customer_steps_write INSTEAD OF INSERT ON customer_steps BEGIN "
        f"INSERT INTO customers ({', '.join(own)}) "
        f"VALUES ({', '.join(f'NEW.{name}' for name in own)}) "
        f'ON CONFLICT ("key") DO UPDATE SET {changed}; '
        f"INSERT INTO inbox ({', '.join(other)}) "
        f"VALUES ({', '.join(f'NEW.{name}' for name in other)}); "
        "END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        create_customer_steps(CUSTOMER, INBOX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS customer_steps_write")
        op.execute("DROP VIEW IF EXISTS customer_steps")
