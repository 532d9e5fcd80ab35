"""What the desk costs per ticket and per notification, against the bare database.

- intake: a whole customer intake through ``Desk.handle`` (every step loads and
  stores the conversation state, the last one files the ticket and its outbox rows)
  against the baseline of inserting the same ticket with the repository directly.
  The ratio is the price of the conversation machinery per filed ticket.
- relay: delivering outbox notifications to a notifier that does nothing, against
  the baseline of writing those rows. The ratio is the relay's overhead per message.
- memory: peak Python allocations while filing, against the baseline insert loop.

Both sides run in this process on a fresh SQLite file, so the ratios compare across
machines; absolute times are printed for reference only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

from bot.account import Account
from bot.app import App, build_app
from bot.customer import Customer
from bot.inputs import ChoicePicked, CommandGiven, Input, TextSent
from bot.notification import Audience, Notification
from bot.participant import Participant
from bot.settings import Settings
from bot.ticket import Origin, Ticket

Step = Callable[[int], Awaitable[None]]


class NullNotifier:
    channel = "bench"

    def __init__(self) -> None:
        self.count = 0

    async def deliver(self, notification: Notification) -> None:
        self.count += 1


async def _app(folder: Path) -> App:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{folder / 'bench.db'}", _env_file=None)
    app = await build_app(settings)
    async with app.uow() as uow:
        await uow.accounts.put(Account("SN-1", ("shop.cz",), "premium", date(2099, 1, 1)))
        await uow.commit()
    return app


async def _timed(count: int, step: Step) -> float:
    start = time.perf_counter()
    for i in range(count):
        await step(i)
    return time.perf_counter() - start


async def _peak(count: int, step: Step) -> int:
    tracemalloc.start()
    for i in range(count):
        await step(i)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _intake(app: App) -> Step:
    async def step(i: int) -> None:
        who = Participant("bench", f"customer-{i}")
        inputs: list[Input] = [
            CommandGiven("new"),
            ChoicePicked("bug"),
            TextSent(f"Checkout problem number {i}"),
            TextSent("The checkout page shows error 500 after clicking the Pay button."),
            CommandGiven("skip"),
            ChoicePicked("done"),
            TextSent("SN-1"),
            CommandGiven("skip"),
            ChoicePicked("confirm"),
        ]
        for event in inputs:
            await app.desk.handle(who, event, name="bench")

    return step


def _insert(app: App) -> Step:
    async def step(i: int) -> None:
        now = datetime.now(UTC)
        ticket = Ticket(
            customer=Participant("bench", f"raw-{i}"),
            customer_name="bench",
            department="technical",
            category="bug",
            request_type=app.policy.category("bug").request_type,
            title=f"Checkout problem number {i}",
            description="The checkout page shows error 500 after clicking the Pay button.",
            origin=Origin("bench"),
            created_at=now,
        )
        ticket.record_filed(now, "bench")
        async with app.uow() as uow:
            await uow.customers.put(Customer(ticket.customer, "bench"))
            await uow.tickets.add(ticket)
            await uow.commit()

    return step


def _outbox_rows(app: App, channel: str) -> Step:
    async def step(i: int) -> None:
        async with app.uow() as uow:
            await uow.outbox.add(
                Notification(
                    channel=channel,
                    audience=Audience.CUSTOMER,
                    recipient=f"r{i % 50}",
                    key="notice.status",
                    params={"number": i},
                    created_at=datetime.now(UTC),
                )
            )
            await uow.commit()

    return step


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--notifications", type=int, default=400)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app = await _app(Path(tmp))
        try:
            # Warm-up: first queries compile statements and fill caches on both sides.
            await _intake(app)(10_000)
            await _insert(app)(10_000)
            base = await _timed(args.tickets, _insert(app))
            desk = await _timed(args.tickets, _intake(app))
            print(
                f"intake: {desk / args.tickets * 1000:.1f} ms per filed ticket "
                f"(9 steps), baseline insert {base / args.tickets * 1000:.1f} ms; "
                f"ratio {desk / base:.1f}x"
            )

            notifier = NullNotifier()
            app.relay.register(notifier)
            # Earlier runs left real notifications for other channels: deliver them away.
            await app.relay.drain(max_rounds=100)
            write = await _timed(args.notifications, _outbox_rows(app, "bench"))
            start = time.perf_counter()
            await app.relay.drain(max_rounds=1000)
            relay = time.perf_counter() - start
            assert notifier.count == args.notifications, notifier.count
            print(
                f"relay: {relay / args.notifications * 1000:.2f} ms per notification, "
                f"baseline outbox write {write / args.notifications * 1000:.2f} ms; "
                f"ratio {relay / write:.2f}x"
            )

            base_peak = await _peak(args.tickets // 2, _insert(app))
            desk_peak = await _peak(args.tickets // 2, _intake(app))
            print(
                f"memory: peak {desk_peak / 1024:.0f} KiB while filing through the desk, "
                f"baseline {base_peak / 1024:.0f} KiB; ratio {desk_peak / base_peak:.1f}x"
            )
        finally:
            await app.close()
    return 0
