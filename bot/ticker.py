"""The clock's work: reminders, auto-close and SLA alerts, from stored due times.

Each ticket keeps ``next_check_at``; the ticker visits the tickets whose moment has
come, does what ``Schedule.review`` says is owed, and stores the next moment. A
restart loses nothing: the moments live in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.announce import Announcer
from bot.events import AutoClosed, CustomerReminded, Event, TeamAlerted
from bot.participant import SYSTEM
from bot.ports import Clock, UnitOfWorkFactory
from bot.schedule import AutoClose, Schedule, alert_key
from bot.ticket import Status
from bot.tickets import publish

log = logging.getLogger(__name__)


class Ticker:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        schedule: Schedule,
        clock: Clock,
        announcer: Announcer,
    ) -> None:
        self._uow = uow
        self._schedule = schedule
        self._clock = clock
        self._announcer = announcer

    async def tick(self, limit: int = 200) -> int:
        """Handle every ticket whose check is due; returns how many were looked at."""
        now = self._clock.now()
        async with self._uow() as uow:
            numbers = await uow.tickets.due(now, limit)
        for number in numbers:
            try:
                await self._visit(number)
            except Exception:
                # One broken ticket must not stop the clock for the others.
                log.exception("ticker failed on ticket #%s", number)
        return len(numbers)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("ticker round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def _visit(self, number: int) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            ticket = await uow.tickets.get(number)
            if ticket.next_check_at is None or ticket.next_check_at > now:
                return  # another worker got here first
            review = self._schedule.review(ticket, now)
            events: list[Event] = []
            if review.close is not None:
                old = ticket.status
                reason = "no answer" if review.close is AutoClose.WAITING else "not disputed"
                ticket.move(Status.CLOSED, now, SYSTEM.name, reason)
                events.append(AutoClosed(number=number, reason=review.close.value, at=now))
                log.info("ticket #%s closed automatically (%s, was %s)", number, reason, old)
            else:
                if review.remind:
                    ticket.reminded_at = now
                    events.append(CustomerReminded(number=number, at=now))
                for target, state, due in review.alerts:
                    reply = self._schedule.alert(ticket, target, state, due)
                    events.append(
                        TeamAlerted(number=number, key=reply.key, params=reply.params, at=now)
                    )
                    ticket.sla_alerts = ticket.sla_alerts | {alert_key(target, state)}
            ticket.next_check_at = self._schedule.next_check(ticket, now)
            await uow.tickets.save(ticket)
            await publish(uow, self._announcer, ticket, events, now)
            await uow.commit()
