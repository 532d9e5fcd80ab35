"""The way every update enters the desk: one at a time per participant, once, in one
unit of work, retried on fresh state when a ticket changed meanwhile.

Channels never order, de-duplicate or throttle updates themselves; ``Desk`` (for
customers) and ``TicketService.act`` (for agents and moderators) go through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import ConcurrentUpdate, DeskError, DuplicateUpdate, StoreInterrupted
from bot.inputs import UpdateRef
from bot.participant import Participant
from bot.ports import Clock, Locks, RateLimiter, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[UnitOfWork], Awaitable[T]]
# Called in a fresh transaction when the work was refused with a DeskError: what to
# keep (a first contact's profile, say) and what to answer.
Refusal = Callable[[UnitOfWork, DeskError], Awaitable[T]]

# Tries of one update whose ticket keeps changing under it (a customer, the clock).
TRIES = 8


class Gate:
    """Runs one update of a participant as one unit of work.

    Holds ``locks`` for the participant for the whole update, so one participant's
    updates are handled one at a time across every worker (and, for an action on a
    known ticket, the ticket's lock after it, so a busy agent's stream of messages
    cannot starve a colleague's claim of the same ticket); commits the work with the
    update's inbox row, so a redelivered update raises ``DuplicateUpdate`` and changes
    nothing; runs the work again on fresh state after a ``ConcurrentUpdate`` (the
    ticket's version moved on), so nobody's message is refused because two updates
    touched a ticket at once; and again on a fresh connection after
    ``StoreInterrupted`` (a dropped database connection costs a retry, not the update).
    """

    def __init__(
        self, uow: UnitOfWorkFactory, locks: Locks, clock: Clock, *, tries: int = TRIES
    ) -> None:
        self._uow = uow
        self._locks = locks
        self._clock = clock
        self._tries = tries

    async def run(
        self,
        who: Participant,
        update: UpdateRef | None,
        work: Work[T],
        refused: Refusal[T] | None = None,
        *,
        ticket: int | None = None,
        keep: Callable[[T], list[Any] | None] | None = None,
        locks: Locks | None = None,
    ) -> T:
        """Run ``work`` as the update ``update`` of ``who``; ``keep`` turns its result
        into what the inbox keeps to answer a redelivery (``Inbox.answer``); ``locks``
        for ``who`` instead of the gate's (a customer's, when the store refuses a
        profile written meanwhile: this process's queue is then enough)."""
        async with contextlib.AsyncExitStack() as held:
            await held.enter_async_context((locks or self._locks).hold(who.key))
            if ticket is not None:
                await held.enter_async_context(self._locks.hold(f"ticket:{ticket}"))
            for attempt in range(1, self._tries + 1):
                try:
                    return await self._once(update, work, refused, keep)
                except (ConcurrentUpdate, StoreInterrupted) as exc:
                    if attempt == self._tries:
                        raise
                    why = (
                        "met a newer ticket"
                        if isinstance(exc, ConcurrentUpdate)
                        else "lost the store"
                    )
                    log.info("update of %s %s; try %d", who.key, why, attempt + 1)
                    # A little jitter, so two workers that clashed do not clash again.
                    await asyncio.sleep(random.uniform(0, 0.005 * attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        update: UpdateRef | None,
        work: Work[T],
        refused: Refusal[T] | None,
        keep: Callable[[T], list[Any] | None] | None,
    ) -> T:
        async with self._uow() as uow:
            try:
                result = await work(uow)
            except ConcurrentUpdate:
                raise
            except DeskError as exc:
                await uow.rollback()
                # A refusal of a redelivered update is only the first delivery's
                # effect seen again ("already resolved", "already escalated").
                if update is not None and await uow.inbox.seen(update):
                    raise DuplicateUpdate(str(update)) from exc
                if refused is None:
                    raise
                result = await refused(uow, exc)
            if update is not None:
                answer = keep(result) if keep is not None else None
                await uow.inbox.record(update, self._clock.now(), answer)
            await uow.commit()
            return result


class MemoryLocks:
    """``bot.ports.Locks`` for one process (the embedded shape): an ``asyncio.Lock`` per
    key, handed over in the order it was asked for."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]  # nobody else waits: forget the key
            else:
                self._locks[key] = (lock, users - 1)


@dataclass(frozen=True, slots=True)
class FloodRule:
    """At most ``limit`` updates of one participant per ``window`` seconds.

    Over the limit nothing is dropped without a trace: a message (text, files) is
    kept (``bot.held.HeldMessage``, at most ``keep`` of them per participant) and joined into the
    participant's next update that is within the limit, or into the ticket by the clock
    once ``window`` has passed; commands and buttons are not carried out. Either way the
    sender is told once per window, precisely, what happens to what they send.
    """

    limit: int = 20
    window: float = 60.0
    keep: int = 200

    async def check(
        self, limiter: RateLimiter, key: str, update: UpdateRef | None = None
    ) -> bool | None:
        """None when the update may pass; True when it is over the limit and the sender
        should be told (once per window); False when over and told already. An update
        tried again (the store was away) counts once."""
        flood_key = f"flood:{key}"
        event = f"{update.channel}/{update.bot}/{update.update_id}" if update else None
        if await limiter.hit(flood_key, self.limit, self.window, event):
            return None
        return await limiter.hit(flood_key + ":told", 1, self.window)

    async def tell_once(self, limiter: RateLimiter, key: str, what: str) -> bool:
        """True the first time in a window that ``what`` is to be said to ``key``."""
        return await limiter.hit(f"flood:{key}:{what}", 1, self.window)
