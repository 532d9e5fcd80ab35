"""The migration, the models and the engine set-up agree."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from store_support import Backend

from store.db import alembic_config, create_engine, migrate
from store.inbox import CUSTOMER_STEPS
from store.models import Base, CustomerRow, InboxRow
from store.search import include_object


def _diffs(connection: Connection) -> list[Any]:
    opts: dict[str, Any] = {"compare_type": True, "include_object": include_object}
    # SQLite cannot report identity columns or defaults back, so only PostgreSQL can
    # check them without false alarms.
    if connection.dialect.name == "postgresql":
        opts["compare_server_default"] = True
    return list(compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata))


async def test_migration_creates_exactly_the_models_schema(backend: Backend) -> None:
    async with backend.engine.connect() as connection:
        assert await connection.run_sync(_diffs) == []


async def test_migrating_again_changes_nothing(backend: Backend) -> None:
    await migrate(backend.engine)
    async with backend.engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_the_customer_steps_view_has_every_column_of_customers_and_inbox(
    backend: Backend,
) -> None:
    """A customer's step writes its profile through this view on SQLite (migration
    customer_steps): a column added to ``customers`` without the view would be dropped on every
    step. The profile's version is not written there (SQLite's one writer checks none)."""
    if backend.name != "sqlite":
        return  # PostgreSQL writes both tables with a data-modifying WITH instead
    async with backend.engine.connect() as connection:
        found = await connection.execute(text("PRAGMA table_info(customer_steps)"))
        columns = [row[1] for row in found]
    expected = [
        c.name
        for c in (*CustomerRow.__table__.columns, *InboxRow.__table__.columns)
        if c.name != "version"
    ]
    assert columns == expected
    assert [c.name for c in CUSTOMER_STEPS.columns] == expected


async def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
    try:
        await migrate(engine)

        def down(connection: Connection) -> list[str]:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
            return [t for t in inspect(connection).get_table_names() if t != "alembic_version"]

        async with engine.begin() as connection:
            assert await connection.run_sync(down) == []
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diffs) == []
    finally:
        await engine.dispose()


async def test_sqlite_engine_creates_its_folder_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "desk.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
            journal = await connection.scalar(text("PRAGMA journal_mode"))
            busy = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert path.parent.is_dir()
    assert (foreign_keys, journal) == (1, "wal")
    # On the event loop SQLite must not wait for a lock itself (store/sqlite.py waits).
    assert busy == 0


async def test_a_write_meeting_another_connections_lock_waits_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    first, second = create_engine(url), create_engine(url)
    try:
        async with first.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        ticks = 0

        async def count_ticks() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        ticker = asyncio.create_task(count_ticks())
        async with first.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock

            async def write_second() -> None:
                async with second.begin() as connection:
                    await connection.execute(text("INSERT INTO t VALUES (2)"))

            waiting = asyncio.create_task(write_second())
            await asyncio.sleep(0.1)
            deadline = time.monotonic() + 5
            while ticks <= 10:  # the loop runs meanwhile (slowly on a busy machine)...
                assert time.monotonic() < deadline, ticks
                await asyncio.sleep(0.01)
            assert not waiting.done()  # ...and it still waits for the lock
            await holder.commit()
        await asyncio.wait_for(waiting, 5)
        ticker.cancel()
        async with first.connect() as connection:
            rows = (await connection.execute(text("SELECT n FROM t ORDER BY n"))).all()
        assert [n for (n,) in rows] == [1, 2]
    finally:
        await first.dispose()
        await second.dispose()


async def test_ticket_numbers_never_come_back_on_sqlite(tmp_path: Path) -> None:
    """AUTOINCREMENT: a deleted newest ticket's number is not handed out again."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}")
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            sql = await connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = 'tickets'")
            )
    finally:
        await engine.dispose()
    assert "AUTOINCREMENT" in str(sql)


async def test_foreign_keys_are_enforced(backend: Backend) -> None:
    async with backend.engine.connect() as connection:
        try:
            await connection.execute(
                text(
                    "INSERT INTO ticket_entries (ticket_number, seq, kind, text, at, author_name)"
                    " VALUES (999, 0, 'note', 'orphan', '2025-01-01 00:00:00', '')"
                )
            )
        except Exception as exc:
            assert "foreign key" in str(exc).lower()
        else:
            raise AssertionError("an entry of a missing ticket was accepted")
        finally:
            await connection.rollback()
