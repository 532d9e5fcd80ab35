"""Working off a queue of platform updates, for any channel: claimed from the durable
queue (``bot.ports.UpdateQueue``), handed to the channel's handler, and marked done
only after the handler returned.

Within a worker, the updates of one key (a chat) are handled one after another in the
order claimed, and different keys at the same time. The queue hands a key's updates to
one worker at a time, so this keeps a chat's order across workers too. A worker that
stops cleanly finishes what it holds (for a while) and gives the rest back; one that
dies leaves it to the others once its lease runs out. Channels only translate: the
Telegram adapter's handler feeds its dispatcher (``handlers.telegram.worker``).

Some inputs arrive as several updates (Telegram's album: one update per photo). A
channel's ``Grouping`` names them; the worker waits for the group's last part, hands
the parts over together and marks them done only after they were handled as one, so
a crash while an album is gathered or handled loses nothing (the parts are claimed
again after their lease), and what the chat sent after the album waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from bot.ports import ClaimedUpdate, QueuedUpdate, UpdateQueue

log = logging.getLogger(__name__)

T = TypeVar("T")
Handle = Callable[[QueuedUpdate], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Grouping:
    """Updates that are parts of one input: ``of`` names an update's group (None: it
    stands alone); a group is complete when the chat's next update is not of it, or
    ``wait`` seconds passed with no new part; ``handle`` gets its parts in order."""

    of: Callable[[QueuedUpdate], str | None]
    handle: Callable[[list[QueuedUpdate]], Awaitable[None]]
    wait: float = 1.0


class Backoff:
    """Pauses that double from ``first`` up to ``most``, until ``reset``."""

    def __init__(self, first: float = 0.5, most: float = 30.0) -> None:
        self.first = first
        self.most = most
        self._failures = 0

    def next(self) -> float:
        pause: float = min(self.most, self.first * 2.0**self._failures)
        self._failures += 1
        return pause

    def reset(self) -> None:
        self._failures = 0


async def unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Await ``work`` unless ``stop`` is set first (then ``work`` is cancelled):
    (True, result) or (False, None)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return False, None
    return True, task.result()


async def pause(seconds: float, stop: asyncio.Event) -> None:
    """Sleep ``seconds``, or less when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def worker_name() -> str:
    """A name no other worker has: host, process and a random part."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


# Whether the update being handled will not be handed to a handler again: a handler
# that meets an unexpected error (the database away, say) raises it on earlier
# attempts, so the update is tried again, and apologises to the user on the last.
# Outside a worker (a direct feed_update) every attempt is the last.
LAST_ATTEMPT: contextvars.ContextVar[bool] = contextvars.ContextVar("last_attempt", default=True)


class Worker:
    """Claims updates from ``queue`` and hands each to ``handle``: per key in order,
    keys concurrently, at most ``batch_size`` held at a time. An update whose handler
    raises is tried again after a pause, up to ``max_attempts`` times in all (counting
    deliveries to workers that died), then logged and given up."""

    def __init__(
        self,
        queue: UpdateQueue,
        handle: Handle,
        *,
        name: str | None = None,
        batch_size: int = 100,
        poll: float = 0.5,
        lease: float = 30.0,
        max_attempts: int = 5,
        retry_pause: float = 0.5,
        drain: float = 10.0,
        grouping: Grouping | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.grouping = grouping
        self.name = name or worker_name()
        self.batch_size = batch_size
        self.poll = poll
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_pause = retry_pause
        self.drain = drain
        self._held: dict[str, ClaimedUpdate] = {}
        self._waiting: dict[str, deque[ClaimedUpdate]] = {}
        self._chains: dict[str, asyncio.Task[None]] = {}
        # Set when a key's update is claimed (a chain gathering a group waits on it).
        self._arrived: dict[str, asyncio.Event] = {}
        self._room = asyncio.Event()

    @property
    def held(self) -> int:
        """Updates claimed and not done yet."""
        return len(self._held)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish what is held (for up to ``drain``
        seconds) and leave the queue. Cancelled, it leaves its claims to their leases,
        as a worker that died would."""
        renewing = asyncio.create_task(self._renew(stop))
        try:
            await self._claim(stop)
            if self._chains:
                await asyncio.wait(list(self._chains.values()), timeout=self.drain)
            try:
                await self.queue.leave(self.name)
            except Exception as exc:
                log.warning("worker %s did not leave the queue cleanly: %s", self.name, exc)
        finally:
            tasks = [renewing, *self._chains.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim(self, stop: asyncio.Event) -> None:
        backoff = Backoff(self.poll, max(self.poll, 30.0))
        while not stop.is_set():
            room = self.batch_size - len(self._held)
            if room <= 0:
                self._room.clear()
                await _first(self._room.wait(), stop.wait())
                continue
            try:
                batch = await self.queue.claim(self.name, room, self.poll)
            except Exception as exc:
                wait = backoff.next()
                log.warning("claiming updates failed, again in %.1fs: %s", wait, exc)
                await pause(wait, stop)
                continue
            backoff.reset()
            for claimed in batch:
                self._add(claimed)

    def _add(self, claimed: ClaimedUpdate) -> None:
        if claimed.ref in self._held:
            return
        self._held[claimed.ref] = claimed
        key = claimed.update.key
        self._waiting.setdefault(key, deque()).append(claimed)
        arrived = self._arrived.get(key)
        if arrived is not None:
            arrived.set()
        if key not in self._chains:
            self._chains[key] = asyncio.create_task(self._chain(key), name=f"update-key-{key}")

    async def _chain(self, key: str) -> None:
        """The updates of one key, one after another, in the order claimed."""
        waiting = self._waiting[key]
        try:
            while waiting:
                claimed = waiting[0]
                group = self.grouping.of(claimed.update) if self.grouping else None
                if group is None:
                    await self._work(claimed, partial(self.handle, claimed.update))
                    parts = [claimed]
                else:
                    parts = await self._gather(key, group)
                    assert self.grouping is not None
                    items = [part.update for part in parts]
                    await self._work(claimed, partial(self.grouping.handle, items), parts)
                for part in parts:
                    waiting.popleft()
                    del self._held[part.ref]
                self._room.set()
        finally:
            # Cancelled: what is still waiting stays claimed until its lease runs out.
            self._chains.pop(key, None)
            self._arrived.pop(key, None)
            if not waiting:
                self._waiting.pop(key, None)

    async def _gather(self, key: str, group: str) -> list[ClaimedUpdate]:
        """The parts of ``group`` at the head of ``key``'s queue, once it is complete:
        another update of the chat follows them, or none came for ``wait`` seconds."""
        grouping = self.grouping
        assert grouping is not None
        waiting = self._waiting[key]
        arrived = self._arrived.setdefault(key, asyncio.Event())
        while True:
            parts = list(itertools.takewhile(lambda c: grouping.of(c.update) == group, waiting))
            if len(parts) < len(waiting):
                return parts
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), grouping.wait)
            except TimeoutError:
                return parts

    async def _work(
        self,
        claimed: ClaimedUpdate,
        handle: Callable[[], Awaitable[None]],
        parts: list[ClaimedUpdate] | None = None,
    ) -> None:
        """``handle()`` for ``claimed`` (the first of ``parts``, when it is a group),
        tried again as the worker's rules say; then every part marked done."""
        item = claimed.update
        tries = self.max_attempts - claimed.attempts + 1
        if tries <= 0:
            log.error(
                "update %s (key %s) given up: handed out %d times and never done",
                item.update_id,
                item.key,
                claimed.attempts,
            )
        for attempt in range(1, tries + 1):
            token = LAST_ATTEMPT.set(attempt == tries)
            try:
                await handle()
                break
            except Exception:
                if attempt == tries:
                    log.exception(
                        "update %s (key %s) given up after %d attempts",
                        item.update_id,
                        item.key,
                        claimed.attempts + attempt - 1,
                    )
                    break
                log.warning(
                    "update %s (key %s) failed, tried again",
                    item.update_id,
                    item.key,
                    exc_info=True,
                )
                await asyncio.sleep(self.retry_pause * 2 ** (attempt - 1))
            finally:
                LAST_ATTEMPT.reset(token)
        for part in parts or [claimed]:
            await self._done(part)

    async def _done(self, claimed: ClaimedUpdate) -> None:
        backoff = Backoff(self.retry_pause, self.lease / 4)
        for attempt in range(1, 6):
            try:
                await self.queue.done(self.name, claimed)
                return
            except Exception as exc:
                if attempt == 5:
                    # Its lease will run out and it is handled again: the desk's inbox
                    # knows it was.
                    log.warning("update %s not marked done: %s", claimed.update.update_id, exc)
                    return
                await asyncio.sleep(backoff.next())

    async def _renew(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await pause(self.lease / 3, stop)
            try:
                await self.queue.renew(self.name)
            except Exception as exc:
                log.warning("leases of worker %s not renewed: %s", self.name, exc)


async def _first(*waits: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_together(
    stop: asyncio.Event, *parts: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """Run ``parts`` with one stop signal of their own, set when ``stop`` is or when a
    part ends by itself; then wait for all of them, and raise the first failure."""
    halt = asyncio.Event()

    async def watch(part: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        try:
            await part(halt)
        finally:
            halt.set()

    tasks = [asyncio.create_task(watch(part)) for part in parts]
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        halt.set()
        await asyncio.wait(tasks)
    finally:
        stopping.cancel()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
