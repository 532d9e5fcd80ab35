"""Channel links: a channel's own references to desk objects, kept in SQL."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.ports import LinkKey
from store.driver import Prepared, UnitConnection, among, on_demand
from store.models import ChannelLinkRow
from store.upsert import upsert

_LINKS = LINKS_TABLE = cast(Table, ChannelLinkRow.__table__)
_GET = select(_LINKS.c.value).where(
    _LINKS.c.channel == bindparam("channel"),
    _LINKS.c.kind == bindparam("kind"),
    _LINKS.c.key == bindparam("key"),
)


@functools.cache
def _many(dialect: str) -> Prepared:
    """The links of ``:links``, a list of (channel, kind, key)."""
    key = (_LINKS.c.channel, _LINKS.c.kind, _LINKS.c.key)
    return Prepared(select(*key, _LINKS.c.value).where(among(key, "links", dialect)))


class LinkWrites:
    """Links a notifier wrote while delivering, kept in memory until the relay next
    records what its sends did; ``SqlOutboxStore`` writes them in that transaction.

    A team notification writes up to five links (topic, card, its messages, how far it
    got); written as it goes they cost a commit each. Kept here they cost none of their
    own: they are in the database no later than the delivery they belong to is marked,
    and a send that fails keeps its progress for the retry the same way. Only a crash in
    the middle of a send loses them, and that send is reported as in doubt anyway.
    """

    def __init__(self) -> None:
        self._pending: dict[LinkKey, str] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def put(self, link: LinkKey, value: str) -> None:
        self._pending[link] = value

    def get(self, link: LinkKey) -> str | None:
        return self._pending.get(link)

    def find(self, channel: str, kind: str, value: str) -> str | None:
        keys = [k for (c, t, k), v in self._pending.items() if (c, t, v) == (channel, kind, value)]
        return min(keys) if keys else None

    def take(self) -> dict[LinkKey, str]:
        """What is pending, handed over to be written (``give_back`` if that failed)."""
        pending, self._pending = self._pending, {}
        return pending

    def give_back(self, taken: dict[LinkKey, str]) -> None:
        """Not written after all: kept for the next transaction (newer values win)."""
        self._pending = taken | self._pending


async def write_links(session: AsyncSession, links: dict[LinkKey, str]) -> None:
    """Write ``links`` in one statement, in ``session``'s transaction."""
    if links:
        rows = [{"channel": c, "kind": t, "key": k, "value": v} for (c, t, k), v in links.items()]
        await session.execute(_replace(session.get_bind().dialect.name), rows)


@functools.cache
def _replace(dialect: str) -> Any:
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_LINKS)
    return statement.on_conflict_do_update(
        index_elements=["channel", "kind", "key"], set_={"value": statement.excluded.value}
    )


class SqlLinkStore:
    """``bot.ports.LinkStore`` on the ``channel_links`` table; ``set`` replaces.

    With ``deferred``, ``set`` only keeps the link there (read back by ``get`` and
    ``find`` at once) for the outbox store to write: the store a notifier delivers with.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], deferred: LinkWrites | None = None
    ) -> None:
        self._sessions = sessions
        self._deferred = deferred
        # A link is read with one statement: on PostgreSQL outside a transaction, one
        # round trip instead of three (BEGIN, SELECT, ROLLBACK); a team notification
        # reads three.
        bind = sessions.kw.get("bind")
        self._reads: AsyncEngine | None = None
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            self._reads = bind.execution_options(isolation_level="AUTOCOMMIT")

    async def get(self, channel: str, kind: str, key: str) -> str | None:
        if self._deferred is not None and (kept := self._deferred.get((channel, kind, key))):
            return kept
        params = {"channel": channel, "kind": kind, "key": key}
        if self._reads is not None:
            async with self._reads.connect() as connection:
                found: str | None = await connection.scalar(_GET, params)
                return found
        async with self._sessions() as session:
            return await session.scalar(_GET, params)

    async def get_many(self, links: Sequence[LinkKey]) -> dict[LinkKey, str]:
        found: dict[LinkKey, str] = {}
        if self._deferred is not None:
            found = {link: kept for link in links if (kept := self._deferred.get(link))}
        asked = [link for link in links if link not in found]
        if not asked:
            return found
        # One prepared statement for any number of links, on the driver.
        unit = UnitConnection(self._sessions, read_only=True)
        try:
            await unit.open()
            found_rows = await _many(unit.dialect.name).rows(on_demand(unit), {"links": asked})
        finally:
            await unit.close()
        rows = [(r["channel"], r["kind"], r["key"], r["value"]) for r in found_rows]
        return found | {(str(c), str(t), str(k)): str(v) for c, t, k, v in rows}

    async def set(self, channel: str, kind: str, key: str, value: str) -> None:
        if self._deferred is not None:
            self._deferred.put((channel, kind, key), value)
            return
        values = {"channel": channel, "kind": kind, "key": key, "value": value}
        async with self._sessions() as session, session.begin():
            await upsert(session, ChannelLinkRow, values, ["channel", "kind", "key"])

    async def find(self, channel: str, kind: str, value: str) -> str | None:
        if self._deferred is not None and (kept := self._deferred.find(channel, kind, value)):
            return kept
        async with self._sessions() as session:
            # Several keys may share a value; the smallest key makes the answer stable.
            return await session.scalar(
                select(ChannelLinkRow.key)
                .where(
                    ChannelLinkRow.channel == channel,
                    ChannelLinkRow.kind == kind,
                    ChannelLinkRow.value == value,
                )
                .order_by(ChannelLinkRow.key)
                .limit(1)
            )
