"""Runs of a team chat's notifications on the real outbox store (issue 8): a claimed
team-chat head brings the chat's next rows along for a ``RunNotifier`` to join; a
failed run gives the untried rows back as they were; two relays never split a run;
customers' messages still go one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from store_support import T0, Backend
from test_relay_fleet import commits, second_store

from bot.clock import ManualClock, SystemClock
from bot.notification import Audience, DeliveryStatus, Notification
from bot.ports import DeliveryError, RunProgress
from bot.relay import Relay
from store.outbox import SqlOutboxStore

LEASE = 60.0


def note(key: str, recipient: str, audience: Audience = Audience.TEAM) -> Notification:
    return Notification(
        channel="chat", audience=audience, recipient=recipient, key=key, created_at=T0
    )


async def queue(backend: Backend, *notifications: Notification) -> None:
    async with backend.uow() as uow:
        for n in notifications:
            await uow.outbox.add(n)
        await uow.commit()


class Joining:
    """A notifier that joins runs: records each call as the keys it carried (a whole
    run in one call, told to the relay's progress before it goes)."""

    channel = "chat"

    def __init__(self, fail: dict[str, list[BaseException]] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail or {}

    async def deliver(self, n: Notification) -> None:
        await self.deliver_run([n])

    def leading(self, notifications: Sequence[Notification]) -> str:
        return notifications[0].id  # sent in the order given

    async def deliver_run(
        self, notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        if progress is not None:
            await progress.sending([n.id for n in notifications])
        await asyncio.sleep(0)
        keys = [n.key for n in notifications]
        for key in keys:
            if self.fail.get(key):
                raise self.fail[key].pop(0)
        self.calls.append(keys)


class OneByOne:
    """A notifier that cannot join: the relay hands it a run's rows one at a time."""

    channel = "chat"

    def __init__(self, fail_once: str) -> None:
        self.sent: list[str] = []
        self.fail_once: str | None = fail_once

    async def deliver(self, n: Notification) -> None:
        if n.key == self.fail_once:
            self.fail_once = None
            raise DeliveryError("try later", retry_after=30)
        self.sent.append(n.key)


async def test_a_team_chats_head_brings_its_next_rows_and_a_customers_does_not(
    backend: Backend,
) -> None:
    await queue(
        backend,
        *[note(f"g-{i}", "-100") for i in range(5)],
        *[note(f"c-{i}", "501", Audience.CUSTOMER) for i in range(3)],
    )
    store = SqlOutboxStore(backend.sessions)
    claimed = await store.claim_due(T0, 10, LEASE, run=3)
    assert [i.notification.key for i in claimed] == ["g-0", "g-1", "g-2", "c-0"]
    assert {i.status for i in claimed} == {DeliveryStatus.SENDING}
    # Nothing more of either chat while they are on their way.
    assert await store.claim_due(T0, 10, LEASE, run=3) == []

    await store.release([i.notification.id for i in claimed if i.notification.key != "g-0"])
    await store.mark_delivered(claimed[0].notification.id, T0)
    again = await store.claim_due(T0, 10, LEASE, run=10)
    assert [i.notification.key for i in again] == ["g-1", "g-2", "g-3", "g-4", "c-0"]
    assert {i.attempts for i in again} == {0}  # given back, not tried


async def test_a_run_is_delivered_in_one_call_and_marked_together(backend: Backend) -> None:
    await queue(backend, *[note(f"m{i}", "-100") for i in range(4)], note("x", "-200"))
    notifier = Joining()
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, ManualClock(T0))
    assert await relay.drain() == 5
    assert sorted(notifier.calls) == [["m0", "m1", "m2", "m3"], ["x"]]
    assert {i.status for i in await relay.outbox.items()} == {DeliveryStatus.DELIVERED}


async def test_after_a_failed_run_its_head_goes_alone_then_the_rest_together(
    backend: Backend,
) -> None:
    """A run's failure is charged to its head; the head is then tried on its own, so
    that a notification that always fails is found out by itself."""
    await queue(backend, *[note(f"m{i}", "-100") for i in range(3)])
    clock = ManualClock(T0)
    notifier = Joining({"m1": [DeliveryError("Too Many Requests", retry_after=30)]})
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, clock)
    assert await relay.run_once() == 0
    items = {i.notification.key: i for i in await relay.outbox.items()}
    assert items["m0"].attempts == 1 and items["m0"].next_attempt_at > T0
    assert (items["m1"].attempts, items["m2"].attempts) == (0, 0)
    assert await relay.run_once() == 0  # the head's retry holds the rest back too

    clock.advance(seconds=31)
    assert await relay.run_once() == 3
    assert notifier.calls == [["m0"], ["m1", "m2"]]


async def test_a_notification_that_always_fails_does_not_fail_the_good_ones_before_it(
    backend: Backend,
) -> None:
    await queue(backend, *[note(f"m{i}", "-100") for i in range(3)], note("bad", "-100"))
    clock = ManualClock(T0)
    notifier = Joining({"bad": [DeliveryError("message to edit not found")] * 100})
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, clock, max_attempts=4)
    for _ in range(12):
        await relay.run_once()
        clock.advance(seconds=60)
    statuses = {i.notification.key: i.status for i in await relay.outbox.items()}
    assert statuses == {
        "m0": DeliveryStatus.DELIVERED,
        "m1": DeliveryStatus.DELIVERED,
        "m2": DeliveryStatus.DELIVERED,
        "bad": DeliveryStatus.FAILED,
    }


async def test_a_notifier_that_cannot_join_gets_a_run_one_by_one(backend: Backend) -> None:
    await queue(backend, *[note(f"m{i}", "-100") for i in range(4)])
    notifier, clock = OneByOne(fail_once="m2"), ManualClock(T0)
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, clock)
    assert await relay.run_once() == 2  # m0 and m1 went out; m2 failed; m3 untried
    statuses = {i.notification.key: i.status for i in await relay.outbox.items()}
    assert statuses == {
        "m0": DeliveryStatus.DELIVERED,
        "m1": DeliveryStatus.DELIVERED,
        "m2": DeliveryStatus.PENDING,
        "m3": DeliveryStatus.PENDING,
    }
    clock.advance(seconds=31)
    assert await relay.run_once() == 2
    assert notifier.sent == ["m0", "m1", "m2", "m3"]


async def test_two_relays_never_split_a_team_chats_run(backend: Backend) -> None:
    chats = [f"-10{c}" for c in range(4)]
    await queue(backend, *[note(f"{chat}:{m}", chat) for m in range(6) for chat in chats])
    a_notifier, b_notifier = Joining(), Joining()
    clock = ManualClock(T0)
    a = Relay(SqlOutboxStore(backend.sessions), {"chat": a_notifier}, clock, run_size=4)
    async with second_store(backend) as other:
        b = Relay(other, {"chat": b_notifier}, clock, run_size=4)
        for _ in range(4):
            await asyncio.gather(a.drain(), b.drain())

    calls = a_notifier.calls + b_notifier.calls
    arrived: dict[str, list[str]] = {}
    for call in calls:
        assert len({key.partition(":")[0] for key in call}) == 1  # one chat a run
        for key in call:
            arrived.setdefault(key.partition(":")[0], []).append(key)
    assert arrived == {chat: [f"{chat}:{m}" for m in range(6)] for chat in chats}
    assert {i.status for i in await a.outbox.items()} == {DeliveryStatus.DELIVERED}


async def test_a_run_still_being_sent_keeps_its_lease_and_is_never_reported_in_doubt(
    backend: Backend,
) -> None:
    """A run into a paced team chat may take longer than a lease: the relay sending it
    renews the lease, so another relay does not report it as lost meanwhile."""
    await queue(backend, *[note(f"m{i}", "-100") for i in range(3)])
    # The lease leaves room for a stall of a second between renewals on a busy machine.
    clock, lease = SystemClock(), 2.0
    slow = Joining()
    release = asyncio.Event()
    deliver = slow.deliver_run

    async def paced(
        notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        await release.wait()  # waiting for the group's minute, say
        await deliver(notifications, progress)

    slow.deliver_run = paced  # type: ignore[method-assign]
    reported: list[str] = []

    async def on_uncertain(n: Notification) -> None:
        reported.append(n.key)

    a = Relay(SqlOutboxStore(backend.sessions), {"chat": slow}, clock, lease_seconds=lease)
    async with second_store(backend) as other:
        b = Relay(
            other, {"chat": Joining()}, clock, lease_seconds=lease, on_uncertain=on_uncertain
        )
        sending = asyncio.create_task(a.run_once())
        for _ in range(6):  # 6 s: three leases
            await asyncio.sleep(lease / 2)
            assert await b.run_once() == 0
        release.set()
        assert await sending == 3
    assert reported == []
    assert slow.calls == [["m0", "m1", "m2"]]


def of_ticket(key: str, number: int) -> Notification:
    return Notification(
        channel="chat",
        audience=Audience.TEAM,
        recipient="-100",
        key=key,
        created_at=T0,
        ticket_number=number,
    )


async def test_a_run_brings_the_later_messages_of_its_tickets_past_other_tickets(
    backend: Backend,
) -> None:
    # Four customers write three times each, turn by turn: #1 #2 #3 #4 #1 #2 ...
    await queue(backend, *[of_ticket(f"t{t}-m{m}", t) for m in range(3) for t in range(1, 5)])
    store = SqlOutboxStore(backend.sessions)
    claimed = [i.notification.key for i in await store.claim_due(T0, 10, LEASE, run=2)]
    # The head and its next row (#1, #2), then the later rows of #1 and #2, in order.
    assert claimed == ["t1-m0", "t2-m0", "t1-m1", "t2-m1", "t1-m2", "t2-m2"]
    assert await store.claim_due(T0, 10, LEASE, run=2) == []  # the chat is held


async def test_each_tickets_messages_arrive_joined_and_in_order_from_an_interleaved_backlog(
    backend: Backend,
) -> None:
    await queue(backend, *[of_ticket(f"t{t}-m{m}", t) for m in range(3) for t in range(1, 7)])
    notifier = Joining()
    relay = Relay(
        SqlOutboxStore(backend.sessions), {"chat": notifier}, ManualClock(T0), run_size=3
    )
    assert await relay.drain() == 18
    # Two runs of three tickets each, every ticket's three messages in one run.
    assert [len(call) for call in notifier.calls] == [9, 9]
    for call in notifier.calls:
        for t in {key.split("-")[0] for key in call}:
            assert [k for k in call if k.startswith(f"{t}-")] == [f"{t}-m{m}" for m in range(3)]


async def test_a_runs_lease_is_renewed_while_other_sends_keep_finishing(
    backend: Backend,
) -> None:
    """Regression: the lease was renewed only when no send had finished for a third of
    a lease, so a busy relay (customers' messages finishing all the time) let its own
    team run be reported as in doubt, and the chat's next run start beside it."""
    lease = 0.6
    await queue(
        backend,
        *[note(f"g{i}", "-100") for i in range(3)],
        *[note(f"c{i}", str(500 + i), Audience.CUSTOMER) for i in range(40)],
    )
    clock = SystemClock()
    release = asyncio.Event()
    notifier = Joining()
    deliver_run = notifier.deliver_run

    async def steady(
        notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        if notifications[0].audience is Audience.TEAM:
            await release.wait()  # the team chat's minute is used up
        else:
            await asyncio.sleep(0.05)  # a customer's message, one after the other
        await deliver_run(notifications, progress)

    notifier.deliver_run = steady  # type: ignore[method-assign]
    reported: list[str] = []

    async def on_uncertain(n: Notification) -> None:
        reported.append(n.key)

    relay = Relay(
        SqlOutboxStore(backend.sessions),
        {"chat": notifier},
        clock,
        batch_size=2,
        lease_seconds=lease,
        on_uncertain=on_uncertain,
    )
    sending = asyncio.create_task(relay.run_once())
    await asyncio.sleep(4 * lease)  # customers' sends finish every 50 ms meanwhile
    release.set()
    assert await sending == 43
    assert reported == []
    assert [c for c in notifier.calls if c[0].startswith("g")] == [["g0", "g1", "g2"]]


class Calls:
    """A run notifier that sends ``per_call`` notifications a platform call, telling the
    relay's progress before each call and after it; the call carrying ``hold`` waits
    for ``release`` (a platform that has not answered yet), ``fail`` keys raise."""

    channel = "chat"

    def __init__(
        self, per_call: int = 2, hold: str | None = None, fail: dict[str, Exception] | None = None
    ) -> None:
        self.per_call = per_call
        self.hold = hold
        self.fail = fail or {}
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.calls: list[list[str]] = []

    async def deliver(self, n: Notification) -> None:
        await self._call([n])

    def leading(self, notifications: Sequence[Notification]) -> str:
        return notifications[0].id  # sent in the order given

    async def deliver_run(
        self, notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        for start in range(0, len(notifications), self.per_call):
            part = notifications[start : start + self.per_call]
            if progress is not None:
                await progress.sending([n.id for n in part])
            await self._call(part)
            for n in part:
                if progress is not None:
                    progress.delivered(n.id)

    async def _call(self, part: Sequence[Notification]) -> None:
        keys = [n.key for n in part]
        if self.hold in keys:
            self.holding.set()
            await self.release.wait()
        for key in keys:
            if key in self.fail:
                raise self.fail.pop(key)
        self.calls.append(keys)


def arrived(*notifiers: Calls) -> list[str]:
    return [key for n in notifiers for call in n.calls for key in call]


async def test_a_stalled_run_leaves_in_doubt_only_its_call_under_way_and_sends_nothing_twice(
    backend: Backend,
) -> None:
    """Regression (issue 7): a relay stopped in the middle of a run had all of it in
    doubt. Here a relay's third call hangs past its lease; another relay takes over:
    only that call's two rows are in doubt, the untried rest goes out in order, and
    the first relay, answered at last, sends nothing more."""
    await queue(backend, *[note(f"m{i}", "-100") for i in range(9)])
    clock = ManualClock(T0)
    stalled = Calls(hold="m4")
    a = Relay(SqlOutboxStore(backend.sessions), {"chat": stalled}, clock, lease_seconds=LEASE)
    sending = asyncio.create_task(a.run_once())
    await asyncio.wait_for(stalled.holding.wait(), 15)
    statuses = {i.notification.key: i.status for i in await a.outbox.items()}
    # The first two calls' rows were marked with the third call's start.
    assert [k for k, s in statuses.items() if s is DeliveryStatus.DELIVERED] == [
        "m0",
        "m1",
        "m2",
        "m3",
    ]

    reported: list[str] = []

    async def on_uncertain(n: Notification) -> None:
        reported.append(n.key)

    clock.advance(seconds=LEASE + 1)
    takeover = Calls()
    async with second_store(backend) as other:
        b = Relay(other, {"chat": takeover}, clock, lease_seconds=LEASE, on_uncertain=on_uncertain)
        assert await b.drain() == 3
    assert reported == ["m4", "m5"]
    assert takeover.calls == [["m6", "m7"], ["m8"]]

    stalled.release.set()  # the platform answers the first relay at last
    assert await asyncio.wait_for(sending, 15) == 6
    assert stalled.calls == [["m0", "m1"], ["m2", "m3"], ["m4", "m5"]]
    assert sorted(arrived(stalled, takeover)) == [f"m{i}" for i in range(9)]  # once each
    statuses = {i.notification.key: i.status for i in await a.outbox.items()}
    # In doubt, then delivered after all: the first relay's answer came.
    assert set(statuses.values()) == {DeliveryStatus.DELIVERED}


async def test_a_failure_in_the_middle_of_a_run_keeps_what_went_out(backend: Backend) -> None:
    await queue(backend, *[note(f"m{i}", "-100") for i in range(6)])
    clock = ManualClock(T0)
    notifier = Calls(fail={"m3": DeliveryError("Too Many Requests", retry_after=30)})
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, clock)
    assert await relay.run_once() == 2
    items = {i.notification.key: i for i in await relay.outbox.items()}
    assert [k for k, i in items.items() if i.status is DeliveryStatus.DELIVERED] == ["m0", "m1"]
    # Charged to the first row not delivered; the rest wait as they were.
    assert items["m2"].attempts == 1 and items["m2"].next_attempt_at > T0
    assert {items[k].attempts for k in ("m3", "m4", "m5")} == {0}
    assert {items[k].status for k in ("m2", "m3", "m4", "m5")} == {DeliveryStatus.PENDING}

    clock.advance(seconds=31)
    assert await relay.drain() == 4
    assert notifier.calls == [["m0", "m1"], ["m2"], ["m3", "m4"], ["m5"]]


async def test_a_run_costs_at_most_a_commit_per_call_besides_its_claim(backend: Backend) -> None:
    await queue(backend, *[note(f"m{i}", "-100") for i in range(20)])
    notifier = Calls(per_call=2)
    relay = Relay(SqlOutboxStore(backend.sessions), {"chat": notifier}, ManualClock(T0))
    async with commits(backend) as count:
        assert await relay.drain() == 20
    assert len(notifier.calls) == 10
    # The claim, a start of each call (with the marks of the one before), the last marks.
    assert count[0] == 1 + 10 + 1
