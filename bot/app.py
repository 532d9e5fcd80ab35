"""Wiring: the one module that knows every concrete class.

``build_app`` turns settings into a running desk: engine and migrations, stores,
services, relay. Channels (terminal, Telegram) are started by ``bot.__main__`` on
top of it. Nothing happens at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field, replace
from typing import Any

from bot.announce import Announcer
from bot.clock import SystemClock
from bot.desk import Desk
from bot.dialog import Dialog
from bot.events import CustomerUnreachable
from bot.i18n import Translator
from bot.notification import Audience, Notification
from bot.participant import Participant
from bot.policy import DeskPolicy, load_policy
from bot.ports import Clock, LinkStore, RateLimiter, StateStore, UnitOfWorkFactory
from bot.relay import Relay
from bot.schedule import Schedule
from bot.settings import Settings
from bot.ticker import Ticker
from bot.tickets import TicketService

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    policy: DeskPolicy
    translator: Translator
    clock: Clock
    uow: UnitOfWorkFactory
    states: StateStore
    links: LinkStore
    limiter: RateLimiter
    tickets: TicketService
    desk: Desk
    relay: Relay
    ticker: Ticker
    _closers: list[Any] = field(default_factory=list)

    async def close(self) -> None:
        for closer in reversed(self._closers):
            await closer()
        self._closers.clear()


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: DeskPolicy | None = None,
    dialogs: list[Dialog[Any]] | None = None,
) -> App:
    """Connect, migrate and assemble the desk described by ``settings``."""
    from conversations.intake import Intake
    from conversations.training import Training
    from store.db import create_engine, migrate, session_factory
    from store.links import SqlLinkStore
    from store.outbox import SqlOutboxStore
    from store.ratelimit import MemoryRateLimiter, RedisRateLimiter
    from store.state import RedisStateStore, SqlStateStore
    from store.uow import SqlUnitOfWorkFactory

    clock = clock or SystemClock()
    policy = policy or load_policy(settings.desk_policy_file)
    translator = Translator.load(policy.labels())

    engine = create_engine(settings.database_url)
    closers: list[Any] = [engine.dispose]
    await migrate(engine)
    sessions = session_factory(engine)
    uow = SqlUnitOfWorkFactory(sessions)

    states: StateStore
    limiter: RateLimiter
    if settings.redis_url:
        from redis.asyncio import Redis

        client = Redis.from_url(settings.redis_url)
        closers.append(client.aclose)
        states = RedisStateStore(client)
        limiter = RedisRateLimiter(client)
    else:
        states = SqlStateStore(sessions)
        limiter = MemoryRateLimiter()

    announcer = Announcer(policy)
    schedule = Schedule(policy)
    tickets = TicketService(uow, policy, clock, announcer, schedule)
    desk = Desk(uow, tickets, states, policy, clock, dialogs or [Intake(), Training()])
    ticker = Ticker(uow, schedule, clock, announcer)

    async def mark_unreachable(notification: Notification) -> None:
        """The customer blocked the bot: remember it, and tell the ticket's team once."""
        if notification.audience is not Audience.CUSTOMER:
            return
        who = Participant(notification.channel, notification.recipient)
        async with uow() as unit:
            customer = await unit.customers.get(who)
            if customer is None or customer.unreachable:
                return
            await unit.customers.put(replace(customer, unreachable=True))
            if notification.ticket_number is not None:
                ticket = await unit.tickets.get(notification.ticket_number)
                event = CustomerUnreachable(number=notification.ticket_number)
                for note in announcer.notifications(event, ticket, clock.now()):
                    await unit.outbox.add(note)
            await unit.commit()

    relay = Relay(
        SqlOutboxStore(sessions),
        {},
        clock,
        batch_size=settings.relay_batch_size,
        max_attempts=settings.relay_max_attempts,
        on_unreachable=mark_unreachable,
    )
    return App(
        settings=settings,
        policy=policy,
        translator=translator,
        clock=clock,
        uow=uow,
        states=states,
        links=SqlLinkStore(sessions),
        limiter=limiter,
        tickets=tickets,
        desk=desk,
        relay=relay,
        ticker=ticker,
        _closers=closers,
    )


async def serve_chats(app: App) -> None:
    """The chat channels with their relay and clock, until SIGINT/SIGTERM."""
    from handlers.telegram import run_telegram

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    settings = app.settings
    tasks = [
        asyncio.create_task(run_telegram(app, stop), name="telegram"),
        asyncio.create_task(app.relay.run(stop, settings.relay_interval_seconds), name="relay"),
        asyncio.create_task(app.ticker.run(stop, settings.clock_interval_seconds), name="clock"),
    ]
    log.info("serving Telegram (%s)", settings.telegram_mode)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a channel that stopped by itself: say why
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_terminal(app: App) -> None:
    """The terminal channel on standard input and output."""
    from handlers.console import run_console

    await run_console(app)
