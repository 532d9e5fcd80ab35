"""The assembled desk (``build_app``) delivering through a channel's notifier: an
unreachable customer, and a message left in doubt by a crash, which the team is
told about and can send again."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from store_support import Backend

from bot.announce import Announcer
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.commands import AnswerCustomer, ClaimTicket, ResendNotification, TicketDraft
from bot.customer import Customer
from bot.errors import NotAllowed, NotFound
from bot.inputs import TextSent
from bot.notification import Audience, DeliveryStatus, Notification
from bot.participant import Actor, Participant, Role
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.ports import RecipientUnreachable
from bot.reply import Reply
from bot.resend import report_uncertain, resend_notification
from bot.settings import Settings
from bot.ticket import EntryKind

# A Monday morning in Prague: the technical team is in.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ALICE = Participant("chat", "100")
EVA = Actor(Participant("chat", "900"), "eva", Role.AGENT, frozenset({"technical"}))
SALES = Actor(Participant("chat", "901"), "sam", Role.AGENT, frozenset({"sales"}))


class Chat:
    """The channel's notifier: what reached whom. ``blocked`` recipients blocked the bot."""

    channel = "chat"

    def __init__(self, *blocked: str) -> None:
        self.blocked = set(blocked)
        self.got: list[Notification] = []

    async def deliver(self, notification: Notification) -> None:
        if notification.recipient in self.blocked:
            raise RecipientUnreachable("Forbidden: bot was blocked by the user")
        self.got.append(notification)

    def keys(self, recipient: str) -> list[str]:
        return [n.key for n in self.got if n.recipient == recipient]


@pytest.fixture
async def app(backend: Backend) -> AsyncIterator[App]:
    settings = Settings(
        database_url=backend.engine.url.render_as_string(hide_password=False),
        _env_file=None,  # type: ignore[call-arg]
    )
    with EXAMPLE_POLICY.open("rb") as fh:
        raw: dict[str, Any] = tomllib.load(fh)
    raw["departments"]["technical"]["team_channels"] = {"chat": "team-tech"}
    built = await build_app(settings, policy=parse_policy(raw), clock=ManualClock(MONDAY))
    try:
        yield built
    finally:
        await built.close()


async def file_ticket(app: App) -> int:
    await app.desk.customer(ALICE, name="Alice")
    [ticket] = await app.tickets.open_tickets(
        Customer(ALICE, "Alice"),
        (TicketDraft(category="bug", title="Broken", description="It is broken."),),
        "chat",
    )
    assert ticket.number is not None
    return ticket.number


def clock(app: App) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


async def test_a_customer_who_blocked_the_bot_is_reported_once_and_cleared_on_contact(
    app: App,
) -> None:
    chat = Chat(ALICE.external_id)
    app.relay.register(chat)
    number = await file_ticket(app)
    await app.tickets.execute(EVA, ClaimTicket(number=number))
    await app.relay.drain()
    await app.relay.drain()
    assert chat.keys("team-tech").count("team.customer_unreachable") == 1
    async with app.uow() as uow:
        stored = await uow.customers.get(ALICE)
    assert stored is not None and stored.unreachable
    await app.desk.customer(ALICE, name="Alice")  # they write to us again
    async with app.uow() as uow:
        again = await uow.customers.get(ALICE)
    assert again is not None and not again.unreachable


async def crash_while_answering(app: App, number: int) -> str:
    """Eva answers; a relay claims the answer and dies before marking it. Returns the
    answer's notification id."""
    await app.tickets.execute(EVA, AnswerCustomer(number=number, text="Clear the cache."))
    [answer] = await app.relay.outbox.claim_due(app.clock.now(), 10, lease_seconds=120)
    assert answer.notification.key == "notice.answer"
    return answer.notification.id


async def test_a_message_in_doubt_after_a_crash_is_on_the_ticket_and_sent_again_on_request(
    app: App,
) -> None:
    chat = Chat()
    app.relay.register(chat)
    number = await file_ticket(app)
    await app.tickets.execute(EVA, ClaimTicket(number=number))
    await app.relay.drain()
    answer = await crash_while_answering(app, number)

    clock(app).advance(seconds=121)  # the dead relay's lease runs out
    await app.relay.drain()

    assert "notice.answer" not in chat.keys(ALICE.external_id)  # not guessed, not re-sent
    [notice] = [n for n in chat.got if n.key == "team.delivery_uncertain"]
    assert notice.recipient == "team-tech" and notice.audience is Audience.TEAM
    assert [c.value for c in notice.choices] == [f"resend:{answer}"]
    text = app.translator.reply(Reply(notice.key, notice.params), "en")
    assert "Alice" in text and "Clear the cache." in text  # which message, to whom
    ticket = await app.tickets.get(number)
    system = [e.text for e in ticket.entries if e.kind is EntryKind.SYSTEM]
    assert f"delivery uncertain: notice.answer ({answer})" in system

    with pytest.raises(NotAllowed):
        await resend_notification(
            SALES,
            ResendNotification(number=number, notification_id=answer),
            app.uow,
            app.relay.outbox,
            app.clock,
        )
    resend = ResendNotification(number=number, notification_id=answer)
    done = await resend_notification(EVA, resend, app.uow, app.relay.outbox, app.clock)
    again = await resend_notification(EVA, resend, app.uow, app.relay.outbox, app.clock)
    await app.relay.drain()

    assert done.key == "team.resent" and again.key == "team.resend_unneeded"
    assert chat.keys(ALICE.external_id).count("notice.answer") == 1
    item = await app.relay.outbox.get(answer)
    assert item is not None and item.status is DeliveryStatus.DELIVERED
    ticket = await app.tickets.get(number)
    assert [e.text for e in ticket.entries if e.kind is EntryKind.SYSTEM][-1] == (
        f"delivery resent: notice.answer ({answer})"
    )


async def test_a_report_repeated_after_a_crash_tells_the_team_once(app: App) -> None:
    chat = Chat()
    app.relay.register(chat)
    number = await file_ticket(app)
    await app.relay.drain()
    answer = await crash_while_answering(app, number)
    item = await app.relay.outbox.get(answer)
    assert item is not None

    # The relay's hook ran, then its relay died before marking the row: it runs again.
    announcer = Announcer(app.policy)
    await report_uncertain(app.uow, announcer, app.clock, item.notification)
    await report_uncertain(app.uow, announcer, app.clock, item.notification)
    await app.relay.drain()

    assert chat.keys("team-tech").count("team.delivery_uncertain") == 1
    ticket = await app.tickets.get(number)
    lines = [e for e in ticket.entries if e.text.startswith("delivery uncertain")]
    assert len(lines) == 1


async def test_only_a_message_of_the_ticket_can_be_resent_from_it(app: App) -> None:
    app.relay.register(Chat())
    number = await file_ticket(app)
    other = await file_ticket(app)
    await app.relay.drain()
    answer = await crash_while_answering(app, other)

    with pytest.raises(NotFound):
        await resend_notification(
            EVA,
            ResendNotification(number=number, notification_id=answer),
            app.uow,
            app.relay.outbox,
            app.clock,
        )


async def test_a_team_message_in_doubt_is_shown_in_its_chat_and_sent_again_on_request(
    app: App,
) -> None:
    """Regression (issue 7): a team chat's message left in doubt by a crash got only a
    line on its ticket; the team could not send it again."""
    chat = Chat()
    app.relay.register(chat)
    number = await file_ticket(app)
    await app.relay.drain()
    await app.desk.handle(ALICE, TextSent("The export still fails."))
    # A relay takes the team's copy of it and dies before marking it.
    [wrote] = await app.relay.outbox.claim_due(app.clock.now(), 10, lease_seconds=120)
    assert wrote.notification.key == "team.customer_wrote"
    wrote_id = wrote.notification.id

    clock(app).advance(seconds=121)
    await app.relay.drain()

    assert wrote_id not in [n.id for n in chat.got]  # not guessed, not re-sent
    [notice] = [n for n in chat.got if n.key == "team.delivery_uncertain_here"]
    assert (notice.channel, notice.recipient) == ("chat", "team-tech")  # where it is missing
    assert notice.ticket_number == number
    assert [c.value for c in notice.choices] == [f"resend:{wrote_id}"]
    text = app.translator.reply(Reply(notice.key, notice.params), "en")
    assert "The export still fails." in text  # which message it was
    ticket = await app.tickets.get(number)
    system = [e.text for e in ticket.entries if e.kind is EntryKind.SYSTEM]
    assert f"delivery uncertain: team.customer_wrote ({wrote_id})" in system

    resend = ResendNotification(number=number, notification_id=wrote_id)
    done = await resend_notification(EVA, resend, app.uow, app.relay.outbox, app.clock)
    await app.relay.drain()

    assert done.key == "team.resent"
    assert [n.id for n in chat.got].count(wrote_id) == 1
    item = await app.relay.outbox.get(wrote_id)
    assert item is not None and item.status is DeliveryStatus.DELIVERED
