"""Several relays and crashes on the real outbox store (issue 7): each recipient's
messages in order and once across relays, a retry holding back the later messages
across relays, a relay stopped mid-round leaving in doubt only what it was sending,
and at most one commit per delivered notification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from store_support import T0, Backend

from bot.clock import ManualClock
from bot.notification import Audience, DeliveryStatus, Notification
from bot.ports import DeliveryError
from bot.relay import Relay
from store.db import create_engine, session_factory
from store.outbox import SqlOutboxStore

LEASE = 60.0
# A bound on waiting loops, in seconds, so that a regression fails instead of hanging
# the run; generous, because a loaded CI machine's PostgreSQL answers slowly.
PATIENCE = 15.0


def note(key: str, recipient: str) -> Notification:
    return Notification(
        channel="chat", audience=Audience.CUSTOMER, recipient=recipient, key=key, created_at=T0
    )


async def queue(backend: Backend, *notifications: Notification) -> None:
    """One unit of work: the rows keep the order given (same time, rising position)."""
    async with backend.uow() as uow:
        for n in notifications:
            await uow.outbox.add(n)
        await uow.commit()


def messages(recipients: int, each: int) -> list[Notification]:
    """``each`` messages to every recipient, interleaved as a busy desk writes them."""
    return [note(f"r{r}-m{m}", f"r{r}") for m in range(each) for r in range(recipients)]


@asynccontextmanager
async def second_store(backend: Backend) -> AsyncIterator[SqlOutboxStore]:
    """The outbox for a second relay: on PostgreSQL through an engine of its own, as
    another relay process has; on SQLite through the same engine, because there one
    process is meant to hold the file (a second engine in the same event loop would
    wait on a lock the loop cannot release)."""
    if backend.name == "sqlite":
        yield SqlOutboxStore(backend.sessions)
        return
    engine = create_engine(backend.engine.url.render_as_string(hide_password=False))
    try:
        yield SqlOutboxStore(session_factory(engine))
    finally:
        await engine.dispose()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition``, giving the other tasks (and the database) their turns: a
    bound in time, not in turns, since a turn may be a round trip to PostgreSQL."""
    deadline = asyncio.get_running_loop().time() + PATIENCE
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the condition never came true")
        await asyncio.sleep(0.001)


class Channel:
    """The chat platform the relays send to: records what arrived, per recipient, and
    whether two messages of one recipient were ever on their way at once."""

    channel = "chat"

    def __init__(self) -> None:
        self.arrived: dict[str, list[str]] = {}
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        # Raised by the next sends of a message; CancelledError as a relay being stopped.
        self.failures: dict[str, list[BaseException]] = {}

    def notifier(self, **behaviour: Any) -> Notifier:
        return Notifier(self, **behaviour)


class Notifier:
    """One relay's notifier for ``Channel``. ``hold``: every send waits for it;
    ``hang``: sends to this recipient never finish (until cancelled); ``after``: called
    with each message that arrived."""

    channel = "chat"

    def __init__(
        self,
        platform: Channel,
        hold: asyncio.Event | None = None,
        hang: str | None = None,
        after: Callable[[str], None] | None = None,
    ) -> None:
        self.platform = platform
        self.hold = hold
        self.hang = hang
        self.after = after
        self.sent: list[str] = []

    async def deliver(self, n: Notification) -> None:
        platform = self.platform
        if n.recipient in platform.in_flight:
            platform.overlaps.append(n.key)
        platform.in_flight.add(n.recipient)
        try:
            if self.hold is not None:
                await asyncio.wait_for(self.hold.wait(), timeout=30)
            if n.recipient == self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(0)  # let the other relay in between
            failures = platform.failures.get(n.key)
            if failures:
                raise failures.pop(0)
            platform.arrived.setdefault(n.recipient, []).append(n.key)
            self.sent.append(n.key)
        finally:
            platform.in_flight.discard(n.recipient)
        if self.after is not None:
            self.after(n.key)


async def test_two_relays_deliver_each_recipients_messages_in_order_exactly_once(
    backend: Backend,
) -> None:
    await queue(backend, *messages(recipients=6, each=5))
    clock, platform = ManualClock(T0), Channel()
    a = Relay(SqlOutboxStore(backend.sessions), {"chat": platform.notifier()}, clock, batch_size=3)
    async with second_store(backend) as other:
        b = Relay(other, {"chat": platform.notifier()}, clock, batch_size=3)

        await asyncio.gather(a.drain(max_rounds=100), b.drain(max_rounds=100))
        # A relay stops when a pass finds nothing, which may be while the other holds
        # the heads: what is left goes now.
        await asyncio.gather(a.drain(max_rounds=100), b.drain(max_rounds=100))

    expected = {f"r{r}": [f"r{r}-m{m}" for m in range(5)] for r in range(6)}
    assert platform.arrived == expected  # in order, each exactly once
    assert platform.overlaps == []  # never two messages of one recipient on their way
    statuses = {i.status for i in await SqlOutboxStore(backend.sessions).items()}
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_while_one_relay_is_sending_the_other_takes_the_other_recipients(
    backend: Backend,
) -> None:
    await queue(backend, *messages(recipients=4, each=3))
    clock, platform = ManualClock(T0), Channel()
    b_done = asyncio.Event()
    a_notifier = platform.notifier(hold=b_done)
    a = Relay(SqlOutboxStore(backend.sessions), {"chat": a_notifier}, clock, batch_size=2)
    async with second_store(backend) as other:
        b_notifier = platform.notifier()
        b = Relay(other, {"chat": b_notifier}, clock, batch_size=2)
        first = asyncio.create_task(a.run_once())
        await until(lambda: platform.in_flight == {"r0", "r1"})  # A sends, and waits

        assert await b.run_once() == 6  # r2's and r3's, head after head
        b_done.set()
        assert await first == 6

    assert b_notifier.sent == ["r2-m0", "r3-m0", "r2-m1", "r3-m1", "r2-m2", "r3-m2"]
    assert a_notifier.sent == ["r0-m0", "r1-m0", "r0-m1", "r1-m1", "r0-m2", "r1-m2"]


async def test_a_slow_recipient_holds_back_only_its_own_messages(backend: Backend) -> None:
    await queue(backend, *messages(recipients=2, each=4))
    clock, platform = ManualClock(T0), Channel()
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": platform.notifier(hang="r0")}, clock)

    passing = asyncio.create_task(relay.run_once())
    try:
        # r0's first send never ends (a team chat waiting for Telegram's pacing) ...
        await until(lambda: len(platform.arrived.get("r1", [])) == 4)
    finally:
        passing.cancel()
        await asyncio.gather(passing, return_exceptions=True)

    # ... while r1's messages went out one after the other.
    assert platform.arrived == {"r1": ["r1-m0", "r1-m1", "r1-m2", "r1-m3"]}
    statuses = {i.notification.key: i.status for i in await relay.outbox.items()}
    assert statuses.pop("r0-m0") is DeliveryStatus.SENDING  # in doubt once its lease ends
    assert {statuses.pop(f"r1-m{m}") for m in range(4)} == {DeliveryStatus.DELIVERED}
    assert set(statuses.values()) == {DeliveryStatus.PENDING}


async def test_a_429_on_first_holds_second_back_across_both_relays(backend: Backend) -> None:
    """Regression: with two relays, ``second`` went out while ``first`` waited for its
    retry after a 429, and a customer got ``second`` before ``first``."""
    await queue(backend, note("first", "100"), note("second", "100"), note("other", "200"))
    clock, platform = ManualClock(T0), Channel()
    platform.failures["first"] = [DeliveryError("Too Many Requests", retry_after=30)]
    a = Relay(SqlOutboxStore(backend.sessions), {"chat": platform.notifier()}, clock)
    async with second_store(backend) as other:
        b = Relay(other, {"chat": platform.notifier()}, clock)

        await asyncio.gather(a.drain(), b.drain())
        assert platform.arrived == {"200": ["other"]}  # "second" waits for "first"
        clock.advance(seconds=29)
        await asyncio.gather(a.drain(), b.drain())
        assert "100" not in platform.arrived  # not yet: "first" is due in a second
        clock.advance(seconds=1)
        await asyncio.gather(b.drain(), a.drain())

    assert platform.arrived == {"200": ["other"], "100": ["first", "second"]}
    items = await SqlOutboxStore(backend.sessions).items()
    assert {i.notification.key: i.attempts for i in items} == {
        "first": 1,
        "second": 0,
        "other": 0,
    }


class Reports:
    """The relay's ``on_uncertain`` hook: what it was told might not have arrived."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def __call__(self, n: Notification) -> None:
        self.keys.append(n.key)


async def test_a_relay_stopped_mid_round_leaves_in_doubt_only_the_send_in_flight(
    backend: Backend,
) -> None:
    """Regression: after a kill every row of the claimed batch became uncertain (14 of
    30 agent messages dropped), not only the one being sent."""
    await queue(backend, *messages(recipients=3, each=10))
    clock, platform = ManualClock(T0), Channel()
    store = SqlOutboxStore(backend.sessions)
    killed: list[asyncio.Task[int]] = []

    def stop_the_relay(key: str) -> None:
        # The relay is stopped the moment r2's first message arrived: r0's went out in
        # the same step, neither is marked yet, and r1's is still on its way.
        if key == "r2-m0":
            killed[0].cancel()

    first = platform.notifier(hang="r1", after=stop_the_relay)
    killed.append(asyncio.create_task(Relay(store, {"chat": first}, clock).run_once()))
    await asyncio.gather(killed[0], return_exceptions=True)
    assert killed[0].cancelled()
    assert first.sent == ["r0-m0", "r2-m0"]

    reports = Reports()
    restarted = Relay(store, {"chat": platform.notifier()}, clock, on_uncertain=reports)
    await restarted.drain(max_rounds=100)
    # What arrived before the stop was recorded: it is neither in doubt nor sent again.
    # r1's first message is still leased: the later ones wait, nothing is guessed.
    assert platform.arrived["r0"] == [f"r0-m{m}" for m in range(10)]
    assert platform.arrived["r2"] == [f"r2-m{m}" for m in range(10)]
    assert "r1" not in platform.arrived and reports.keys == []

    clock.advance(seconds=121)  # the default lease has run out
    await restarted.drain(max_rounds=100)

    assert reports.keys == ["r1-m0"]  # reported, never re-sent
    assert platform.arrived["r1"] == [f"r1-m{m}" for m in range(1, 10)]
    statuses = {i.notification.key: i.status for i in await store.items()}
    assert [k for k, s in statuses.items() if s is not DeliveryStatus.DELIVERED] == ["r1-m0"]
    assert statuses["r1-m0"] is DeliveryStatus.UNCERTAIN


async def test_a_send_cut_short_by_cancellation_is_in_doubt_and_the_rest_go_out(
    backend: Backend,
) -> None:
    await queue(backend, *messages(recipients=2, each=3))
    clock, platform = ManualClock(T0), Channel()
    platform.failures["r0-m0"] = [asyncio.CancelledError()]
    reports = Reports()
    relay = Relay(
        SqlOutboxStore(backend.sessions),
        {"chat": platform.notifier()},
        clock,
        lease_seconds=LEASE,
        on_uncertain=reports,
    )

    assert await relay.drain() == 3  # r1's three; r0's wait behind the one in doubt
    clock.advance(seconds=LEASE + 1)
    assert await relay.drain() == 2

    assert reports.keys == ["r0-m0"]
    assert platform.arrived == {"r1": ["r1-m0", "r1-m1", "r1-m2"], "r0": ["r0-m1", "r0-m2"]}


async def test_a_failing_report_is_made_again_and_the_row_is_not_released_before(
    backend: Backend,
) -> None:
    await queue(backend, note("lost", "100"), note("next", "100"))
    clock, platform = ManualClock(T0), Channel()
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(clock.now(), 10, LEASE)  # a relay took "lost" and died
    told: list[str] = []

    async def flaky(n: Notification) -> None:
        if not told:
            told.append("failed")
            raise OSError("database went away")
        told.append(n.key)

    relay = Relay(
        store, {"chat": platform.notifier()}, clock, lease_seconds=LEASE, on_uncertain=flaky
    )
    clock.advance(seconds=LEASE + 1)
    await relay.drain()
    assert told == ["failed"] and platform.arrived == {}  # "next" still waits
    clock.advance(seconds=LEASE + 1)  # the reporter's own lease ran out
    await relay.drain()

    assert told == ["failed", "lost"]
    assert platform.arrived == {"100": ["next"]}


@asynccontextmanager
async def commits(backend: Backend) -> AsyncIterator[list[int]]:
    count = [0]

    def on_commit(_connection: Any) -> None:
        count[0] += 1

    event.listen(backend.engine.sync_engine, "commit", on_commit)
    try:
        yield count
    finally:
        event.remove(backend.engine.sync_engine, "commit", on_commit)


async def test_at_most_one_commit_per_delivered_notification(backend: Backend) -> None:
    await queue(backend, *messages(recipients=5, each=4))
    clock, platform = ManualClock(T0), Channel()
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": platform.notifier()}, clock)

    async with commits(backend) as count:
        delivered = await relay.drain()
        idle = count[0]
        await relay.drain()  # nothing due: polls commit nothing

    assert delivered == 20
    # A round's claim carries the previous round's marks: 4 rounds, then the last marks.
    assert idle == 5
    assert count[0] == idle
    assert idle <= delivered


async def test_a_lone_message_costs_a_claim_and_a_mark(backend: Backend) -> None:
    await queue(backend, note("only", "100"))
    clock, platform = ManualClock(T0), Channel()
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": platform.notifier()}, clock)

    async with commits(backend) as count:
        assert await relay.drain() == 1

    # The claim must be committed before the send (or a crash would re-send it) and the
    # mark after it: the floor for a message that shares its round with nobody.
    assert count[0] == 2
