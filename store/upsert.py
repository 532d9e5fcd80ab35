"""Insert-or-replace by primary key, in one statement on the backends we run on."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Base


async def upsert(
    session: AsyncSession, model: type[Base], values: Mapping[str, Any], keys: Sequence[str]
) -> None:
    """Insert ``values`` or update the row with the same ``keys``.

    A single ``INSERT ... ON CONFLICT DO UPDATE`` rather than select-then-write, so two
    writers of the same key cannot both try to insert. The statement takes every value
    as a parameter (``excluded``), so it is built and compiled once per table and set
    of columns, not on every call.
    """
    dialect = session.get_bind().dialect.name
    statement = _statement(model, dialect, tuple(values), tuple(keys))
    await session.execute(statement, dict(values))


@functools.cache
def _statement(
    model: type[Base], dialect: str, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Any:
    table = cast(Table, model.__table__)
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    changes = {name: statement.excluded[name] for name in columns if name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
