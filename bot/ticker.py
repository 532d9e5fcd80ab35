"""The clock's work: reminders, auto-close and SLA alerts, from stored due times; and
joining in the messages flood control kept once their flood is over.

Each ticket keeps ``next_check_at``; the ticker claims the tickets whose moment has
come (moving their check a lease ahead, so that of several tickers in a fleet exactly
one visits each), does what ``Schedule.review`` says is owed, and stores the next
moment. A restart loses nothing: the moments live in the database, and a ticker that
died holding a claim leaves its tickets due again when the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.announce import Announcer
from bot.errors import ConcurrentUpdate
from bot.events import AutoClosed, CustomerReminded, Event, TeamAlerted
from bot.participant import SYSTEM
from bot.ports import Clock, UnitOfWorkFactory
from bot.schedule import AutoClose, Schedule, alert_key
from bot.ticket import Status
from bot.tickets import publish
from bot.worker import pause

log = logging.getLogger(__name__)

# How long a claimed ticket is this ticker's; one that dies lets it go after this.
LEASE = timedelta(minutes=2)
# Visits of one ticket that keeps changing under the ticker before it waits a round.
VISIT_TRIES = 3
# Platforms redeliver an update within hours; the inbox remembers handled ones longer.
# The reason an automatic close gives in the status history: codes, shown translated
# (``bot.views``).
CLOSE_REASONS = {
    AutoClose.WAITING: "no_answer",
    AutoClose.QUOTE: "quote_unanswered",
    AutoClose.RESOLVED: "not_disputed",
}
INBOX_KEEP = timedelta(days=7)
INBOX_SWEEP_EVERY = timedelta(hours=1)


class Ticker:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        schedule: Schedule,
        clock: Clock,
        announcer: Announcer,
        *,
        lease: timedelta = LEASE,
        release_held: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        """``release_held``: joins in the messages flood control kept longer than its
        window (``Desk.release_held``), every round."""
        self._uow = uow
        self._release_held = release_held
        self._schedule = schedule
        self._clock = clock
        self._announcer = announcer
        self._lease = lease
        self._swept: datetime | None = None

    async def tick(self, limit: int = 200) -> int:
        """Handle every ticket whose check is due; returns how many were looked at."""
        now = self._clock.now()
        if self._swept is None or now - self._swept >= INBOX_SWEEP_EVERY:
            await self.sweep_inbox(now)
        if self._release_held is not None:
            try:
                await self._release_held()
            except Exception:
                log.exception("releasing held messages failed")
        async with self._uow() as uow:
            claimed = await uow.tickets.claim_due(now, now + self._lease, limit)
            await uow.commit()
        for number, lease in claimed:
            try:
                await self._visit(number, lease)
            except Exception:
                # One broken ticket must not stop the clock for the others; its lease
                # runs out and it is looked at again then.
                log.exception("ticker failed on ticket #%s", number)
        return len(claimed)

    async def sweep_inbox(self, now: datetime) -> int:
        """Forget updates handled more than ``INBOX_KEEP`` ago."""
        async with self._uow() as uow:
            gone = await uow.inbox.forget(now - INBOX_KEEP)
            await uow.commit()
        self._swept = now
        if gone:
            log.info("inbox: forgot %d updates handled before %s", gone, now - INBOX_KEEP)
        return gone

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("ticker round failed")
            await pause(interval, stop)

    async def _visit(self, number: int, lease: datetime) -> None:
        for _ in range(VISIT_TRIES):
            try:
                await self._visit_once(number, lease)
                return
            except ConcurrentUpdate:
                # An agent or customer changed it meanwhile: look again at the new copy.
                continue
        log.info("ticket #%s kept changing; the ticker looks again next round", number)

    async def _visit_once(self, number: int, lease: datetime) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            ticket = await uow.tickets.get(number)
            if ticket.next_check_at != lease:
                # Changed since the claim: whoever changed it set its next check, and a
                # later round claims it then. (Saves are versioned as well, so two
                # visits could never both write their reminders and alerts.)
                return
            review = self._schedule.review(ticket, now)
            events: list[Event] = []
            if review.close is not None:
                old = ticket.status
                reason = CLOSE_REASONS[review.close]
                ticket.move(Status.CLOSED, now, SYSTEM.name, reason)
                events.append(AutoClosed(number=number, reason=review.close.value, at=now))
                log.info("ticket #%s closed automatically (%s, was %s)", number, reason, old)
            else:
                if review.remind:
                    ticket.reminded_at = now
                    events.append(CustomerReminded(number=number, at=now))
                for targets, state, due in review.alerts:
                    reply = self._schedule.alert(ticket, targets, state, due)
                    events.append(
                        TeamAlerted(number=number, key=reply.key, params=reply.params, at=now)
                    )
                    ticket.sla_alerts = ticket.sla_alerts | {
                        alert_key(target, state) for target in targets
                    }
            self._schedule.refresh(ticket, now)
            await uow.tickets.save(ticket)
            await publish(uow, self._announcer, ticket, events, now)
            await uow.commit()
