"""Pacing outbound messages within Telegram's limits.

About 30 messages a second per bot, 20 a minute per group and about one a second
per chat (short bursts are tolerated). Token buckets in this process do the
pacing; an optional shared ``RateLimiter`` (Redis) keeps several workers of one
bot under the global limit together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bot.ports import RateLimiter

log = logging.getLogger(__name__)

# Most slots of the shared send budget one worker takes at once.
SHARED_BLOCK = 3


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
        # Chats that answered 429: nothing goes to them before this (monotonic) time.
        self._holds: dict[int, float] = {}
        # Shared slots taken and not used yet, and when they lapse (``_shared_slot``).
        self._leased = 0
        self._leased_until = 0.0
        self._lock = asyncio.Lock()

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram said "retry after ``seconds``" for this chat: no send to it before."""
        until = time.monotonic() + max(0.0, seconds)
        if until > self._holds.get(chat_id, 0.0):
            self._holds[chat_id] = until
            log.info("chat %s answered 429: nothing sent there for %.1fs", chat_id, seconds)

    def held_for(self, chat_id: int) -> float:
        """Seconds until this chat may be sent to again after a 429 (0: now)."""
        until = self._holds.get(chat_id)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._holds[chat_id]
            return 0.0
        return left

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
        if (held := self.held_for(chat_id)) > 0:
            await asyncio.sleep(held)
            return await self.wait(chat_id)  # the hold may have grown meanwhile
        async with self._lock:
            delay = max(self._bot.reserve(), self._chat_bucket(chat_id).reserve())
        if delay > 0:
            await asyncio.sleep(delay)
        if self._shared is not None:
            await self._shared_slot(self._shared)

    async def _shared_slot(self, shared: RateLimiter) -> None:
        """One send of the bot's per-second budget shared by its workers. Slots are
        taken a few at a time (one round trip per ``block`` sends) and lapse with the
        window, as they do in the shared count: a worker wastes at most ``block - 1``
        a second. When the fleet has used the second, try again a slot later."""
        limit, window = int(self.limits.per_bot_per_second), 1.0
        block = min(SHARED_BLOCK, max(1, limit // 10))
        for _ in range(limit * 10):
            asked = time.monotonic()
            if self._leased > 0 and asked < self._leased_until:
                self._leased -= 1
                return
            taken = await shared.take(self._shared_key, limit, window, block)
            if taken:
                # From before the call: the shared count lets them go no sooner.
                self._leased, self._leased_until = taken - 1, asked + window
                return
            await asyncio.sleep(window / limit)


class LearnFromRetryAfter(BaseRequestMiddleware):
    """A session middleware: every 429 Telegram answers, whatever call made it (a
    reply, a notification, a card edit), holds that chat in ``pacer`` for the
    ``retry_after`` it gave, so no other send goes there before that time."""

    def __init__(self, pacer: SendPacer) -> None:
        self.pacer = pacer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            chat_id = getattr(method, "chat_id", None)
            if isinstance(chat_id, int):
                self.pacer.hold(chat_id, float(exc.retry_after))
            raise
