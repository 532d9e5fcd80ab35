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
from store.accounts import SqlCustomerRepository
from store.driver import Prepared
from store.models import CustomerRow, InboxRow

_INBOX = cast(Table, InboxRow.__table__)
_CUSTOMERS = cast(Table, CustomerRow.__table__)
# Built once on the table (Core, not the ORM's bulk path): values come as parameters.
_RECORD = insert(_INBOX)


def _recording_with_profile() -> Any:
    """PostgreSQL: the customer's profile upserted and the inbox row inserted in one
    statement (a data-modifying WITH runs whether or not the rest reads it): a round
    trip less on every customer step. The two tables' columns share no name, so each
    value is one parameter."""
    saved = postgresql.insert(_CUSTOMERS).values(
        {c.name: bindparam(c.name, type_=c.type) for c in _CUSTOMERS.c}
    )
    saved = saved.on_conflict_do_update(
        index_elements=["key"],
        set_={c.name: saved.excluded[c.name] for c in _CUSTOMERS.c if c.name != "key"},
    )
    return (
        insert(_INBOX)
        .values({c.name: bindparam(c.name, type_=c.type) for c in _INBOX.c})
        .add_cte(saved.cte("saved"))
    )


# SQLite has no data-modifying WITH: there the two go through a view whose INSTEAD OF
# trigger writes both tables (migration customer_steps), still one statement.
CUSTOMER_STEPS = Table(
    "customer_steps",
    MetaData(),
    *(Column(column.name, column.type) for column in (*_CUSTOMERS.c, *_INBOX.c)),
)
_RECORD_ONLY = Prepared(_RECORD)
_RECORD_WITH_PROFILE = {
    "postgresql": Prepared(_recording_with_profile()),
    "sqlite": Prepared(insert(CUSTOMER_STEPS)),
}


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
        self, session: AsyncSession, customers: SqlCustomerRepository | None = None
    ) -> None:
        self._session = session
        # Whose kept profile write goes with the row (``SqlCustomerRepository.put``).
        self._customers = customers

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
        together = _RECORD_WITH_PROFILE.get(self._session.get_bind().dialect.name)
        try:
            if together and customers and (profile := customers.take_pending()) is not None:
                await together.execute(self._session, profile | row)
            else:
                if customers is not None:
                    await customers.flush()
                await _RECORD_ONLY.execute(self._session, row)
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
