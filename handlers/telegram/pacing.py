"""Pacing outbound messages within Telegram's limits.

About 30 messages a second per bot, 20 a minute per group and about one a second
per chat (short bursts are tolerated). Token buckets in this process do the
pacing; an optional shared ``RateLimiter`` (Redis) keeps several workers of one
bot under the global limit together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.ports import RateLimiter


@dataclass(frozen=True, slots=True)
class Limits:
    per_bot_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    chat_burst: float = 3.0
    per_group_per_minute: float = 20.0
    group_burst: float = 5.0


class TokenBucket:
    """``rate`` tokens a second up to ``capacity``; ``reserve`` says how long to wait."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._at = clock()

    def reserve(self) -> float:
        """Take one token (possibly going into debt); the seconds until it is really ours."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    @property
    def idle(self) -> bool:
        now = self._clock()
        return self._tokens + (now - self._at) * self.rate >= self.capacity


class SendPacer:
    """Waits before each send so the bot stays under every limit at once."""

    def __init__(
        self,
        limits: Limits | None = None,
        shared: RateLimiter | None = None,
        shared_key: str = "telegram:send",
    ) -> None:
        self.limits = limits or Limits()
        self._shared = shared
        self._shared_key = shared_key
        self._bot = TokenBucket(self.limits.per_bot_per_second, self.limits.per_bot_per_second)
        self._chats: dict[int, TokenBucket] = {}
        self._lock = asyncio.Lock()

    def _chat_bucket(self, chat_id: int) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) > 10_000:
                self._chats = {k: b for k, b in self._chats.items() if not b.idle}
            if chat_id < 0:
                bucket = TokenBucket(
                    self.limits.per_group_per_minute / 60, self.limits.group_burst
                )
            else:
                bucket = TokenBucket(self.limits.per_chat_per_second, self.limits.chat_burst)
            self._chats[chat_id] = bucket
        return bucket

    async def wait(self, chat_id: int) -> None:
        async with self._lock:
            delay = max(self._bot.reserve(), self._chat_bucket(chat_id).reserve())
        if delay > 0:
            await asyncio.sleep(delay)
        if self._shared is not None:
            # Another worker may have used the shared second: try again a slot later.
            limit, window = int(self.limits.per_bot_per_second), 1.0
            for _ in range(limit * 10):
                if await self._shared.hit(self._shared_key, limit, window):
                    break
                await asyncio.sleep(window / limit)
