"""The help centre: articles, and a full-text index of analysed terms.

``search_documents`` holds each document's terms (stemmed, without diacritics); the
full-text index over them is SQLite's FTS5 (an external-content table kept in step by
triggers) or PostgreSQL's ``tsvector`` (a generated column with a GIN index). Neither
is in the SQLAlchemy metadata (``store.search.SCHEMA_EXTRAS``).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_INDEX = (
    # The terms hold only letters and digits: unicode61 splits them as we did.
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='search_documents', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.id, old.terms); "
    "INSERT INTO search_fts(rowid, terms) VALUES (new.id, new.terms); END",
)
_POSTGRES_INDEX = (
    # 'simple': no stemming or stop words of its own; the terms come analysed.
    "ALTER TABLE search_documents ADD COLUMN tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
)


def upgrade() -> None:
    op.create_table(
        "help_articles",
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("lang", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("slug", "lang", name=op.f("pk_help_articles")),
    )
    op.create_table(
        "search_collections",
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("collection", name=op.f("pk_search_collections")),
    )
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("collection", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("lang", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("title_terms", sa.Text(), nullable=False),
        sa.Column("keyword_terms", sa.Text(), nullable=False),
        sa.Column("body_terms", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint(
            "collection", "key", "lang", name=op.f("uq_search_documents_collection_key_lang")
        ),
        sqlite_autoincrement=True,
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_INDEX if dialect == "sqlite" else _POSTGRES_INDEX:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_documents_au", "search_documents_ad", "search_documents_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
    op.drop_table("search_collections")
    op.drop_table("help_articles")
