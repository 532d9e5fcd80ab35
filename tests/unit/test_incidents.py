"""Incidents through the core on in-memory ports: agents open one, link tickets, one
update reaches every affected customer in their language and channel, resolving it
resolves its tickets (each customer still confirms); intake offers to join it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.clock import ManualClock
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.incident import IncidentStatus
from bot.incidents import IncidentService
from bot.inputs import ChoicePicked
from bot.notification import Audience
from bot.participant import Actor, Participant, Role
from bot.policy import load_policy
from bot.reply import Reply
from bot.ticket import Status
from bot.tickets import TicketService
from tests.unit.fakes import FakeUnitOfWorkFactory
from tests.unit.test_desk import World

POLICY = load_policy()
EVA = Actor(Participant("telegram", "900"), "eva", Role.AGENT, frozenset({"technical"}))
SAM = Actor(Participant("telegram", "901"), "sam", Role.AGENT, frozenset({"sales"}))


class Desk:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory()
        clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
        self.tickets = TicketService(self.uow, POLICY, clock)
        self.incidents = IncidentService(self.uow, self.tickets, POLICY)

    async def file(self, who: str, platform: str, locale: str) -> int:
        customer = Customer(Participant(platform, who), name=who, locale=locale)
        draft = TicketDraft(category="bug", title="Checkout down", description="Error 500.")
        [ticket] = await self.tickets.open_tickets(customer, (draft,), platform)
        assert ticket.number is not None
        return ticket.number

    async def say(self, actor: Actor, arg: str) -> list[Reply]:
        return await self.incidents.handle(actor, arg)

    def customer_news(self) -> list[tuple[str, str, str, str]]:
        out = [
            (n.channel, n.recipient, n.locale, n.key)
            for n in self.uow.db.outbox
            if n.audience is Audience.CUSTOMER
        ]
        self.uow.db.outbox.clear()
        return out


def keys(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


async def test_an_incident_reaches_every_customer_and_resolves_their_tickets() -> None:
    desk = Desk()
    first = await desk.file("alice", "telegram", "cs")
    second = await desk.file("bob", "discord", "pl")
    opened = await desk.say(EVA, "new Checkout down since 9:00")
    assert keys(opened) == ["incident.opened"] and opened[0].params["id"] == 1
    desk.uow.db.outbox.clear()

    added = await desk.say(EVA, f"add {first}, #{second}")
    assert added[0].params["numbers"] == f"#{first}, #{second}"
    assert desk.customer_news() == [
        ("telegram", "alice", "cs", "incident.customer_linked"),
        ("discord", "bob", "pl", "incident.customer_linked"),
    ]

    updated = await desk.say(EVA, "update The payment gateway is down; we are on it.")
    assert updated[0].params["count"] == 2
    news = [n for n in desk.uow.db.outbox if n.key == "incident.customer_update"]
    assert [(n.recipient, n.params["text"]) for n in news] == [
        ("alice", "The payment gateway is down; we are on it."),
        ("bob", "The payment gateway is down; we are on it."),
    ]
    assert news[0].params["incident_title"] == "Checkout down since 9:00"
    desk.customer_news()
    ticket = await desk.tickets.get(first)
    assert ticket.entries[-1].text == "The payment gateway is down; we are on it."

    resolved = await desk.say(EVA, "resolve Fixed by the provider")
    assert resolved[0].params["count"] == 2
    for number in (first, second):
        assert (await desk.tickets.get(number)).status is Status.RESOLVED
    resolutions = [n for n in desk.uow.db.outbox if n.key == "notice.resolved"]
    assert [c.value for c in resolutions[0].choices] == [f"confirm:{first}", f"dispute:{first}"]
    assert desk.uow.db.incidents[1].status is IncidentStatus.RESOLVED
    assert keys(await desk.say(EVA, "update anything")) == ["incident.none_open"]


async def test_only_the_agents_departments_tickets_can_join() -> None:
    desk = Desk()
    number = await desk.file("alice", "telegram", "en")
    await desk.say(SAM, "new Invoices doubled")
    assert keys(await desk.say(SAM, f"add {number}")) == ["incident.not_yours"]
    assert desk.uow.db.incident_of == {}
    assert keys(await desk.say(EVA, f"add {number}")) == ["incident.none_open"]
    assert keys(await desk.say(EVA, "#1 update hello")) == ["incident.usage"]
    assert keys(await desk.say(EVA, "update #1 hello")) == ["incident.none_open"]


@pytest.mark.parametrize("arg", ["new ab", "add", "add x", "update", "bogus"])
async def test_bad_incident_commands_get_the_usage(arg: str) -> None:
    desk = Desk()
    await desk.say(EVA, "new Checkout down")
    assert keys(await desk.say(EVA, arg)) == ["incident.usage"]


async def test_listing_the_open_incidents() -> None:
    desk = Desk()
    assert keys(await desk.say(EVA, "")) == ["incident.none_open"]
    await desk.say(EVA, "new Checkout down")
    number = await desk.file("alice", "telegram", "en")
    await desk.say(EVA, f"add {number}")
    listed = await desk.say(EVA, "list")
    assert keys(listed) == ["incident.list_header", "incident.line"]
    assert listed[1].params == {"id": 1, "title": "Checkout down", "count": 1}


async def test_a_new_request_matching_an_open_incident_is_offered_to_join_it() -> None:
    world = World()
    incidents = IncidentService(world.uow, world.tickets, POLICY)
    await incidents.handle(EVA, "new Checkout fails with error 500")
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    await world.say("Checkout broken")
    offer = await world.say("The checkout fails: error 500 when I click Pay.")
    assert keys(offer) == ["incident.offer"]
    joined = await world.say(ChoicePicked("join"))
    assert joined[0].key == "incident.joining"
    await world.say("/skip")  # phone
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed"
    number = int(filed[0].params["number"])
    assert world.uow.db.incident_of == {number: 1}
    incident = await incidents.handle(EVA, "list")
    assert incident[1].params["count"] == 1
