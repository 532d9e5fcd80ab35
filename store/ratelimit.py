"""Sliding-window rate limiters: in memory (one process) and Redis (shared by workers).

Both count only accepted events: a sender that keeps hitting a full window is refused
until old events slide out, and is not pushed further back by its own refused attempts.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable

from redis.asyncio import Redis

# Trim the window, refuse when full, else record the event; atomic in Redis.
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
    return 1
end
if redis.call('ZCARD', KEYS[1]) >= limit then
    return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 1
"""

# Trim the window and count as many of ARGV[4] events as fit; how many did.
_TAKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local room = limit - redis.call('ZCARD', KEYS[1])
local taken = math.max(0, math.min(room, wanted))
for i = 1, taken do
    redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i)
end
if taken > 0 then
    redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return taken
"""

# How many hits between sweeps of idle keys in the memory limiter.
_SWEEP_EVERY = 1024


class MemoryRateLimiter:
    """``bot.ports.RateLimiter`` in process memory; ``clock`` returns seconds."""

    remote = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[str, tuple[deque[tuple[float, str | None]], float]] = {}
        self._holds: dict[str, float] = {}
        self._hits = 0

    async def hit(
        self, key: str, limit: int, window_seconds: float, event: str | None = None
    ) -> bool:
        now = self._clock()
        self._hits += 1
        if self._hits % _SWEEP_EVERY == 0:
            self._sweep(now)
        events, _ = self._events.get(key, (deque(), window_seconds))
        while events and events[0][0] <= now - window_seconds:
            events.popleft()
        if event is not None and any(seen == event for _, seen in events):
            return True  # counted when it first came
        if len(events) >= limit:
            self._events[key] = (events, window_seconds)
            return False
        events.append((now, event))
        self._events[key] = (events, window_seconds)
        return True

    async def take(self, key: str, limit: int, window_seconds: float, count: int) -> int:
        taken = 0
        while taken < count and await self.hit(key, limit, window_seconds):
            taken += 1
        return taken

    async def hold(self, key: str, seconds: float) -> None:
        until = self._clock() + seconds
        if until > self._holds.get(key, 0.0):
            self._holds[key] = until

    async def held_for(self, key: str) -> float:
        left = self._holds.get(key, 0.0) - self._clock()
        if left <= 0:
            self._holds.pop(key, None)
            return 0.0
        return left

    def _sweep(self, now: float) -> None:
        # Keys that went quiet would otherwise stay forever (one per chat ever seen).
        idle = [
            key
            for key, (events, window) in self._events.items()
            if not events or events[-1][0] <= now - window
        ]
        for key in idle:
            del self._events[key]


class RedisRateLimiter:
    """``bot.ports.RateLimiter`` on a Redis sorted set per key (a small Lua script).

    ``clock`` returns wall-clock seconds; workers on several hosts share the window, so
    their clocks are assumed to be synchronised (NTP).
    """

    remote = True

    def __init__(
        self,
        client: Redis,
        prefix: str = "supportbot:rate:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock
        self._script = client.register_script(_SLIDING_WINDOW)
        self._take = client.register_script(_TAKE)

    async def hit(
        self, key: str, limit: int, window_seconds: float, event: str | None = None
    ) -> bool:
        now = self._clock()
        # A unique member: two events in the same microsecond must both count; a named
        # event is its own member, so a repeat of it is found and not counted again.
        member = f"e:{event}" if event is not None else f"{now:.6f}:{uuid.uuid4().hex}"
        allowed = await self._script(
            keys=[self._prefix + key], args=[repr(now), repr(window_seconds), limit, member]
        )
        return int(allowed) == 1

    async def take(self, key: str, limit: int, window_seconds: float, count: int) -> int:
        now = self._clock()
        taken = await self._take(
            keys=[self._prefix + key],
            args=[repr(now), repr(window_seconds), limit, count, f"{now:.6f}:{uuid.uuid4().hex}"],
        )
        return int(taken)

    async def hold(self, key: str, seconds: float) -> None:
        # A hold is a key that expires: SET with PX, kept when a longer one is there.
        name = self._prefix + "hold:" + key
        millis = max(1, int(seconds * 1000))
        left = await self._client.pttl(name)
        if left is None or int(left) < millis:
            await self._client.set(name, "1", px=millis)

    async def held_for(self, key: str) -> float:
        left = await self._client.pttl(self._prefix + "hold:" + key)
        return max(0, int(left)) / 1000 if left is not None else 0.0
