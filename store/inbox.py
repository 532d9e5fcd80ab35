"""The inbox: platform updates whose effects were committed, so a redelivery stops."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DuplicateUpdate
from bot.inputs import UpdateRef
from store.models import InboxRow

# Built once on the table (Core, not the ORM's bulk path): values come as parameters.
_RECORD = insert(cast(Table, InboxRow.__table__))


_WHERE = (
    InboxRow.channel == bindparam("channel"),
    InboxRow.bot == bindparam("bot"),
    InboxRow.update_id == bindparam("update_id"),
)
_SEEN = select(InboxRow.handled_at).where(*_WHERE)
_ANSWER = select(InboxRow.answer).where(*_WHERE)


def _key(update: UpdateRef) -> dict[str, str]:
    return {"channel": update.channel, "bot": update.bot, "update_id": update.update_id}


class SqlInbox:
    """``bot.ports.Inbox`` on the unit of work's session.

    The row is written last in the update's transaction, so it commits exactly with the
    effects. Two deliveries of one update racing each other meet on the primary key:
    the later insert waits for the earlier transaction and then fails, and its effects
    are rolled back with it.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self, update: UpdateRef, at: datetime, answer: list[Any] | None = None
    ) -> None:
        row = {
            "channel": update.channel,
            "bot": update.bot,
            "update_id": update.update_id,
            "handled_at": at,
            "answer": answer,
        }
        try:
            await self._session.execute(_RECORD, row)
        except IntegrityError as exc:
            raise DuplicateUpdate(f"{update.channel}/{update.bot}/{update.update_id}") from exc

    async def seen(self, update: UpdateRef) -> bool:
        found = await self._session.scalar(_SEEN, _key(update))
        return found is not None

    async def answer(self, update: UpdateRef) -> list[Any] | None:
        found: list[Any] | None = await self._session.scalar(_ANSWER, _key(update))
        return found

    async def forget(self, before: datetime) -> int:
        result = await self._session.execute(delete(InboxRow).where(InboxRow.handled_at < before))
        return int(getattr(result, "rowcount", 0))
