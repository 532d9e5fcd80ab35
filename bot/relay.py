"""The outbox relay: hands pending notifications to their channel's notifier, once.

The relay sends the oldest unfinished notification of up to ``batch_size``
recipients at a time, concurrently. The store never hands out a recipient's next
message while an earlier one is pending or being sent, so any number of relays keep
each recipient's order, and a message waiting for its retry (with backoff, or after
the platform's ``retry_after``) holds back the later ones to the same recipient.
Whenever sends finish, the deliveries among them are marked in the transaction that
claims the next messages.

A team chat's messages wait on its platform's pacing (Telegram: 20 a minute a group),
so when one is claimed up to ``run_size`` of the chat's next ones come along, and a
notifier that can (``RunNotifier``) delivers them together: several messages of one
ticket joined into one, its card edited once, the urgent ones first. The notifier
tells the run's progress as it goes (``RunProgress``): before each platform call the
rows it carries for the first time are stored as started, in one commit that also
marks the rows finished since delivered, so a run costs about a commit per call
that carries news (fewer than its notifications). When the run fails, what went
out is marked delivered, the failure is charged to its first row not delivered, and
the rest go back to waiting as they were.

A started row whose lease ran out (its relay stopped between starting and marking
it) may or may not have been delivered. It is never sent again on its own, because
a duplicate cannot be taken back: ``on_uncertain`` reports it (on the ticket, to the
team, who may send it again), and only then does it become UNCERTAIN. A row of a run
that was never started was not tried: it goes back to waiting and is sent in its
turn. A crash thus leaves in doubt only the rows of the calls under way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.notification import Notification, OutboxItem
from bot.ports import (
    Clock,
    DeliveryError,
    Notifier,
    OutboxStore,
    RecipientUnreachable,
    RunNotifier,
)
from bot.worker import pause

log = logging.getLogger(__name__)

# How long a stopping relay waits for its cancelled sends to reach their next await.
WIND_UP_SECONDS = 5.0

UnreachableHook = Callable[[Notification], Awaitable[None]]
UncertainHook = Callable[[Notification], Awaitable[None]]


def backoff_seconds(
    attempt: int, base: float = 1.0, cap: float = 30.0, jitter: Callable[[], float] = random.random
) -> float:
    """1, 2, 4 ... seconds up to ``cap``, each cut by up to half at random: a server
    error or a lost connection is usually over in seconds, a chat must not freeze for
    minutes after three of them, and jitter keeps the retries of many chats apart."""
    ceiling = min(cap, base * 2 ** (max(1, attempt) - 1))
    return float(ceiling * (0.5 + 0.5 * jitter()))


@dataclass(frozen=True, slots=True)
class _Retry:
    at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class _GiveUp:
    error: str
    unreachable: bool = False


@dataclass(frozen=True, slots=True)
class _Lost:
    """The run's lease ran out and another relay took its rows: none is ours to settle."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How a run's sends went, beside what its ``_Progress`` recorded: ``failure`` (if
    any) is charged to its first row not delivered."""

    failure: _Retry | _GiveUp | _Lost | None = None


class LeaseLost(Exception):
    """A run's rows are no longer this relay's: nothing more of it may be sent."""


# One recipient's claimed rows, oldest first: its head and the rows that came along.
_Run = tuple[OutboxItem, ...]


class _Progress:
    """``bot.ports.RunProgress`` of one claimed run, and what the relay knows of it."""

    def __init__(self, outbox: OutboxStore, clock: Clock, run: _Run) -> None:
        self.run = run
        self._outbox = outbox
        self._clock = clock
        self._ids = {item.notification.id for item in run}
        self.lease = run[0].lease or ""
        # Started by the claim: a row claimed alone, or the one a run goes first with.
        self.started: set[str] = {item.notification.id for item in run if item.started}
        self.done: list[str] = []  # delivered, in the order they finished
        self.marked: set[str] = set()  # of those, already marked in the store

    async def sending(self, notification_ids: Collection[str]) -> None:
        new = [i for i in notification_ids if i in self._ids and i not in self.started]
        if not new:
            return
        finished = self.unmarked()
        held = await self._outbox.mark_progress(new, finished, self._clock.now(), self.lease)
        self.marked.update(finished)
        if held < len(new):
            # Another relay took them after this run's lease ran out (this process was
            # stalled): they must not go out twice. What was held is given back.
            raise LeaseLost(f"{len(new) - held} of {len(new)} notifications are not ours")
        self.started.update(new)

    def delivered(self, notification_id: str) -> None:
        if notification_id in self._ids and notification_id not in self.done:
            self.done.append(notification_id)

    def all_delivered(self) -> None:
        for item in self.run:
            self.delivered(item.notification.id)

    def unmarked(self) -> list[str]:
        """Delivered, not yet marked in the store."""
        return [i for i in self.done if i not in self.marked]

    def unfinished(self) -> list[OutboxItem]:
        """Not delivered, in the run's order."""
        done = set(self.done)
        return [item for item in self.run if item.notification.id not in done]

    def untried(self) -> list[str]:
        """Never started: no call carrying them may have gone out."""
        return [
            i.notification.id for i in self.unfinished() if i.notification.id not in self.started
        ]


_Finished = tuple[_Progress, "asyncio.Task[_Outcome]"]


def _runs(items: Sequence[OutboxItem]) -> list[_Run]:
    """The claimed rows by recipient, each recipient's in order."""
    runs: dict[tuple[str, str], list[OutboxItem]] = {}
    for item in items:
        n = item.notification
        runs.setdefault((n.channel, n.recipient), []).append(item)
    return [tuple(run) for run in runs.values()]


class Relay:
    def __init__(
        self,
        outbox: OutboxStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        batch_size: int = 50,
        run_size: int = 20,
        lease_seconds: float = 120.0,
        max_attempts: int = 40,
        on_unreachable: UnreachableHook | None = None,
        on_uncertain: UncertainHook | None = None,
    ) -> None:
        self._outbox = outbox
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._batch_size = batch_size
        self._run_size = run_size
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._on_unreachable = on_unreachable
        self._on_uncertain = on_uncertain

    @property
    def outbox(self) -> OutboxStore:
        """The store it delivers from (``bot.resend.resend_notification`` needs it too)."""
        return self._outbox

    def register(self, notifier: Notifier) -> None:
        self._notifiers[notifier.channel] = notifier

    async def run_once(self) -> int:
        """Report the rows whose lease ran out, then deliver what is due until nothing
        due is left to claim and no send is under way; returns how many were delivered."""
        check_expired_at = self._clock.now()
        # Sends under way, in the order claimed: at most one run per recipient (the
        # store hands out a recipient's next message only once these are finished).
        sending: dict[asyncio.Task[_Outcome], _Progress] = {}
        delivered: list[str] = []  # sent; the next claim marks them
        total = 0
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self._lease_seconds / 3
        try:
            while True:
                now = self._clock.now()
                if now >= check_expired_at:
                    # Again now and then: a busy pass can last longer than a lease. Its
                    # own sends under way are renewed first: they are not in doubt.
                    if sending:
                        await self._renew(sending.values())
                        renew_at = loop.time() + self._lease_seconds / 3
                    await self._report_expired(now)
                    check_expired_at = now + timedelta(seconds=self._lease_seconds / 4)
                room = self._batch_size - len(sending)
                if room > 0 or delivered:
                    claimed = await self._outbox.claim_due(
                        now,
                        room,
                        self._lease_seconds,
                        delivered=delivered,
                        run=self._run_size,
                        leading=self._leading,
                    )
                    delivered = []
                    # Every claimed row goes to its notifier at once: none waits behind
                    # another send in this relay, so a crash leaves in doubt only rows
                    # whose send had begun or was about to (nothing but handing back the
                    # connection lies between the claim's commit and the sends).
                    for run in _runs(claimed):
                        progress = _Progress(self._outbox, self._clock, run)
                        sending[asyncio.create_task(self._attempt(progress))] = progress
                if not sending:
                    return total
                # Whenever sends finish, their recipients' next messages can be claimed:
                # a slow chat (Telegram paces groups to 20 a minute) holds back only its
                # own messages. Sends that finish together are marked together.
                done, _ = await asyncio.wait(
                    sending,
                    timeout=max(0.0, renew_at - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if loop.time() >= renew_at:
                    # A run into a paced team chat may take minutes: while it is still
                    # being sent here, it is not in doubt. On a timer of its own, so
                    # that other sends finishing all the time do not starve it.
                    await self._renew(
                        progress for task, progress in sending.items() if task not in done
                    )
                    renew_at = loop.time() + self._lease_seconds / 3
                if not done:
                    continue
                finished = [task for task in sending if task in done]
                delivered, count = await self._record([(sending[t], t) for t in finished])
                for task in finished:
                    del sending[task]
                total += count
        except Exception:
            # The store failed: the sends under way are let finish and are recorded, so
            # that they are neither in doubt nor sent again.
            if sending:
                await asyncio.wait(sending)
            await self._wind_up(sending, delivered)
            raise
        except asyncio.CancelledError:
            # Stopped. The sends still running are abandoned: the rows whose calls were
            # under way stay SENDING, their lease runs out and they are reported as
            # uncertain; what they did not try goes back to waiting. What finished is
            # recorded before stopping.
            for task in sending:
                task.cancel()
            await asyncio.shield(self._wind_up(sending, delivered))
            raise

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
            await pause(interval, stop)

    async def _record(self, finished: Sequence[_Finished]) -> tuple[list[str], int]:
        """Store the failures among finished sends (one row at a time: they are few) and
        give back what a failure left untried; returns the ids delivered and not yet
        marked, for the next claim to mark, and how many were delivered."""
        marks: list[str] = []
        count = 0
        for progress, task in finished:
            lease = progress.lease
            if task.cancelled():
                cut = [i.notification.id for i in progress.unfinished()]
                untried = progress.untried()
                if in_doubt := [i for i in cut if i not in untried]:
                    log.warning("the send of notifications %s was cut short; in doubt", in_doubt)
                await self._outbox.release(untried, lease)
            elif (failure := task.result().failure) is not None:
                unfinished = progress.unfinished()
                if isinstance(failure, _Lost):
                    await self._outbox.release([i.notification.id for i in unfinished], lease)
                elif unfinished:
                    charged, *rest = unfinished
                    await self._store_failure(charged, failure, lease)
                    await self._outbox.release([i.notification.id for i in rest], lease)
                else:
                    # Everything went out; a call after the last (e.g. closing a topic)
                    # failed. Nothing is left to retry it with.
                    log.warning(
                        "after the run to %s: %s", progress.run[0].notification.recipient, failure
                    )
            marks += progress.unmarked()
            count += len(progress.done)
        return marks, count

    async def _wind_up(
        self, sending: Mapping[asyncio.Task[_Outcome], _Progress], delivered: Sequence[str]
    ) -> None:
        """Record what finished before a pass stopped early, marks included. Sends that
        were recorded just before the stop may be passed again: storing a failure again
        does nothing (the row is no longer leased) and a row is marked delivered once.
        Its own errors are only logged, so the first one is what propagates."""
        if cut := [task for task in sending if not task.done()]:
            # Cancelled: a send stops at its next await. Let it, so that what it had not
            # tried yet is known (and given back) rather than left in doubt.
            await asyncio.wait(cut, timeout=WIND_UP_SECONDS)
        finished = [(progress, task) for task, progress in sending.items() if task.done()]
        marks: list[str] = []
        try:
            marks, _ = await self._record(finished)
        except Exception:
            log.exception("recording the outcome of %d sends failed", len(finished))
            marks = [i for progress, _ in finished for i in progress.unmarked()]
        await self._mark_delivered([*delivered, *marks])

    async def _store_failure(
        self, item: OutboxItem, outcome: _Retry | _GiveUp, lease: str
    ) -> None:
        n = item.notification
        match outcome:
            case _Retry(at=at, error=error):
                await self._outbox.reschedule(n.id, at, error, lease=lease)
                behind = await self._outbox.backlog(n.channel, n.recipient)
                if behind.count > 1:
                    log.warning(
                        "%s %s is behind: %d messages waiting, the oldest for %d min (%s)",
                        n.channel,
                        n.recipient,
                        behind.count,
                        behind.minutes(self._clock.now()),
                        error,
                    )
            case _GiveUp(error=error, unreachable=unreachable):
                await self._outbox.mark_failed(n.id, error, unreachable, lease=lease)
                if unreachable and self._on_unreachable is not None:
                    # One recipient's report must not keep the others' outcomes from
                    # being stored.
                    try:
                        await self._on_unreachable(n)
                    except Exception:
                        log.exception("reporting unreachable %s failed", n.recipient)

    def _leading(self, run: Sequence[Notification]) -> str:
        """The notification of a run its notifier sends first."""
        notifier = self._notifiers.get(run[0].channel)
        if isinstance(notifier, RunNotifier):
            return notifier.leading(run)
        return run[0].id  # one by one, in order

    async def _attempt(self, progress: _Progress) -> _Outcome:
        run = progress.run
        n = run[0].notification
        notifier = self._notifiers.get(n.channel)
        if notifier is None:
            log.warning("no notifier for channel %s (notification %s)", n.channel, n.id)
            return _Outcome(_GiveUp(f"channel {n.channel!r} is not running"))
        try:
            if len(run) == 1:
                await notifier.deliver(n)
            elif isinstance(notifier, RunNotifier):
                await notifier.deliver_run([i.notification for i in run], progress)
            else:
                for item in run:
                    await progress.sending((item.notification.id,))
                    await notifier.deliver(item.notification)
                    progress.delivered(item.notification.id)
        except LeaseLost as exc:
            log.warning("a run to %s %s was taken over: %s", n.channel, n.recipient, exc)
            return _Outcome(_Lost())
        except RecipientUnreachable as exc:
            return _Outcome(_GiveUp(str(exc) or "unreachable", unreachable=True))
        except DeliveryError as exc:
            return _Outcome(self._retry(progress, str(exc), exc.retry_after))
        except Exception as exc:
            log.exception("notifier %s failed on %s", n.channel, n.id)
            return _Outcome(self._retry(progress, repr(exc), None))
        progress.all_delivered()
        return _Outcome()

    def _retry(
        self, progress: _Progress, error: str, retry_after: float | None
    ) -> _Retry | _GiveUp:
        """The failure, charged to the run's first row not delivered."""
        unfinished = progress.unfinished()
        item = unfinished[0] if unfinished else progress.run[-1]
        attempt = item.attempts + 1
        if attempt >= self._max_attempts:
            log.error("giving up on notification %s: %s", item.notification.id, error)
            return _GiveUp(error)
        delay = retry_after if retry_after is not None else backoff_seconds(attempt)
        return _Retry(self._clock.now() + timedelta(seconds=delay), error)

    async def _mark_delivered(self, ids: Sequence[str]) -> None:
        """Mark these delivered outside a claim (on the way out of a failure or a stop),
        with whatever else the store keeps for the next record (even with no ids); an
        error of its own is only logged, so the first one is what propagates."""
        try:
            await self._outbox.mark_all_delivered(ids, self._clock.now())
        except Exception:
            log.exception("marking %d delivered notifications failed", len(ids))

    async def _renew(self, runs: Iterable[_Progress]) -> None:
        ids = [item.notification.id for progress in runs for item in progress.run]
        until = self._clock.now() + timedelta(seconds=self._lease_seconds)
        await self._outbox.renew(ids, until)

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
