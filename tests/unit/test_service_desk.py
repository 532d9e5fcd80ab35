"""Service levels applied by the ticket service and the ticker, on in-memory ports,
with a clock the tests move."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.account import Account
from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import (
    AcceptQuote,
    AskCustomer,
    ClaimTicket,
    QuoteTicket,
    RefuseQuote,
    ResolveTicket,
    TicketDraft,
    WriteToTicket,
)
from bot.customer import Customer
from bot.errors import InvalidTransition
from bot.notification import Audience
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy, load_policy
from bot.reply import Text
from bot.schedule import Schedule
from bot.ticker import Ticker
from bot.ticket import Priority, QuoteState, Status
from bot.tickets import QuotaExceeded, QuotaTooSmall, QuotePending, TicketService
from tests.unit.fakes import FakeUnitOfWorkFactory

ALICE = Participant("console", "alice")
EVA = Actor(Participant("console", "agent:eva"), "eva", Role.AGENT, frozenset({"technical"}))
CUSTOMER = Actor(ALICE, "alice", Role.CUSTOMER)
POLICY = load_policy()
# Monday 23 November 2026, 9:00 in Prague: the technical team is open.
MONDAY_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class World:
    def __init__(self, start: datetime = MONDAY_9, policy: DeskPolicy = POLICY) -> None:
        self.clock = ManualClock(start)
        self.uow = FakeUnitOfWorkFactory()
        self.schedule = Schedule(policy)
        announcer = Announcer(policy)
        self.tickets = TicketService(self.uow, policy, self.clock, announcer, self.schedule)
        self.ticker = Ticker(self.uow, self.schedule, self.clock, announcer)
        self.uow.db.accounts["SN-1"] = Account("SN-1", ("shop.cz",), "standard", date(2099, 1, 1))
        self.uow.db.accounts["SN-P"] = Account("SN-P", ("vip.cz",), "premium", date(2099, 1, 1))

    async def file(self, category: str = "bug", number: str = "SN-1", count: int = 1) -> int:
        drafts = tuple(
            TicketDraft(
                category=category,
                title=f"Problem {i}",
                description="Something does not work at all.",
                support_number=number,
            )
            for i in range(count)
        )
        opened = await self.tickets.open_tickets(Customer(ALICE, "alice"), drafts, "console")
        assert opened[-1].number is not None
        return opened[-1].number

    def keys(self, audience: Audience) -> list[str]:
        return [n.key for n in self.uow.db.outbox if n.audience is audience]

    async def wait(self, **delta: float) -> None:
        self.clock.advance(**delta)
        await self.ticker.tick()


async def test_filing_sets_priority_due_times_and_tells_when_to_expect_an_answer() -> None:
    world = World()
    standard = await world.tickets.get(await world.file())
    premium = await world.tickets.get(await world.file(number="SN-P"))
    assert standard.priority is Priority.NORMAL and premium.priority is Priority.HIGH
    assert standard.terms is not None and premium.terms is not None
    # 24 business hours of 8 a day from Monday 9:00 = Thursday 9:00 Prague.
    assert standard.terms.first_response_due == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    # Premium: 3 business hours = Monday 12:00.
    assert premium.terms.first_response_due == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    expectation = world.schedule.expectations(standard)
    assert [e.key for e in expectation] == ["sla.expect_open"]
    assert standard.next_check_at is not None


async def test_critical_bug_off_hours_is_flagged_and_announced() -> None:
    saturday = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    world = World(saturday)
    ticket = await world.tickets.get(await world.file("bug_critical"))
    assert ticket.off_hours and ticket.priority is Priority.URGENT
    assert "sla.team_critical_off_hours" in world.keys(Audience.TEAM)
    # A critical request counts one calendar hour round the clock ([targets.critical]):
    # the customer is told when, and given the department's hotline.
    notes = world.schedule.expectations(ticket)
    assert [n.key for n in notes] == ["sla.expect_critical_by", "sla.hotline"]
    quiet = await world.tickets.get(await world.file("bug"))
    assert not quiet.off_hours
    notes = world.schedule.expectations(quiet)
    assert [n.key for n in notes] == ["sla.expect_closed_critical_only", "sla.hotline"]


async def test_quota_refuses_over_the_limit_but_never_sales() -> None:
    world = World()
    await world.file(count=10)  # standard: 10 a month
    with pytest.raises(QuotaExceeded) as refused:
        await world.file()
    assert refused.value.params["limit"] == 10
    assert refused.value.params["department"].key == "department.sales"
    await world.file("sales")  # the way forward stays open
    left = await world.tickets.quota_left("SN-1")
    assert left is not None and left.params == {"left": 0, "limit": 10}
    # A new month renews the quota.
    world.clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    await world.file()


async def test_split_over_the_quota_files_nothing() -> None:
    world = World()
    await world.file(count=9)
    with pytest.raises(QuotaTooSmall) as refused:
        await world.file(count=2)
    assert refused.value.params == {
        "quota": Text("sla.quota_left", {"left": 1, "limit": 10}),
        "wanted": 2,
    }
    assert len(world.uow.db.tickets) == 9


async def test_waiting_customer_is_reminded_then_the_ticket_closes() -> None:
    world = World()
    n = await world.file()
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which browser?"))
    await world.wait(hours=8)  # Monday 17:00: 7 business hours in Waiting
    assert "notice.reminder" not in world.keys(Audience.CUSTOMER)
    await world.wait(days=1, hours=16)  # Wednesday 9:00: 16 business hours
    assert world.keys(Audience.CUSTOMER).count("notice.reminder") == 1
    await world.wait(hours=1)
    assert world.keys(Audience.CUSTOMER).count("notice.reminder") == 1  # once
    await world.wait(days=3)  # Saturday: 39 business hours so far (Mon 7 + 4 x 8)
    assert (await world.tickets.get(n)).status is Status.WAITING
    await world.wait(days=2, hours=2)  # Monday 12:00 Prague: past 40 business hours
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.CLOSED and ticket.next_check_at is None
    assert "notice.auto_closed_waiting" in world.keys(Audience.CUSTOMER)


async def test_an_answer_stops_the_waiting_timers() -> None:
    world = World()
    n = await world.file()
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which browser?"))
    await world.tickets.execute(CUSTOMER, WriteToTicket(number=n, text="Firefox"))
    await world.wait(days=10)
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.ACCEPTED
    assert "notice.reminder" not in world.keys(Audience.CUSTOMER)


async def test_unconfirmed_resolution_closes_itself_after_seven_days() -> None:
    world = World()
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="Fixed"))
    await world.wait(days=6, hours=23)
    assert (await world.tickets.get(n)).status is Status.RESOLVED
    await world.wait(hours=1)
    assert (await world.tickets.get(n)).status is Status.CLOSED
    assert "notice.auto_closed_resolved" in world.keys(Audience.CUSTOMER)


async def test_sla_warning_then_breach_mention_the_leads_until_claimed() -> None:
    world = World()
    await world.file(number="SN-P")  # premium: first response in 3 business hours
    await world.wait(hours=2, minutes=30)  # 83 % of the first-response budget
    team = [x for x in world.uow.db.outbox if x.key == "sla.team_warning"]
    assert len(team) == 1 and team[0].params["mention"].key == "team.mention_leads"
    await world.wait(hours=1)
    breached = [x for x in world.uow.db.outbox if x.key == "sla.team_breached"]
    assert len(breached) == 1
    await world.wait(minutes=10)
    assert len([x for x in world.uow.db.outbox if x.key == "sla.team_breached"]) == 1


async def test_first_response_stops_its_clock_and_alerts_name_the_assignee() -> None:
    world = World()
    n = await world.file(number="SN-P")
    await world.tickets.execute(EVA, ClaimTicket(number=n))
    claimed = await world.tickets.get(n)
    assert claimed.first_response_at is None  # claiming is not an answer
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which page?"))
    await world.tickets.execute(CUSTOMER, WriteToTicket(number=n, text="Orders"))
    # Premium resolution: 24 business hours = 3 days; warn at 80 %.
    await world.wait(days=2, hours=18)
    warnings = [x for x in world.uow.db.outbox if x.key == "sla.team_warning"]
    assert [w.params["mention"] for w in warnings] == ["eva"]


async def test_queue_is_sorted_by_priority_then_due_time() -> None:
    world = World()
    low = await world.file("modification")
    first = await world.file()
    world.clock.advance(hours=1)
    second = await world.file()
    urgent = await world.file("bug_critical")
    lead = Actor(Participant("console", "agent:lea"), "lea", Role.AGENT, lead=True)
    queue = [t.number for t in await world.tickets.queue(lead)]
    assert queue == [urgent, first, second, low]


async def test_paid_modification_waits_for_the_customers_decision() -> None:
    world = World()
    n = await world.file("modification")
    await world.tickets.execute(
        Actor(EVA.participant, "eva", Role.AGENT, frozenset({"consultation"})),
        QuoteTicket(number=n, price="1500 CZK", note="three banners"),
    )
    quote = next(x for x in world.uow.db.outbox if x.key == "notice.quote")
    assert [c.value for c in quote.choices] == [f"quote_yes:{n}", f"quote_no:{n}"]
    agent = Actor(EVA.participant, "eva", Role.AGENT, frozenset({"consultation"}))
    with pytest.raises(QuotePending):
        await world.tickets.execute(agent, ResolveTicket(number=n))
    stranger = Actor(Participant("console", "bob"), "bob", Role.CUSTOMER)
    with pytest.raises(Exception, match="does not own"):
        await world.tickets.execute(stranger, AcceptQuote(number=n))
    ticket = await world.tickets.execute(CUSTOMER, AcceptQuote(number=n))
    assert ticket.quote is not None and ticket.quote.state is QuoteState.ACCEPTED
    with pytest.raises(InvalidTransition):
        await world.tickets.execute(CUSTOMER, RefuseQuote(number=n))
    assert "team.quote_accepted" in world.keys(Audience.TEAM)
    resolved = await world.tickets.execute(agent, ResolveTicket(number=n))
    assert resolved.status is Status.RESOLVED


async def test_ticker_survives_a_restart_from_stored_due_times() -> None:
    world = World()
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="Fixed"))
    # A new ticker (a restarted process) over the same store sees the same timers.
    later = Ticker(world.uow, Schedule(POLICY), world.clock, Announcer(POLICY))
    world.clock.advance(days=8)
    assert await later.tick() == 1
    assert (await world.tickets.get(n)).status is Status.CLOSED
