"""Paid work needs the customer's consent (seed 001): a quote puts the request in
"waiting for the customer's approval", their decision moves it on, the policy says
what a refusal does, and the SLA clock and the timers treat the wait as the
customer's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.account import Account
from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import (
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ConfirmResolution,
    DeclineTicket,
    QuoteTicket,
    ResolveTicket,
)
from bot.desk import Desk
from bot.errors import InvalidInput
from bot.inputs import ChoicePicked, CommandGiven, TextSent
from bot.notification import Audience
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy, PolicyError, load_policy, parse_policy
from bot.reply import Money, Reply, Text
from bot.schedule import Schedule
from bot.ticker import Ticker
from bot.ticket import DeclineReason, QuoteState, RequestType, Status
from bot.tickets import QuoteNotOpen, QuotePending, TicketService
from bot.views import queue_counts, transcript
from conversations.intake import Intake
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("telegram", "100")
CUSTOMER = Actor(ALICE, "Alice", Role.CUSTOMER)
EVA = Actor(
    Participant("telegram", "900"), "eva", Role.AGENT, frozenset({"technical", "consultation"})
)
# Monday 23 November 2026, 9:00 in Prague: the teams are open.
MONDAY_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def on_refusal(value: str) -> DeskPolicy:
    return parse_policy({**POLICY.raw, "quotes": {"on_refusal": value}})


class World:
    def __init__(self, policy: DeskPolicy = POLICY) -> None:
        self.clock = ManualClock(MONDAY_9)
        self.uow = FakeUnitOfWorkFactory()
        self.schedule = Schedule(policy)
        announcer = Announcer(policy)
        self.tickets = TicketService(self.uow, policy, self.clock, announcer, self.schedule)
        self.desk = Desk(self.uow, self.tickets, policy, self.clock, [Intake()])
        self.ticker = Ticker(self.uow, self.schedule, self.clock, announcer)
        self.uow.db.accounts["SN-1"] = Account("SN-1", ("shop.cz",), "standard", date(2099, 1, 1))

    async def say(self, event: TextSent | ChoicePicked | CommandGiven) -> list[Reply]:
        return await self.desk.handle(ALICE, event, name="Alice", locale="en")

    async def file(self, category: str = "modification") -> int:
        await self.say(CommandGiven("new"))
        asked = await self.say(ChoicePicked(category))
        if asked[-1].key == "intake.ask_support_number":
            await self.say(TextSent("SN-1"))
        for step in (
            TextSent("Three new banners"),
            TextSent("Please add three banners to the home page of the shop."),
            CommandGiven("skip"),
            ChoicePicked("done"),
            CommandGiven("skip"),
        ):
            await self.say(step)
        filed = await self.say(ChoicePicked("confirm"))
        assert filed[0].key == "intake.filed", filed
        return int(filed[0].params["number"])

    async def quote(self, n: int, price: str = "1500 CZK") -> None:
        await self.tickets.execute(EVA, QuoteTicket(number=n, price=price, note="three banners"))

    def keys(self, audience: Audience) -> list[str]:
        return [x.key for x in self.uow.db.outbox if x.audience is audience]


async def test_a_quote_waits_for_the_customers_approval_visibly() -> None:
    world = World()
    n = await world.file()
    await world.quote(n)
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.AWAITING_APPROVAL  # not Accepted: no work before consent
    assert ticket.assignee_name == "eva"
    assert "notice.quote" in world.keys(Audience.CUSTOMER)
    # The customer's view of the request shows the price and the two buttons.
    shown = await world.say(CommandGiven("ticket", str(n)))
    assert shown[0].params["status"].key == "status.awaiting_approval"
    assert shown[-1].key == "desk.hint_quote" and shown[-1].params["price"] == Money(
        Decimal(1500), "CZK"
    )
    assert [c.value for c in shown[-1].choices] == [f"quote_yes:{n}", f"quote_no:{n}"]
    # Their list counts it among the open ones; the agents' queue has its own count.
    listed = await world.say(ChoicePicked("tickets:open"))
    assert any(r.params.get("number") == n for r in listed)
    counts = await world.tickets.queue_counts(EVA)
    assert counts == {Status.AWAITING_APPROVAL: 1}
    assert queue_counts(counts).params["awaiting_approval"] == Text(
        "view.count.awaiting_approval", {"count": 1}
    )
    # Nothing but the decision (or declining it) moves it on.
    for command in (
        ResolveTicket(number=n),
        AskCustomer(number=n, text="Which colour?"),
        BlockTicket(number=n),
    ):
        with pytest.raises(QuotePending):
            await world.tickets.execute(EVA, command)
    await world.tickets.execute(EVA, AnswerCustomer(number=n, text="Any colour you like."))
    assert (await world.tickets.get(n)).status is Status.AWAITING_APPROVAL
    accepted = await world.say(ChoicePicked(f"quote_yes:{n}"))
    assert [r.key for r in accepted] == ["desk.quote_accepted"]
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.ACCEPTED and ticket.quote is not None
    assert ticket.quote.state is QuoteState.ACCEPTED
    assert "team.quote_accepted" in world.keys(Audience.TEAM)
    # Pressed again (an old message): nothing changes.
    again = await world.say(ChoicePicked(f"quote_no:{n}"))
    assert [r.key for r in again] == ["desk.already_done"]
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="Done"))
    assert (await world.tickets.get(n)).status is Status.RESOLVED


async def test_a_refused_quote_declines_the_request_by_the_customer() -> None:
    world = World(on_refusal("decline"))
    n = await world.file()
    await world.quote(n)
    refused = await world.say(ChoicePicked(f"quote_no:{n}"))
    assert [r.key for r in refused] == ["desk.quote_refused"]
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.DECLINED
    assert ticket.decline_reason is DeclineReason.QUOTE_REFUSED
    assert ticket.quote is not None and ticket.quote.state is QuoteState.REFUSED
    assert world.keys(Audience.TEAM)[-1] == "team.quote_refused"
    # The team's transcript names the reason in words, not as a code.
    history = [r for r in transcript(ticket) if r.key == "view.history_line"]
    assert history[-1].params["new"].key == "status.declined"


async def test_a_refused_quote_goes_back_to_consultation_where_the_policy_says_so() -> None:
    world = World(on_refusal("consultation"))
    n = await world.file()
    await world.quote(n)
    refused = await world.say(ChoicePicked(f"quote_no:{n}"))
    assert [r.key for r in refused] == ["desk.quote_refused_consultation"]
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.ACCEPTED
    assert ticket.request_type is RequestType.CONSULTATION
    assert ticket.quote is not None and ticket.quote.state is QuoteState.REFUSED
    assert world.keys(Audience.TEAM)[-1] == "team.quote_refused_consultation"
    # The consultation is answered and resolved like any other request.
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="You can do it yourself."))
    assert (await world.tickets.get(n)).status is Status.RESOLVED


def test_a_misspelt_refusal_rule_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="on_refusal"):
        on_refusal("ignore")


async def test_no_quote_on_a_resolved_or_closed_request() -> None:
    world = World()
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="Done"))
    with pytest.raises(QuoteNotOpen):
        await world.quote(n)
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.RESOLVED and ticket.quote is None
    await world.tickets.execute(CUSTOMER, ConfirmResolution(number=n))
    with pytest.raises(QuoteNotOpen):
        await world.quote(n)
    assert (await world.tickets.get(n)).quote is None
    assert "notice.quote" not in world.keys(Audience.CUSTOMER)


async def test_a_new_quote_replaces_the_waiting_one() -> None:
    world = World()
    n = await world.file()
    await world.quote(n, "1500 CZK")
    await world.quote(n, "1200 CZK")
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.AWAITING_APPROVAL
    assert ticket.quote is not None and ticket.quote.price == "1200 CZK"
    await world.say(ChoicePicked(f"quote_yes:{n}"))
    accepted = (await world.tickets.get(n)).quote
    assert accepted is not None and accepted.state is QuoteState.ACCEPTED


async def test_agents_cannot_decline_in_the_customers_name() -> None:
    world = World()
    n = await world.file()
    with pytest.raises(InvalidInput):
        await world.tickets.execute(
            EVA, DeclineTicket(number=n, reason=DeclineReason.QUOTE_REFUSED)
        )
    assert (await world.tickets.get(n)).status is Status.NEW


async def test_the_sla_clock_pauses_while_the_quote_waits() -> None:
    world = World()
    n = await world.file()
    filed = await world.tickets.get(n)
    before = world.schedule.clock(filed, world.clock.now())
    assert before is not None
    await world.quote(n)
    world.clock.advance(hours=4)  # four business hours waiting for the customer
    waiting = await world.tickets.get(n)
    during = world.schedule.clock(waiting, world.clock.now())
    assert during is not None
    moved = during.deadlines.resolution_due - before.deadlines.resolution_due
    assert moved == timedelta(hours=4)


async def test_an_unanswered_quote_is_reminded_with_its_buttons_then_closed() -> None:
    world = World()
    n = await world.file()
    await world.quote(n)
    world.clock.advance(days=2, hours=1)  # Wednesday 10:00: 17 business hours
    await world.ticker.tick()
    reminder = [x for x in world.uow.db.outbox if x.key == "notice.quote_reminder"]
    assert len(reminder) == 1 and reminder[0].params["price"] == Money(Decimal(1500), "CZK")
    assert [c.value for c in reminder[0].choices] == [f"quote_yes:{n}", f"quote_no:{n}"]
    assert "notice.reminder" not in world.keys(Audience.CUSTOMER)
    world.clock.advance(days=7)
    await world.ticker.tick()
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.CLOSED
    assert ticket.quote is not None and ticket.quote.state is QuoteState.WITHDRAWN
    assert "notice.auto_closed_quote" in world.keys(Audience.CUSTOMER)
