"""The help centre through the desk, on in-memory ports: articles offered at intake
(solved = no ticket and a deflected request; still need help = on with the request),
and ``/help WORDS`` at any time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.account import Account
from bot.announce import Announcer
from bot.clock import ManualClock
from bot.desk import Desk
from bot.inputs import ChoicePicked, CommandGiven, Input, TextSent
from bot.knowledge.centre import HelpCentre
from bot.participant import Participant
from bot.policy import load_policy
from bot.reply import Reply
from bot.schedule import Schedule
from bot.tickets import TicketService
from conversations.feedback import ArticleFeedback
from conversations.intake import Intake
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("telegram", "100")
TITLE = "Card payment declined"
DESCRIPTION = "My card was declined when paying the subscription invoice this morning."


class World:
    def __init__(self) -> None:
        self.clock = ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        self.uow = FakeUnitOfWorkFactory()
        self.help = HelpCentre(self.uow, POLICY.help_folder, POLICY.languages, POLICY.departments)
        tickets = TicketService(self.uow, POLICY, self.clock, Announcer(POLICY), Schedule(POLICY))
        self.desk = Desk(
            self.uow,
            tickets,
            POLICY,
            self.clock,
            [Intake(), ArticleFeedback()],
            help_centre=self.help,
        )
        self.uow.db.accounts["SN-1"] = Account(
            "SN-1", ("shop.cz",), "standard", date(2099, 1, 1), date(2026, 11, 20)
        )

    async def say(self, event: Input | str, locale: str = "en") -> list[Reply]:
        if isinstance(event, str):
            name, _, arg = event[1:].partition(" ")
            event = CommandGiven(name, arg) if event.startswith("/") else TextSent(event)
        return await self.desk.handle(ALICE, event, name="Alice", locale=locale)

    async def describe(self, locale: str = "en") -> list[Reply]:
        await self.help.reindex()
        await self.say("/new", locale)
        await self.say(ChoicePicked("payment"), locale)
        await self.say("/skip", locale)  # no support number: sales takes anyone
        await self.say("/skip", locale)  # no domain
        await self.say(TITLE, locale)
        return await self.say(DESCRIPTION, locale)


def keys(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


async def test_the_departments_best_article_is_offered_and_solving_files_nothing() -> None:
    world = World()
    offered = await world.describe()
    assert keys(offered) == ["help.suggest"]
    first = offered[0].choices[0]
    assert (first.value, first.params["title"]) == (
        "read.0",
        "The payment for the subscription failed or the card was declined",
    )
    read = await world.say(ChoicePicked("read.0"))
    assert keys(read) == ["help.article", "help.solved_question"]
    assert "Account › Billing" in read[0].params["body"]
    assert "**" not in read[0].params["body"]
    done = await world.say(ChoicePicked("solved"))
    assert keys(done) == ["help.deflected"]
    assert world.uow.db.tickets == {}
    (deflection,) = world.uow.db.deflections
    assert (deflection.department, deflection.category, deflection.slug) == (
        "sales",
        "payment",
        "payment-failed",
    )
    assert deflection.customer == ALICE.key
    async with world.uow() as unit:
        since = datetime(2026, 11, 1, tzinfo=UTC)
        assert await unit.articles.deflections(since) == {"sales": 1}
    assert (await world.desk.customer(ALICE)).conversation is None


async def test_still_needing_help_files_the_request_with_what_was_written() -> None:
    world = World()
    await world.describe()
    steps = await world.say(ChoicePicked("need_help"))
    assert keys(steps) == ["intake.ask_steps"]
    await world.say("/skip")
    await world.say(ChoicePicked("done"))
    await world.say("/skip")  # phone
    filed = await world.say(ChoicePicked("confirm"))
    assert filed[0].key == "intake.filed"
    (ticket,) = world.uow.db.tickets.values()
    assert (ticket.title, ticket.description) == (TITLE, DESCRIPTION)
    assert world.uow.db.deflections == []


async def test_articles_come_in_the_customers_language() -> None:
    world = World()
    await world.help.reindex()
    await world.say("/new", "cs")
    await world.say(ChoicePicked("payment"), "cs")
    await world.say("/skip", "cs")
    await world.say("/skip", "cs")
    await world.say("Karta zamítnuta", "cs")
    offered = await world.say("Při platbě předplatného byla moje karta zamítnuta.", "cs")
    assert offered[0].choices[0].params["title"] == (
        "Platba za předplatné neprošla nebo byla karta zamítnuta"
    )


async def test_help_words_search_any_time_and_leave_the_intake_where_it_was() -> None:
    world = World()
    await world.help.reindex()
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    found = await world.say("/help emails do not arive")
    assert keys(found) == ["help.found"]
    assert found[0].choices[0].value == "art:emails-not-sent:en"
    shown = await world.say(ChoicePicked("art:emails-not-sent:en"))
    assert keys(shown) == ["help.article", "help.was_helpful"]
    assert shown[0].params["title"] == "Order confirmation e-mails do not arrive"
    # The intake still waits for the title.
    assert keys(await world.say("Checkout fails")) == ["intake.ask_description"]
    nothing = await world.say("/help zzzz qqqq")
    assert keys(nothing) == ["help.nothing_found"]
    assert nothing[0].params == {"query": "zzzz qqqq"}
    gone = await world.say(ChoicePicked("art:no-such-article:en"))
    assert keys(gone) == ["help.article_gone"]


async def test_plain_help_still_lists_the_commands() -> None:
    world = World()
    assert keys(await world.say("/help")) == ["desk.help"]


async def test_a_description_matching_no_article_goes_on_to_the_steps() -> None:
    world = World()
    await world.help.reindex()
    await world.say("/new")
    await world.say(ChoicePicked("complaint"))
    await world.say("/skip")
    await world.say("/skip")
    await world.say("Rude sales person")
    replies = await world.say("The salesperson was impolite on the phone yesterday evening.")
    assert keys(replies) == ["intake.ask_steps"]


async def test_was_this_helpful_yes_no_with_a_reason_and_counts_per_article() -> None:
    world = World()
    await world.help.reindex()
    shown = await world.say(ChoicePicked("art:site-down:en"))
    assert [c.value for c in shown[1].choices] == ["fb:y:site-down:en", "fb:n:site-down:en"]
    assert keys(await world.say(ChoicePicked("fb:y:site-down:en"))) == ["help.thanks"]
    why = await world.say(ChoicePicked("fb:n:site-down:en"))
    assert keys(why) == ["help.why_not"]
    assert [c.value for c in why[0].choices] == [
        "fr:outdated:site-down:en",
        "fr:unclear:site-down:en",
        "fr:unsolved:site-down:en",
        "fr:other:site-down:en",
    ]
    # No without a reason records nothing: the yes stands until a reason is given.
    assert [(f.helpful, f.reason) for f in world.uow.db.feedback.values()] == [(True, None)]
    assert keys(await world.say(ChoicePicked("fr:outdated:site-down:en"))) == ["help.thanks"]
    (feedback,) = world.uow.db.feedback.values()  # the customer's answer replaced
    assert (feedback.helpful, feedback.reason) == (False, "outdated")


async def test_other_asks_for_the_customers_words_and_keeps_them() -> None:
    world = World()
    await world.help.reindex()
    ask = await world.say(ChoicePicked("fr:other:emails-not-sent:en"))
    assert keys(ask) == ["help.ask_other"]
    thanks = await world.say("The SMTP page is called Mail <server> now")
    assert keys(thanks) == ["help.thanks"]
    async with world.uow() as unit:
        (counts,) = await unit.articles.feedback()
    assert (counts.slug, counts.helpful, counts.not_helpful) == ("emails-not-sent", 0, 1)
    assert counts.reasons == {"other": 1}
    assert counts.comments == ("The SMTP page is called Mail <server> now",)
    # The conversation is over: a next message is an ordinary one again.
    assert (await world.desk.customer(ALICE)).conversation is None


async def test_other_during_an_intake_is_recorded_and_the_intake_goes_on() -> None:
    world = World()
    await world.help.reindex()
    await world.say("/new")
    await world.say(ChoicePicked("bug"))
    await world.say("SN-1")
    thanks = await world.say(ChoicePicked("fr:other:site-down:en"))
    assert keys(thanks) == ["help.thanks"]
    assert keys(await world.say("Checkout fails")) == ["intake.ask_description"]
    (feedback,) = world.uow.db.feedback.values()
    assert (feedback.helpful, feedback.reason, feedback.comment) == (False, "other", "")


async def test_solving_the_problem_with_an_article_counts_as_helpful() -> None:
    world = World()
    await world.describe()
    await world.say(ChoicePicked("read.0"))
    await world.say(ChoicePicked("solved"))
    (feedback,) = world.uow.db.feedback.values()
    assert (feedback.slug, feedback.helpful) == ("payment-failed", True)


async def test_feedback_on_an_unknown_article_changes_nothing() -> None:
    world = World()
    await world.help.reindex()
    assert keys(await world.say(ChoicePicked("fb:y:nope:en"))) == ["help.article_gone"]
    assert world.uow.db.feedback == {}
