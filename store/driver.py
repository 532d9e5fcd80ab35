"""A unit of work's connection, and the hot path's statements run straight on it.

A customer's step is a handful of short statements: read the profile, write it back
with the inbox row, commit. Through an ``AsyncSession`` each cost 150-300 us of
Python before SQLite's own 20-30 us (the session, the compiled-cache lookup, the
execution context, the async layer's greenlet hand-offs, the result machinery), and
the session itself as much again per unit, made and closed whether a step needs it
or not. So:

- ``UnitConnection`` holds the unit's connection and transaction, and makes a
  session on that connection only when a repository first asks for one (filing a
  ticket does; most steps never do).
- ``Prepared`` is a Core statement compiled by SQLAlchemy once, with its parameters'
  and columns' type processors, then run on SQLite's own ``sqlite3`` connection (the
  one ``store/sqlite.py`` keeps on the event loop) inside the unit's transaction:
  same SQL, same types, a tenth of the cost. Elsewhere (PostgreSQL, an SQLite
  connection in aiosqlite's thread) it is an ordinary ``execute`` on the connection.

Either way the engine's ``before_cursor_execute`` listeners see every statement, so
whoever counts statements counts these too.

- On PostgreSQL ``Prepared`` runs on asyncpg's own connection the same way: a read
  inside the unit's transaction when one is open, else on its own (at READ COMMITTED
  a statement sees what was committed before it either way); a write inside the
  transaction, or, when it is the unit's last and only write (``last=True``: the inbox
  row with the profile, a profile alone at commit), on its own as its own transaction:
  no BEGIN and no COMMIT round trips, as in SQLite's autocommit.

- ``Shelf`` keeps a few of the engine's connections between units: a unit takes one
  and gives it back when its transaction is over, instead of a check-out and check-in
  of the pool each time (its events, the reset's rollback: ~100 us a unit, as much as
  a step's statements on SQLite). A connection that was invalidated, or still in a
  transaction, goes back to the pool as before; ``engine.dispose()`` closes the shelf.
"""

from __future__ import annotations

import json
import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    Float,
    Select,
    String,
    Table,
    any_,
    bindparam,
    event,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import ValuesBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlalchemy.types import TypeDecorator, TypeEngine

from store.sqlite import InlineConnection, patiently

Processor = Callable[[Any], Any] | None


class UnitConnection:
    """One unit of work's connection, taken on ``open``; its transaction committed or
    rolled back as a whole; a session on it only on demand (``session``).

    The transaction begins with the first statement: SQLAlchemy's, when a statement
    goes through it; else SQLite's own, at the driver's first write (see ``commit``).
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, read_only: bool = False
    ) -> None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the unit of work's sessions must be bound to an AsyncEngine")
        self.engine = engine
        self._sessions = sessions
        # Only reads, on PostgreSQL outside any transaction (the connection in
        # autocommit): no BEGIN and ROLLBACK round trips around them.
        self.read_only = read_only and engine.dialect.driver == "asyncpg"
        self._connection: AsyncConnection | None = None
        self._sync: Connection | None = None
        self.sqlite: sqlite3.Connection | None = None
        # PostgreSQL: asyncpg's connection, and SQLAlchemy's adapter around it (whose
        # transaction, once begun, the driver's statements join).
        self.asyncpg: Any = None
        self._adapted: Any = None
        self._session: AsyncSession | None = None
        # The unit's last write ran on its own (``last=True``): nothing may follow.
        self.ended = False

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    async def open(self) -> None:
        shelf = Shelf.of(self.engine)
        connection = shelf.take(self.read_only)
        if connection is None:
            connection = await self.engine.connect()
            if self.read_only:
                # Until the connection goes back to the pool, which resets it.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
        self._connection = connection
        self._sync = connection.sync_connection
        fairy = connection.sync_connection.connection  # type: ignore[union-attr]
        driver = fairy.driver_connection
        self.sqlite = driver.sqlite if isinstance(driver, InlineConnection) else None
        if self.engine.dialect.driver == "asyncpg":
            self.asyncpg, self._adapted = driver, fairy.dbapi_connection
        self.ended = False

    def in_transaction(self) -> bool:
        """A transaction is open at the server (PostgreSQL: BEGIN was sent)."""
        return self._adapted is not None and self._adapted._transaction is not None

    def may_write_alone(self, last: bool) -> bool | None:
        """PostgreSQL: how the driver runs a write. True: inside the open transaction;
        False: on its own (the unit's last write, with no transaction open); None: not
        on the driver (SQLAlchemy begins the transaction)."""
        if self.ended:
            raise RuntimeError("a write after the unit's last write, which committed")
        if self.in_transaction():
            return True
        if last and self._session is None and not self.connection.in_transaction():
            return False
        return None

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open (use it in `async with`)")
        return self._connection

    @property
    def sync(self) -> Connection:
        if self._sync is None:
            raise RuntimeError("the unit of work is not open (use it in `async with`)")
        return self._sync

    @property
    def session(self) -> AsyncSession:
        """A session on this unit's connection and transaction (made on first use): it
        flushes into the transaction, and never commits or ends it itself."""
        if self._session is None:
            self._session = self._sessions(
                bind=self.connection, join_transaction_mode="rollback_only"
            )
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.flush()
        self.ended = False
        if self.connection.in_transaction():
            # SQLAlchemy's transaction (a session or a statement through it): the
            # driver's statements are on the same connection and commit with it.
            await self.connection.commit()
        elif self.sqlite is not None and self.sqlite.in_transaction:
            # Only statements run on the driver: SQLite began the transaction itself
            # at the first write (no BEGIN through SQLAlchemy, nor a commit).
            await patiently(self.sqlite.commit)
            self.sync.dispatch.commit(self.sync)
        await self._drop_session()

    async def rollback(self) -> None:
        if self._connection is None:
            return
        self.ended = False
        try:
            if self._connection.in_transaction():
                await self._connection.rollback()
            elif self.sqlite is not None and self.sqlite.in_transaction:
                self.sqlite.rollback()
                self.sync.dispatch.rollback(self.sync)
        finally:
            await self._drop_session()

    async def _drop_session(self) -> None:
        """After a commit or rollback the session's transaction is over: the next use
        makes a new one (the connection stays, and begins again when used)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        session, self._session = self._session, None
        try:
            if session is not None:
                await session.close()
        finally:
            if connection is not None and not Shelf.of(self.engine).keep(connection):
                await connection.close()


class Shelf:
    """Connections of one engine kept out of its pool between units of work (at most
    ``SIZE``; the pool keeps the rest), closed by ``engine.dispose()``."""

    SIZE = 4

    def __init__(self) -> None:
        self._kept: list[AsyncConnection] = []
        self._autocommit: list[AsyncConnection] = []  # read-only units' (PostgreSQL)

    @classmethod
    def of(cls, engine: AsyncEngine) -> Shelf:
        shelf = _SHELVES.get(engine)
        if shelf is None:
            shelf = _SHELVES[engine] = cls()
            event.listen(engine.sync_engine, "engine_disposed", shelf._on_dispose)
        return shelf

    def take(self, autocommit: bool = False) -> AsyncConnection | None:
        kept = self._autocommit if autocommit else self._kept
        return kept.pop() if kept else None

    def keep(self, connection: AsyncConnection) -> bool:
        """Keep ``connection`` for the next unit; False when it must be closed (the
        shelf is full, or the connection is not clean: invalidated, closed, or in a
        transaction SQLAlchemy or SQLite itself began)."""
        sync = connection.sync_connection
        options = sync.get_execution_options() if sync is not None else {}
        kept = self._autocommit if options.get("isolation_level") == "AUTOCOMMIT" else self._kept
        if (
            len(kept) >= self.SIZE
            or sync is None
            or sync.closed
            or sync.invalidated
            or sync.in_transaction()
        ):
            return False
        driver = sync.connection.driver_connection
        if isinstance(driver, InlineConnection) and driver.sqlite.in_transaction:
            return False
        kept.append(connection)
        return True

    def _on_dispose(self, _engine: Any) -> None:
        # Inside ``AsyncEngine.dispose``'s greenlet. Given back, they would wait in the
        # old pool until the garbage collector found them; closed for good instead.
        kept, self._kept, self._autocommit = [*self._kept, *self._autocommit], [], []
        for connection in kept:
            sync = connection.sync_connection
            if sync is not None:
                sync.invalidate()
                sync.close()


class SessionOnDemand:
    """What a repository holds as its session: the unit's session, made on first use
    of anything but ``get_bind`` (which the repositories ask for the dialect)."""

    def __init__(self, unit: UnitConnection) -> None:
        self.unit = unit

    def get_bind(self) -> Connection:
        return self.unit.sync

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unit.session, name)


def on_demand(unit: UnitConnection) -> AsyncSession:
    """``SessionOnDemand`` typed as the session it stands for."""
    return cast(AsyncSession, SessionOnDemand(unit))


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameters in the order of the SQL's placeholders
    binds: tuple[Processor, ...]
    fixed: Mapping[str, Any]  # values written into the statement (``status == "waiting"``)
    columns: tuple[str, ...]  # what a SELECT or RETURNING gives back, in order
    results: tuple[Processor, ...]


class Prepared:
    """``statement`` compiled once per dialect (an INSERT or UPDATE without values:
    once per set of columns given); run with ``rows``, ``execute`` or ``execute_many``
    on the session a repository holds. Errors are SQLAlchemy's, as on the session."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._dml = isinstance(statement, ValuesBase)
        # SELECT ... FOR UPDATE needs the transaction SQLAlchemy begins.
        self._locking = getattr(statement, "_for_update_arg", None) is not None
        self._table = getattr(statement, "table", None) if self._dml else None
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def _for(self, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        keys = frozenset(params) if self._dml else frozenset()
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = self._compiled[(dialect.name, keys)] = self._compile(dialect, keys)
        return found

    def _compile(self, dialect: Dialect, keys: frozenset[str]) -> _Compiled:
        statement = cast(ClauseElement, self.statement)
        if self._dml and isinstance(self._table, Table):
            # SQLAlchemy fills Python-side defaults when it executes; this path does not.
            missing = [
                c.name
                for c in self._table.columns
                if c.key not in keys and (c.default is not None or c.onupdate is not None)
            ]
            if missing:
                raise ValueError(f"{self._table.name}: Python-side defaults of {missing}")
        compiled = cast(
            SQLCompiler,
            statement.compile(dialect=dialect, column_keys=sorted(keys) if self._dml else None),
        )
        if "POSTCOMPILE" in compiled.string:
            raise ValueError(f"expanding parameters (IN lists) in {compiled.string!r}")
        names = tuple(compiled.positiontup or ())
        binds = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        fixed = {
            name: compiled.binds[name].effective_value
            for name in names
            if not compiled.binds[name].required
        }
        if isinstance(self.statement, Select):
            given = [(str(c.key), c.type) for c in self.statement.selected_columns]
        else:
            given = [
                (str(d["name"]), d["type"])
                for d in getattr(self.statement, "returning_column_descriptions", ())
            ]
        columns = tuple(name for name, _ in given)
        results = tuple(_result_processor(type_, dialect) for _, type_ in given)
        return _Compiled(compiled.string, names, binds, fixed, columns, results)

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows the statement reads (or returns), each as a mapping of column names."""
        unit = _unit(session)
        if unit is not None and unit.asyncpg is not None and self._on_asyncpg(unit):
            compiled = self._for(unit.dialect, params)
            records = await self._run_asyncpg(unit, compiled, params, "fetch")
            return [
                {
                    name: (value if process is None else process(value))
                    for name, process, value in zip(
                        compiled.columns, compiled.results, record, strict=True
                    )
                }
                for record in records
            ]
        if unit is None or unit.sqlite is None:
            result = await _executor(session, unit).execute(self.statement, dict(params))
            return [dict(row._mapping) for row in result]
        compiled = self._for(unit.dialect, params)
        cursor = await self._run(unit, compiled, [params])
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        return [
            {
                name: (value if process is None else process(value))
                for name, process, value in zip(
                    compiled.columns, compiled.results, row, strict=True
                )
            }
            for row in fetched
        ]

    async def scalar(self, session: AsyncSession, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        found = await self.rows(session, params)
        return next(iter(found[0].values())) if found else None

    async def execute(
        self, session: AsyncSession, params: Mapping[str, Any], *, last: bool = False
    ) -> int:
        """Run a write; the number of rows it changed. ``last``: the unit's last write
        (its commit follows at once): with no transaction open it commits on its own."""
        unit = _unit(session)
        if unit is not None and unit.asyncpg is not None:
            inside = unit.may_write_alone(last)
            if inside is not None:
                compiled = self._for(unit.dialect, params)
                status = await self._run_asyncpg(unit, compiled, params, "execute")
                # "INSERT 0 1", "UPDATE 3": the count is the last word.
                changed = int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0
                if not inside:
                    unit.ended = True
                    if changed:  # its own transaction, which wrote: a commit
                        unit.sync.dispatch.commit(unit.sync)
                return changed
        return await self.execute_many(session, [params])

    async def execute_many(self, session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> int:
        """Run a write once per row of parameters (all rows with the same keys); the
        number of rows changed."""
        if not rows:
            return 0
        unit = _unit(session)
        if unit is None or unit.sqlite is None:
            given = [dict(row) for row in rows]
            result = await _executor(session, unit).execute(
                self.statement, given if len(given) > 1 else given[0]
            )
            return int(getattr(result, "rowcount", 0))
        cursor = await self._run(unit, self._for(unit.dialect, rows[0]), rows)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def _on_asyncpg(self, unit: UnitConnection) -> bool:
        """Whether ``rows`` runs on asyncpg's connection: a read (not FOR UPDATE), or a
        write returning rows inside the transaction already open."""
        if self._dml:
            return unit.may_write_alone(last=False) is True
        return not self._locking

    @staticmethod
    async def _run_asyncpg(
        unit: UnitConnection, compiled: _Compiled, params: Mapping[str, Any], how: str
    ) -> Any:
        """``compiled`` on asyncpg's connection (its statement cache prepares it once):
        ``fetch`` for the rows, ``execute`` for the command's status."""
        values = {**compiled.fixed, **params} if compiled.fixed else params
        args = [
            values[name] if process is None else process(values[name])
            for name, process in zip(compiled.names, compiled.binds, strict=True)
        ]
        connection = unit.sync
        connection.dispatch.before_cursor_execute(
            connection, None, compiled.sql, args, None, False
        )
        try:
            return await getattr(unit.asyncpg, how)(compiled.sql, *args)
        except Exception as error:
            raise _translated(unit, compiled.sql, args, error) from error

    @staticmethod
    async def _run(
        unit: UnitConnection, compiled: _Compiled, rows: Sequence[Mapping[str, Any]]
    ) -> sqlite3.Cursor:
        connection, sqlite = unit.sync, unit.sqlite
        assert sqlite is not None
        many = [
            [
                row[name] if process is None else process(row[name])
                for name, process in zip(compiled.names, compiled.binds, strict=True)
            ]
            for row in ([{**compiled.fixed, **r} for r in rows] if compiled.fixed else rows)
        ]
        cursor = sqlite.cursor()
        # What SQLAlchemy tells its listeners before a statement (there is no execution
        # context on this path).
        connection.dispatch.before_cursor_execute(
            connection,
            cursor,
            compiled.sql,
            many if len(many) > 1 else many[0],
            None,
            len(many) > 1,
        )
        try:
            if len(many) == 1:
                await patiently(lambda: cursor.execute(compiled.sql, many[0]))
            else:
                await patiently(lambda: cursor.executemany(compiled.sql, many))
        except sqlite3.Error as exc:
            cursor.close()
            # As the session would raise it: callers catch SQLAlchemy's IntegrityError.
            raise DBAPIError.instance(
                compiled.sql, many, exc, sqlite3.Error, dialect=unit.dialect
            ) from exc
        except BaseException:
            cursor.close()
            raise
        return cursor


class _JsonList(TypeDecorator[list[Any]]):
    """A list bound as one JSON text (SQLite's ``json_each`` reads it)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str:
        return json.dumps(list(value))


def among(
    columns: ColumnElement[Any] | Sequence[ColumnElement[Any]], name: str, dialect: str
) -> ColumnElement[bool]:
    """``columns IN`` the list given as the one parameter ``name`` (values, or tuples
    for several columns): the same statement for any number of them (``Prepared``
    compiles no IN lists). One column: ``= ANY`` of an array on PostgreSQL, ``IN``
    SQLite's ``json_each`` of a JSON text; several: the tuples as one JSON text."""
    given = [columns] if isinstance(columns, ColumnElement) else list(columns)
    if len(given) == 1:
        if dialect == "postgresql":
            return given[0] == any_(bindparam(name, type_=ARRAY(given[0].type)))
        listed = func.json_each(bindparam(name, type_=_JsonList())).table_valued("value")
        return given[0].in_(select(listed.c.value).scalar_subquery())
    text = bindparam(name, type_=_JsonList())
    if dialect == "postgresql":
        rows = func.json_array_elements(sql_cast(text, JSON)).table_valued("value")
        picked: list[Any] = [
            rows.c.value.op("->>")(literal_column(str(i))) for i in range(len(given))
        ]
    else:
        rows = func.json_each(text).table_valued("value")
        picked = [
            func.json_extract(rows.c.value, literal_column(f"'$[{i}]'")) for i in range(len(given))
        ]
    return tuple_(*given).in_(select(*picked))


def _result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """How a column's value is read back. asyncpg gives floats as Python floats: its
    dialect's processor for them wants the column's type code (a cursor's, which the
    driver's path has not) only to choose a conversion to Decimal, never asked for."""
    if dialect.driver == "asyncpg" and isinstance(type_, Float) and not type_.asdecimal:
        return None
    return cast(Processor, type_.dialect_impl(dialect).result_processor(dialect, None))


def _translated(unit: UnitConnection, sql: str, args: list[Any], error: Exception) -> Exception:
    """An error of asyncpg's as SQLAlchemy raises it (``IntegrityError``...), the
    connection invalidated when it is lost (the unit then ends as ``StoreInterrupted``)."""
    dialect = unit.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        unit._adapted._handle_exception(error)  # raises asyncpg's error as the DBAPI's
    except Exception as as_dbapi:
        translated = as_dbapi
    else:  # pragma: no cover - it always raises
        translated = error
    if not isinstance(translated, dbapi_error):
        return translated
    lost = dialect.is_disconnect(translated, unit._adapted, None)
    if lost:
        unit.sync.invalidate(translated)
    return DBAPIError.instance(
        sql, args, translated, dbapi_error, dialect=dialect, connection_invalidated=lost
    )


_SHELVES: weakref.WeakKeyDictionary[AsyncEngine, Shelf] = weakref.WeakKeyDictionary()


def _unit(session: AsyncSession) -> UnitConnection | None:
    held: object = session
    return held.unit if isinstance(held, SessionOnDemand) else None


def _executor(
    session: AsyncSession, unit: UnitConnection | None
) -> AsyncSession | AsyncConnection:
    """Where a statement goes without the driver: the unit's connection (no session
    needed for a Core statement), or the session given."""
    return unit.connection if unit is not None else session
