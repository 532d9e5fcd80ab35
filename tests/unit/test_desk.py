"""The customer's side of the desk (``Desk.handle``) on in-memory ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.account import Account
from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import AskCustomer, BlockTicket, DeclineTicket, ResolveTicket, UnblockTicket
from bot.desk import Desk
from bot.i18n import Translator
from bot.inputs import ChoicePicked, CommandGiven, FileSent, Input, TextSent
from bot.participant import Actor, Participant, Role
from bot.policy import load_policy
from bot.reply import Day, Reply
from bot.schedule import Schedule
from bot.ticket import Attachment, DeclineReason, Status
from bot.tickets import TicketService
from conversations.intake import Intake
from conversations.training import Training
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("telegram", "100")
BOB = Participant("telegram", "200")
EVA = Actor(Participant("telegram", "900"), "eva", Role.AGENT, frozenset({"technical"}))


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        self.uow = FakeUnitOfWorkFactory()
        schedule = Schedule(POLICY)
        self.tickets = TicketService(self.uow, POLICY, self.clock, Announcer(POLICY), schedule)
        self.desk = Desk(self.uow, self.tickets, POLICY, self.clock, [Intake(), Training()])
        self.uow.db.accounts["SN-1"] = Account(
            "SN-1", ("shop.cz",), "standard", date(2099, 1, 1), date(2026, 11, 20)
        )

    async def say(self, event: Input | str, who: Participant = ALICE) -> list[Reply]:
        if isinstance(event, str):
            event = (
                CommandGiven(event[1:].partition(" ")[0], event.partition(" ")[2])
                if event.startswith("/")
                else TextSent(event)
            )
        return await self.desk.handle(who, event, name="Alice", locale="cs-CZ")

    async def file(self, who: Participant = ALICE) -> int:
        await self.say("/new", who)
        asked = await self.say(ChoicePicked("bug"), who)
        if asked[-1].key == "intake.ask_support_number":
            await self.say("SN-1", who)
        for step in (
            "Checkout fails with 500",
            "The checkout page shows error 500 after I click Pay.",
            "/skip",
            ChoicePicked("done"),
        ):
            await self.say(step, who)
        replies = await self.say("/skip", who)  # phone
        assert replies[-1].choices[0].value == "confirm"
        filed = await self.say(ChoicePicked("confirm"), who)
        if filed[0].key == "intake.duplicate_offer":
            filed = await self.say(ChoicePicked("new"), who)
        assert filed[0].key == "intake.filed", filed
        return int(filed[0].params["number"])


def keys(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


@pytest.fixture
def world() -> World:
    return World()


async def test_first_contact_takes_the_platform_language(world: World) -> None:
    await world.say("/help")
    assert (await world.desk.customer(ALICE)).locale == "cs"
    replies = await world.say("/language")
    assert [c.value for c in replies[0].choices] == ["lang:en", "lang:cs", "lang:pl", "lang:ru"]
    await world.say(ChoicePicked("lang:pl"))
    assert (await world.desk.customer(ALICE)).locale == "pl"


async def test_filing_tells_the_expectation_and_the_quota(world: World) -> None:
    await world.file()
    customer = await world.desk.customer(ALICE)
    assert customer.support_number == "SN-1" and customer.current_ticket == 1
    # The second intake does not ask for the support number again.
    number = await world.file()
    assert number == 2
    ticket = await world.tickets.get(2)
    assert ticket.support_number == "SN-1" and ticket.domain == "shop.cz"


async def test_a_similar_new_ticket_can_join_the_open_one(world: World) -> None:
    n = await world.file()
    for step in (
        "/new",
        ChoicePicked("bug"),
        "Checkout fails with 500",
        "The checkout page shows error 500 after I click Pay.",
        "/skip",
        ChoicePicked("done"),
        "/skip",
    ):
        await world.say(step)
    offer = await world.say(ChoicePicked("confirm"))
    assert offer[0].key == "intake.duplicate_offer" and offer[0].params["number"] == n
    added = await world.say(ChoicePicked("add"))
    assert keys(added) == ["intake.added"]
    assert len(world.uow.db.tickets) == 1
    assert (await world.tickets.get(n)).entries[-1].kind.value == "customer"


async def test_a_loose_message_joins_the_open_ticket(world: World) -> None:
    n = await world.file()
    replies = await world.say("It also happens on mobile.")
    assert keys(replies) == ["desk.added_to_ticket"]
    ticket = await world.tickets.get(n)
    assert ticket.entries[-1].text == "It also happens on mobile."
    photo = Attachment("f1", "screen.png", "image/png", 1000, "telegram")
    await world.say(FileSent((photo,), caption="see screenshot"))
    ticket = await world.tickets.get(n)
    assert ticket.entries[-1].attachments == (photo,)


async def test_an_answer_to_a_question_returns_the_ticket_to_the_agent(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, AskCustomer(number=n, text="Which browser?"))
    await world.say("Firefox")
    assert (await world.tickets.get(n)).status is Status.ACCEPTED


async def test_a_message_to_a_blocked_ticket_was_lost(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, BlockTicket(number=n))
    replies = await world.say("any news? the shop still shows error 500")
    # Kept, and the customer told so; the team hears of it only once it is unblocked.
    assert keys(replies) == ["notice.blocked_kept"]
    entries = (await world.tickets.get(n)).entries
    assert [(e.kind.value, e.text) for e in entries] == [
        ("held", "any news? the shop still shows error 500")
    ]
    assert not [x for x in world.uow.db.outbox if x.key == "team.customer_wrote"]
    shown = await world.say(f"/ticket {n}")
    assert any(r.params.get("text") == "any news? the shop still shows error 500" for r in shown)
    await world.tickets.execute(EVA, UnblockTicket(number=n))
    wrote = [x for x in world.uow.db.outbox if x.key == "team.customer_wrote"]
    assert [x.params["text"] for x in wrote] == ["any news? the shop still shows error 500"]
    told = [x.key for x in world.uow.db.outbox if x.key.startswith("notice.unblocked")]
    assert told == ["notice.unblocked_held"]
    assert keys(await world.say("thanks")) == ["desk.added_to_ticket"]


async def test_a_message_about_a_closed_ticket_offers_a_follow_up(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, DeclineTicket(number=n, reason=DeclineReason.OUT_OF_SCOPE))
    replies = await world.say("broken again")
    # What they wrote is kept for the follow-up, and they are told so.
    assert keys(replies) == ["followup.message_kept", "followup.offer"]
    replies = await world.say(ChoicePicked("yes"))
    assert "intake.ask_title" in keys(replies)
    replies = await world.say("Checkout broken again")
    # Too short to describe the problem alone: it starts the description.
    assert keys(replies) == ["intake.carried_short", "intake.ask_description"]
    for step in ("The checkout shows error 500 once more today.", "/skip"):
        await world.say(step)
    await world.say(ChoicePicked("done"))
    await world.say("/skip")
    filed = await world.say(ChoicePicked("confirm"))
    follow_up = await world.tickets.get(int(filed[0].params["number"]))
    assert follow_up.follow_up_of == n
    assert follow_up.description == (
        "broken again\n\nThe checkout shows error 500 once more today."
    )


async def test_resolution_buttons_confirm_once_and_refuse_strangers(world: World) -> None:
    n = await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="fixed"))
    stranger = await world.say(ChoicePicked(f"confirm:{n}"), who=BOB)
    assert keys(stranger) == ["error.not_allowed"]
    assert (await world.tickets.get(n)).status is Status.RESOLVED
    assert keys(await world.say(ChoicePicked(f"confirm:{n}"))) == [
        "desk.resolution_confirmed",
        "rating.ask",
    ]
    assert keys(await world.say(ChoicePicked(f"confirm:{n}"))) == ["desk.already_done"]
    assert (await world.tickets.get(n)).status is Status.CLOSED


@pytest.mark.parametrize(
    "value", ["confirm:abc", "confirm:999", "tickets:everything", "lang:xx", "evil", "ticket:"]
)
async def test_forged_button_data_changes_nothing(world: World, value: str) -> None:
    n = await world.file()
    replies = await world.say(ChoicePicked(value))
    assert replies and all(r.key != "desk.resolution_confirmed" for r in replies)
    assert (await world.tickets.get(n)).status is Status.NEW


async def test_someone_elses_ticket_looks_missing(world: World) -> None:
    n = await world.file()
    assert keys(await world.say(f"/ticket {n}", who=BOB)) == ["error.ticket_not_found"]
    shown = await world.say(f"/ticket {n}")
    assert shown[0].key == "desk.ticket_view"


async def test_ticket_list_filters(world: World) -> None:
    first = await world.file()
    await world.file()
    await world.tickets.execute(EVA, ResolveTicket(number=first))
    done = await world.say("/tickets done")
    assert [r.params.get("number") for r in done if r.key == "desk.ticket_line"] == [first]
    everything = await world.say(ChoicePicked("tickets:all"))
    assert len([r for r in everything if r.key == "desk.ticket_line"]) == 2


async def test_a_corrupt_stored_conversation_is_dropped_with_an_apology(world: World) -> None:
    await world.say("/new")
    profile = world.uow.db.customers[ALICE]
    world.uow.db.customers[ALICE] = replace(
        profile, conversation={"kind": "intake", "data": {"v": 99, "step": "??"}}
    )
    assert keys(await world.say("hello"))[0] == "desk.conversation_lost"
    assert world.uow.db.customers[ALICE].conversation is None


async def test_training_for_a_new_account(world: World) -> None:
    await world.file()  # links SN-1, bought 3 days ago on a standard plan
    started = await world.say("/training")
    assert keys(started) == ["training.intro", "training.ask_slots"]
    await world.say("Tue 10:00\nWed 14:00")
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "training.filed"
    ticket = await world.tickets.get(int(filed[0].params["number"]))
    assert ticket.department == "sales" and ticket.category == "training"


async def test_unknown_command_gets_help(world: World) -> None:
    assert keys(await world.say("/frobnicate")) == ["desk.unknown_command", "desk.help"]
    assert keys(await world.say("/cancel")) == ["desk.nothing_to_cancel"]


async def test_support_runs_from_the_licence_purchase(world: World) -> None:
    # Standard support lasts 3 months: bought in June, it ended in September.
    world.uow.db.accounts["SN-OLD"] = Account(
        "SN-OLD", ("old.cz",), "standard", None, date(2026, 6, 1)
    )
    for step in ("/new", ChoicePicked("bug"), "Checkout fails with 500"):
        await world.say(step)
    for step in ("The checkout page shows error 500 after I click Pay.", "/skip"):
        await world.say(step)
    await world.say(ChoicePicked("done"))
    replies = await world.say("SN-OLD")
    assert "intake.support_expired" in keys(replies)
    expired = next(r for r in replies if r.key == "intake.support_expired")
    assert expired.params["date"] == Day(date(2026, 8, 31))
    # Told as a date in the customer's language, by Babel.
    translator = Translator.load()
    assert "31. srpna 2026" in translator.reply(expired, "cs")
    assert "August 31, 2026" in translator.reply(expired, "en")


async def test_an_organisation_admin_sees_every_ticket_and_who_opened_it(world: World) -> None:
    world.uow.db.accounts["SN-1"] = Account(
        "SN-1", ("shop.cz",), "standard", date(2099, 1, 1), admins=(ALICE.key,)
    )
    mine = await world.file(ALICE)
    colleague = await world.file(BOB)
    # A colleague is no admin: no organisation filter for them.
    bob_filters = await world.say("/tickets", who=BOB)
    assert "tickets:org" not in [c.value for c in bob_filters[0].choices]
    assert keys(await world.say(ChoicePicked("tickets:org"), who=BOB)) == ["error.not_allowed"]
    filters = await world.say("/tickets")
    assert "tickets:org" in [c.value for c in filters[0].choices]
    listed = await world.say(ChoicePicked("tickets:org"))
    lines = [r for r in listed if r.key == "desk.ticket_line_by"]
    assert {(r.params["number"], r.params["who"]) for r in lines} == {
        (mine, "Alice"),
        (colleague, "Alice"),
    }
    by_bob = await world.say(ChoicePicked(f"tickets:by:{BOB.key}"))
    assert [r.params["number"] for r in by_bob if r.key == "desk.ticket_line_by"] == [colleague]
    shown = await world.say(f"/ticket {colleague}")
    assert shown[0].key == "desk.ticket_view" and keys(shown)[-1] != "desk.hint_open"
    # Reading along does not make the colleague's ticket the admin's current one.
    assert (await world.desk.customer(ALICE)).current_ticket == mine


async def test_a_long_ticket_list_comes_in_pages(world: World) -> None:
    """Ten to a page, newest first; the first page counts each filter; Previous/Next
    buttons (and ``/tickets all 2``) turn the page; a forged page number is refused."""
    from bot.ticket import Origin, RequestType, Ticket

    for i in range(23):
        ticket = Ticket(
            customer=ALICE,
            customer_name="Alice",
            department="technical",
            category="bug",
            request_type=RequestType.BUG,
            title=f"Problem {i}",
            description="…",
            origin=Origin("telegram"),
            created_at=world.clock.now(),
        )
        async with world.uow() as uow:
            await uow.tickets.add(ticket)
            await uow.commit()
    first = await world.say("/tickets all")
    lines = [r for r in first if r.key == "desk.ticket_line"]
    assert [r.params["number"] for r in lines] == list(range(23, 13, -1))
    assert "desk.tickets_counts" in keys(first)
    assert first[-1].key == "view.page" and first[-1].params == {"page": 1, "pages": 3}
    # One message: the page's tickets to open, then the page buttons.
    buttons = [c.value for c in first[-1].choices]
    assert buttons == [f"ticket:{n}" for n in range(23, 13, -1)] + ["tickets:all:2"]
    second = await world.say(ChoicePicked("tickets:all:2"))
    assert [r.params["number"] for r in second if r.key == "desk.ticket_line"] == list(
        range(13, 3, -1)
    )
    assert "desk.tickets_counts" not in keys(second)
    assert [c.value for c in second[-1].choices][-2:] == ["tickets:all:1", "tickets:all:3"]
    third = await world.say("/tickets all 3")
    assert [r.params["number"] for r in third if r.key == "desk.ticket_line"] == [3, 2, 1]
    for forged in ("tickets:all:0", "tickets:all:99999999999999", "tickets:all:x"):
        assert "desk.ticket_line" not in keys(await world.say(ChoicePicked(forged)))


async def test_a_restart_in_the_middle_of_an_intake_left_the_customer_without_a_word(
    world: World,
) -> None:
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    world.clock.advance(minutes=2)
    # The desk starts again: the customer hears where they were, with the buttons.
    assert await world.desk.remind_interrupted() == 1
    sent = [x for x in world.uow.db.outbox if x.recipient == ALICE.external_id]
    assert [x.key for x in sent] == ["desk.resumed", "intake.ask_title"]
    assert sent[0].locale == "cs"
    # Once per step, however many workers start.
    assert await world.desk.remind_interrupted() == 0
    # Their next message answers the question they were reminded of.
    replies = await world.say("Checkout fails with 500")
    assert keys(replies) == ["intake.ask_description"]


async def test_only_recent_conversations_are_reminded_after_a_restart(world: World) -> None:
    await world.say("/new")
    world.clock.advance(hours=2)  # left long before the restart: not "in the middle"
    assert await world.desk.remind_interrupted() == 0
    await world.say(ChoicePicked("bug"))
    world.clock.advance(minutes=1)
    assert await world.desk.remind_interrupted() == 1
    reminded = [x for x in world.uow.db.outbox if x.key == "intake.ask_support_number"]
    assert [c.value for c in reminded[0].choices] == ["no_number"]
