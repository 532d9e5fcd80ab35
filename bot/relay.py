"""The outbox relay: hands pending notifications to their channel's notifier, once.

Rows are claimed with a lease before sending. A row whose lease ran out (the
process died between sending and marking) becomes UNCERTAIN and is never sent
again: a missed message can be looked up in the ticket, a duplicate cannot be
taken back. Failures the notifier reports are retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from bot.notification import Notification, OutboxItem
from bot.ports import Clock, DeliveryError, Notifier, OutboxStore, RecipientUnreachable

log = logging.getLogger(__name__)

UnreachableHook = Callable[[Notification], Awaitable[None]]


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """2, 4, 8 ... seconds, capped: network trouble is usually short."""
    return float(min(cap, base ** max(1, attempt)))


class Relay:
    def __init__(
        self,
        outbox: OutboxStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        batch_size: int = 50,
        lease_seconds: float = 120.0,
        max_attempts: int = 8,
        on_unreachable: UnreachableHook | None = None,
    ) -> None:
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._on_unreachable = on_unreachable

    def register(self, notifier: Notifier) -> None:
        self._notifiers[notifier.channel] = notifier

    async def run_once(self) -> int:
        """Deliver what is due now; returns how many were delivered."""
        now = self._clock.now()
        expired = await self._outbox.expire_leases(now)
        if expired:
            log.warning("%d notifications were in flight at a crash; not re-sent", expired)
        items = await self._outbox.claim_due(now, self._batch_size, self._lease_seconds)
        if not items:
            return 0
        # One recipient's messages go out in order; different recipients in parallel.
        queues: dict[tuple[str, str], list[OutboxItem]] = defaultdict(list)
        for item in items:
            n = item.notification
            queues[(n.channel, n.recipient)].append(item)
        results = await asyncio.gather(*(self._deliver_in_order(q) for q in queues.values()))
        return sum(results)

    async def drain(self, max_rounds: int = 20) -> int:
        """Deliver until nothing is due (used by the terminal channel and tests)."""
        total = 0
        for _ in range(max_rounds):
            sent = await self.run_once()
            total += sent
            if sent == 0:
                break
        return total

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("relay round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _deliver_in_order(self, items: list[OutboxItem]) -> int:
        delivered = 0
        for index, item in enumerate(items):
            outcome = await self._deliver(item)
            if outcome is True:
                delivered += 1
                continue
            # A message that could not go out holds back the later ones to the same
            # recipient, so they never arrive before it: they are due when it is.
            retry_at = outcome if isinstance(outcome, datetime) else self._clock.now()
            for later in items[index + 1 :]:
                await self._outbox.reschedule(
                    later.notification.id, retry_at, "held back behind an earlier one", False
                )
            break
        return delivered

    async def _deliver(self, item: OutboxItem) -> bool | datetime:
        """True when delivered; the retry time when it will be tried again; False when
        it was given up."""
        n = item.notification
        notifier = self._notifiers.get(n.channel)
        if notifier is None:
            await self._outbox.mark_failed(n.id, f"channel {n.channel!r} is not running", False)
            log.warning("no notifier for channel %s (notification %s)", n.channel, n.id)
            return False
        try:
            await notifier.deliver(n)
        except RecipientUnreachable as exc:
            await self._outbox.mark_failed(n.id, str(exc) or "unreachable", True)
            if self._on_unreachable is not None:
                await self._on_unreachable(n)
            return False
        except DeliveryError as exc:
            return await self._retry(item, str(exc), exc.retry_after)
        except Exception as exc:
            log.exception("notifier %s failed on %s", n.channel, n.id)
            return await self._retry(item, repr(exc), None)
        await self._outbox.mark_delivered(n.id, self._clock.now())
        return True

    async def _retry(
        self, item: OutboxItem, error: str, retry_after: float | None
    ) -> bool | datetime:
        attempt = item.attempts + 1
        if attempt >= self._max_attempts:
            await self._outbox.mark_failed(item.notification.id, error, False)
            log.error("giving up on notification %s: %s", item.notification.id, error)
            return False
        delay = retry_after if retry_after is not None else backoff_seconds(attempt)
        at = self._clock.now() + timedelta(seconds=delay)
        await self._outbox.reschedule(item.notification.id, at, error)
        return at
