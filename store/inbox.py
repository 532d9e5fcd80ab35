"""The inbox: platform updates whose effects were committed, so a redelivery stops."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, MetaData, Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DuplicateUpdate
from bot.inputs import UpdateRef
from store.accounts import SqlCustomerRepository, saving_profile
from store.driver import Prepared
from store.models import CustomerRow, InboxRow
from store.outbox import SqlOutbox

_INBOX = cast(Table, InboxRow.__table__)
_CUSTOMERS = cast(Table, CustomerRow.__table__)
# Built once on the table (Core, not the ORM's bulk path): values come as parameters.
_RECORD = insert(_INBOX)


def _recording_with_profile() -> Any:
    """PostgreSQL: the customer's profile upserted at the version the unit read and the
    inbox row inserted, in one statement (a data-modifying WITH): the inbox row only
    when the profile was written (``SELECT ... FROM saved``), so a profile written
    meanwhile by another worker leaves no trace and the update runs again. The two
    tables' columns share no name, so each value is one parameter."""
    saved = saving_profile(postgresql.insert, checked=True).cte("saved")
    row = select(*(bindparam(c.name, type_=c.type) for c in _INBOX.c)).select_from(saved)
    return insert(_INBOX).from_select([c.name for c in _INBOX.c], row).add_cte(saved)


# SQLite has no data-modifying WITH: there the two go through a view whose INSTEAD OF
# trigger writes both tables (migration customer_steps), still one statement; SQLite's
# one writing process needs no version check.
CUSTOMER_STEPS = Table(
    "customer_steps",
    MetaData(),
    *(
        Column(column.name, column.type)
        for column in (*_CUSTOMERS.c, *_INBOX.c)
        if column.name != "version"
    ),
)
_RECORD_ONLY = Prepared(_RECORD)
_RECORD_WITH_PROFILE = Prepared(_recording_with_profile())
_RECORD_WITH_PROFILE_SQLITE = Prepared(insert(CUSTOMER_STEPS))


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

    def __init__(
        self,
        session: AsyncSession,
        customers: SqlCustomerRepository | None = None,
        outbox: SqlOutbox | None = None,
    ) -> None:
        self._session = session
        # Whose kept profile write goes with the row (``SqlCustomerRepository.put``).
        self._customers = customers
        # Whose kept notifications are written before it (``SqlOutbox.flush``).
        self._outbox = outbox

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
        customers = self._customers
        dialect = self._session.get_bind().dialect.name
        key = f"{update.channel}/{update.bot}/{update.update_id}"
        try:
            # The row is the unit's last write: whatever else is kept for the unit's
            # end goes first (with it, the unit is a transaction again).
            if self._outbox is not None:
                await self._outbox.flush()
            if customers is None or (profile := customers.take_pending()) is None:
                await _RECORD_ONLY.execute(self._session, row, last=True)
            elif dialect == "postgresql":
                wrote = await _RECORD_WITH_PROFILE.execute(self._session, profile | row, last=True)
                customers.written(profile["key"], wrote)
            else:
                given = {k: v for k, v in profile.items() if k != "read_version"} | row
                await _RECORD_WITH_PROFILE_SQLITE.execute(self._session, given)
        except IntegrityError as exc:
            raise DuplicateUpdate(key) from exc

    async def seen(self, update: UpdateRef) -> bool:
        found = await self._session.scalar(_SEEN, _key(update))
        return found is not None

    async def answer(self, update: UpdateRef) -> list[Any] | None:
        found: list[Any] | None = await self._session.scalar(_ANSWER, _key(update))
        return found

    async def forget(self, before: datetime) -> int:
        result = await self._session.execute(delete(InboxRow).where(InboxRow.handled_at < before))
        return int(getattr(result, "rowcount", 0))
