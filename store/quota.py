"""Monthly quota counters, taken with one conditional update."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import QuotaUsageRow


def _month(start: datetime) -> str:
    return start.isoformat()


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
            select(QuotaUsageRow.used).where(
                QuotaUsageRow.support_number == support_number,
                QuotaUsageRow.month == _month(month),
            )
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
        total = await self._session.scalar(
            update(QuotaUsageRow)
            .where(
                QuotaUsageRow.support_number == key[0],
                QuotaUsageRow.month == key[1],
                QuotaUsageRow.used + count <= limit,
            )
            .values(used=QuotaUsageRow.used + count)
            .returning(QuotaUsageRow.used)
            .execution_options(synchronize_session=False)
        )
        if total is not None:
            self._taken[key] = total
        return total
