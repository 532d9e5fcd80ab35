"""Pacing outbound messages within Telegram's limits.

About 30 messages a second per bot, 20 a minute per group and about one a second
per private chat (a short burst is tolerated there, never in groups). The pacer
keeps each send under all of them at once, in this process; an optional shared
``RateLimiter`` (Redis) keeps several workers of one bot under the bot's limit
together.

Two kinds of send share a chat's budget. Direct answers to what a person just did
(an agent's command, a customer's step) may use all of it; *routine* sends (the
relay's notifications: mirrors, cards, alerts, inside ``pacer.routine()``) leave
``group_reserve`` of a group's minute to them and never book slots ahead, so an
agent's answer never waits behind a backlog of mirrors. Every window is a little
longer than Telegram's (``margin``), so that the requests' own jitter on their way
never puts one too many into Telegram's window.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections.abc import Callable, Iterator
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

# A worker takes a tenth of the bot's second of shared send budget at a time (three at
# Telegram's 30 a second; a hundred at most, e.g. at 1,000 a second for paid broadcasts).
SHARED_SHARE = 10
SHARED_BLOCK_MOST = 100
# Chats whose pacing is remembered before idle ones are forgotten.
_KEPT_CHATS = 10_000
# How long a group's fleet-wide 429 hold, once read, is trusted before it is read again:
# the calls of one notification into a group (topic, card, photo) read it once, and
# another worker's 429 there is seen here within this. Telegram's holds last seconds;
# a call that slips through meanwhile meets the 429 itself and waits it out.
SHARED_HOLD_FRESH = 1.0
# Longest a send counts as in flight (unanswered, so made "now"); and how soon a wait
# on an unanswered send looks again.
IN_FLIGHT = 10.0
IN_FLIGHT_POLL = 0.02
# A count at which a window stops counting (benchmarks lift the limits).
_UNLIMITED = 1_000_000
# Whether the current task's sends are routine (see the module's docstring).
_ROUTINE: contextvars.ContextVar[bool] = contextvars.ContextVar("routine", default=False)
# The pacer and window cells of the current task's last ``wait``, until its call is
# answered (``SendPacer.sent``).
_TAKEN: contextvars.ContextVar[tuple[SendPacer | None, tuple[list[float], ...]]] = (
    contextvars.ContextVar("taken", default=(None, ()))
)


@dataclass(frozen=True, slots=True)
class Limits:
    per_bot_per_second: float = 30.0
    per_chat_per_second: float = 1.0
    # A private chat may get this many at once, then ``per_chat_per_second``.
    chat_burst: float = 2.0
    per_group_per_minute: float = 20.0
    # Of a group's minute, the sends kept for direct answers (routine ones use the rest).
    group_reserve: int = 3
    # Every window this much longer than Telegram's (a fraction of it).
    margin: float = 0.05
    # The length of a group's "minute" in seconds (tests and benchmarks shorten it).
    minute: float = 60.0


class TokenBucket:
    """``rate`` tokens a second up to ``capacity``."""

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def delay(self, keep: int = 0, count: int = 1) -> float:
        """Seconds until ``count`` sends may go (``keep`` is for windows: buckets have
        none). More than the burst (an album of ten) waits for a full bucket and leaves
        it in debt: the chat's next sends wait until the album is paid for."""
        self._refill()
        wanted = min(float(count), self.capacity)
        return 0.0 if self._tokens >= wanted else (wanted - self._tokens) / self.rate

    def take(self, count: int = 1) -> None:
        self._tokens -= count

    def restart_at(self, at: float) -> None:
        """Telegram refused the chat until ``at`` (a 429): its tolerance for a burst is
        spent, so one send may go at ``at`` and the next ones at the steady rate."""
        self._tokens, self._at = 1.0, at

    @property
    def idle(self) -> bool:
        self._refill()
        return self._tokens >= self.capacity


class SlidingWindow:
    """At most ``count`` sends in any ``window`` seconds: the times of the latest.

    A send's time is when it was let go, moved to when its answer came back once the
    session says so (``SendPacer.sent``): Telegram counted it somewhere in between, so
    counting from the answer can only be late, never early, however long the request
    took on its way (a new connection, a slow network). Until its answer comes a send
    counts as made *now*: Telegram may not have counted it yet (measured under load: a
    call let go reached the server 0.9 s later, after a whole window of others), so it
    may not leave the window before it was answered."""

    def __init__(
        self, count: float, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = max(1, int(min(count, _UNLIMITED)))
        self.window = window
        self._clock = clock
        # One cell per send, so its time can move: [time, 1.0 while unanswered].
        self._times: list[list[float]] = []

    def _time(self, cell: list[float], now: float) -> float:
        """When a send counts: its (answer's) time, or now while it is in flight (up to
        ``IN_FLIGHT``: a call that never went must not hold a slot for ever)."""
        return now if cell[1] and now - cell[0] < IN_FLIGHT else cell[0]

    def delay(self, keep: int = 0, count: int = 1) -> float:
        """Seconds until ``count`` more sends (an album counts its messages) leave
        ``keep`` of the window unused."""
        if self.count >= _UNLIMITED:
            return 0.0
        now = self._clock()
        since = now - self.window
        self._times = [cell for cell in self._times if self._time(cell, now) > since]
        allowed = max(1, self.count - keep)  # a reserve never takes the whole window
        room = allowed - min(count, allowed)  # sends of the window that may stay in it
        if len(self._times) <= room:
            return 0.0
        # The send that must leave the window first (times move: sorted each time).
        cell = sorted(self._times, key=lambda c: self._time(c, now))[len(self._times) - room - 1]
        if cell[1] and now - cell[0] < IN_FLIGHT:
            return IN_FLIGHT_POLL  # in flight: look again soon, its answer may be back
        return cell[0] + self.window - now

    def take(self, count: int = 1) -> list[float] | None:
        """Count ``count`` sends now; their cell, to move their time to when they were
        answered (``answered``)."""
        if self.count >= _UNLIMITED:
            return None
        cell = [self._clock(), 1.0]
        self._times.extend([cell] * count)
        return cell

    @staticmethod
    def answered(cell: list[float], at: float) -> None:
        """The send of ``cell`` was answered at ``at``: it counts from then."""
        cell[0] = max(cell[0], at)
        cell[1] = 0.0

    @property
    def idle(self) -> bool:
        return self.delay() == 0.0 and not self._times


class SendPacer:
    """Waits before each send so the bot stays under every limit at once."""

    def __init__(
        self,
        limits: Limits | None = None,
        shared: RateLimiter | None = None,
        shared_key: str = "telegram:send",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or Limits()
        self._shared = shared
        self._shared_key = shared_key
        self._clock = clock
        stretch = 1 + self.limits.margin
        self._bot = SlidingWindow(self.limits.per_bot_per_second, stretch, clock)
        self._chats: dict[int, TokenBucket | SlidingWindow] = {}
        # Chats that answered 429: nothing goes to them before this (monotonic) time.
        self._holds: dict[int, float] = {}
        # Groups whose fleet-wide hold was read, and when (``SHARED_HOLD_FRESH``).
        self._hold_read: dict[int, float] = {}
        # Shared slots taken and not used yet, and when they lapse (``_shared_slot``).
        self._leased = 0
        self._leased_until = 0.0
        # The round trip taking the next block of shared slots, while one is under way.
        self._taking: asyncio.Future[int] | None = None

    @contextlib.contextmanager
    def routine(self) -> Iterator[None]:
        """Sends made inside are routine: they leave a group's reserve to direct answers."""
        token = _ROUTINE.set(True)
        try:
            yield
        finally:
            _ROUTINE.reset(token)

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram said "retry after ``seconds``" for this chat: no send to it before."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if until > self._holds.get(chat_id, 0.0):
            self._holds[chat_id] = until
            limit = self._chats.get(chat_id)
            if isinstance(limit, TokenBucket):
                # What waited meanwhile goes one a second from then, not in a burst.
                limit.restart_at(until)
            log.info("chat %s answered 429: nothing sent there for %.1fs", chat_id, seconds)

    def held_for(self, chat_id: int) -> float:
        """Seconds until this chat may be sent to again after a 429 (0: now)."""
        until = self._holds.get(chat_id)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._holds[chat_id]
            return 0.0
        return left

    def _chat_limit(self, chat_id: int) -> TokenBucket | SlidingWindow:
        limit = self._chats.get(chat_id)
        if limit is None:
            if len(self._chats) > _KEPT_CHATS:
                self._chats = {k: b for k, b in self._chats.items() if not b.idle}
            limits, stretch = self.limits, 1 + self.limits.margin
            if chat_id < 0:
                limit = SlidingWindow(
                    limits.per_group_per_minute, limits.minute * stretch, self._clock
                )
            else:
                limit = TokenBucket(
                    limits.per_chat_per_second / stretch, limits.chat_burst, self._clock
                )
            self._chats[chat_id] = limit
        return limit

    def _hold_stale(self, chat_id: int) -> bool:
        """Whether the fleet's hold on group ``chat_id`` is to be read (again) now; if
        so, it counts as read."""
        now = self._clock()
        if now - self._hold_read.get(chat_id, -math.inf) < SHARED_HOLD_FRESH:
            return False
        if len(self._hold_read) > _KEPT_CHATS:
            self._hold_read = {
                k: at for k, at in self._hold_read.items() if now - at < SHARED_HOLD_FRESH
            }
        self._hold_read[chat_id] = now
        return True

    async def hold_shared(self, chat_id: int, seconds: float) -> None:
        """``hold``, and for a group also in the fleet's shared store: no worker sends
        into a group that answered 429 before the time it gave."""
        self.hold(chat_id, seconds)
        if self._shared is not None and chat_id < 0:
            await self._shared.hold(f"{self._shared_key}:{chat_id}", seconds)

    async def wait(self, chat_id: int, count: int = 1) -> None:
        """Return when a send of ``count`` messages (an album: its size) to ``chat_id``
        is within every limit, and count it."""
        # A group's 429 may have been another worker's.
        shared = self._shared
        if shared is not None and chat_id < 0 and self._hold_stale(chat_id):
            self.hold(chat_id, await shared.held_for(f"{self._shared_key}:{chat_id}"))
        chat = self._chat_limit(chat_id)
        keep = self.limits.group_reserve if _ROUTINE.get() and chat_id < 0 else 0
        while True:
            # Computed and taken with no await in between: atomic on the event loop,
            # and nothing is booked ahead, so a later direct answer can go first.
            delay = max(self.held_for(chat_id), chat.delay(keep, count), self._bot.delay(0, count))
            if delay <= 0:
                taken = tuple(cell for cell in (chat.take(count), self._bot.take(count)) if cell)
                break
            await asyncio.sleep(delay)
        if self._shared is not None:
            for _ in range(count):
                await self._shared_slot(self._shared)
            # Counted from when it really goes: the fleet's budget may have held it.
            now = self._clock()
            for cell in taken:
                cell[0] = max(cell[0], now)
        _TAKEN.set((self, taken))

    def sent(self) -> None:
        """The call the current task's last ``wait`` let go has been answered: it counts
        from now (see ``SlidingWindow``). ``PacerFeedback`` calls this."""
        pacer, taken = _TAKEN.get()
        if pacer is self and taken:
            now = self._clock()
            for cell in taken:
                SlidingWindow.answered(cell, now)
            _TAKEN.set((None, ()))

    async def _shared_slot(self, shared: RateLimiter) -> None:
        """One send of the bot's per-second budget shared by its workers. Slots are
        taken a block at a time (one round trip per ``block`` sends, one round trip at
        a time: sends that find none left wait together for the one under way rather
        than each taking a block) and lapse with the window, as they do in the shared
        count: a worker wastes at most ``block - 1`` a second. When the fleet has used
        the second, try again a slot later.

        No lock: a slot is taken with no await in between, and the sends waiting for a
        round trip all resume when it ends (behind a lock, each had waited for the one
        before it to be scheduled and let go: with a hundred sends under way, the sends
        queued there one turn of the event loop apart)."""
        limit, window = int(self.limits.per_bot_per_second), 1.0
        block = max(1, min(limit // SHARED_SHARE, SHARED_BLOCK_MOST))
        for _ in range(limit * 10):
            if self._leased > 0 and time.monotonic() < self._leased_until:
                self._leased -= 1
                return
            if self._taking is None:
                taking = self._take_block(shared, limit, window, block)
                self._taking = asyncio.ensure_future(taking)
            # Shielded: a send cancelled while waiting leaves the round trip to the others.
            if not await asyncio.shield(self._taking):
                await asyncio.sleep(window / limit)

    async def _take_block(self, shared: RateLimiter, limit: int, window: float, block: int) -> int:
        try:
            asked = time.monotonic()
            taken = await shared.take(self._shared_key, limit, window, block)
            if taken:
                # From before the call: the shared count lets them go no sooner.
                self._leased, self._leased_until = taken, asked + window
            return taken
        finally:
            self._taking = None


class PacerFeedback(BaseRequestMiddleware):
    """A session middleware telling ``pacer`` how each call went: its answer moves
    the call's place in the windows to when it came back (``SendPacer.sent``), and
    every 429, whatever call made it (a reply, a notification, a card edit), holds
    that chat for the ``retry_after`` Telegram gave, so nothing else goes there
    before that time (a group: in every worker, through the shared store)."""

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
                await self.pacer.hold_shared(chat_id, float(exc.retry_after))
            raise
        finally:
            self.pacer.sent()
