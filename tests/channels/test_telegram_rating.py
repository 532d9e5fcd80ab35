"""Satisfaction through the real aiogram bot: the customer confirms the resolution,
rates 1-5 with a button, adds words; the team's thread hears it and the card shows it."""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, card_edit, file_directly, wait_card

from bot.commands import ResolveTicket
from bot.participant import Actor, Participant, Role


async def test_a_closed_ticket_is_rated_and_the_card_shows_it(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        number = await file_directly(desk.app, 501, "bug", "Cart is empty")
        await wait_card(fake, number)
        eve = Actor(Participant("telegram", "700"), "Eve", Role.AGENT, frozenset({"technical"}))
        await desk.app.tickets.execute(eve, ResolveTicket(number=number, text="Fixed"))
        await alice.hears("Fixed")

        confirmed = await alice.presses(f"c:confirm:{number}")
        assert "Rate it from 1 to 5 stars" in confirmed
        buttons = alice.last_buttons()
        assert [b["callback_data"] for b in buttons] == [
            f"c:rate:{number}:{score}" for score in range(1, 6)
        ]
        assert buttons[4]["text"] == "★★★★★"

        mark = fake.mark()
        asked = await alice.presses(f"c:rate:{number}:5")
        assert "Would you like to add a few words" in asked
        assert "Thank you for your rating" in await alice.says("Fast & <friendly>")
        await card_edit(fake, TECH_CHAT, "Rating: ★★★★★ (5/5) | —", mark)
        await card_edit(fake, TECH_CHAT, "Rating: ★★★★★ (5/5) | Fast &amp; &lt;friendly&gt;", mark)
        thread = await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == TECH_CHAT and "added to their rating" in c.params["text"]
            ),
            after=mark,
        )
        assert "Fast &amp; &lt;friendly&gt;" in thread[0].params["text"]
        # The stars were taken off the message once pressed: one rating per ticket.
        assert not any(
            "c:rate:" in str(m.get("reply_markup", ""))
            for m in fake.messages.values()
            if m["chat"]["id"] == 501
        )
        ticket = await desk.app.tickets.get(number)
        assert ticket.rating is not None and ticket.rating.score == 5
