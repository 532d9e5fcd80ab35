"""Engine, migrations and sessions. Nothing here runs at import time: ``bot/app.py``
calls these from ``main()``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from store.sqlite import inline_creator

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# How long an SQLite writer waits for another one instead of failing with "database is
# locked" (connections on the event loop wait in store/sqlite.py instead).
SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets its folder, foreign keys, WAL and a
    busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No ping before each use (a round trip per unit of work, ~15 % of a customer
        # step): a dead connection fails its unit, which ``SqlUnitOfWork`` reports as
        # StoreInterrupted and the gate runs again on a fresh one.
        return _create_async_engine(parsed, **kwargs)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if not in_memory:
        path = Path(database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_driver_name() == "aiosqlite" and "poolclass" not in kwargs:
            # Calls on the event loop, no thread hand-offs (store/sqlite.py).
            kwargs.setdefault("async_creator", inline_creator(str(path)))
    engine = _create_async_engine(parsed, **kwargs)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Per connection, because SQLite forgets these pragmas (except WAL) on every connect.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process dying at any moment; only a
        # power loss may take the last commits back (no fsync per commit).
        cursor.execute("PRAGMA synchronous=NORMAL")
        inline = getattr(getattr(dbapi_connection, "_connection", None), "inline", False)
        cursor.execute(f"PRAGMA busy_timeout={0 if inline else SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """Alembic configuration without an ``alembic.ini``: the app migrates on its own."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (the latest by default)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    # env.py runs on this connection instead of building an engine of its own.
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for units of work; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
