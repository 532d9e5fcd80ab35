"""The outbox: queued in a unit of work, claimed, leased and settled by the relay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from store_support import T0, Backend, at

from bot.notification import Audience, DeliveryStatus, Notification
from bot.reply import Choice, Text
from store.outbox import SqlOutboxStore


def note(id: str, minute: float = 0, **changes: object) -> Notification:
    values: dict[str, object] = {
        "id": id,
        "channel": "telegram",
        "audience": Audience.CUSTOMER,
        "recipient": "telegram:1001",
        "key": "ticket.answered",
        "created_at": at(minute),
    }
    values.update(changes)
    return Notification(**values)  # type: ignore[arg-type]


async def queue(backend: Backend, *notifications: Notification) -> None:
    async with backend.uow() as uow:
        for notification in notifications:
            await uow.outbox.add(notification)
        await uow.commit()


async def test_notification_round_trips_with_params_and_choices(backend: Backend) -> None:
    sent = note(
        "n1",
        params={"number": 7, "title": "Cart", "status": Text("status.new", {"n": 1})},
        choices=(Choice("confirm:7", "choice.confirm", {"number": 7}), Choice("x", "k")),
        locale="cs",
        ticket_number=7,
        audience=Audience.TEAM,
    )
    await queue(backend, sent)

    [item] = await SqlOutboxStore(backend.sessions).items()

    assert item.notification == sent
    assert item.status is DeliveryStatus.PENDING
    assert item.attempts == 0 and item.next_attempt_at == sent.created_at


async def test_claim_takes_due_pending_rows_oldest_first_with_a_lease(backend: Backend) -> None:
    await queue(backend, note("late", 10), note("b", 2), note("a", 1), note("c", 3))
    store = SqlOutboxStore(backend.sessions)

    claimed = await store.claim_due(at(5), limit=2, lease_seconds=30)
    again = await store.claim_due(at(5), limit=10, lease_seconds=30)

    assert [i.notification.id for i in claimed] == ["a", "b"]
    assert all(i.status is DeliveryStatus.SENDING for i in claimed)
    assert [i.notification.id for i in again] == ["c"]  # "late" is not due yet
    sending = await store.items([DeliveryStatus.SENDING])
    assert {i.notification.id for i in sending} == {"a", "b", "c"}


async def test_delivered_rows_are_never_claimed_again(backend: Backend) -> None:
    await queue(backend, note("n1"))
    store = SqlOutboxStore(backend.sessions)
    [item] = await store.claim_due(at(1), 10, 30)

    await store.mark_delivered(item.notification.id, at(1))

    assert await store.claim_due(at(100), 10, 30) == []
    [done] = await store.items()
    assert done.status is DeliveryStatus.DELIVERED


async def test_reschedule_counts_the_attempt_and_waits_until_due(backend: Backend) -> None:
    await queue(backend, note("n1"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 10, 30)

    await store.reschedule("n1", at(10), "429 Too Many Requests")

    assert await store.claim_due(at(9), 10, 30) == []
    [retried] = await store.claim_due(at(10), 10, 30)
    assert retried.attempts == 1
    assert retried.last_error == "429 Too Many Requests"
    assert retried.next_attempt_at == at(10)


async def test_failed_and_unreachable_rows_stop_there(backend: Backend) -> None:
    await queue(backend, note("gone"), note("broken"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 10, 30)

    await store.mark_failed("gone", "bot was blocked by the user", unreachable=True)
    await store.mark_failed("broken", "400 Bad Request", unreachable=False)

    states = {i.notification.id: i for i in await store.items()}
    assert states["gone"].status is DeliveryStatus.UNREACHABLE
    assert states["broken"].status is DeliveryStatus.FAILED
    assert states["broken"].last_error == "400 Bad Request"
    assert await store.claim_due(at(100), 10, 30) == []


async def test_expired_lease_becomes_uncertain_and_is_never_resent(backend: Backend) -> None:
    """A relay that died between send and mark must not cause a duplicate message."""
    await queue(backend, note("n1"), note("n2"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 1, lease_seconds=60)  # n1, lease until at(1)

    assert await store.expire_leases(at(1)) == 0  # the lease has not run out yet
    assert await store.expire_leases(at(1) + timedelta(microseconds=1)) == 1

    [uncertain] = await store.items([DeliveryStatus.UNCERTAIN])
    assert uncertain.notification.id == "n1"
    later = await store.claim_due(at(100), 10, 60)
    assert [i.notification.id for i in later] == ["n2"]  # pending rows are untouched
    assert await store.expire_leases(at(100)) == 0


async def test_items_filters_and_limits(backend: Backend) -> None:
    await queue(backend, *(note(f"n{i}", i) for i in range(5)))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(1), 2, 30)

    assert [i.notification.id for i in await store.items(limit=3)] == ["n0", "n1", "n2"]
    pending = await store.items(["pending"])
    assert [i.notification.id for i in pending] == ["n2", "n3", "n4"]
    assert await store.items([DeliveryStatus.DELIVERED]) == []


async def test_concurrent_claimers_never_get_the_same_row(backend: Backend) -> None:
    await queue(backend, *(note(f"n{i:02}", i / 100) for i in range(40)))
    store = SqlOutboxStore(backend.sessions)

    async def relay() -> list[str]:
        got: list[str] = []
        while batch := await store.claim_due(at(5), limit=3, lease_seconds=30):
            got.extend(i.notification.id for i in batch)
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(relay() for _ in range(4)))

    claimed = [id for result in results for id in result]
    assert len(claimed) == len(set(claimed)) == 40


async def test_same_notification_twice_is_refused(backend: Backend) -> None:
    await queue(backend, note("n1"))
    try:
        await queue(backend, note("n1"))
    except Exception as exc:  # the idempotency key is the primary key
        assert "n1" in str(exc) or "outbox" in str(exc).lower()
    else:
        raise AssertionError("a second row with the same id was accepted")
    assert len(await SqlOutboxStore(backend.sessions).items()) == 1


async def test_created_at_is_the_first_due_time(backend: Backend) -> None:
    await queue(backend, note("n1", created_at=T0 + timedelta(hours=1)))

    store = SqlOutboxStore(backend.sessions)
    assert await store.claim_due(T0, 10, 30) == []
    assert len(await store.claim_due(T0 + timedelta(hours=1), 10, 30)) == 1


async def test_claim_never_returns_more_than_limit(backend: Backend) -> None:
    """Regression: on PostgreSQL ``IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` was
    rescanned per row and claimed more than ``limit`` rows."""
    await queue(backend, *(note(f"n{i:02}", i / 10) for i in range(30)))
    store = SqlOutboxStore(backend.sessions)

    sizes = [len(await store.claim_due(at(10), limit=7, lease_seconds=30)) for _ in range(5)]

    assert sizes == [7, 7, 7, 7, 2]
