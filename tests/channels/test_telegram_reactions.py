"""Reactions as signals (issue 12): an agent's 👍 on a customer's message in the ticket's
topic marks it seen on the ticket; the customer's 👍 on the resolution confirms it."""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import (
    Person,
    card_message,
    file_directly,
    filed_with_topic,
    press_in_team,
    tech_team,
)

from bot.ticket import EntryKind, Status

ALICE, AGENT = 501, 700


async def test_an_agents_thumbs_up_on_a_customers_message_marks_it_seen(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        stranger = fake.user(666, "Mallory")
        alice = Person(fake, ALICE, "Alice")
        number = await file_directly(desk.app, ALICE, "bug", "Printer prints nothing")
        await alice.says("It prints blank pages since Monday")
        [mirror] = await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == TECH_CHAT and "blank pages" in c.params["text"],
        )
        mirrored = next(
            m
            for m in fake.messages.values()
            if m["chat"]["id"] == TECH_CHAT and "blank pages" in str(m.get("text"))
        )
        assert mirror.params["message_thread_id"] == mirrored["message_thread_id"]

        fake.push_reaction(TECH_CHAT, stranger, mirrored, "👍")  # not of the team
        fake.push_reaction(TECH_CHAT, eve, mirrored, "👎")  # means nothing here
        await fake.wait_idle(0.3)
        assert [
            e for e in (await desk.app.tickets.get(number)).entries if e.kind.value == "seen"
        ] == []

        fake.push_reaction(TECH_CHAT, eve, mirrored, "👍", old=["👎"])
        fake.push_reaction(TECH_CHAT, eve, mirrored, "👍")  # delivered again
        await fake.wait_idle(0.3)
        ticket = await desk.app.tickets.get(number)
        seen = [e for e in ticket.entries if e.kind is EntryKind.SEEN]
        assert [(e.author_name, e.author.external_id if e.author else "") for e in seen] == [
            ("Eve", str(AGENT))
        ]
        shown = "\n".join(
            desk.channel.context.renderer.reply(r, "en").parts[0]
            for r in await desk.app.tickets.transcript(number)
        )
        assert "agent Eve has seen the customer's messages" in shown
        assert not fake.sent_texts(ALICE, after=fake.mark())  # the customer is not bothered


async def test_the_customers_thumbs_up_on_the_resolution_confirms_it(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        alice = Person(fake, ALICE, "Alice")
        number, thread = await filed_with_topic(desk.app, fake, ALICE, "Printer prints nothing")
        fake.push_reply(TECH_CHAT, eve, "Try the new driver", thread_id=thread)
        await alice.hears("Try the new driver")
        answer = next(
            m
            for m in fake.messages.values()
            if m["chat"]["id"] == ALICE and "new driver" in str(m.get("text"))
        )
        await press_in_team(fake, eve, card_message(fake, number), f"a:resolve:{number}")
        await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE and "reply_markup" in c.params
        )
        resolution = next(
            m
            for m in reversed(list(fake.messages.values()))
            if m["chat"]["id"] == ALICE and "confirm" in str(m.get("reply_markup"))
        )

        fake.push_reaction(ALICE, alice.user, answer, "👍")  # not the resolution message
        fake.push_reaction(ALICE, alice.user, resolution, "🤔")  # not a confirmation
        await fake.wait_idle(0.3)
        assert (await desk.app.tickets.get(number)).status is Status.RESOLVED

        mark = fake.mark()
        fake.push_reaction(ALICE, alice.user, resolution, "👍")
        closed = await alice.hears(f"Request #{number} is closed", after=mark)
        assert "Thank you" in closed
        assert (await desk.app.tickets.get(number)).status is Status.CLOSED
        # Its buttons went with it: the question is answered.
        assert "reply_markup" not in fake.messages[(ALICE, resolution["message_id"])]
        await fake.wait_call("closeForumTopic", after=mark)
