"""Bursts through the real aiogram bot: many updates for one ticket at once (issue 7).

Before the data path was rebuilt, most of a burst of agent messages into one ticket's
topic was refused ("This cannot be done with request #N in its current state") and
never reached the customer.
"""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, wait_card

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
