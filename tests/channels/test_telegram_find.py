"""Agents' ``/find WORDS`` in a team chat and ``/transcript`` in a ticket's topic,
through the real aiogram bot on the fake Bot API (the file is a real upload)."""

from __future__ import annotations

from pathlib import Path

from telegram_app import SALES_CHAT, TECH_CHAT, running_desk
from telegram_people import file_directly, in_team_chat, wait_card

from bot.commands import AnswerCustomer
from bot.participant import Actor, Participant, Role


async def test_find_searches_the_chats_departments_only(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        printer = await file_directly(desk.app, 501, "bug", "Printer <module> prints nothing")
        await file_directly(desk.app, 502, "payment", "Printer invoice paid twice")
        await wait_card(fake, printer)
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/find printer")
        found = await in_team_chat(fake, TECH_CHAT, "match", mark)
        assert "1 request matches “printer”" in found
        assert "Printer &lt;module&gt; prints nothing" in found
        assert "invoice" not in found
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/find tiskarna")
        assert "No request of your departments" in await in_team_chat(
            fake, TECH_CHAT, "tiskarna", mark
        )
        mark = fake.mark()
        fake.push_message(TECH_CHAT, fake.user(666, "Mallory"), "/find printer")
        await fake.wait_idle(0.3)
        assert not any(
            "Printer" in c.params["text"]
            for c in fake.calls_of("sendMessage", after=mark)
            if c.params["chat_id"] == TECH_CHAT
        )


async def test_transcript_is_posted_as_a_file_in_the_tickets_topic(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        number = await file_directly(desk.app, 501, "bug", "Cart <b>empty</b>")
        await wait_card(fake, number)
        eve = Actor(Participant("telegram", "700"), "Eve", Role.AGENT, frozenset({"technical"}))
        await desk.app.tickets.execute(eve, AnswerCustomer(number=number, text="Try <this>"))
        thread = next(iter(fake.topics[TECH_CHAT]))
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/transcript", thread_id=thread)
        [sent] = await fake.wait_call("sendDocument", after=mark)
        assert sent.params["message_thread_id"] == thread
        assert sent.params["caption"] == f"Transcript of request #{number}"
        [data] = sent.files.values()
        page = data.decode()
        assert "<h1>#1 Cart &lt;b&gt;empty&lt;/b&gt;</h1>" in page
        assert "Try &lt;this&gt;" in page and "Times are in the Prague time zone." in page
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/transcript md", thread_id=thread)
        [markdown] = await fake.wait_call("sendDocument", after=mark)
        assert b"Try \\<this\\>" in next(iter(markdown.files.values()))
        # No message reached the customer.
        assert not any("transcript" in t.lower() for t in fake.sent_texts(501))
