"""Bursts through the real aiogram bot: many updates for one ticket at once (issue 7).

Before the data path was rebuilt, most of a burst of agent messages into one ticket's
topic was refused ("This cannot be done with request #N in its current state") and
never reached the customer.
"""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, press_in_team, wait_card

from bot.announce import Announcer
from bot.resend import report_uncertain
from bot.ticket import Status

AGENT, COLLEAGUE = 700, 701


async def test_thirty_agent_messages_and_a_claim_into_one_topic_all_reach_the_customer_in_order(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(
            TECH_CHAT, "Tech", forum=True, members={AGENT: "member", COLLEAGUE: "member"}
        )
        eve, petr = fake.user(AGENT, "Eve"), fake.user(COLLEAGUE, "Petr")
        Person(fake, 501, "Alice")
        number = await file_directly(desk.app, 501, "bug", "Printer module prints nothing")
        card = await wait_card(fake, number)
        thread = card["message_thread_id"]
        mark = fake.mark()
        fake.push_callback(petr, card, f"a:claim:{number}")
        for i in range(30):
            fake.push_reply(TECH_CHAT, eve, f"Step {i:02d} of the fix", thread_id=thread)
        await fake.wait_idle(1.5)
        said = [t for t in fake.sent_texts(501, after=mark) if "of the fix" in t]
        assert len(said) == 30, said
        order = [int(t.split("Step ")[1][:2]) for t in said]
        assert order == list(range(30))
        refused = [t for t in fake.sent_texts(TECH_CHAT, after=mark) if "Nothing was changed" in t]
        assert refused == []
        ticket = await desk.app.tickets.get(number)
        assert ticket.status is Status.ACCEPTED


async def test_a_message_left_in_doubt_is_shown_to_the_team_with_a_button_that_resends_it(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake, app = desk.fake, desk.app
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
        eve = fake.user(AGENT, "Eve")
        stranger = fake.user(666, "Mallory")
        Person(fake, 501, "Alice")
        number = await file_directly(app, 501, "bug", "Printer module prints nothing")
        card = await wait_card(fake, number)
        fake.push_reply(
            TECH_CHAT, eve, "Please try again now.", thread_id=card["message_thread_id"]
        )
        await fake.wait_idle(0.5)
        [answer] = [
            item.notification
            for item in await app.relay.outbox.items()
            if item.notification.key == "notice.answer"
        ]
        mark = fake.mark()
        # What the relay does when a send's lease ran out (tests/integration cover that).
        await report_uncertain(app.uow, Announcer(app.policy), app.clock, answer)
        await fake.wait_call(
            "sendMessage",
            lambda c: "may not have arrived" in str(c.params.get("text", "")),
            after=mark,
        )
        message = next(
            m for m in fake.messages.values() if "may not have arrived" in m.get("text", "")
        )
        buttons = message["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == ["Send it again"]
        data = buttons[0]["callback_data"]
        assert "Nothing was changed" in await press_in_team(fake, stranger, message, data)
        # Delivered after all (the fake got it): nothing is sent twice.
        said = await press_in_team(fake, eve, message, data)
        assert "no longer in doubt" in said
        ticket = await app.tickets.get(number)
        assert any("delivery uncertain" in e.text for e in ticket.entries)
