"""Wiring: the one module that knows every concrete class.

``build_app`` turns settings into a running desk: engine and migrations, stores,
services, relay. Channels (terminal, Telegram) are started by ``bot.__main__`` on
top of it. Nothing happens at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.announce import Announcer
from bot.clock import SystemClock
from bot.desk import Desk
from bot.dialog import Dialog
from bot.events import CustomerUnreachable
from bot.files import MB
from bot.gate import FloodRule, Gate, MemoryLocks
from bot.i18n import Translator
from bot.incidents import IncidentService
from bot.knowledge.centre import HelpCentre
from bot.notification import Audience, Notification
from bot.participant import Participant
from bot.policy import DeskPolicy, load_policy
from bot.ports import Clock, FileStore, LinkStore, Locks, RateLimiter, UnitOfWorkFactory
from bot.relay import Relay
from bot.resend import report_uncertain
from bot.schedule import Schedule
from bot.settings import Settings
from bot.stats import StatsService
from bot.ticker import Ticker
from bot.tickets import TicketService

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.ports import UpdateQueue

log = logging.getLogger(__name__)


def _no_update_queue(channel: str, bot: str) -> UpdateQueue:
    raise RuntimeError("this App was built without update queues (use build_app)")


@dataclass
class App:
    settings: Settings
    policy: DeskPolicy
    translator: Translator
    clock: Clock
    uow: UnitOfWorkFactory
    links: LinkStore
    # The links the channels' notifiers write as they deliver (recorded by the relay).
    delivery_links: LinkStore
    limiter: RateLimiter
    tickets: TicketService
    desk: Desk
    relay: Relay
    ticker: Ticker
    # The desk's copies of the files people send (every channel shows every file).
    files: FileStore
    help: HelpCentre
    incidents: IncidentService
    stats: StatsService
    _closers: list[Any] = field(default_factory=list)
    # (channel, bot id) -> that bot's update queue between its receiver and workers.
    update_queue: Callable[[str, str], UpdateQueue] = field(default=_no_update_queue)

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
    platforms: tuple[str, ...] | None = None,
) -> App:
    """Connect, migrate and assemble the desk described by ``settings``; ``platforms``
    are the chat channels it serves (``bot.cli`` names them): team notifications go
    only there (None: to every team channel of the policy)."""
    from conversations.feedback import ArticleFeedback
    from conversations.intake import Intake
    from conversations.rating import RatingComment
    from conversations.training import Training
    from store.db import create_engine, migrate, session_factory
    from store.links import LinkWrites, SqlLinkStore
    from store.outbox import SqlOutboxStore
    from store.ratelimit import MemoryRateLimiter, RedisRateLimiter
    from store.uow import SqlUnitOfWorkFactory

    clock = clock or SystemClock()
    policy = policy or load_policy(settings.desk_policy_file)
    # The store's own limit (a setting: it is the machine's, not the desk's rule).
    store_limit = int(settings.file_store_max_mb * MB)
    policy = dataclasses.replace(
        policy, files=dataclasses.replace(policy.files, store=store_limit)
    )
    translator = Translator.load(policy.labels())

    engine = create_engine(settings.database_url)
    closers: list[Any] = [engine.dispose]
    await migrate(engine)
    sessions = session_factory(engine)
    uow = SqlUnitOfWorkFactory(sessions)

    # One participant's updates one at a time: across the fleet through Redis, or
    # PostgreSQL advisory locks without it; in this process alone on SQLite.
    limiter: RateLimiter
    locks: Locks
    if settings.redis_url:
        from store.legacy import import_redis_states
        from store.locks import RedisLocks
        from store.redis_pool import redis_client

        client = redis_client(settings.redis_url)
        closers.append(client.aclose)
        await import_redis_states(client, sessions)
        limiter = RedisRateLimiter(client)
        locks = RedisLocks(client)
    else:
        # On the desk's clock: the terminal's /wait moves flood windows on with it.
        limiter = MemoryRateLimiter(clock=lambda: clock.now().timestamp())
        if engine.dialect.name == "postgresql":
            from store.locks import AdvisoryLocks

            # Each held lock keeps a connection: bounded, so a burst waits for one
            # instead of taking the server's whole max_connections.
            # Pinged before use: a lock taken on a dead connection would fail the update.
            lock_engine = create_engine(
                settings.database_url,
                pool_size=5,
                max_overflow=20,
                pool_timeout=30,
                pool_pre_ping=True,
            )
            closers.append(lock_engine.dispose)
            locks = AdvisoryLocks(lock_engine)
        else:
            locks = MemoryLocks()

    announcer = Announcer(policy, platforms)
    schedule = Schedule(policy)
    gate = Gate(uow, locks, clock)
    help_centre = HelpCentre(uow, policy.help_folder, policy.languages, policy.departments)
    # Every worker at start; the files' fingerprint makes all but the first a no-op.
    await help_centre.reindex(force=False)
    # The links notifiers write while delivering, recorded with the delivery's outcome.
    delivery_links = LinkWrites()
    outbox = SqlOutboxStore(sessions, delivery_links)
    tickets = TicketService(uow, policy, clock, announcer, schedule, gate, outbox)
    # The training dialog only where the policy offers a training.
    default_dialogs: list[Dialog[Any]] = [Intake(), ArticleFeedback(), RatingComment()]
    if schedule.levels.onboarding.offered(policy):
        default_dialogs.append(Training())
    desk = Desk(
        uow,
        tickets,
        policy,
        clock,
        dialogs or default_dialogs,
        limiter=limiter,
        flood=FloodRule(settings.flood_limit, settings.flood_window_seconds),
        # PostgreSQL: a customer's profile is written at the version its step read,
        # and the update queue gives a chat to one worker at a time.
        locks=MemoryLocks() if engine.dialect.name == "postgresql" else locks,
        help_centre=help_centre,
    )
    ticker = Ticker(uow, schedule, clock, announcer, release_held=desk.release_held)
    if filled := await tickets.fill_queue_due():
        log.info("gave %d open tickets their place in the queue (migration 0008)", filled)

    async def mark_unreachable(notification: Notification) -> None:
        """The customer blocked the bot: remember it, and tell the ticket's team once."""
        if notification.audience is not Audience.CUSTOMER:
            return
        who = Participant(notification.channel, notification.recipient)
        async with uow() as unit:
            # Only the flag: the customer's own update may be changing the profile now.
            if not await unit.customers.mark_unreachable(who):
                return
            if notification.ticket_number is not None:
                ticket = await unit.tickets.get(notification.ticket_number)
                event = CustomerUnreachable(number=notification.ticket_number)
                for note in announcer.notifications(event, ticket, clock.now()):
                    await unit.outbox.add(note)
            await unit.commit()

    async def announce_uncertain(notification: Notification) -> None:
        """A message was being sent when its relay stopped: put it on the ticket and
        tell the team, who can send it again (``bot.resend``)."""
        await report_uncertain(uow, announcer, clock, notification)

    relay = Relay(
        outbox,
        {},
        clock,
        batch_size=settings.relay_batch_size,
        max_attempts=settings.relay_max_attempts,
        on_unreachable=mark_unreachable,
        on_uncertain=announce_uncertain,
    )
    return App(
        settings=settings,
        policy=policy,
        translator=translator,
        clock=clock,
        uow=uow,
        links=SqlLinkStore(sessions),
        delivery_links=SqlLinkStore(sessions, delivery_links),
        limiter=limiter,
        tickets=tickets,
        desk=desk,
        relay=relay,
        ticker=ticker,
        files=_file_store(settings, sessions, closers),
        help=help_centre,
        incidents=IncidentService(uow, tickets, policy),
        stats=StatsService(uow, schedule, clock),
        _closers=closers,
        update_queue=_update_queues(settings, sessions, closers),
    )


def _file_store(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], closers: list[Any]
) -> FileStore:
    """Where the desk keeps its copies of files: an S3 bucket, a folder, or the database."""
    from store.files import FolderFileStore, SqlFileStore

    if settings.file_store_s3_bucket:
        from store.s3files import S3FileStore

        secret = settings.file_store_s3_secret_access_key
        s3 = S3FileStore(
            settings.file_store_s3_bucket,
            prefix=settings.file_store_s3_prefix,
            endpoint_url=settings.file_store_s3_endpoint_url,
            region=settings.file_store_s3_region,
            access_key_id=settings.file_store_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            link_seconds=settings.file_store_s3_link_seconds,
        )
        closers.append(s3.close)
        return s3
    if settings.file_store_dir:
        return FolderFileStore(settings.file_store_dir)
    return SqlFileStore(sessions)


def _update_queues(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], closers: list[Any]
) -> Callable[[str, str], UpdateQueue]:
    """(channel, bot id) -> its update queue, one per bot in this process: Redis streams
    when REDIS_URL is set, else the ``pending_updates`` table. The streams get a Redis
    client of their own, made on first use (a blocking read holds a connection)."""
    from store.updates import RedisUpdateQueue, SqlUpdateQueue

    queues: dict[tuple[str, str], UpdateQueue] = {}
    clients: list[Any] = []

    def update_queue(channel: str, bot: str) -> UpdateQueue:
        queue = queues.get((channel, bot))
        if queue is not None:
            return queue
        if settings.redis_url:
            if not clients:
                from store.redis_pool import redis_client

                client = redis_client(settings.redis_url)
                clients.append(client)
                closers.append(client.aclose)
            queue = RedisUpdateQueue(
                clients[0],
                channel,
                bot,
                partitions=settings.update_partitions,
                lease_seconds=settings.update_lease_seconds,
                maxlen=settings.update_stream_maxlen,
            )
        else:
            queue = SqlUpdateQueue(
                sessions, channel, bot, lease_seconds=settings.update_lease_seconds
            )
        queues[(channel, bot)] = queue
        return queue

    return update_queue


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve_chats(app: App, *, receive: bool, work: bool, workers: int = 0) -> None:
    """The chat channels' receivers and/or workers in this process (a worker with the
    relay and the clock beside it), and ``workers`` worker processes, until SIGINT or
    SIGTERM. Telegram and Discord alike: the receiver (Telegram's poller or webhook,
    Discord's gateway connection, one per bot) puts updates in the update queue (on
    Discord after acknowledging interactions), the workers take them; every worker logs
    in to Discord's REST API, for its handlers and its relay. In one process nothing is
    queued for Discord: its events are handled where they arrive."""
    stop = _stop_on_signals()
    settings = app.settings
    tasks: list[asyncio.Task[None]] = []
    if settings.telegram_enabled:
        from handlers.telegram import TelegramChannel

        channel = TelegramChannel.from_app(app)
        tasks.append(
            asyncio.create_task(channel.run(stop, receive=receive, work=work), name="telegram")
        )
    if settings.discord_enabled:
        from handlers.discord import DiscordChannel

        discord_channel = DiscordChannel.from_app(app)
        tasks.append(
            asyncio.create_task(
                discord_channel.run(stop, receive=receive, work=work), name="discord"
            )
        )
    if work:
        tasks += [
            asyncio.create_task(
                app.relay.run(stop, settings.relay_interval_seconds), name="relay"
            ),
            asyncio.create_task(
                app.ticker.run(stop, settings.clock_interval_seconds), name="clock"
            ),
        ]
    tasks += [
        asyncio.create_task(_keep_worker_process(n, stop), name=f"worker-{n}")
        for n in range(1, workers + 1)
    ]
    role = "receiver and worker" if receive and work else "receiver" if receive else "worker"
    if settings.telegram_enabled:
        log.info("serving Telegram (%s): %s", settings.telegram_mode, role)
    if settings.discord_enabled:
        log.info("serving Discord: %s", role)
    if work:
        await _remind_interrupted(app)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a channel that stopped by itself: say why
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


async def serve_chats(app: App) -> None:
    """The chat channels with their relay and clock, in this one process, until
    SIGINT/SIGTERM."""
    await _serve_chats(app, receive=True, work=True)


async def serve_receiver(app: App, workers: int = 0) -> None:
    """Only the receivers (Telegram's one poller or webhook endpoint into the update
    queue, Discord's gateway); with ``workers``, that many ``python -m bot worker``
    processes beside it, each started again when it exits."""
    await _serve_chats(app, receive=True, work=False, workers=workers)


async def serve_worker(app: App) -> None:
    """One worker: updates from the queue, the outbox relay and the clock."""
    await _serve_chats(app, receive=False, work=True)


# A worker drains what it holds for up to 10 seconds after SIGTERM.
WORKER_STOP_SECONDS = 20.0


async def _keep_worker_process(number: int, stop: asyncio.Event) -> None:
    """``python -m bot worker`` (same environment and folder), started again after a
    pause whenever it exits, until ``stop``; then SIGTERM, and SIGKILL if it lingers."""
    loop = asyncio.get_running_loop()
    pause = 1.0
    while not stop.is_set():
        started = loop.time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "worker", stdin=asyncio.subprocess.DEVNULL
        )
        log.info("worker %d started (pid %d)", number, proc.pid)
        exited = asyncio.create_task(proc.wait())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not exited.done():
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(exited), WORKER_STOP_SECONDS)
                except TimeoutError:
                    log.warning("worker %d (pid %d) did not stop; killed", number, proc.pid)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await exited
        if stop.is_set():
            return
        if loop.time() - started > 60:
            pause = 1.0
        log.warning(
            "worker %d (pid %d) exited with %s; started again in %.0fs",
            number,
            proc.pid,
            proc.returncode,
            pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, 30.0)


async def run_terminal(app: App) -> None:
    """The terminal channel on standard input and output."""
    from handlers.console import run_console

    await _remind_interrupted(app)
    await run_console(app)


async def _remind_interrupted(app: App) -> None:
    """Customers a restart interrupted in the middle of a conversation hear where they
    were (serving processes only: an admin command is no restart of the desk)."""
    if reminded := await app.desk.remind_interrupted():
        log.info("reminded %d customers where their conversation stood", reminded)
