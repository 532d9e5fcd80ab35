"""The outbox: queued in a unit of work, claimed (the oldest unfinished row of each
recipient), leased and settled by the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select
from store_support import T0, Backend, at

from bot.notification import Audience, DeliveryStatus, Notification, OutboxItem
from bot.reply import Choice, Text
from store.models import OutboxRow
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


async def ids(store: SqlOutboxStore, *statuses: DeliveryStatus) -> list[str]:
    return [i.notification.id for i in await store.items(list(statuses) or None)]


def claimed(items: list[OutboxItem]) -> list[str]:
    return [i.notification.id for i in items]


async def status(store: SqlOutboxStore, id: str) -> DeliveryStatus:
    item = await store.get(id)
    assert item is not None
    return item.status


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


async def test_claim_takes_the_oldest_unfinished_row_of_each_recipient(backend: Backend) -> None:
    await queue(
        backend,
        note("late", 10, recipient="r3"),
        note("b", 2, recipient="r1"),
        note("a", 1, recipient="r1"),
        note("c", 3, recipient="r2"),
        note("d", 4, recipient="r4"),
    )
    store = SqlOutboxStore(backend.sessions)

    first = await store.claim_due(at(5), limit=2, lease_seconds=30)
    again = await store.claim_due(at(5), limit=10, lease_seconds=30)

    assert claimed(first) == ["a", "c"]  # oldest first, one per recipient
    assert all(i.status is DeliveryStatus.SENDING for i in first)
    # "b" waits behind "a", which is being sent; "late" is not due yet.
    assert claimed(again) == ["d"]
    assert await ids(store, DeliveryStatus.SENDING) == ["a", "c", "d"]


async def test_rows_one_unit_of_work_wrote_go_in_the_order_written(backend: Backend) -> None:
    # Same created_at: the position inside the unit of work decides, not the id.
    await queue(backend, note("z-first"), note("a-second"), note("m-third"))
    store = SqlOutboxStore(backend.sessions)

    order: list[str] = []
    delivered: list[str] = []
    while batch := await store.claim_due(at(1), 10, 30, delivered=delivered):
        delivered = claimed(batch)
        order.extend(delivered)

    assert order == ["z-first", "a-second", "m-third"]
    assert await ids(store, DeliveryStatus.DELIVERED) == order


async def test_delivered_marks_ride_with_the_next_claim(backend: Backend) -> None:
    await queue(backend, note("a", 1), note("b", 2))
    store = SqlOutboxStore(backend.sessions)
    assert claimed(await store.claim_due(at(5), 10, 30)) == ["a"]

    [b] = await store.claim_due(at(6), 10, 30, delivered=["a"])

    assert b.notification.id == "b"  # "a" was marked first, so "b" is the head now
    [done] = await store.items([DeliveryStatus.DELIVERED])
    assert done.notification.id == "a"
    assert await store.claim_due(at(100), 10, 30, delivered=["b"]) == []
    assert await ids(store, DeliveryStatus.DELIVERED) == ["a", "b"]
    assert await store.claim_due(at(200), 10, 30) == []  # never claimed again


async def test_mark_delivered_one_or_several(backend: Backend) -> None:
    await queue(backend, *(note(f"n{i}", i, recipient=f"r{i}") for i in range(3)))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(5), 10, 30)

    await store.mark_delivered("n0", at(5))
    await store.mark_all_delivered(["n1", "n2"], at(6))

    assert await ids(store, DeliveryStatus.DELIVERED) == ["n0", "n1", "n2"]
    async with backend.sessions() as session:
        times = dict((await session.execute(select(OutboxRow.id, OutboxRow.delivered_at))).all())
    assert times == {"n0": at(5), "n1": at(6), "n2": at(6)}


async def test_a_rescheduled_row_holds_back_the_later_ones_until_it_is_due(
    backend: Backend,
) -> None:
    await queue(backend, note("first", 0), note("second", 1), note("other", 0, recipient="r2"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(1), 10, 30)

    await store.reschedule("first", at(10), "429 Too Many Requests")

    # "other" was claimed with "first"; "second" waits although it is due.
    assert await store.claim_due(at(9), 10, 30) == []
    [retried] = await store.claim_due(at(10), 10, 30)
    assert retried.notification.id == "first"
    assert retried.attempts == 1
    assert retried.last_error == "429 Too Many Requests"
    assert retried.next_attempt_at == at(10)
    assert claimed(await store.claim_due(at(10), 10, 30, delivered=["first"])) == ["second"]


async def test_failed_and_unreachable_rows_stop_there_and_release_the_next(
    backend: Backend,
) -> None:
    await queue(
        backend,
        note("gone", 0),
        note("after-gone", 1),
        note("broken", 0, recipient="r2"),
        note("after-broken", 1, recipient="r2"),
    )
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(1), 10, 30)

    await store.mark_failed("gone", "bot was blocked by the user", unreachable=True)
    await store.mark_failed("broken", "400 Bad Request", unreachable=False)

    states = {i.notification.id: i for i in await store.items()}
    assert states["gone"].status is DeliveryStatus.UNREACHABLE
    assert states["broken"].status is DeliveryStatus.FAILED
    assert states["broken"].last_error == "400 Bad Request"
    assert states["broken"].attempts == 1
    later = await store.claim_due(at(100), 10, 30)
    assert claimed(later) == ["after-gone", "after-broken"]


async def test_an_expired_lease_is_taken_once_and_becomes_uncertain(backend: Backend) -> None:
    """A relay that died between send and mark must not cause a duplicate message, and
    its rows are reported by exactly one other relay."""
    await queue(backend, note("n1", 0), note("n2", 1))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 10, lease_seconds=60)  # n1, lease until at(1)

    assert await store.take_expired(at(1), 60) == []  # the lease has not run out yet
    [taken] = await store.take_expired(at(1) + timedelta(microseconds=1), 60)
    assert taken.notification.id == "n1"
    assert await store.take_expired(at(2), 60) == []  # leased to the first taker now
    assert await store.claim_due(at(2), 10, 60) == []  # still holds n2 back

    assert await store.mark_uncertain(["n1"]) == 1

    assert await ids(store, DeliveryStatus.UNCERTAIN) == ["n1"]
    later = await store.claim_due(at(100), 10, 60)
    assert claimed(later) == ["n2"]  # an uncertain row holds nothing back, nor is re-sent
    assert await store.claim_due(at(100), 10, 60, delivered=["n2"]) == []


async def test_a_report_cut_short_is_taken_again_after_its_lease(backend: Backend) -> None:
    await queue(backend, note("n1"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 10, lease_seconds=60)
    await store.take_expired(at(2), 60)  # this reporter dies before mark_uncertain

    assert await store.take_expired(at(3), 60) == []
    [again] = await store.take_expired(at(3) + timedelta(seconds=1), 60)
    assert again.notification.id == "n1"


async def test_resend_makes_an_uncertain_row_due_again_with_its_attempts(
    backend: Backend,
) -> None:
    await queue(backend, note("n1", 0), note("n2", 1), note("n3", 2))
    store = SqlOutboxStore(backend.sessions)
    assert claimed(await store.claim_due(at(0), 10, 60)) == ["n1"]
    await store.reschedule("n1", at(0), "timeout")  # one real attempt
    await store.claim_due(at(0), 10, 60)
    await store.take_expired(at(5), 60)
    await store.mark_uncertain(["n1"])
    await store.claim_due(at(5), 10, 60)  # n2 goes out meanwhile
    await store.mark_delivered("n2", at(5))

    assert await store.resend("n1") is True
    assert await store.resend("n1") is False  # pressed twice: nothing more happens
    assert await store.resend("nope") is False

    item = await store.get("n1")
    assert item is not None and item.status is DeliveryStatus.PENDING and item.attempts == 1
    # Due at once, and again the head of its recipient's queue: n3 waits behind it.
    assert claimed(await store.claim_due(at(6), 10, 60)) == ["n1"]
    assert claimed(await store.claim_due(at(6), 10, 60, delivered=["n1"])) == ["n3"]


async def test_a_stale_relay_cannot_settle_a_row_that_is_not_its_own_any_more(
    backend: Backend,
) -> None:
    await queue(backend, note("slow"), note("late", recipient="r2"))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(0), 10, 60)
    await store.take_expired(at(2), 60)
    await store.mark_uncertain(["slow", "late"])  # reported while still being sent

    await store.reschedule("slow", at(3), "429")
    await store.mark_failed("slow", "400", unreachable=False)
    assert await status(store, "slow") is DeliveryStatus.UNCERTAIN
    # A send that did finish after all is recorded: it is no longer in doubt.
    await store.mark_all_delivered(["late"], at(3))
    assert await status(store, "late") is DeliveryStatus.DELIVERED
    assert await store.get("unknown") is None


async def test_items_filters_and_limits(backend: Backend) -> None:
    await queue(backend, *(note(f"n{i}", i, recipient=f"r{i}") for i in range(5)))
    store = SqlOutboxStore(backend.sessions)
    await store.claim_due(at(1), 2, 30)

    assert await ids(store) == ["n0", "n1", "n2", "n3", "n4"]
    assert [i.notification.id for i in await store.items(limit=3)] == ["n0", "n1", "n2"]
    pending = await store.items(["pending"])
    assert [i.notification.id for i in pending] == ["n2", "n3", "n4"]
    assert await store.items([DeliveryStatus.DELIVERED]) == []


async def test_concurrent_claimers_take_each_row_once_and_each_recipient_in_order(
    backend: Backend,
) -> None:
    await queue(backend, *(note(f"n{i:02}", i / 100, recipient=f"r{i % 4}") for i in range(40)))
    store = SqlOutboxStore(backend.sessions)
    taken: list[str] = []

    async def claimer() -> None:
        delivered: list[str] = []
        while batch := await store.claim_due(at(5), 3, 30, delivered=delivered):
            # What is claimed while an earlier row of its recipient is unfinished would
            # arrive out of order: every claim must be the recipient's oldest left.
            taken.extend(claimed(batch))
            delivered = claimed(batch)
            await asyncio.sleep(0)
        await store.mark_all_delivered(delivered, at(5))

    await asyncio.gather(*(claimer() for _ in range(4)))

    assert len(taken) == len(set(taken)) == 40
    for r in range(4):
        mine = [id for id in taken if int(id[1:]) % 4 == r]
        assert mine == sorted(mine)


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
    await queue(backend, *(note(f"n{i:02}", i / 10, recipient=f"r{i}") for i in range(30)))
    store = SqlOutboxStore(backend.sessions)

    sizes = [len(await store.claim_due(at(10), limit=7, lease_seconds=30)) for _ in range(5)]

    assert sizes == [7, 7, 7, 7, 2]


async def test_a_claim_skips_rows_another_claimer_holds_locked(backend: Backend) -> None:
    """PostgreSQL: a relay does not queue behind another one's open claim."""
    if backend.name != "postgres":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    await queue(backend, note("held", 0, recipient="r1"), note("free", 1, recipient="r2"))
    store = SqlOutboxStore(backend.sessions)
    async with backend.sessions() as other, other.begin():
        # Another claimer between picking "held" and committing.
        await other.execute(select(OutboxRow).where(OutboxRow.id == "held").with_for_update())

        # Bounded only so that a regression fails instead of hanging the run.
        got = await asyncio.wait_for(store.claim_due(at(5), 10, 30), timeout=30)

    assert claimed(got) == ["free"]
    assert await ids(store, DeliveryStatus.PENDING) == ["held"]


# -- the links a notifier kept while delivering ---------------------------------------


async def test_kept_links_are_written_with_the_next_claims_marks_in_one_commit(
    backend: Backend,
) -> None:
    from sqlalchemy import event

    from store.links import LinkWrites, SqlLinkStore

    kept = LinkWrites()
    store = SqlOutboxStore(backend.sessions, kept)
    links = SqlLinkStore(backend.sessions, kept)
    direct = SqlLinkStore(backend.sessions)
    await queue(backend, note("n1"))
    [item] = await store.claim_due(at(1), 10, 60)
    await links.set("telegram", "topic", "1:-100", "-100:7")
    await links.set("telegram", "sent", "n1", "2")
    # Read back at once by the notifier; not yet in the database.
    assert await links.get("telegram", "topic", "1:-100") == "-100:7"
    assert await links.find("telegram", "topic", "-100:7") == "1:-100"
    assert await direct.get("telegram", "topic", "1:-100") is None
    commits: list[object] = []

    def on_commit(connection: object) -> None:
        commits.append(connection)

    engine = backend.engine.sync_engine
    event.listen(engine, "commit", on_commit)
    try:
        await store.claim_due(at(2), 10, 60, delivered=[item.notification.id])
    finally:
        event.remove(engine, "commit", on_commit)
    assert len(commits) == 1
    assert await status(store, "n1") is DeliveryStatus.DELIVERED
    assert await direct.get("telegram", "topic", "1:-100") == "-100:7"
    assert await direct.get("telegram", "sent", "n1") == "2"
    assert not kept


async def test_a_failed_send_records_the_links_it_kept_for_its_retry(backend: Backend) -> None:
    from store.links import LinkWrites, SqlLinkStore

    kept = LinkWrites()
    store = SqlOutboxStore(backend.sessions, kept)
    await queue(backend, note("n1"))
    await store.claim_due(at(1), 10, 60)
    await SqlLinkStore(backend.sessions, kept).set("telegram", "sent", "n1", "1")
    await store.reschedule("n1", at(3), "429")
    assert await SqlLinkStore(backend.sessions).get("telegram", "sent", "n1") == "1"


async def test_links_kept_when_not_written_and_newer_values_win(backend: Backend) -> None:
    from store.links import LinkWrites, SqlLinkStore

    kept = LinkWrites()
    kept.put(("telegram", "card", "1:-100"), "-100:8")
    kept.put(("telegram", "sent", "n1"), "1")
    taken = kept.take()
    kept.put(("telegram", "sent", "n1"), "2")  # written while the first write ran
    kept.give_back(taken)  # ... which failed
    assert kept.get(("telegram", "card", "1:-100")) == "-100:8"
    assert kept.get(("telegram", "sent", "n1")) == "2"
    # A stopping relay with nothing to mark still records them.
    await SqlOutboxStore(backend.sessions, kept).mark_all_delivered([], at(1))
    direct = SqlLinkStore(backend.sessions)
    assert await direct.get("telegram", "card", "1:-100") == "-100:8"
    assert await direct.get("telegram", "sent", "n1") == "2"


async def test_backlog_counts_a_recipients_unfinished_rows_and_the_oldest(
    backend: Backend,
) -> None:
    store = SqlOutboxStore(backend.sessions)
    assert (await store.backlog("telegram", "telegram:1001")).count == 0
    await queue(backend, note("a", 1), note("b", 2), note("c", 3), note("x", 0, recipient="-5"))
    claimed = await store.claim_due(at(5), 10, 60)  # "a" (and "x") now being sent
    claimed_ids = [i.notification.id for i in claimed]
    assert sorted(claimed_ids) == ["a", "x"]
    behind = await store.backlog("telegram", "telegram:1001")
    assert behind.count == 3 and behind.oldest == at(1)
    assert behind.minutes(at(11)) == 10
    await store.claim_due(at(6), 0, 60, delivered=[i for i in claimed_ids if i == "a"])
    behind = await store.backlog("telegram", "telegram:1001")
    assert behind.count == 2 and behind.oldest == at(2)
    assert (await store.backlog("telegram", "-5")).count == 1


async def test_a_runs_rows_never_started_go_back_after_a_crash_and_only_started_ones_are_in_doubt(
    backend: Backend,
) -> None:
    """Regression (issue 7): a kill put a team chat's whole run in doubt (up to 60
    rows, most never tried). Only rows a platform call may have carried are."""
    team = {"audience": Audience.TEAM, "recipient": "telegram:-100"}
    await queue(backend, *(note(f"t{i}", i, **team) for i in range(6)), note("c", 0))
    store = SqlOutboxStore(backend.sessions)
    taken = await store.claim_due(at(10), 10, 60, run=10)
    assert sorted(claimed(taken)) == sorted(["c", *(f"t{i}" for i in range(6))])
    lease = {i.lease for i in taken}
    assert len(lease) == 1 and None not in lease  # one claim, one token
    [token] = lease
    # The run's first call carries t0 and t1; t2 finished before the crash with t3
    # still on its way in the second call; "c" went straight to its send.
    assert await store.mark_progress(["t0", "t1"], [], at(10), token) == 2
    assert await store.mark_progress(["t2", "t3"], ["t0", "t1"], at(10), token) == 2

    expired = await store.take_expired(at(12), 60)

    assert claimed(expired) == ["c", "t2", "t3"]  # in doubt: started, not marked
    assert await ids(store, DeliveryStatus.DELIVERED) == ["t0", "t1"]
    assert await ids(store, DeliveryStatus.PENDING) == ["t4", "t5"]  # never tried
    await store.mark_uncertain(claimed(expired))
    again = await store.claim_due(at(13), 10, 60, run=10)
    assert claimed(again) == ["t4", "t5"]  # in their order, sent after the restart
    assert {i.attempts for i in again} == {0}


async def test_a_relay_that_lost_its_lease_cannot_start_nor_give_back_rows_claimed_again(
    backend: Backend,
) -> None:
    team = {"audience": Audience.TEAM, "recipient": "telegram:-100"}
    await queue(backend, *(note(f"t{i}", i, **team) for i in range(3)))
    store = SqlOutboxStore(backend.sessions)
    stalled = (await store.claim_due(at(10), 10, 60, run=10))[0].lease
    assert stalled is not None
    # Only the run's lead was started (by the claim): it alone is in doubt.
    assert claimed(await store.take_expired(at(12), 60)) == ["t0"]
    await store.mark_uncertain(["t0"])
    retaken = await store.claim_due(at(12), 10, 60, run=10)
    assert claimed(retaken) == ["t1", "t2"]
    assert retaken[0].lease not in (None, stalled)

    # The stalled relay wakes up: its rows are another claim's now.
    assert await store.mark_progress(["t1", "t2"], [], at(12), stalled) == 0
    await store.release(["t1", "t2"], stalled)
    await store.reschedule("t1", at(20), "429", lease=stalled)
    assert await ids(store, DeliveryStatus.SENDING) == ["t1", "t2"]
    assert await store.mark_progress(["t2"], [], at(12), str(retaken[0].lease)) == 1


async def test_a_run_is_started_at_the_row_its_notifier_sends_first(backend: Backend) -> None:
    """The claim starts the row the notifier names (``leading``; the head without it),
    so a run's first call costs no commit of its own; the others wait for theirs."""
    team = {"audience": Audience.TEAM, "recipient": "telegram:-100"}
    await queue(backend, *(note(f"t{i}", i, **team) for i in range(3)))
    store = SqlOutboxStore(backend.sessions)
    seen: list[list[str]] = []

    def second(run: Sequence[Notification]) -> str:
        seen.append([n.id for n in run])
        return run[1].id

    taken = await store.claim_due(at(10), 10, 60, run=10, leading=second)

    assert seen == [["t0", "t1", "t2"]]  # the run, in its order
    assert {i.notification.id: i.started for i in taken} == {"t0": False, "t1": True, "t2": False}
    async with backend.sessions() as session:
        started = dict((await session.execute(select(OutboxRow.id, OutboxRow.started))).all())
    assert started == {"t0": False, "t1": True, "t2": False}
    assert claimed(await store.take_expired(at(12), 60)) == ["t1"]  # in doubt: it alone


async def test_a_row_claimed_alone_is_started_by_its_claim(backend: Backend) -> None:
    team = {"audience": Audience.TEAM, "recipient": "telegram:-100"}
    await queue(backend, note("alone", 0, **team), note("customer", 0))
    store = SqlOutboxStore(backend.sessions)
    assert len(await store.claim_due(at(10), 10, 60, run=10)) == 2
    async with backend.sessions() as session:
        started = dict((await session.execute(select(OutboxRow.id, OutboxRow.started))).all())
    assert started == {"alone": True, "customer": True}
    assert claimed(await store.take_expired(at(12), 60)) == ["alone", "customer"]
