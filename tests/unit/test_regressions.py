"""Regression tests, each named after the bug a review found."""

from __future__ import annotations

from datetime import date

import pytest

from bot.account import Account
from bot.commands import (
    AcceptQuote,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    ConfirmResolution,
    DeclineTicket,
    DisputeResolution,
    QuoteTicket,
    ResolveTicket,
    UnblockTicket,
    WriteToTicket,
)
from bot.errors import InvalidTransition, NotAllowed
from bot.inputs import ChoicePicked, FileSent
from bot.participant import Actor, Role
from bot.ticket import Attachment, DeclineReason, QuoteState, Status
from bot.tickets import FileRefused
from tests.unit.test_desk import ALICE, EVA, World, keys

CUSTOMER = Actor(ALICE, "Alice", Role.CUSTOMER)


@pytest.fixture
def world() -> World:
    return World()


async def test_old_resolution_buttons_do_nothing_once_the_ticket_moved_on(world: World) -> None:
    n = await world.file()
    for command in (ConfirmResolution(number=n), DisputeResolution(number=n)):
        with pytest.raises(InvalidTransition):
            await world.tickets.execute(CUSTOMER, command)
    await world.tickets.execute(EVA, BlockTicket(number=n))
    assert keys(await world.say(ChoicePicked(f"dispute:{n}"))) == ["desk.already_done"]
    assert (await world.tickets.get(n)).status is Status.BLOCKED


async def test_unblock_only_unblocks(world: World) -> None:
    n = await world.file()
    with pytest.raises(InvalidTransition):
        await world.tickets.execute(EVA, UnblockTicket(number=n))
    assert (await world.tickets.get(n)).status is Status.NEW


async def test_a_quote_cannot_be_accepted_on_a_declined_ticket(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, QuoteTicket(number=n, price="2000 CZK"))
    await world.tickets.execute(EVA, DeclineTicket(number=n, reason=DeclineReason.OUT_OF_SCOPE))
    with pytest.raises(InvalidTransition):
        await world.tickets.execute(CUSTOMER, AcceptQuote(number=n))
    quote = (await world.tickets.get(n)).quote
    assert quote is not None and quote.state is QuoteState.WITHDRAWN


async def test_writing_to_a_resolved_ticket_reopens_it(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="fixed"))
    await world.say("It still does not work, same error 500 as before.")
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.ACCEPTED and ticket.next_check_at is not None


async def test_a_second_question_restarts_the_waiting_timers(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which browser?"))
    first = (await world.tickets.get(n)).next_check_at
    world.clock.advance(days=2)
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which version?"))
    ticket = await world.tickets.get(n)
    assert first is not None and ticket.next_check_at is not None
    assert ticket.next_check_at > first
    assert [(h.old, h.new) for h in ticket.history][-1] == (Status.WAITING, Status.WAITING)


async def test_files_outside_intake_are_checked_too(world: World) -> None:
    n = await world.file()
    evil = Attachment("f9", "evil.exe", "application/x-msdos-program", 1000, "telegram")
    with pytest.raises(FileRefused):
        await world.tickets.execute(
            CUSTOMER, WriteToTicket(number=n, text="", attachments=(evil,))
        )
    replies = await world.say(FileSent((evil,)))
    assert keys(replies) == ["files.refused"]
    assert (await world.tickets.get(n)).entries == []


async def test_notifications_follow_a_language_change(world: World) -> None:
    n = await world.file()  # filed in Czech
    await world.say("/language pl")
    await world.tickets.execute(EVA, ClaimTicket(number=n))
    accepted = [x for x in world.uow.db.outbox if x.key == "notice.accepted"]
    assert [x.locale for x in accepted] == ["pl"]


async def test_pressing_claim_twice_tells_the_customer_once(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, ClaimTicket(number=n))
    await world.tickets.execute(EVA, ClaimTicket(number=n))
    assert [x.key for x in world.uow.db.outbox].count("notice.accepted") == 1


async def test_a_message_while_viewing_a_closed_ticket_offers_its_follow_up(world: World) -> None:
    closed = await world.file()
    await world.tickets.execute(
        EVA, DeclineTicket(number=closed, reason=DeclineReason.THIRD_PARTY)
    )
    other = await world.file()
    await world.say(f"/ticket {closed}")
    replies = await world.say("The checkout error is back again since this morning.")
    assert keys(replies) == ["followup.message_kept", "followup.offer"]
    assert (await world.tickets.get(other)).entries == []


async def test_text_written_to_a_closed_ticket_was_lost(world: World) -> None:
    closed = await world.file()
    await world.tickets.execute(
        EVA, DeclineTicket(number=closed, reason=DeclineReason.THIRD_PARTY)
    )
    await world.say("The checkout error is back again since this morning.")
    await world.say(ChoicePicked("yes"))
    replies = await world.say("Checkout error is back")
    # Long enough to describe the problem: it is the description, steps come next.
    assert keys(replies) == ["intake.carried_description", "intake.ask_steps_bug"]
    for step in ("/skip", ChoicePicked("done"), "/skip"):
        await world.say(step)
    filed = await world.say(ChoicePicked("confirm"))
    follow_up = await world.tickets.get(int(filed[0].params["number"]))
    assert follow_up.description == "The checkout error is back again since this morning."
    assert follow_up.follow_up_of == closed


async def test_an_answer_to_a_question_is_not_swallowed_by_an_unfinished_intake(
    world: World,
) -> None:
    n = await world.file()
    await world.say("/new")
    await world.say(ChoicePicked("howto"))
    world.clock.advance(minutes=5)
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which browser?"))
    replies = await world.say("Firefox 120")
    assert keys(replies) == ["desk.added_to_ticket", "desk.conversation_paused"]
    ticket = await world.tickets.get(n)
    assert ticket.status is Status.ACCEPTED and ticket.entries[-1].text == "Firefox 120"
    # The next message continues the intake where it was: the title.
    replies = await world.say("How do I export orders?")
    assert "intake.ask_description" in keys(replies)


async def test_an_intake_left_for_days_times_out(world: World) -> None:
    await world.file()
    await world.say("/new")
    world.clock.advance(days=4)
    replies = await world.say("hello again")
    assert keys(replies)[0] == "intake.timed_out"
    assert "desk.added_to_ticket" in keys(replies)


@pytest.mark.parametrize("text", ["/ticket 99999999999999999999999", "/ticket ²", "/start t²"])
async def test_huge_or_odd_numbers_are_a_usage_hint_not_a_crash(world: World, text: str) -> None:
    replies = await world.say(text)
    assert replies and replies[0].key in ("desk.ticket_usage", "desk.welcome")


async def test_an_expired_number_is_not_remembered(world: World) -> None:
    world.uow.db.accounts["SN-OLD"] = Account("SN-OLD", ("old.cz",), "standard", date(2020, 1, 1))
    for step in ("/new", ChoicePicked("bug"), "Checkout fails with 500"):
        await world.say(step)
    await world.say("The checkout page shows error 500 after I click Pay.")
    await world.say("/skip")
    await world.say(ChoicePicked("done"))
    assert "intake.support_expired" in keys(await world.say("SN-OLD"))
    assert (await world.desk.customer(ALICE)).support_number == ""


async def test_agents_of_other_departments_cannot_read_internal_notes(world: World) -> None:
    n = await world.file()
    with pytest.raises(NotAllowed):
        await world.tickets.transcript(n, Actor(ALICE, "Sam", Role.AGENT, frozenset({"sales"})))
    assert (await world.tickets.transcript(n, EVA))[0].key == "view.card"


async def test_after_an_expired_number_another_one_can_be_given(world: World) -> None:
    world.uow.db.accounts["SN-OLD"] = Account("SN-OLD", ("old.cz",), "standard", date(2020, 1, 1))
    for step in ("/new", ChoicePicked("bug")):
        await world.say(step)
    expired = await world.say("SN-OLD")
    assert "retry" in [c.value for r in expired for c in r.choices]
    assert "intake.ask_support_number" in keys(await world.say(ChoicePicked("retry")))
    replies = await world.say("SN-1")
    # What is left of the month's quota, before anything is written.
    assert keys(replies) == ["sla.quota_left", "intake.ask_title"]
    assert (await world.desk.customer(ALICE)).support_number == "SN-1"
