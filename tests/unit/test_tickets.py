"""Ticket services on in-memory ports: lifecycle, authorisation, announcements."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.account import Account
from bot.clock import ManualClock
from bot.commands import (
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    ConfirmResolution,
    DeclineTicket,
    DisputeResolution,
    EscalatePost,
    ResolveTicket,
    TicketDraft,
    TransferTicket,
    UnblockTicket,
    WriteToTicket,
)
from bot.customer import Customer
from bot.errors import DuplicateEscalation, EscalationNotCovered, InvalidTransition, NotAllowed
from bot.notification import Audience
from bot.participant import Actor, Participant, Role
from bot.policy import load_policy, parse_policy
from bot.reply import Text
from bot.ticket import ALLOWED, DeclineReason, EntryKind, Priority, Status
from bot.tickets import TicketClosed, TicketService, TooLong
from tests.unit.fakes import FakeUnitOfWorkFactory

ALICE = Participant("telegram", "100")
BOB = Participant("telegram", "200")


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


@pytest.fixture
def service(uow: FakeUnitOfWorkFactory, clock: ManualClock) -> TicketService:
    return TicketService(uow, load_policy(), clock)


def agent(name: str = "eva", *departments: str, lead: bool = False) -> Actor:
    return Actor(
        Participant("telegram", f"agent-{name}"),
        name,
        Role.AGENT,
        frozenset(departments or ("technical",)),
        lead,
    )


def customer_actor(who: Participant = ALICE) -> Actor:
    return Actor(who, "Alice", Role.CUSTOMER)


async def file(service: TicketService, category: str = "bug") -> int:
    [ticket] = await service.open_tickets(
        Customer(ALICE, name="Alice", locale="cs"),
        (
            TicketDraft(
                category=category,
                title="Checkout fails",
                description="The checkout page shows error 500 after the payment step.",
                steps="1. add to cart 2. pay",
                support_number="SN-1",
                domain="shop.cz",
            ),
        ),
        "telegram",
    )
    assert ticket.number is not None
    return ticket.number


async def test_filing_numbers_routes_and_tells_the_team(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    first = await file(service)
    second = await file(service, "payment")
    ticket = await service.get(second)
    assert (first, second) == (1, 2)
    assert ticket.department == "sales"
    assert ticket.priority is Priority.HIGH
    assert [h.new for h in ticket.history] == [Status.NEW]
    team = [n for n in uow.db.outbox if n.audience is Audience.TEAM]
    assert [(n.recipient, n.key) for n in team] == [
        ("technical", "team.ticket_opened"),
        ("sales", "team.ticket_opened"),
    ]


async def test_full_lifecycle_notifies_the_customer_at_every_step(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    eva = agent()
    await service.execute(eva, ClaimTicket(number=n))
    await service.execute(eva, AskCustomer(number=n, text="Which browser?"))
    waiting = await service.get(n)
    assert waiting.status is Status.WAITING
    await service.execute(customer_actor(), WriteToTicket(number=n, text="Firefox 120"))
    assert (await service.get(n)).status is Status.ACCEPTED
    await service.execute(eva, ResolveTicket(number=n, text="Fixed the payment module."))
    await service.execute(customer_actor(), ConfirmResolution(number=n))
    ticket = await service.get(n)
    assert ticket.status is Status.CLOSED
    assert [h.new for h in ticket.history] == [
        Status.NEW,
        Status.ACCEPTED,
        Status.WAITING,
        Status.ACCEPTED,
        Status.RESOLVED,
        Status.CLOSED,
    ]
    assert [e.kind for e in ticket.entries] == [
        EntryKind.AGENT,
        EntryKind.CUSTOMER,
        EntryKind.AGENT,
    ]
    to_customer = [n.key for n in uow.db.outbox if n.audience is Audience.CUSTOMER]
    # The customer's own confirmation is answered directly, not notified again.
    assert to_customer == ["notice.accepted", "notice.question", "notice.resolved"]
    closed = [x for x in uow.db.outbox if x.audience is Audience.TEAM][-1]
    assert closed.key == "team.status" and closed.params["status"].key == "status.closed"
    resolved = next(x for x in uow.db.outbox if x.key == "notice.resolved")
    assert [c.value for c in resolved.choices] == [f"confirm:{n}", f"dispute:{n}"]
    assert resolved.locale == "cs"
    assert resolved.recipient == "100"


async def test_dispute_reopens_a_resolution(service: TicketService) -> None:
    n = await file(service)
    await service.execute(agent(), ResolveTicket(number=n, text="done"))
    await service.execute(customer_actor(), DisputeResolution(number=n, text="still broken"))
    ticket = await service.get(n)
    assert ticket.status is Status.ACCEPTED
    assert ticket.entries[-1].text == "still broken"


async def test_agent_of_another_department_is_refused_and_nothing_changes(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    before = len(uow.db.outbox)
    with pytest.raises(NotAllowed):
        await service.execute(agent("sam", "sales"), ClaimTicket(number=n))
    ticket = await service.get(n)
    assert ticket.status is Status.NEW and ticket.assignee is None
    assert len(uow.db.outbox) == before


async def test_a_lead_may_act_in_any_department(service: TicketService) -> None:
    n = await file(service)
    ticket = await service.execute(agent("lea", "sales", lead=True), ClaimTicket(number=n))
    assert ticket.assignee_name == "lea"


async def test_a_stranger_cannot_write_to_someone_elses_ticket(service: TicketService) -> None:
    n = await file(service)
    with pytest.raises(NotAllowed):
        await service.execute(customer_actor(BOB), WriteToTicket(number=n, text="hi"))
    with pytest.raises(NotAllowed):
        await service.execute(Actor(BOB, "Bob", Role.CUSTOMER), ClaimTicket(number=n))


async def test_forbidden_transition_raises_and_changes_nothing(service: TicketService) -> None:
    n = await file(service)
    with pytest.raises(InvalidTransition):
        await service.execute(customer_actor(), ConfirmResolution(number=n))
    assert (await service.get(n)).status is Status.NEW


async def test_a_blocked_ticket_holds_customer_messages_until_unblocked(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    eva = agent()
    await service.execute(eva, BlockTicket(number=n, text="deploying a fix"))
    held = await service.execute(customer_actor(), WriteToTicket(number=n, text="any news?"))
    # Kept, but nothing reaches the team while the fix is applied.
    assert held.status is Status.BLOCKED and held.entries[-1].kind is EntryKind.HELD
    assert not [x for x in uow.db.outbox if x.key == "team.customer_wrote"]
    await service.execute(eva, UnblockTicket(number=n))
    passed = [x for x in uow.db.outbox if x.key == "team.customer_wrote"]
    assert [x.params["text"] for x in passed] == ["any news?"]
    told = [x for x in uow.db.outbox if x.key.startswith("notice.unblocked")]
    assert [(x.key, x.params["count"]) for x in told] == [("notice.unblocked_held", 1)]
    ticket = await service.execute(customer_actor(), WriteToTicket(number=n, text="thanks"))
    assert ticket.status is Status.ACCEPTED
    assert ticket.entries[-1].kind is EntryKind.CUSTOMER


async def test_closed_ticket_is_read_only(service: TicketService) -> None:
    n = await file(service)
    await service.execute(agent(), DeclineTicket(number=n, reason=DeclineReason.THIRD_PARTY))
    with pytest.raises(TicketClosed):
        await service.execute(customer_actor(), WriteToTicket(number=n, text="but why?"))
    with pytest.raises(TicketClosed):
        await service.execute(agent(), AnswerCustomer(number=n, text="late answer"))
    ticket = await service.get(n)
    assert ticket.decline_reason is DeclineReason.THIRD_PARTY
    assert ticket.entries == []


async def test_decline_tells_the_reason(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    await service.execute(
        agent(), DeclineTicket(number=n, reason=DeclineReason.SEVERAL_PROBLEMS, text="split it")
    )
    note = next(x for x in uow.db.outbox if x.key == "notice.declined")
    assert note.params["reason"].key == "decline.several_problems"
    assert note.params["text"] == "split it"


async def test_transfer_moves_the_ticket_and_tells_both_teams(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    eva = agent()
    await service.execute(eva, ClaimTicket(number=n))
    ticket = await service.execute(eva, TransferTicket(number=n, department="sales"))
    assert ticket.department == "sales" and ticket.assignee is None
    team = [(x.recipient, x.key) for x in uow.db.outbox if x.audience is Audience.TEAM]
    assert ("technical", "team.transferred_out") in team
    assert ("sales", "team.ticket_opened") in team
    # The technical agent no longer serves it.
    with pytest.raises(NotAllowed):
        await service.execute(eva, AnswerCustomer(number=n, text="hello"))


async def test_internal_note_stays_internal(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    n = await file(service)
    before = len(uow.db.outbox)
    ticket = await service.execute(agent(), AddNote(number=n, text="customer is a VIP"))
    assert ticket.entries[-1].kind is EntryKind.NOTE
    assert len(uow.db.outbox) == before


async def test_first_answer_accepts_and_assigns(service: TicketService) -> None:
    n = await file(service)
    ticket = await service.execute(agent(), AnswerCustomer(number=n, text="Looking at it"))
    assert ticket.status is Status.ACCEPTED and ticket.assignee_name == "eva"


async def test_escalation_opens_one_ticket_per_post(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    mod = Actor(Participant("telegram", "9"), "Mia", Role.MODERATOR)
    post = EscalatePost(
        author_platform="telegram",
        author_id="300",
        author_name="Petr",
        post_ref="-100:55",
        post_link="https://t.me/c/100/55",
        text="Orders page is empty since the update",
    )
    ticket = await service.escalate(mod, post)
    assert ticket.customer == Participant("telegram", "300")
    assert ticket.origin.post_link == "https://t.me/c/100/55"
    keys = {(x.audience, x.key) for x in uow.db.outbox}
    # An author without an account is on the free plan: sales, and the group is told.
    assert ticket.department == "sales"
    assert (Audience.COMMUNITY, "community.escalated_elsewhere") in keys
    assert (Audience.CUSTOMER, "notice.escalated") in keys
    with pytest.raises(DuplicateEscalation):
        await service.escalate(mod, post)
    with pytest.raises(NotAllowed):
        await service.escalate(Actor(BOB, "Bob", Role.CUSTOMER), post)


def test_lifecycle_table_has_no_exit_from_final_states() -> None:
    assert ALLOWED[Status.CLOSED] == frozenset()
    assert ALLOWED[Status.DECLINED] == frozenset()
    assert ALLOWED[Status.BLOCKED] == {Status.ACCEPTED}


async def test_oversize_message_is_refused_and_nothing_changes(service: TicketService) -> None:
    n = await file(service)
    with pytest.raises(TooLong) as refused:
        await service.execute(customer_actor(), WriteToTicket(number=n, text="x" * 9000))
    assert refused.value.params == {"length": 9000, "max": 8000}
    assert (await service.get(n)).entries == []


def escalation(author: str, department: str | None = None) -> EscalatePost:
    return EscalatePost(
        author_platform="telegram",
        author_id=author,
        author_name=f"Author {author}",
        post_ref=f"-100:{author}",
        post_link=f"https://t.me/c/100/{author}",
        text="Checkout fails since the update",
        department=department,
    )


async def test_an_escalation_files_where_the_authors_plan_allows(
    service: TicketService, uow: FakeUnitOfWorkFactory
) -> None:
    mod = Actor(Participant("telegram", "9"), "Mia", Role.MODERATOR)
    async with uow() as unit:
        await unit.accounts.put(
            Account("SN-P", ("p.cz",), "premium", valid_until=date(2099, 1, 1))
        )
        await unit.accounts.put(
            Account("SN-X", ("x.cz",), "standard", valid_until=date(2020, 1, 1))
        )
        for author, number in (("301", "SN-P"), ("302", "SN-X")):
            who = Participant("telegram", author)
            await unit.customers.put(Customer(who, "A", support_number=number))
        await unit.commit()
    premium = await service.escalate(mod, escalation("301"))
    assert premium.department == "technical"  # [desk] escalation_department
    assert premium.support_number == "SN-P"
    expired = await service.escalate(mod, escalation("302", "technical"))
    assert expired.department == "sales"  # expired support: sales, as at intake
    elsewhere = [n for n in uow.db.outbox if n.key == "community.escalated_elsewhere"]
    assert [n.ticket_number for n in elsewhere] == [expired.number]
    assert "to sales: the plan does not cover technical" in expired.entries[0].text


async def test_an_escalation_no_department_of_the_plan_takes_is_refused_with_why(
    uow: FakeUnitOfWorkFactory, clock: ManualClock
) -> None:
    data = load_policy().raw | {}
    data["plans"] = {**data["plans"], "free": {**data["plans"]["free"], "departments": []}}
    service = TicketService(uow, parse_policy(data), clock)
    mod = Actor(Participant("telegram", "9"), "Mia", Role.MODERATOR)
    with pytest.raises(EscalationNotCovered) as refused:
        await service.escalate(mod, escalation("303"))
    assert refused.value.params == {"plan": Text("plan.free")}
    assert uow.db.tickets == {}
