"""The outbox relay: hands pending notifications to their channel's notifier, once.

A round claims the oldest unfinished notification of up to ``batch_size``
recipients (the store never hands out a recipient's next message while an earlier
one is pending or being sent, so any number of relays keep each recipient's order),
sends them concurrently and records the outcomes; the deliveries are marked in the
same transaction that claims the next round. Failures the notifier reports are
retried with backoff; a message waiting for its retry holds back the later ones to
the same recipient.

A row whose lease ran out (its relay stopped between sending and marking) may or
may not have been delivered. It is never sent again on its own, because a
duplicate cannot be taken back: ``on_uncertain`` reports it (on the ticket, to the
team, who may resend it), and only then does it become UNCERTAIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.notification import Notification, OutboxItem
from bot.ports import Clock, DeliveryError, Notifier, OutboxStore, RecipientUnreachable

log = logging.getLogger(__name__)

UnreachableHook = Callable[[Notification], Awaitable[None]]
UncertainHook = Callable[[Notification], Awaitable[None]]


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """2, 4, 8 ... seconds, capped: network trouble is usually short."""
    return float(min(cap, base ** max(1, attempt)))


@dataclass(frozen=True, slots=True)
class _Delivered:
    pass


@dataclass(frozen=True, slots=True)
class _Retry:
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class _GiveUp:
    error: str
    unreachable: bool = False


_Outcome = _Delivered | _Retry | _GiveUp


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
        on_uncertain: UncertainHook | None = None,
    ) -> None:
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._on_unreachable = on_unreachable
        self._on_uncertain = on_uncertain

    def register(self, notifier: Notifier) -> None:
        self._notifiers[notifier.channel] = notifier

    async def run_once(self) -> int:
        """Report the rows whose lease ran out, then deliver, round after round, what was
        due when this call began; returns how many were delivered."""
        start = self._clock.now()
        await self._report_expired(start)
        delivered: list[str] = []
        total = 0
        while True:
            try:
                items = await self._outbox.claim_due(
                    self._clock.now(),
                    self._batch_size,
                    self._lease_seconds,
                    due_by=start,
                    delivered=delivered,
                )
            except BaseException:
                # The marks went down with the failed claim: record them alone, or these
                # delivered messages would be reported as in doubt when their lease ends.
                await asyncio.shield(self._mark_delivered(delivered))
                raise
            if not items:
                return total
            delivered = await self._round(items)
            total += len(delivered)

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

    async def _round(self, items: Sequence[OutboxItem]) -> list[str]:
        """Send one message per recipient concurrently and record the failures; returns
        the ids delivered, for the next claim to mark."""
        # Every claimed row is handed to its notifier at once: none waits behind another
        # send in this relay, so a crash can leave in doubt only rows whose send had
        # begun (the claim's commit and the first send are one event-loop step apart).
        tasks = [asyncio.create_task(self._attempt(item)) for item in items]
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            # Stopped mid-round. The sends still running are abandoned and stay SENDING:
            # their lease runs out and they are reported as uncertain. What finished is
            # recorded before stopping, so it is neither in doubt nor sent again.
            for task in tasks:
                task.cancel()
            await asyncio.shield(self._record(items, tasks, mark=True))
            raise
        return await self._record(items, tasks)

    async def _record(
        self,
        items: Sequence[OutboxItem],
        tasks: Sequence[asyncio.Task[_Outcome]],
        *,
        mark: bool = False,
    ) -> list[str]:
        """Store the failures (one row at a time: they are few); the delivered ids, which
        are also marked here when ``mark`` or when storing a failure fails."""
        outcomes: list[tuple[Notification, _Outcome]] = []
        for item, task in zip(items, tasks, strict=True):
            n = item.notification
            if task.done() and not task.cancelled():
                outcomes.append((n, task.result()))
            else:
                log.warning("the send of notification %s was cut short; it is in doubt", n.id)
        delivered = [n.id for n, outcome in outcomes if isinstance(outcome, _Delivered)]
        try:
            for n, outcome in outcomes:
                await self._store_failure(n, outcome)
        except BaseException:
            await asyncio.shield(self._mark_delivered(delivered))
            raise
        if mark:
            await self._mark_delivered(delivered)
        return delivered

    async def _store_failure(self, n: Notification, outcome: _Outcome) -> None:
        match outcome:
            case _Retry(at=at, error=error):
                await self._outbox.reschedule(n.id, at, error)
            case _GiveUp(error=error, unreachable=unreachable):
                await self._outbox.mark_failed(n.id, error, unreachable)
                if unreachable and self._on_unreachable is not None:
                    # One recipient's report must not keep the others' outcomes from
                    # being stored.
                    try:
                        await self._on_unreachable(n)
                    except Exception:
                        log.exception("reporting unreachable %s failed", n.recipient)

    async def _attempt(self, item: OutboxItem) -> _Outcome:
        n = item.notification
        notifier = self._notifiers.get(n.channel)
        if notifier is None:
            log.warning("no notifier for channel %s (notification %s)", n.channel, n.id)
            return _GiveUp(f"channel {n.channel!r} is not running")
        try:
            await notifier.deliver(n)
        except RecipientUnreachable as exc:
            return _GiveUp(str(exc) or "unreachable", unreachable=True)
        except DeliveryError as exc:
            return self._retry(item, str(exc), exc.retry_after)
        except Exception as exc:
            log.exception("notifier %s failed on %s", n.channel, n.id)
            return self._retry(item, repr(exc), None)
        return _Delivered()

    def _retry(self, item: OutboxItem, error: str, retry_after: float | None) -> _Outcome:
        attempt = item.attempts + 1
        if attempt >= self._max_attempts:
            log.error("giving up on notification %s: %s", item.notification.id, error)
            return _GiveUp(error)
        delay = retry_after if retry_after is not None else backoff_seconds(attempt)
        return _Retry(self._clock.now() + timedelta(seconds=delay), error)

    async def _mark_delivered(self, ids: Sequence[str]) -> None:
        """Mark these delivered outside a claim (on the way out of a failure or a stop);
        an error of its own is only logged, so the first one is what propagates."""
        if not ids:
            return
        try:
            await self._outbox.mark_all_delivered(ids, self._clock.now())
        except Exception:
            log.exception("marking %d delivered notifications failed", len(ids))

    async def _report_expired(self, now: datetime) -> None:
        expired = await self._outbox.take_expired(now, self._lease_seconds)
        reported: list[str] = []
        for item in expired:
            n = item.notification
            if self._on_uncertain is not None:
                try:
                    await self._on_uncertain(n)
                except Exception:
                    # Left SENDING under this relay's new lease: reported again when it
                    # runs out, so a gap is never silent.
                    log.exception("reporting notification %s as uncertain failed", n.id)
                    continue
            log.warning("notification %s was being sent at a crash; not re-sent", n.id)
            reported.append(n.id)
        await self._outbox.mark_uncertain(reported)
