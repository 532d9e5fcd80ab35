"""SQLite for the embedded shape, without a thread hop per database call.

``aiosqlite`` runs every call (cursor, execute, fetch, close, commit) in a thread of
its own and hands the result back to the event loop: four or five hand-offs per
statement, which measured as most of a customer step's cost. The desk's SQLite
statements are indexed lookups and short writes that take microseconds, so here they
run on the event loop itself, behind the same async interface SQLAlchemy's
``sqlite+aiosqlite`` dialect drives (its ``async_creator``): no threads, same SQL.

The price, and why it is safe to pay: a call blocks the loop while it runs, so a
call must never wait for SQLite's write lock inside SQLite (the unit holding the lock
may be a coroutine of this very loop, which could then never commit). These
connections have no busy timeout; a write that finds the database locked gives the
loop back and tries again a moment later (``BUSY_PAUSES``), for up to
``BUSY_WAIT_SECONDS`` in all.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Pauses between tries of a statement that found the write lock taken, then the last
# one again and again, until BUSY_WAIT_SECONDS have passed.
BUSY_PAUSES = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)
BUSY_WAIT_SECONDS = 10.0


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


async def patiently(call: Callable[[], Any]) -> Any:
    """``call()``, tried again after a pause (the loop runs meanwhile) while SQLite
    answers that another connection holds the lock."""
    started = time.monotonic()
    tries = 0
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or time.monotonic() - started > BUSY_WAIT_SECONDS:
                raise
        await asyncio.sleep(BUSY_PAUSES[min(tries, len(BUSY_PAUSES) - 1)])
        tries += 1


class InlineCursor:
    """An aiosqlite-shaped cursor whose coroutines run the call at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        await patiently(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(parameters)  # may be run twice
        await patiently(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's dialect uses
    directly to change the isolation level: the request is carried out at once."""

    def __init__(self) -> None:
        self.closed = False

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to whoever awaits the future
            future.set_exception(exc)


class InlineConnection:
    """An aiosqlite-shaped connection on a plain ``sqlite3`` connection."""

    # store.db sets no busy timeout on these: waiting happens here, off the loop.
    inline = True

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # What SQLAlchemy's adapter looks at to tell an open connection.
        self._connection: sqlite3.Connection | None = connection
        self._tx = _RunNow()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The ``sqlite3`` connection itself, for statements run on it directly
        (``store/driver.py``)."""
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await patiently(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def inline_creator(path: str) -> Callable[..., Any]:
    """``async_creator`` for ``create_async_engine``: connections to ``path``."""

    async def connect(*_args: Any, **_kwargs: Any) -> InlineConnection:
        return InlineConnection(sqlite3.connect(path, timeout=0))

    return connect
