"""A service-levels session over Telegram: the expectation text and the quota at filing,
a second request over the monthly quota refused, a quote accepted with the customer's
button, and an auto-close when the clock has moved on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram_app import TECH_CHAT, WEDNESDAY_MORNING, policy_data, running_desk
from telegram_people import Person, card_edit, in_team_chat, wait_card

from bot.clock import ManualClock
from bot.errors import TicketNotFound


async def intake(
    alice: Person, category: str, title: str, description: str, number: str | None
) -> str:
    """A whole intake through the bot, no files and no phone; the answer to confirming."""
    await alice.says("/new")
    await alice.presses(f"c:{category}")
    if number is not None:
        await alice.says(number)
    await alice.says(title)
    await alice.says(description)
    await alice.says("/skip")  # no steps
    await alice.presses("c:done")  # no files
    await alice.says("/skip")  # no phone
    return await alice.presses("c:confirm")


async def test_expectation_quota_quote_and_auto_close(tmp_path: Path) -> None:
    policy = policy_data()
    policy["plans"]["premium"]["monthly_quota"] = 1
    clock = ManualClock(WEDNESDAY_MORNING)
    async with running_desk(tmp_path, policy=policy, clock=clock) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        alice = Person(fake, 501, "Alice")

        filed = await intake(
            alice,
            "template",
            "A new payment module",
            "Please add the QuickPay module to the checkout of our shop.",
            "SN-1001",
        )
        assert "#1" in filed
        # Babel's date in the customer's language; the zone by its city, never "UTC".
        assert "When to expect an answer: Wednesday, May 15, 2024, 12:00\u202fPM (Prague)" in filed
        assert "0 requests of 1 left this month." in filed

        # Over the quota: said as soon as the category is picked, before anything is
        # written, with the ways forward as buttons; the customer cancels.
        await alice.says("/new")
        refused = await alice.presses("c:bug")
        assert "You have used this month's quota of 1 request;" in refused
        assert "How would you like to go on?" in refused
        assert [b["callback_data"] for b in alice.last_buttons()] == [
            "c:quota_sales",
            "c:quota_paid",
            "c:cancel",
        ]
        assert "Nothing was filed" in await alice.presses("c:cancel")
        with pytest.raises(TicketNotFound):
            await desk.app.tickets.get(2)
        # The paid way: filed, not counted, and the team's card says it is paid.
        await alice.says("/new")
        await alice.presses("c:bug")
        await alice.presses("c:quota_paid")
        await alice.says("Search is slow today")
        await alice.says("Search in the shop takes about thirty seconds to answer.")
        await alice.says("/skip")
        await alice.presses("c:done")
        summary = await alice.says("/skip")
        assert "This is a paid request beyond your monthly quota" in summary
        assert "#2" in await alice.presses("c:confirm")
        paid_card = await wait_card(fake, 2)
        assert "Paid request beyond the monthly quota" in paid_card["text"]

        # The agent's quote, accepted with the customer's button.
        card = await wait_card(fake, 1)
        thread = card["message_thread_id"]
        mark = fake.mark()
        fake.push_reply(
            TECH_CHAT, agent, "/quote 1500 CZK | the QuickPay module", thread_id=thread
        )
        await alice.hears("CZK\u00a01,500.00", after=mark)
        assert "the quote for request #1 is accepted" in await alice.presses("c:quote_yes:1")
        await in_team_chat(fake, TECH_CHAT, "the customer accepted the quote", mark)

        # Resolved; nobody confirms; a week later the ticker closes it.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/resolve Installed and tested.", thread_id=thread)
        await alice.hears("Installed and tested.", after=mark)
        clock.advance(days=8)
        assert await desk.app.ticker.tick() == 2  # #1 closes; #2's SLA is overdue
        closed = await alice.hears("was closed automatically", after=mark)
        assert "#1" in closed
        await fake.wait_call("closeForumTopic", after=mark)
        await card_edit(fake, TECH_CHAT, "Quote: CZK\u00a01,500.00 (accepted)", mark)
        ticket = await desk.app.tickets.get(1)
        assert ticket.status.value == "closed"


async def test_a_saturday_critical_outage_is_told_its_hour_and_the_hotline(tmp_path: Path) -> None:
    # Saturday 18 May 2024, 21:00 in Prague: the technical team is off, on call for crises.
    clock = ManualClock(datetime(2024, 5, 18, 19, 0, tzinfo=UTC))
    async with running_desk(tmp_path, clock=clock) as desk:
        desk.fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(desk.fake, 501, "Alice", language="cs")
        await alice.says("/new")
        picked = await alice.presses("c:bug_critical")
        hotline = "volejte naši pohotovostní linku: +420 800 100 200 (kritické výpadky, nonstop)"
        assert hotline in picked
        await alice.says("SN-1001")
        await alice.says("Celý e-shop nejde")
        await alice.says(
            "Od večera nejde otevřít žádná stránka obchodu, zákazníci nemohou nakupovat."
        )
        await alice.says("/skip")
        await alice.presses("c:done")
        await alice.says("/skip")
        filed = await alice.presses("c:confirm")
        # One calendar hour, round the clock: due Saturday 22:00, in Czech, "Praha".
        assert (
            "tým jsme upozornili. Termín odpovědi: sobota 18. května 2024 22:00 (Praha)" in filed
        )
        assert hotline in filed
        assert "UTC" not in filed and "Europe/" not in filed
