"""Conversation state stores: the same behaviour in memory, SQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from store_support import open_backend, open_redis

from bot.ports import StateStore
from store.state import MemoryStateStore, RedisStateStore, SqlStateStore

KINDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=KINDS)
def state_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("pg_url")
    if request.param == "redis":
        return "redis", request.getfixturevalue("redis_url")
    return request.param, None


@pytest.fixture
async def states(state_kind: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[StateStore]:
    kind, url = state_kind
    if kind == "memory":
        yield MemoryStateStore()
    elif kind == "redis":
        assert url is not None
        async with open_redis(url) as (client, prefix):
            yield RedisStateStore(client, prefix=prefix)
    else:
        async with open_backend(kind, tmp_path, url) as backend:
            yield SqlStateStore(backend.sessions)


STATE = {"kind": "intake", "step": "describe", "answers": {"title": "Cart", "n": [1, 2.5]}}


async def test_missing_state_is_none(states: StateStore) -> None:
    assert await states.get("telegram:1") is None


async def test_set_get_replace_delete(states: StateStore) -> None:
    await states.set("telegram:1", STATE)
    await states.set("discord:1", {"kind": "feedback"})
    assert await states.get("telegram:1") == STATE

    await states.set("telegram:1", {"kind": "follow_up", "step": "text"})
    assert await states.get("telegram:1") == {"kind": "follow_up", "step": "text"}

    await states.delete("telegram:1")
    await states.delete("telegram:1")  # deleting twice is fine
    assert await states.get("telegram:1") is None
    assert await states.get("discord:1") == {"kind": "feedback"}


async def test_returned_state_is_a_copy(states: StateStore) -> None:
    value = {"answers": {"title": "Cart"}}
    await states.set("k", value)
    value["answers"]["title"] = "changed after set"
    got = await states.get("k")
    assert got is not None
    got["answers"]["title"] = "changed after get"

    assert await states.get("k") == {"answers": {"title": "Cart"}}


async def test_non_json_state_is_refused_everywhere(states: StateStore) -> None:
    with pytest.raises(TypeError):
        await states.set("k", {"when": object()})
    assert await states.get("k") is None


async def test_redis_state_expires_when_ttl_is_set(redis_url: str) -> None:
    async with open_redis(redis_url) as (client, prefix):
        store = RedisStateStore(client, prefix=prefix, ttl_seconds=60)
        await store.set("k", {"a": 1})
        ttl = await client.ttl(prefix + "k")
        assert 0 < ttl <= 60
        assert await store.get("k") == {"a": 1}
