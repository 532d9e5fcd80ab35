"""The outbox relay on the real outbox store: delivery once, retries, unreachable
recipients, and no duplicate (but a report) after a crash between sending and marking.
Several relays and crashes mid-round: ``test_relay_fleet.py``."""

from __future__ import annotations

from store_support import T0, Backend

from bot.clock import ManualClock
from bot.notification import Audience, DeliveryStatus, Notification
from bot.ports import DeliveryError, RecipientUnreachable
from bot.relay import Relay, backoff_seconds
from store.outbox import SqlOutboxStore


class Recorder:
    """A channel's notifier that records what it sends and fails on request."""

    channel = "chat"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failures: list[Exception] = []

    async def deliver(self, notification: Notification) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification.key)


def note(key: str, recipient: str = "100", channel: str = "chat") -> Notification:
    return Notification(
        channel=channel,
        audience=Audience.CUSTOMER,
        recipient=recipient,
        key=key,
        created_at=T0,
    )


async def queue(backend: Backend, *notifications: Notification) -> None:
    async with backend.uow() as uow:
        for n in notifications:
            await uow.outbox.add(n)
        await uow.commit()


async def statuses(store: SqlOutboxStore) -> dict[str, DeliveryStatus]:
    return {item.notification.key: item.status for item in await store.items()}


async def test_delivers_each_notification_once_in_order(backend: Backend) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    relay = Relay(store, {"chat": notifier}, clock)
    await queue(backend, note("first"), note("second"), note("third", recipient="200"))
    assert await relay.drain() == 3
    assert await relay.drain() == 0
    assert notifier.sent.index("first") < notifier.sent.index("second")
    assert sorted(notifier.sent) == ["first", "second", "third"]
    assert set((await statuses(store)).values()) == {DeliveryStatus.DELIVERED}


async def test_a_429_is_retried_after_retry_after(backend: Backend) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    relay = Relay(store, {"chat": notifier}, clock)
    notifier.failures.append(DeliveryError("Too Many Requests", retry_after=7))
    await queue(backend, note("answer"))
    assert await relay.run_once() == 0
    clock.advance(seconds=6)
    assert await relay.run_once() == 0  # not due yet
    clock.advance(seconds=1)
    assert await relay.run_once() == 1
    assert notifier.sent == ["answer"]


async def test_network_errors_back_off_then_give_up(backend: Backend) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    relay = Relay(store, {"chat": notifier}, clock, max_attempts=3)
    notifier.failures.extend([DeliveryError("down"), OSError("reset"), DeliveryError("down")])
    await queue(backend, note("answer"))
    for attempt in (1, 2):
        await relay.run_once()
        clock.advance(seconds=backoff_seconds(attempt, jitter=lambda: 1.0))
    await relay.run_once()
    assert notifier.sent == []
    [item] = await store.items()
    assert item.status is DeliveryStatus.FAILED and item.attempts == 3


async def test_a_failed_message_holds_back_later_ones_to_the_same_recipient(
    backend: Backend,
) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    relay = Relay(store, {"chat": notifier}, clock)
    notifier.failures.append(DeliveryError("Too Many Requests", retry_after=5))
    await queue(backend, note("first"), note("second"), note("other", recipient="200"))
    await relay.drain()
    assert notifier.sent == ["other"]
    clock.advance(seconds=5)
    await relay.drain()
    assert notifier.sent == ["other", "first", "second"]
    attempts = {item.notification.key: item.attempts for item in await store.items()}
    assert attempts == {"first": 1, "second": 0, "other": 0}


async def test_an_unreachable_recipient_is_not_retried_forever(backend: Backend) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    told: list[str] = []

    async def unreachable(n: Notification) -> None:
        told.append(n.recipient)

    relay = Relay(store, {"chat": notifier}, clock, on_unreachable=unreachable)
    notifier.failures.append(RecipientUnreachable("bot was blocked by the user"))
    await queue(backend, note("answer"))
    await relay.drain()
    clock.advance(days=1)
    await relay.drain()
    assert notifier.sent == [] and told == ["100"]
    assert (await statuses(store))["answer"] is DeliveryStatus.UNREACHABLE


async def test_a_crash_between_send_and_mark_sends_nothing_twice(backend: Backend) -> None:
    clock, notifier = ManualClock(T0), Recorder()
    store = SqlOutboxStore(backend.sessions)
    await queue(backend, note("answer"))
    # A relay claimed the row and died before marking it: the lease is left behind.
    claimed = await store.claim_due(clock.now(), 10, lease_seconds=60)
    assert len(claimed) == 1
    told: list[str] = []

    async def uncertain(n: Notification) -> None:
        told.append(n.key)

    relay = Relay(store, {"chat": notifier}, clock, lease_seconds=60, on_uncertain=uncertain)
    assert await relay.drain() == 0  # still leased: nobody sends it
    assert told == []
    clock.advance(seconds=61)
    assert await relay.drain() == 0  # lease ran out: uncertain, never re-sent
    clock.advance(days=1)
    assert await relay.drain() == 0
    assert notifier.sent == []
    assert told == ["answer"]  # reported once, so the gap is not silent
    assert (await statuses(store))["answer"] is DeliveryStatus.UNCERTAIN


async def test_a_channel_that_is_not_running_fails_its_rows(backend: Backend) -> None:
    clock = ManualClock(T0)
    store = SqlOutboxStore(backend.sessions)
    relay = Relay(store, {}, clock)
    await queue(backend, note("answer", channel="discord"))
    await relay.drain()
    [item] = await store.items()
    assert item.status is DeliveryStatus.FAILED and "not running" in item.last_error
