"""Messages flood control keeps back (``bot.ports.HeldMessages``), in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConcurrentUpdate
from bot.held import HeldMessage
from bot.participant import Participant
from bot.ticket import Attachment
from store.models import HeldMessageRow
from store.tickets import attachment_fields

_HELD = cast(Table, HeldMessageRow.__table__)
_COUNT = select(func.count()).where(_HELD.c.customer_key == bindparam("key"))
_HELD_NOW = (
    select(_HELD.c.id, _HELD.c.text, _HELD.c.files, _HELD.c.held_at)
    .where(_HELD.c.customer_key == bindparam("key"))
    .order_by(_HELD.c.id)
)
_DUE = (
    select(_HELD.c.customer_key)
    .group_by(_HELD.c.customer_key)
    .having(func.min(_HELD.c.held_at) < bindparam("before", type_=_HELD.c.held_at.type))
    .order_by(func.min(_HELD.c.held_at))
    .limit(bindparam("limit"))
)


def _attachment(stored: dict[str, Any]) -> Attachment:
    return Attachment(
        file_ref=str(stored["file_ref"]),
        file_name=str(stored["file_name"]),
        mime_type=str(stored["mime_type"]),
        size=int(stored["size"]),
        platform=str(stored.get("platform", "")),
        kind=str(stored.get("kind", "")),
    )


class SqlHeldMessages:
    """``bot.ports.HeldMessages`` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hold(self, who: Participant, update: str, message: HeldMessage, keep: int) -> bool:
        held = await self._session.scalar(_COUNT, {"key": who.key})
        if (held or 0) >= keep:
            return False
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # The same update held twice (a redelivery) is kept once.
        statement = insert(_HELD).on_conflict_do_nothing(index_elements=["update_key"])
        values = {
            "customer_key": who.key,
            "update_key": update,
            "text": message.text,
            "files": [attachment_fields(f) for f in message.files],
            "held_at": message.at,
        }
        await self._session.execute(statement, values)
        return True

    async def take(self, who: Participant) -> list[HeldMessage]:
        rows = (await self._session.execute(_HELD_NOW, {"key": who.key})).all()
        if not rows:
            return []
        taken = await self._session.execute(
            delete(_HELD).where(_HELD.c.id.in_([row.id for row in rows]))
        )
        if getattr(taken, "rowcount", len(rows)) != len(rows):
            # Another worker (the clock's release, say) took them meanwhile.
            raise ConcurrentUpdate(f"held messages of {who.key} taken meanwhile")
        return [
            HeldMessage(row.text, row.held_at, tuple(_attachment(f) for f in row.files or ()))
            for row in rows
        ]

    async def due(self, before: datetime, limit: int = 100) -> list[Participant]:
        rows = (await self._session.execute(_DUE, {"before": before, "limit": limit})).all()
        return [Participant.parse(str(row.customer_key)) for row in rows]
