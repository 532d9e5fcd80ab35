"""Monthly quota counters, taken with one conditional update."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.driver import Prepared
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


_READ_USED = Prepared(_USED)
_TAKING = Prepared(_TAKE)


def _starting(insert: Any) -> Prepared:
    """A month's counter, made with the count it starts from, unless it exists."""
    return Prepared(
        insert(_COUNTERS)
        .values(
            support_number=bindparam("number"), month=bindparam("month"), used=bindparam("used")
        )
        .on_conflict_do_nothing()
    )


def _taking_once(insert: Any) -> Prepared:
    """A one-off use, made unless made already (the primary key decides)."""
    return Prepared(
        insert(_COUNTERS)
        .values(support_number=bindparam("number"), month=bindparam("month"), used=1)
        .on_conflict_do_nothing()
        .returning(_COUNTERS.c.used)
    )


_START = {"postgresql": _starting(postgresql.insert), "sqlite": _starting(sqlite.insert)}
_TAKE_ONCE = {"postgresql": _taking_once(postgresql.insert), "sqlite": _taking_once(sqlite.insert)}


@functools.cache
def _used_once(keys: frozenset[str]) -> Prepared:
    """Which of ``keys`` an account has used: one statement per set of keys (the
    policy's once-per-account categories a plan may file), the keys written into it."""
    return Prepared(
        select(_COUNTERS.c.month).where(
            _COUNTERS.c.support_number == bindparam("number"),
            or_(*(_COUNTERS.c.month == ONCE_PREFIX + key for key in sorted(keys))),
        )
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
        # One-off uses read in this unit (a step may look twice: before and after the
        # account is looked up).
        self._once: dict[tuple[str, frozenset[str]], frozenset[str]] = {}

    def forget(self) -> None:
        """Rolled back: what this unit took or read is no longer known."""
        self._taken.clear()
        self._once.clear()

    async def used(self, support_number: str, month: datetime) -> int | None:
        if (support_number, _month(month)) in self._taken:
            return self._taken[(support_number, _month(month))]
        used: int | None = await _READ_USED.scalar(
            self._session, {"support_number": support_number, "month": _month(month)}
        )
        return used

    async def take(
        self, support_number: str, month: datetime, count: int, limit: int, start: int | None
    ) -> int | None:
        key = (support_number, _month(month))
        if start is not None:
            dialect = self._session.get_bind().dialect.name
            await _START.get(dialect, _START["sqlite"]).execute(
                self._session, {"number": key[0], "month": key[1], "used": start}
            )
        total: int | None = await _TAKING.scalar(
            self._session,
            {"w_number": key[0], "w_month": key[1], "w_count": count, "w_limit": limit},
        )
        if total is not None:
            self._taken[key] = total
        return total

    async def used_once(self, support_number: str, keys: Collection[str]) -> frozenset[str]:
        if not keys:
            return frozenset()
        asked = (support_number, frozenset(keys))
        if asked not in self._once:
            found = await _used_once(asked[1]).rows(self._session, {"number": support_number})
            self._once[asked] = frozenset(
                str(row["month"]).removeprefix(ONCE_PREFIX) for row in found
            )
        return self._once[asked]

    async def take_once(self, support_number: str, key: str) -> bool:
        dialect = self._session.get_bind().dialect.name
        # The primary key decides: of two filings at once, one inserts, one finds it.
        taken = await _TAKE_ONCE.get(dialect, _TAKE_ONCE["sqlite"]).scalar(
            self._session, {"number": support_number, "month": ONCE_PREFIX + key}
        )
        self._once.clear()
        return taken is not None
