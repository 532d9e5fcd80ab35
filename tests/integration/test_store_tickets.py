"""Ticket, account and customer repositories, and the unit of work, on every backend."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta, timezone

import pytest
from store_support import T0, Backend, at, make_ticket

from bot.account import Account
from bot.customer import Customer
from bot.errors import ConcurrentUpdate, DuplicateEscalation, TicketNotFound
from bot.notification import Audience, Notification
from bot.paging import Page
from bot.participant import SYSTEM, Actor, Participant, Role
from bot.ticket import (
    OPEN_STATUSES,
    Attachment,
    DeclineReason,
    EntryKind,
    Origin,
    Priority,
    Quote,
    QuoteState,
    ServiceTerms,
    Status,
    ThreadEntry,
    Ticket,
)
from store.outbox import SqlOutboxStore

AGENT = Actor(Participant("discord", "77"), "Petr", Role.AGENT, frozenset({"technical"}))
SCREENSHOT = Attachment("tg-file-1", "cart.png", "image/png", 48_000, "telegram", "photo")
LOG = Attachment("tg-file-2", "console.log", "text/plain", 1_200, "telegram")
VIDEO = Attachment("dc-file-9", "steps.mp4", "video/mp4", 9_000_000_000, "discord")


def full_ticket(follow_up_of: int | None = None) -> Ticket:
    """A ticket using every field the store has to keep."""
    ticket = make_ticket(
        critical=True,
        steps="1. log in\n2. open the cart",
        attachments=[SCREENSHOT],
        phone="+420 777 000 111",
        locale="cs",
        priority=Priority.HIGH,
        follow_up_of=follow_up_of,
        origin=Origin(
            "discord",
            post_ref="discord:forum:555",
            post_link="https://discord.com/channels/1/2/555",
            escalated_by="discord:42",
        ),
    )
    ticket.record_filed(at(0), "telegram:1001")
    ticket.add_entry(
        ThreadEntry(
            EntryKind.CUSTOMER,
            "Here is the log",
            at(1),
            Participant("telegram", "1001"),
            "Jana",
            (LOG, SCREENSHOT),
        )
    )
    ticket.assign(AGENT)
    ticket.move(Status.ACCEPTED, at(2), "discord:77")
    ticket.add_entry(ThreadEntry(EntryKind.NOTE, "internal: reproduced", at(3), AGENT.participant))
    ticket.add_entry(ThreadEntry(EntryKind.SYSTEM, "moved to technical", at(4)))
    ticket.move(Status.DECLINED, at(5), "discord:77", "needs a developer")
    ticket.decline_reason = DeclineReason.NEEDS_DEVELOPMENT
    ticket.terms = ServiceTerms("premium", at(3), at(8), 3 * 3600.0, 24 * 3600.0)
    ticket.first_response_at = at(2)
    ticket.sla_alerts = frozenset({"first_response:warning", "resolution:breached"})
    ticket.next_check_at = at(9)
    ticket.reminded_at = at(4)
    ticket.off_hours = True
    ticket.quote = Quote("1 500 CZK", "new banner", QuoteState.ACCEPTED, at(3), at(4))
    return ticket


async def add_committed(backend: Backend, ticket: Ticket) -> int:
    async with backend.uow() as uow:
        number = await uow.tickets.add(ticket)
        await uow.commit()
    return number


async def load(backend: Backend, number: int) -> Ticket:
    async with backend.uow() as uow:
        return await uow.tickets.get(number)


async def test_full_ticket_round_trips(backend: Backend) -> None:
    first = await add_committed(backend, make_ticket())
    ticket = full_ticket(follow_up_of=first)

    number = await add_committed(backend, ticket)

    assert ticket.number == number
    loaded = await load(backend, number)
    assert loaded == ticket
    # Spelled out what equality covers, for the parts most likely to go wrong.
    assert loaded.entries[0].attachments == (LOG, SCREENSHOT)
    assert loaded.attachments == [SCREENSHOT, LOG, SCREENSHOT]
    assert loaded.origin.post_ref == "discord:forum:555"
    assert loaded.assignee == AGENT.participant and loaded.assignee_name == "Petr"
    assert loaded.decline_reason is DeclineReason.NEEDS_DEVELOPMENT
    assert loaded.history[0].old is None and loaded.history[-1].reason == "needs a developer"
    assert loaded.entries[2].author is None
    assert all(entry.at.utcoffset() == timedelta(0) for entry in loaded.entries)
    assert loaded.terms is not None and loaded.terms.plan == "premium"
    assert loaded.quote is not None and loaded.quote.state is QuoteState.ACCEPTED
    assert loaded.sla_alerts == {"first_response:warning", "resolution:breached"}


async def test_many_tickets_read_together_come_back_whole(backend: Backend) -> None:
    bare = await add_committed(backend, make_ticket())
    whole = full_ticket(follow_up_of=bare)
    number = await add_committed(backend, whole)

    async with backend.uow() as uow:
        found = await uow.tickets.get_many([number, 4242, bare, number])
        single = [await uow.tickets.get(n) for n in (bare, number)]

    # Each once, the unknown number left out, each as whole as a read of one.
    assert sorted(found, key=lambda t: t.number or 0) == single
    assert found[[t.number for t in found].index(number)] == whole


async def test_claim_due_takes_tickets_whose_check_has_come_once(backend: Backend) -> None:
    early, late, never = make_ticket(), make_ticket(), make_ticket()
    early.next_check_at, late.next_check_at = at(5), at(10)
    for ticket in (late, early, never):
        await add_committed(backend, ticket)
    async with backend.uow() as uow:
        assert await uow.tickets.claim_due(at(7), at(30)) == [(early.number, at(30))]
        await uow.commit()
    async with backend.uow() as uow:
        # The claimed one is leased until 30: only the late one is due at 10.
        assert await uow.tickets.claim_due(at(10), at(40)) == [(late.number, at(40))]
        await uow.commit()
    assert (await load(backend, early.number)).next_check_at == at(30)
    async with backend.uow() as uow:
        # A lease that ran out (its ticker died) is due again.
        assert await uow.tickets.claim_due(at(35), at(50)) == [(early.number, at(50))]


async def test_two_units_saving_one_version_the_second_is_refused(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())
    first, second = await load(backend, number), await load(backend, number)
    first.move(Status.ACCEPTED, at(1), "telegram:77")
    async with backend.uow() as uow:
        await uow.tickets.save(first)
        await uow.commit()
    second.reminded_at = at(2)  # a ticker's change, on the copy from before the claim
    async with backend.uow() as uow:
        with pytest.raises(ConcurrentUpdate):
            await uow.tickets.save(second)
    stored = await load(backend, number)
    assert stored.status is Status.ACCEPTED and stored.reminded_at is None
    assert stored.version == first.version == 1


async def test_datetimes_come_back_as_utc_whatever_zone_went_in(backend: Backend) -> None:
    prague = timezone(timedelta(hours=1))
    number = await add_committed(backend, make_ticket(created_at=T0.astimezone(prague)))

    loaded = await load(backend, number)

    assert loaded.created_at == T0
    assert loaded.created_at.tzinfo is not None and loaded.created_at.utcoffset() == timedelta(0)


async def test_naive_datetime_is_refused(backend: Backend) -> None:
    async with backend.uow() as uow:
        with pytest.raises(Exception, match="naive datetime"):
            await uow.tickets.add(make_ticket(created_at=T0.replace(tzinfo=None)))


async def test_saving_twice_in_one_unit_stores_each_entry_once(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())

    async with backend.uow() as uow:
        ticket = await uow.tickets.get(number)
        ticket.add_entry(ThreadEntry(EntryKind.CUSTOMER, "first", at(1), attachments=(LOG,)))
        await uow.tickets.save(ticket)
        ticket.move(Status.ACCEPTED, at(2), "discord:77")
        ticket.add_entry(ThreadEntry(EntryKind.AGENT, "second", at(3), AGENT.participant))
        await uow.tickets.save(ticket)
        await uow.tickets.save(ticket)  # nothing new: must add nothing
        await uow.commit()

    loaded = await load(backend, number)
    assert [e.text for e in loaded.entries] == ["first", "second"]
    assert loaded.attachments == [LOG]
    assert [c.new for c in loaded.history] == [Status.ACCEPTED]
    assert loaded.status is Status.ACCEPTED


async def test_add_then_save_in_the_same_unit_does_not_duplicate(backend: Backend) -> None:
    async with backend.uow() as uow:
        ticket = make_ticket(attachments=[SCREENSHOT])
        ticket.record_filed(at(0), "telegram:1001")
        number = await uow.tickets.add(ticket)
        ticket.add_entry(ThreadEntry(EntryKind.CUSTOMER, "more", at(1)))
        await uow.tickets.save(ticket)
        await uow.commit()

    loaded = await load(backend, number)
    assert loaded == ticket
    assert len(loaded.history) == 1 and len(loaded.entries) == 1


async def test_save_of_a_ticket_loaded_in_an_earlier_unit(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())
    ticket = await load(backend, number)

    ticket.add_entry(ThreadEntry(EntryKind.CUSTOMER, "later", at(1)))
    async with backend.uow() as uow:
        await uow.tickets.save(ticket)
        await uow.commit()

    assert [e.text for e in (await load(backend, number)).entries] == ["later"]


async def test_second_read_in_a_unit_sees_what_the_unit_saved(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())

    async with backend.uow() as uow:
        ticket = await uow.tickets.get(number)
        ticket.move(Status.ACCEPTED, at(1), "discord:77")
        ticket.add_entry(ThreadEntry(EntryKind.AGENT, "on it", at(1)))
        await uow.tickets.save(ticket)
        again = await uow.tickets.get(number)

    assert again == ticket


async def test_leaving_without_commit_keeps_nothing(backend: Backend) -> None:
    async with backend.uow() as uow:
        number = await uow.tickets.add(make_ticket())
        await uow.outbox.add(
            Notification(
                channel="telegram",
                audience=Audience.CUSTOMER,
                recipient="telegram:1001",
                key="ticket.opened",
                created_at=T0,
            )
        )
        await uow.accounts.put(Account("SN-1", ("shop.cz",), "basic"))

    with pytest.raises(TicketNotFound):
        await load(backend, number)
    async with backend.uow() as uow:
        assert await uow.accounts.get("SN-1") is None
    assert await SqlOutboxStore(backend.sessions).items() == []


async def test_an_exception_in_the_unit_rolls_back(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())

    with pytest.raises(RuntimeError):
        async with backend.uow() as uow:
            ticket = await uow.tickets.get(number)
            ticket.move(Status.ACCEPTED, at(1), "discord:77")
            await uow.tickets.save(ticket)
            raise RuntimeError("boom")

    assert (await load(backend, number)).status is Status.NEW


async def test_get_of_an_unknown_number_raises(backend: Backend) -> None:
    async with backend.uow() as uow:
        with pytest.raises(TicketNotFound):
            await uow.tickets.get(4242)


async def test_concurrent_units_get_distinct_numbers(backend: Backend) -> None:
    async def open_one(i: int) -> int:
        async with backend.uow() as uow:
            ticket = make_ticket(title=f"ticket {i}")
            ticket.record_filed(at(i), "telegram:1001")
            number = await uow.tickets.add(ticket)
            await asyncio.sleep(0)  # let the others interleave inside their transactions
            await uow.commit()
            return number

    numbers = await asyncio.gather(*(open_one(i) for i in range(8)))

    assert len(set(numbers)) == 8
    async with backend.uow() as uow:
        stored = await uow.tickets.recent(limit=100)
    assert sorted(t.number for t in stored if t.number is not None) == sorted(numbers)


async def test_numbers_are_not_reused_after_a_rollback(backend: Backend) -> None:
    first = await add_committed(backend, make_ticket())
    async with backend.uow() as uow:
        await uow.tickets.add(make_ticket())
    second = await add_committed(backend, make_ticket())

    assert second > first


async def test_post_is_found_and_cannot_become_a_second_ticket(backend: Backend) -> None:
    origin = Origin("discord", post_ref="discord:forum:1", post_link="https://x/1")
    number = await add_committed(backend, make_ticket(origin=origin))

    async with backend.uow() as uow:
        found = await uow.tickets.by_post("discord:forum:1")
        assert found is not None and found.number == number
        assert await uow.tickets.by_post("discord:forum:2") is None
        with pytest.raises(DuplicateEscalation):
            await uow.tickets.add(make_ticket(origin=origin))


async def test_racing_escalations_of_one_post_make_one_ticket(backend: Backend) -> None:
    """Both moderators pass the look-up; the unique constraint refuses the second."""
    origin = Origin("discord", post_ref="discord:forum:7")
    second_done = asyncio.Event()

    async def second_moderator() -> None:
        try:
            async with backend.uow() as uow:
                await uow.tickets.add(make_ticket(origin=origin))
                await uow.commit()
        finally:
            second_done.set()

    async with backend.uow() as uow:
        await uow.tickets.add(make_ticket(origin=origin))
        racer = asyncio.create_task(second_moderator())
        # The second insert now waits for this transaction (row lock / SQLite write lock).
        await asyncio.sleep(0.3)
        assert not second_done.is_set()
        await uow.commit()

    with pytest.raises(DuplicateEscalation):
        await racer
    async with backend.uow() as uow:
        assert len(await uow.tickets.recent()) == 1


async def test_two_units_moving_the_same_ticket_cannot_both_win(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())

    async with backend.uow() as uow_a, backend.uow() as uow_b:
        first = await uow_a.tickets.get(number)
        second = await uow_b.tickets.get(number)
        first.move(Status.WAITING, at(1), "discord:77")
        second.move(Status.RESOLVED, at(1), "discord:78")
        await uow_a.tickets.save(first)
        await uow_a.commit()
        with pytest.raises(ConcurrentUpdate):
            await uow_b.tickets.save(second)

    loaded = await load(backend, number)
    assert loaded.status is Status.WAITING
    assert [c.new for c in loaded.history] == [Status.WAITING]


async def test_stale_copy_from_an_earlier_unit_is_refused(backend: Backend) -> None:
    number = await add_committed(backend, make_ticket())
    first = await load(backend, number)
    stale = await load(backend, number)
    first.move(Status.ACCEPTED, at(1), "discord:77")
    async with backend.uow() as uow:
        await uow.tickets.save(first)
        await uow.commit()

    stale.move(Status.DECLINED, at(2), "discord:78")
    async with backend.uow() as uow:
        with pytest.raises(ConcurrentUpdate):
            await uow.tickets.save(stale)

    assert (await load(backend, number)).status is Status.ACCEPTED


async def test_count_opened_counts_the_half_open_window(backend: Backend) -> None:
    since, until = at(0), at(60)
    for created in (since - timedelta(microseconds=1), since, at(30), until):
        await add_committed(backend, make_ticket(created_at=created))
    await add_committed(backend, make_ticket(created_at=at(30), support_number="SN-200"))

    async with backend.uow() as uow:
        assert await uow.tickets.count_opened("SN-100", since, until) == 2
        assert await uow.tickets.count_opened("SN-200", since, until) == 1
        assert await uow.tickets.count_opened("SN-300", since, until) == 0


async def test_queue_filters_departments_and_statuses_in_queue_order(backend: Backend) -> None:
    """Highest priority first, then the soonest stored due time (``queue_due``)."""

    async def add(
        department: str,
        due: int,
        status: Status = Status.NEW,
        priority: Priority = Priority.NORMAL,
    ) -> int:
        ticket = make_ticket(department=department, created_at=at(0), title=department)
        ticket.priority, ticket.queue_due = priority, at(due)
        if status is not Status.NEW:
            ticket.move(status, at(1), "system")
        return await add_committed(backend, ticket)

    late_tech = await add("technical", 30)
    early_tech = await add("technical", 10)
    billing = await add("billing", 20)
    await add("technical", 5, Status.RESOLVED)
    await add("sales", 1)
    urgent = await add("technical", 90, priority=Priority.URGENT)

    async with backend.uow() as uow:
        tech = await uow.tickets.queue(frozenset({"technical"}), frozenset({Status.NEW}))
        both = await uow.tickets.queue(
            frozenset({"technical", "billing"}), frozenset({Status.NEW, Status.ACCEPTED})
        )
        everything = await uow.tickets.queue(None, frozenset({Status.NEW}))
        nobody = await uow.tickets.queue(frozenset(), frozenset({Status.NEW}))
        second = await uow.tickets.queue(None, OPEN_STATUSES, page=Page(2, size=2))
        counts = await uow.tickets.count_queue(frozenset({"technical"}))

    assert [t.number for t in tech] == [urgent, early_tech, late_tech]
    assert [t.number for t in both] == [urgent, early_tech, billing, late_tech]
    assert [t.department for t in everything] == [
        "technical",
        "sales",
        "technical",
        "billing",
        "technical",
    ]
    assert nobody == []
    # The open queue of every department, two to a page: the second page.
    assert [t.queue_due for t in second] == [at(5), at(10)]
    assert counts == {Status.NEW: 3, Status.RESOLVED: 1}


async def test_lists_come_in_pages_with_counts_per_status(backend: Backend) -> None:
    jana = Participant("telegram", "1001")
    numbers = [
        await add_committed(
            backend, make_ticket(customer=jana, created_at=at(i), support_number="SN-1")
        )
        for i in range(5)
    ]
    async with backend.uow() as uow:
        first = await uow.tickets.for_customer(jana, page=Page(1, size=2))
        last = await uow.tickets.for_customer(jana, page=Page(3, size=2))
        beyond = await uow.tickets.for_customer(jana, page=Page(4, size=2))
        org = await uow.tickets.for_account("SN-1", customer=jana, page=Page(2, size=2))
        counts = await uow.tickets.count_for_customer(jana)
        in_org = await uow.tickets.count_for_account("SN-1")
        people = await uow.tickets.people_of_account("SN-1")
    newest = list(reversed(numbers))
    assert [t.number for t in first] == newest[:2]
    assert [t.number for t in last] == newest[4:]
    assert beyond == []
    assert [t.number for t in org] == newest[2:4]
    assert counts == in_org == {Status.NEW: 5}
    assert people == [(jana, "Jana Nováková")]


async def test_customer_and_account_views_newest_first(backend: Backend) -> None:
    jana = Participant("telegram", "1001")
    other = Participant("discord", "1001")  # same id on another platform: someone else
    old = await add_committed(backend, make_ticket(customer=jana, created_at=at(0)))
    closed = make_ticket(customer=jana, created_at=at(10))
    closed.move(Status.DECLINED, at(11), "system")
    closed_number = await add_committed(backend, closed)
    new = await add_committed(backend, make_ticket(customer=jana, created_at=at(20)))
    foreign = await add_committed(
        backend, make_ticket(customer=other, created_at=at(30), support_number="SN-9")
    )

    async with backend.uow() as uow:
        all_of_jana = await uow.tickets.for_customer(jana)
        open_of_jana = await uow.tickets.for_customer(jana, frozenset({Status.NEW}))
        account = await uow.tickets.for_account("SN-100")
        account_closed = await uow.tickets.for_account("SN-100", frozenset({Status.DECLINED}))
        nine = await uow.tickets.for_account("SN-9")

    assert [t.number for t in all_of_jana] == [new, closed_number, old]
    assert [t.number for t in open_of_jana] == [new, old]
    assert [t.number for t in account] == [new, closed_number, old]
    assert [t.number for t in account_closed] == [closed_number]
    assert [t.number for t in nine] == [foreign]


async def test_recent_limits_and_filters(backend: Backend) -> None:
    numbers = [await add_committed(backend, make_ticket(created_at=at(i))) for i in range(5)]
    waiting = make_ticket(created_at=at(2.5))
    waiting.move(Status.WAITING, at(3), "system")
    waiting_number = await add_committed(backend, waiting)

    async with backend.uow() as uow:
        newest = await uow.tickets.recent(limit=3)
        only_waiting = await uow.tickets.recent(status=Status.WAITING)

    assert [t.number for t in newest] == [numbers[4], numbers[3], waiting_number]
    assert [t.number for t in only_waiting] == [waiting_number]


async def test_list_loads_whole_aggregates(backend: Backend) -> None:
    ticket = full_ticket()
    await add_committed(backend, ticket)

    async with backend.uow() as uow:
        [listed] = await uow.tickets.recent()

    assert listed == ticket


async def test_accounts_put_get_replace_all(backend: Backend) -> None:
    first = Account("SN-2", ("b.cz",), "basic", date(2025, 12, 31), date(2024, 1, 2), "B s.r.o.")
    async with backend.uow() as uow:
        await uow.accounts.put(Account("SN-1", ("a.cz", "www.a.com"), "premium"))
        await uow.accounts.put(first)
        await uow.commit()
    replaced = Account("SN-1", ("a.cz",), "basic", None, None, "A a.s.", ("telegram:7",))
    async with backend.uow() as uow:
        await uow.accounts.put(replaced)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.accounts.get("SN-1") == replaced
        assert await uow.accounts.get("SN-2") == first
        assert await uow.accounts.get("SN-3") is None
        assert await uow.accounts.all() == [replaced, first]


async def test_customers_put_get_replace(backend: Backend) -> None:
    jana = Participant("telegram", "1001")
    profile = Customer(jana, "Jana", "cs", "SN-1", "a.cz", "+420 1", None, False)
    async with backend.uow() as uow:
        await uow.customers.put(profile)
        await uow.commit()
    number = await add_committed(backend, make_ticket())
    updated = Customer(jana, "Jana N.", "en", "SN-1", "a.cz", "", number, True)
    async with backend.uow() as uow:
        assert await uow.customers.get(jana) == profile
        await uow.customers.put(updated)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.customers.get(jana) == updated
        assert await uow.customers.get(Participant("discord", "1001")) is None


async def test_system_actor_can_be_recorded_as_assignee(backend: Backend) -> None:
    ticket = make_ticket()
    ticket.assign(SYSTEM)
    number = await add_committed(backend, ticket)

    assert (await load(backend, number)).assignee == SYSTEM.participant


async def test_save_of_a_ticket_that_is_not_stored_raises(backend: Backend) -> None:
    ghost = make_ticket(number=9999)
    async with backend.uow() as uow:
        with pytest.raises(TicketNotFound):
            await uow.tickets.save(ghost)


async def test_a_quota_taken_then_rolled_back_is_read_again_from_the_database(
    backend: Backend,
) -> None:
    """A unit that took from a quota and rolled back (a refused filing goes on in the
    same unit) must not answer from what it took."""
    month = T0.replace(day=1)
    async with backend.uow() as uow:
        assert await uow.quota.take("SN-9", month, 1, 10, start=0) == 1
        assert await uow.quota.take_once("SN-9", "installation")
        assert await uow.quota.used_once("SN-9", ["installation"]) == {"installation"}
        await uow.rollback()
        assert await uow.quota.used("SN-9", month) is None
        assert await uow.quota.used_once("SN-9", ["installation"]) == frozenset()
        assert await uow.quota.take_once("SN-9", "installation")
        assert await uow.quota.used_once("SN-9", ["installation"]) == {"installation"}
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.quota.used_once("SN-9", ["installation", "other"]) == {"installation"}
