"""Backends for the store tests: the same tests run on SQLite (always) and on
PostgreSQL / Redis when ``DATABASE_TEST_URL`` / ``REDIS_TEST_URL`` point at a server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool
from store_support import Backend, open_backend

from store.db import create_engine, migrate
from store.models import Base

PG_URL = os.environ.get("DATABASE_TEST_URL", "")
REDIS_URL = os.environ.get("REDIS_TEST_URL", "")
PG_SKIP = (
    "DATABASE_TEST_URL is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5439/postgres)"
)
REDIS_SKIP = "REDIS_TEST_URL is not set (e.g. redis://127.0.0.1:6391/0)"

SQL_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        # Only our own tables: the server may hold other things.
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL, dropped and migrated once per session."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    # In a thread of its own: asyncio.run in this thread would unset pytest-asyncio's
    # current loop (and leak it).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _reset_postgres(PG_URL)).result()
    return PG_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    return REDIS_URL


@pytest.fixture(params=SQL_KINDS)
def backend_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    # Sync on purpose: the session-wide PostgreSQL reset must not run inside a test loop.
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("pg_url")
    return "sqlite", None


@pytest.fixture
async def backend(backend_kind: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[Backend]:
    kind, url = backend_kind
    async with open_backend(kind, tmp_path, url) as opened:
        yield opened
