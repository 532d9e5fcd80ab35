"""Insert-or-replace by primary key, in one statement on the backends we run on."""

from __future__ import annotations

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
    writers of the same key cannot both try to insert.
    """
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    changes = {name: value for name, value in values.items() if name not in keys}
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values)
        await session.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=changes))
    elif dialect == "sqlite":
        lite = sqlite.insert(table).values(**values)
        await session.execute(lite.on_conflict_do_update(index_elements=list(keys), set_=changes))
    else:  # pragma: no cover - other backends are not supported targets
        row = await session.execute(table.select().filter_by(**{k: values[k] for k in keys}))
        if row.first() is None:
            await session.execute(table.insert().values(**values))
        else:
            await session.execute(
                table.update().filter_by(**{k: values[k] for k in keys}).values(**changes)
            )
