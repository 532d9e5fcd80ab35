"""Satisfaction after a ticket closes, through the desk on in-memory ports: 1-5 once
per ticket, optional words, on the card and in the team's thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.announce import Announcer
from bot.commands import ResolveTicket
from bot.events import AutoClosed
from bot.inputs import ChoicePicked
from bot.notification import Audience
from bot.participant import Participant
from bot.policy import load_policy
from bot.ticket import Origin, RequestType, Status, Ticket
from bot.views import service_lines
from conversations.rating import RatingComment
from tests.unit.test_desk import ALICE, BOB, EVA, World, keys


@pytest.fixture
def world() -> World:
    world = World()
    world.desk._dialogs["rating"] = RatingComment()
    return world


async def _closed(world: World) -> int:
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="fixed"))
    confirmed = await world.say(ChoicePicked(f"confirm:{n}"))
    assert [c.value for c in confirmed[-1].choices] == [f"rate:{n}:{s}" for s in range(1, 6)]
    assert confirmed[-1].choices[3].params["stars"] == "★★★★☆"
    return n


async def test_a_rating_and_words_are_kept_once_and_told_to_the_team(world: World) -> None:
    n = await _closed(world)
    world.uow.db.outbox.clear()
    asked = await world.say(ChoicePicked(f"rate:{n}:4"))
    assert keys(asked) == ["rating.ask_comment"]
    assert keys(await world.say("Quick and <polite>")) == ["rating.thanks"]
    ticket = await world.tickets.get(n)
    assert ticket.rating is not None
    assert (ticket.rating.score, ticket.rating.comment) == (4, "Quick and <polite>")
    team = [o for o in world.uow.db.outbox if o.audience is Audience.TEAM]
    assert [o.key for o in team] == ["rating.team_rated", "rating.team_comment"]
    assert team[1].params["comment"] == "Quick and <polite>"
    line = [r for r in service_lines(ticket, None, "UTC") if r.key == "rating.card"]
    assert line[0].params == {"stars": "★★★★☆", "score": 4, "comment": "Quick and <polite>"}
    # One rating per ticket.
    again = await world.say(ChoicePicked(f"rate:{n}:1"))
    assert keys(again) == ["rating.already"]
    assert (await world.tickets.get(n)).rating.score == 4  # type: ignore[union-attr]


async def test_skipping_the_words_keeps_the_rating(world: World) -> None:
    n = await _closed(world)
    await world.say(ChoicePicked(f"rate:{n}:2"))
    assert keys(await world.say("/skip")) == ["rating.thanks"]
    ticket = await world.tickets.get(n)
    assert ticket.rating is not None and (ticket.rating.score, ticket.rating.comment) == (2, "")
    assert (await world.desk.customer(ALICE)).conversation is None


async def test_an_open_ticket_a_strangers_or_a_forged_score_cannot_be_rated(
    world: World,
) -> None:
    n = await world.file()
    assert keys(await world.say(ChoicePicked(f"rate:{n}:5"))) == ["desk.already_done"]
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="fixed"))
    await world.say(ChoicePicked(f"confirm:{n}"))
    assert keys(await world.say(ChoicePicked(f"rate:{n}:5"), who=BOB)) == ["error.not_allowed"]
    assert keys(await world.say(ChoicePicked(f"rate:{n}:9"))) == ["error.invalid_input"]
    assert keys(await world.say(ChoicePicked(f"rate:{n}:x"))) == ["desk.choice_expired"]
    ticket = await world.tickets.get(n)
    assert ticket.rating is None and ticket.status is Status.CLOSED


async def test_rating_during_an_intake_leaves_the_intake_where_it_was(world: World) -> None:
    n = await _closed(world)
    await world.say("/new")
    assert keys(await world.say(ChoicePicked(f"rate:{n}:5"))) == ["rating.thanks"]
    assert (await world.tickets.get(n)).rating is not None
    assert keys(await world.say(ChoicePicked("bug")))[-1] == "intake.ask_title"


def test_an_auto_closed_ticket_offers_the_rating_buttons() -> None:
    ticket = Ticket(
        customer=Participant("telegram", "1"),
        customer_name="Jana",
        department="technical",
        category="bug",
        request_type=RequestType.BUG,
        title="Cart",
        description="Cart is empty",
        origin=Origin("telegram"),
        created_at=datetime(2026, 11, 2, tzinfo=UTC),
        status=Status.CLOSED,
        number=7,
    )
    notes = Announcer(load_policy()).notifications(
        AutoClosed(number=7, reason="resolved"), ticket, ticket.created_at + timedelta(days=8)
    )
    customer = [n for n in notes if n.audience is Audience.CUSTOMER]
    assert [c.value for c in customer[0].choices] == [f"rate:7:{s}" for s in range(1, 6)]
