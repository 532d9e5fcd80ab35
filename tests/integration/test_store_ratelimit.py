"""Sliding-window rate limiters, in memory and in Redis, with a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from store_support import FakeSeconds, open_redis

from bot.ports import RateLimiter
from store.ratelimit import MemoryRateLimiter, RedisRateLimiter

KINDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


@pytest.fixture(params=KINDS)
def limiter_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    if request.param == "redis":
        return "redis", request.getfixturevalue("redis_url")
    return "memory", None


@pytest.fixture
async def limiter(
    limiter_kind: tuple[str, str | None],
) -> AsyncIterator[tuple[MemoryRateLimiter | RedisRateLimiter, FakeSeconds]]:
    kind, url = limiter_kind
    clock = FakeSeconds()
    if kind == "memory":
        yield MemoryRateLimiter(clock), clock
    else:
        assert url is not None
        async with open_redis(url) as (client, prefix):
            yield RedisRateLimiter(client, prefix=prefix, clock=clock), clock


Limiter = tuple[MemoryRateLimiter | RedisRateLimiter, FakeSeconds]


async def test_allows_up_to_the_limit_in_the_window(limiter: Limiter) -> None:
    rate, clock = limiter
    results = []
    for _ in range(4):
        results.append(await rate.hit("chat:1", limit=3, window_seconds=10))
        clock.now += 1
    assert results == [True, True, True, False]


async def test_window_slides(limiter: Limiter) -> None:
    rate, clock = limiter
    assert await rate.hit("chat:1", 2, 10)  # t=0
    clock.now += 5
    assert await rate.hit("chat:1", 2, 10)  # t=5
    clock.now += 4.9
    assert not await rate.hit("chat:1", 2, 10)  # t=9.9: both still inside
    clock.now += 0.2
    assert await rate.hit("chat:1", 2, 10)  # t=10.1: the first slid out
    assert not await rate.hit("chat:1", 2, 10)


async def test_refused_hits_do_not_extend_the_block(limiter: Limiter) -> None:
    rate, clock = limiter
    assert await rate.hit("chat:1", 1, 10)
    for _ in range(5):
        clock.now += 1
        assert not await rate.hit("chat:1", 1, 10)
    clock.now += 5.5  # 10.5 s after the only accepted hit
    assert await rate.hit("chat:1", 1, 10)


async def test_keys_are_independent(limiter: Limiter) -> None:
    rate, _ = limiter
    assert await rate.hit("chat:1", 1, 60)
    assert not await rate.hit("chat:1", 1, 60)
    assert await rate.hit("chat:2", 1, 60)


async def test_same_instant_hits_all_count(limiter: Limiter) -> None:
    rate, _ = limiter
    assert [await rate.hit("burst", 3, 1) for _ in range(5)] == [True, True, True, False, False]


async def test_memory_limiter_forgets_idle_keys() -> None:
    clock = FakeSeconds()
    rate = MemoryRateLimiter(clock)
    for i in range(2000):
        await rate.hit(f"chat:{i}", 5, 1)
        clock.now += 0.01
    # Only chats seen in the last second (plus those since the last sweep) are kept.
    assert len(rate._events) < 1100


async def test_redis_keys_expire_with_the_window(redis_url: str) -> None:
    async with open_redis(redis_url) as (client, prefix):
        rate = RedisRateLimiter(client, prefix=prefix)
        assert await rate.hit("chat:1", 5, 30)
        assert 0 < await client.pttl(prefix + "chat:1") <= 30_000


async def test_a_named_event_counts_once(limiter: Limiter) -> None:
    rate, _ = limiter
    assert await rate.hit("k", 2, 60, "update-1")
    assert await rate.hit("k", 2, 60, "update-1")  # the same update again
    assert await rate.hit("k", 2, 60, "update-2")
    assert not await rate.hit("k", 2, 60, "update-3")
    assert await rate.hit("k", 2, 60, "update-1")  # still counted: it passes


async def test_take_counts_as_many_as_the_window_has_room_for(limiter: Limiter) -> None:
    rate, clock = limiter
    assert await rate.hit("send", 5, 1.0)
    assert await rate.take("send", 5, 1.0, 3) == 3
    assert await rate.take("send", 5, 1.0, 3) == 1  # room for one more
    assert await rate.take("send", 5, 1.0, 3) == 0
    assert not await rate.hit("send", 5, 1.0)
    clock.now += 1.5  # the window slid past all of them
    assert await rate.take("send", 5, 1.0, 3) == 3


def count_takes(rate: RateLimiter) -> list[int]:
    """Count ``rate.take`` round trips from now on (in a one-item list)."""
    calls = [0]
    take = rate.take

    async def counted(*args: Any) -> int:
        calls[0] += 1
        return await take(*args)

    rate.take = counted  # type: ignore[method-assign]
    return calls


async def test_a_pacer_takes_the_shared_budget_a_few_sends_at_a_time(limiter: Limiter) -> None:
    from handlers.telegram.pacing import Limits, SendPacer

    rate, _ = limiter
    calls = count_takes(rate)
    pacer = SendPacer(Limits(per_bot_per_second=30, per_chat_per_second=100, chat_burst=100), rate)
    for _ in range(9):
        await pacer.wait(501)
    assert calls == [3]  # three slots a round trip
    assert await rate.take("telegram:send", 30, 1.0, 100) == 21  # 9 of 30 used


async def test_a_faster_bot_takes_a_tenth_of_its_second_a_round_trip(limiter: Limiter) -> None:
    """At 1,000 sends a second (Telegram's paid broadcasts) three slots a round trip
    made every worker wait on Redis before each third send."""
    from handlers.telegram.pacing import Limits, SendPacer

    rate, _ = limiter
    calls = count_takes(rate)
    fast = Limits(per_bot_per_second=1000, per_chat_per_second=1000, chat_burst=1000)
    pacer = SendPacer(fast, rate)
    for i in range(250):
        await pacer.wait(501 + i)
    assert calls == [3]  # a hundred slots a round trip
    assert await rate.take("telegram:send", 1000, 1.0, 1000) == 700


async def test_concurrent_sends_share_the_slots_one_round_trip_took(limiter: Limiter) -> None:
    """Regression: sends waiting together each took a block and overwrote each other's
    leftover slots, so the fleet's budget ran out at a third of its size."""
    from handlers.telegram.pacing import Limits, SendPacer

    rate, _ = limiter
    calls = count_takes(rate)
    pacer = SendPacer(Limits(per_bot_per_second=30, per_chat_per_second=100, chat_burst=100), rate)
    await asyncio.gather(*(pacer.wait(501 + i) for i in range(12)))
    assert calls == [4]  # 12 sends, three slots a round trip, none lost
    assert await rate.take("telegram:send", 30, 1.0, 100) == 18


async def test_a_hold_lasts_its_time_and_a_shorter_one_does_not_cut_it(limiter: Limiter) -> None:
    rate, _ = limiter
    assert await rate.held_for("group") == 0
    await rate.hold("group", 30)
    await rate.hold("group", 1)  # a shorter one later: the longer stays
    assert 29 <= await rate.held_for("group") <= 30
    assert await rate.held_for("other") == 0


async def test_a_groups_429_in_one_worker_holds_the_group_in_every_worker(
    limiter: Limiter,
) -> None:
    from handlers.telegram.pacing import Limits, SendPacer

    rate, _ = limiter
    fast = Limits(per_chat_per_second=100, chat_burst=100, per_group_per_minute=6000)
    one, other = SendPacer(fast, rate), SendPacer(fast, rate)
    # A hold long enough that "not held" below is not a race with a busy machine.
    await one.hold_shared(-100, 1.0)  # worker one's send into the group got a 429
    loop = asyncio.get_running_loop()
    start = loop.time()
    await other.wait(-200)  # another group: not held
    assert loop.time() - start < 0.8
    await other.wait(-100)
    assert loop.time() - start >= 0.95


async def test_a_groups_fleet_hold_is_read_once_a_second(limiter: Limiter) -> None:
    """The calls of one notification into a group (topic, card, photo) read the fleet's
    hold on it once; another worker's 429 there is seen within a second."""
    from handlers.telegram.pacing import SHARED_HOLD_FRESH, Limits, SendPacer

    rate, _ = limiter
    reads = [0]
    held_for = rate.held_for

    async def counted(key: str) -> float:
        reads[0] += 1
        return await held_for(key)

    rate.held_for = counted  # type: ignore[method-assign]
    now = [100.0]
    fast = Limits(per_chat_per_second=100, chat_burst=100, per_group_per_minute=6000)
    one, other = SendPacer(fast, rate, clock=lambda: now[0]), SendPacer(fast, rate)
    for _ in range(3):
        await one.wait(-100)
    assert reads == [1]
    await other.hold_shared(-100, 30)  # another worker's 429 in the group
    now[0] += SHARED_HOLD_FRESH
    assert one.held_for(-100) == 0
    waiting = asyncio.create_task(one.wait(-100))
    await asyncio.sleep(0.05)
    assert reads == [2]
    assert not waiting.done()  # held, as the other worker's 429 said
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
