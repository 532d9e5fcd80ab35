"""Intake through the desk (``Desk.handle`` on in-memory ports): the account, quota and
one-off requests are settled right after the category, from what the store holds, and
filing still takes the quota atomically."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.account import Account
from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.desk import Desk
from bot.inputs import ChoicePicked, CommandGiven, Input, TextSent
from bot.participant import Participant
from bot.policy import DeskPolicy, load_policy, parse_policy
from bot.reply import Reply
from bot.schedule import Schedule
from bot.tickets import TicketService
from bot.views import transcript
from conversations.intake import Intake
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("telegram", "100")
BOB = Participant("telegram", "200")
# Monday 23 November 2026, 9:00 in Prague.
MONDAY_9 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class World:
    def __init__(self, policy: DeskPolicy = POLICY) -> None:
        self.clock = ManualClock(MONDAY_9)
        self.uow = FakeUnitOfWorkFactory()
        self.tickets = TicketService(
            self.uow, policy, self.clock, Announcer(policy), Schedule(policy)
        )
        self.desk = Desk(self.uow, self.tickets, policy, self.clock, [Intake()])
        accounts = [
            Account("SN-1", ("shop.cz",), "standard", date(2099, 1, 1)),
            Account("SN-A", ("a.cz",), "all_in_one", date(2099, 1, 1)),
            Account("SN-R", ("r.cz",), "standard", date(2099, 1, 1), direct=False),
        ]
        for account in accounts:
            self.uow.db.accounts[account.support_number] = account

    async def say(self, event: Input | str, who: Participant = ALICE) -> list[Reply]:
        if isinstance(event, str):
            event = CommandGiven(event[1:]) if event.startswith("/") else TextSent(event)
        return await self.desk.handle(who, event, name="Alice", locale="en")

    async def used(self, count: int, number: str = "SN-1") -> None:
        """``count`` requests filed this month by someone else of the account."""
        drafts = tuple(
            TicketDraft(category="bug", title=f"Old {i}", description="x", support_number=number)
            for i in range(count)
        )
        await self.tickets.open_tickets(Customer(BOB, "Bob"), drafts, "telegram")

    async def write(self, who: Participant = ALICE) -> list[Reply]:
        """From the title to the summary."""
        for step in ("Checkout fails with 500", "The checkout page shows error 500 today."):
            await self.say(step, who)
        await self.say("/skip", who)
        await self.say(ChoicePicked("done"), who)
        return await self.say("/skip", who)


def keys(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


async def test_the_customer_sees_what_is_left_before_writing() -> None:
    world = World()
    await world.used(7)
    await world.say("/new")
    replies = await world.say(ChoicePicked("bug"))
    assert keys(replies) == ["intake.ask_support_number"]
    replies = await world.say("SN-1")
    assert keys(replies) == ["sla.quota_left", "intake.ask_title"]
    assert replies[0].params == {"left": 3, "limit": 10}
    # Linked now: the next request says it right after the category.
    await world.write()
    await world.say(ChoicePicked("confirm"))
    await world.say("/new")
    replies = await world.say(ChoicePicked("bug"))
    assert keys(replies) == ["sla.quota_left", "intake.ask_title"]
    assert replies[0].params == {"left": 2, "limit": 10}


async def test_a_used_up_quota_stops_the_intake_at_the_category_with_its_ways_forward() -> None:
    world = World()
    await world.used(10)
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    replies = await world.say("SN-1")
    assert keys(replies) == ["sla.quota_exceeded", "intake.quota_way_forward"]
    assert [c.value for c in replies[-1].choices] == ["quota_sales", "quota_paid", "cancel"]
    # The paid way: filed, marked for the team, not counted.
    await world.say(ChoicePicked("quota_paid"))
    summary = await world.write()
    assert "intake.summary_paid_over_quota" in keys(summary)
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed"
    ticket = await world.tickets.get(int(filed[0].params["number"]))
    assert ticket.paid and ticket.department == "technical"
    assert "view.paid_request" in keys(transcript(ticket))
    left = await world.tickets.quota_left("SN-1")
    assert left is not None and left.params == {"left": 0, "limit": 10}


async def test_the_sales_way_goes_to_the_sales_department() -> None:
    world = World()
    await world.used(10)
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    await world.say(ChoicePicked("quota_sales"))
    await world.write()
    filed = await world.say(ChoicePicked("confirm"))
    ticket = await world.tickets.get(int(filed[0].params["number"]))
    assert ticket.department == "sales" and not ticket.paid


async def test_the_last_request_taken_meanwhile_is_refused_at_filing_with_the_ways_forward() -> (
    None
):
    world = World()
    await world.used(9)
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    assert keys(await world.say("SN-1"))[0] == "sla.quota_left"
    await world.write()
    await world.used(1)  # a colleague of the account filed the last one meanwhile
    refused = await world.say(ChoicePicked("confirm"))
    assert keys(refused) == ["sla.quota_exceeded", "intake.quota_way_forward"]
    back = await world.say(ChoicePicked("quota_paid"))
    assert back[-1].key in ("intake.summary", "intake.summary_paid_over_quota")
    filed = await world.say(ChoicePicked("confirm"))
    ticket = await world.tickets.get(int(filed[0].params["number"]))
    assert ticket.paid and ticket.title == "Checkout fails with 500"


async def test_critical_requests_skip_the_quota_where_the_policy_exempts_them() -> None:
    exempt = parse_policy({**POLICY.raw, "quota": {"exempt_critical": True}})
    world = World(exempt)
    await world.used(10)
    await world.say("/new")
    await world.say(ChoicePicked("bug_critical"))
    assert keys(await world.say("SN-1")) == ["intake.ask_title"]
    await world.write()
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed"
    left = await world.tickets.quota_left("SN-1")
    assert left is not None and left.params["left"] == 0  # 10 used, the critical not counted


async def test_a_one_off_request_once_per_account() -> None:
    world = World()
    await world.say("/new")
    await world.say(ChoicePicked("installation"))
    assert keys(await world.say("SN-A")) == ["intake.ask_title"]
    await world.write()
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed"
    # A colleague of the same account: refused at the category, with the reason.
    await world.say("/new", BOB)
    await world.say(ChoicePicked("installation"), BOB)
    replies = await world.say("SN-A", BOB)
    assert keys(replies) == ["intake.once_used", "intake.ask_category"]
    # And the linked customer no longer gets past the category either.
    await world.say("/new")
    replies = await world.say(ChoicePicked("installation"))
    assert keys(replies) == ["intake.once_used", "intake.ask_category"]


async def test_a_resellers_licence_is_served_only_where_the_plan_allows() -> None:
    world = World()
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    assert keys(await world.say("SN-R"))[-1] == "intake.ask_title"
    direct_only = dict(POLICY.raw["plans"])
    direct_only["standard"] = {**direct_only["standard"], "direct_only": True}
    world = World(parse_policy({**POLICY.raw, "plans": direct_only}))
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    replies = await world.say("SN-R")
    assert keys(replies) == ["intake.not_direct"]
    assert [c.value for c in replies[-1].choices] == ["sales", "retry", "cancel"]
    assert (await world.desk.customer(ALICE)).support_number == "SN-R"


async def test_a_domain_not_on_the_package_is_refused_with_the_explanation() -> None:
    ask = dict(POLICY.raw["plans"])
    ask["standard"] = {**ask["standard"], "ask_domain": True}
    world = World(parse_policy({**POLICY.raw, "plans": ask}))
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    replies = await world.say("SN-1")
    assert keys(replies)[-1] == "intake.ask_domain"
    refused = await world.say("elsewhere.cz")
    assert refused[0].key == "intake.domain_not_covered"
    assert refused[0].params["number"] == "SN-1" and refused[0].params["domains"] == "shop.cz"
    await world.say(ChoicePicked("domain.0"))
    summary = await world.write()
    assert summary[0].params["domain"] == "shop.cz"


async def test_a_split_description_sends_each_problem_to_its_own_department() -> None:
    world = World()
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    await world.say("Two things in my shop")
    offer = await world.say(
        "1. The cart is broken since the update, products disappear from it.\n"
        "2. Also an SEO question: how do I set the meta titles of categories?"
    )
    assert offer[-1].key == "intake.split_offer"
    asked = await world.say(ChoicePicked("split"))
    # The SEO question: its words suggest the sales category, offered first.
    assert keys(asked) == ["intake.ask_part_category_suggested"]
    assert asked[0].choices[0].value == "sales"
    await world.say(ChoicePicked("sales"))
    await world.say("/skip")
    await world.say(ChoicePicked("done"))
    summary = await world.say("/skip")
    assert keys(summary)[-2:] == ["intake.summary_part", "intake.summary_part"]
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed_many"
    cart, seo = await world.tickets.get(1), await world.tickets.get(2)
    assert (cart.department, cart.category) == ("technical", "bug")
    assert (seo.department, seo.category) == ("sales", "sales")
    assert seo.description.startswith("Also an SEO question")
    # Each department's team hears of its own ticket.
    opened = [n for n in world.uow.db.outbox if n.key == "team.ticket_opened"]
    assert {(n.ticket_number, n.recipient) for n in opened} == {(1, "technical"), (2, "sales")}
    # Only the technical one counts against the quota.
    left = await world.tickets.quota_left("SN-1")
    assert left is not None and left.params == {"left": 9, "limit": 10}
