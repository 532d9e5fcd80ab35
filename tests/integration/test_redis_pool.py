"""The Redis client a worker shares (``store.redis_pool``) against a real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from store import redis_pool
from store.redis_pool import redis_client

pytestmark = pytest.mark.redis


async def test_more_commands_at_once_than_connections_wait_for_one(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst wider than the pool waits for connections instead of failing or opening
    more, and every command takes effect once."""
    monkeypatch.setattr(redis_pool, "MAX_CONNECTIONS", 8)
    client = redis_client(redis_url)
    key = f"supportbot-test:{uuid.uuid4().hex}:count"
    try:
        counts = await asyncio.gather(*(client.incr(key) for _ in range(300)))
        assert sorted(counts) == list(range(1, 301))
        pool = client.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) <= 8
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_client_survives_a_dropped_connection(redis_url: str) -> None:
    """A connection the server closed is replaced when it is next taken."""
    client = redis_client(redis_url)
    key = f"supportbot-test:{uuid.uuid4().hex}:k"
    try:
        await client.set(key, "1")
        name = f"victim-{uuid.uuid4().hex[:8]}"
        await client.client_setname(name)
        other = redis_client(redis_url)
        try:
            victims = [c for c in await other.client_list() if c.get("name") == name]
            for victim in victims:
                await other.client_kill_filter(_id=victim["id"])
        finally:
            await other.aclose()
        assert await client.get(key) == b"1"
    finally:
        await client.delete(key)
        await client.aclose()
