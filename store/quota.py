"""Monthly quota counters, taken with one conditional update."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import cast

from sqlalchemy import ScalarResult, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import QuotaUsageRow

_COUNTERS = cast(Table, QuotaUsageRow.__table__)
# Built once; the account, month, count and limit come as parameters.
_USED = select(_COUNTERS.c.used).where(
    _COUNTERS.c.support_number == bindparam("support_number"),
    _COUNTERS.c.month == bindparam("month"),
)
_TAKE = (
    update(_COUNTERS)
    .where(
        _COUNTERS.c.support_number == bindparam("w_number"),
        _COUNTERS.c.month == bindparam("w_month"),
        _COUNTERS.c.used + bindparam("w_count") <= bindparam("w_limit"),
    )
    .values(used=_COUNTERS.c.used + bindparam("w_count"))
    .returning(_COUNTERS.c.used)
)


def _month(start: datetime) -> str:
    return start.isoformat()


# One-off uses (a once-per-account request) are counters of their own in the same
# table: a "month" that no ISO date can be.
ONCE_PREFIX = "once:"


class SqlQuotaCounter:
    """``bot.ports.QuotaCounter`` on the unit of work's session.

    ``take`` is ``UPDATE ... SET used = used + n WHERE used + n <= limit``: the database
    decides, so of twenty filings at once against a quota of ten exactly ten count (the
    row lock serialises them on PostgreSQL; SQLite runs one writer at a time).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Totals this unit took: the filing notes read them back without a query.
        self._taken: dict[tuple[str, str], int] = {}

    async def used(self, support_number: str, month: datetime) -> int | None:
        if (support_number, _month(month)) in self._taken:
            return self._taken[(support_number, _month(month))]
        return await self._session.scalar(
            _USED, {"support_number": support_number, "month": _month(month)}
        )

    async def take(
        self, support_number: str, month: datetime, count: int, limit: int, start: int | None
    ) -> int | None:
        key = (support_number, _month(month))
        if start is not None:
            dialect = self._session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await self._session.execute(
                insert(QuotaUsageRow)
                .values(support_number=key[0], month=key[1], used=start)
                .on_conflict_do_nothing()
            )
        total: int | None = await self._session.scalar(
            _TAKE,
            {"w_number": key[0], "w_month": key[1], "w_count": count, "w_limit": limit},
        )
        if total is not None:
            self._taken[key] = total
        return total

    async def used_once(self, support_number: str, keys: Collection[str]) -> frozenset[str]:
        if not keys:
            return frozenset()
        found: ScalarResult[str] = await self._session.scalars(
            select(_COUNTERS.c.month).where(
                _COUNTERS.c.support_number == support_number,
                _COUNTERS.c.month.in_([ONCE_PREFIX + key for key in keys]),
            )
        )
        return frozenset(month.removeprefix(ONCE_PREFIX) for month in found)

    async def take_once(self, support_number: str, key: str) -> bool:
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # The primary key decides: of two filings at once, one inserts, one finds it.
        taken = await self._session.scalar(
            insert(QuotaUsageRow)
            .values(support_number=support_number, month=ONCE_PREFIX + key, used=1)
            .on_conflict_do_nothing()
            .returning(_COUNTERS.c.used)
        )
        return taken is not None
