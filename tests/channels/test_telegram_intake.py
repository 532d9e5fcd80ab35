"""Intake on Telegram, end to end through the real aiogram bot: the buttons intake adds
for a description split into several tickets, each reaching its own department."""

from __future__ import annotations

from pathlib import Path

from telegram_app import SALES_CHAT, TECH_CHAT, running_desk
from telegram_people import Person, file_directly, in_team_chat, press_in_team, wait_card


async def test_each_problem_of_a_split_request_gets_its_category_by_button(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={701: "member"})
        alice = Person(fake, 501, "Alice")
        await alice.says("/new")
        await alice.presses("c:bug")
        await alice.says("SN-1001")
        await alice.says("Two things in my shop")
        offer = await alice.says(
            "1. The cart is broken since the update, products disappear from it.\n"
            "2. Also an SEO question: how do I set the meta titles of categories?"
        )
        assert "describe 2 problems" in offer
        asked = await alice.presses("c:split")
        assert "Problem 2 of 2" in asked and "SEO question" in asked
        buttons = [b["callback_data"] for b in alice.last_buttons()]
        assert buttons[0] == "c:sales" and "c:bug" in buttons
        await alice.presses("c:sales")
        await alice.says("/skip")
        await alice.presses("c:done")
        summary = await alice.says("/skip")
        assert "Purchase, modules, design, SEO → Sales department" in summary
        assert "We have filed 2 tickets" in await alice.presses("c:confirm")
        cart = await wait_card(fake, 1)
        seo = await wait_card(fake, 2, SALES_CHAT)
        assert "The cart is broken" in cart["text"]
        assert "SEO question" in seo["text"]


async def test_a_message_to_a_blocked_ticket_reaches_the_topic_when_it_is_unblocked(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Checkout fails")
        card = await wait_card(fake, 1)
        assert "Done" in await press_in_team(fake, agent, card, "a:block:1")
        kept = await alice.says("Any news? The <shop> still shows the error.")
        assert "Your message is kept" in kept
        mark = fake.mark()
        assert "Done" in await press_in_team(fake, agent, card, "a:unblock:1")
        # What she wrote meanwhile reaches the ticket's topic, escaped; she may write again.
        await in_team_chat(fake, TECH_CHAT, "The &lt;shop&gt; still shows the error.", mark)
        told = await alice.hears("no longer blocked", after=mark)
        assert "you can write again" in told
