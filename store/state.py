"""Conversation state stores: in memory (embedded), SQL (survives restarts), Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ports import Clock
from store.models import ConversationStateRow
from store.upsert import upsert


def _json_copy(value: dict[str, Any]) -> dict[str, Any]:
    # The same round trip the persistent stores make: a state that is not plain JSON
    # fails in the embedded shape too, not only in production.
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


class MemoryStateStore:
    """``bot.ports.StateStore`` in a dict; lost on restart."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = self._states.get(key)
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    async def set(self, key: str, value: dict[str, Any]) -> None:
        self._states[key] = json.dumps(value)

    async def delete(self, key: str) -> None:
        self._states.pop(key, None)


class SqlStateStore:
    """``bot.ports.StateStore`` in the ``conversation_states`` table."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(ConversationStateRow, key)
            return None if row is None else dict(row.data)

    async def set(self, key: str, value: dict[str, Any]) -> None:
        now = self._clock.now() if self._clock is not None else datetime.now(UTC)
        values = {"key": key, "data": _json_copy(value), "updated_at": now}
        async with self._sessions() as session, session.begin():
            await upsert(session, ConversationStateRow, values, ["key"])

    async def delete(self, key: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(ConversationStateRow).where(ConversationStateRow.key == key)
            )


class RedisStateStore:
    """``bot.ports.StateStore`` in Redis as JSON strings under ``prefix``.

    ``ttl_seconds`` lets abandoned conversations expire; each ``set`` renews it.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str = "supportbot:state:",
        ttl_seconds: int | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self._client.get(self._prefix + key)
        if raw is None:
            return None
        value: dict[str, Any] = json.loads(raw)
        return value

    async def set(self, key: str, value: dict[str, Any]) -> None:
        await self._client.set(self._prefix + key, json.dumps(value), ex=self._ttl)

    async def delete(self, key: str) -> None:
        await self._client.delete(self._prefix + key)
