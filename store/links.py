"""Channel links: a channel's own references to desk objects, kept in SQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import ChannelLinkRow
from store.upsert import upsert


class SqlLinkStore:
    """``bot.ports.LinkStore`` on the ``channel_links`` table; ``set`` replaces."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, channel: str, kind: str, key: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(ChannelLinkRow.value).where(
                    ChannelLinkRow.channel == channel,
                    ChannelLinkRow.kind == kind,
                    ChannelLinkRow.key == key,
                )
            )

    async def set(self, channel: str, kind: str, key: str, value: str) -> None:
        values = {"channel": channel, "kind": kind, "key": key, "value": value}
        async with self._sessions() as session, session.begin():
            await upsert(session, ChannelLinkRow, values, ["channel", "kind", "key"])

    async def find(self, channel: str, kind: str, value: str) -> str | None:
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
