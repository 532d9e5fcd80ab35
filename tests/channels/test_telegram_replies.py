"""What customers and agents hear back directly: in their language from the first
contact, despite a 429, for content the desk cannot take and for edits."""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, in_team_chat, wait_card

STICKER = {
    "file_id": "S1",
    "file_unique_id": "s1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}


async def test_a_first_contact_by_sticker_or_file_keeps_the_users_language(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        petr = Person(fake, 502, "Petr", language="cs")
        mark = fake.mark()
        fake.push_content(502, petr.user, sticker=STICKER)
        assert "Přijímám jen text" in await petr.hears("", after=mark)
        assert "S čím potřebujete pomoci" in await petr.says("/new")
        ivan = Person(fake, 503, "Ivan", language="ru")
        mark = fake.mark()
        fake.push_document(
            503, ivan.user, file_name="x.exe", mime_type="application/x-msdownload", size=100
        )
        await ivan.hears("x.exe", after=mark)
        assert "Здравствуйте" in await ivan.says("/start")


async def test_a_reply_refused_with_429_arrives_after_retry_after(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        alice = Person(fake, 501, "Alice")
        fake.fail_next("sendMessage", 429, retry_after=1)
        fake.network_error_next("sendMessage")
        mark = fake.mark()
        fake.push_message(501, alice.user, "/help")
        calls = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark, count=3, timeout=8
        )
        assert calls[1].at - calls[0].at >= 0.9  # waited as Telegram asked
        await fake.wait_idle(0.3)
        assert len(fake.calls_of("sendMessage", after=mark)) == 3  # and it got through once


async def test_a_path_starting_with_a_slash_is_text_not_a_command(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        await wait_card(fake, 1)
        await alice.says("/ticket 1")
        got = await alice.says("/var/log/nginx/error.log is full of 502")
        assert "Added to request #1" in got
        ticket = await desk.app.tickets.get(1)
        assert ticket.entries[-1].text == "/var/log/nginx/error.log is full of 502"


async def test_voice_location_and_edits_are_answered_not_ignored(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        eve = fake.user(700, "Eve")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        thread = card["message_thread_id"]
        mark = fake.mark()
        fake.push_content(501, alice.user, location={"latitude": 50.0, "longitude": 14.4})
        assert "I can only take text, photos and documents" in await alice.hears("", after=mark)
        mark = fake.mark()
        voice = {"file_id": "V1", "file_unique_id": "v1", "duration": 3}
        fake.push_content(TECH_CHAT, eve, thread_id=thread, voice=voice)
        told = await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == TECH_CHAT and "I can only take text" in c.params["text"]
            ),
            after=mark,
        )
        assert told[0].params["message_thread_id"] == thread
        # Edits: the sender learns the correction must be sent again.
        await alice.says("/ticket 1")
        sent = fake.push_message(501, alice.user, "It fails on Chrome")
        await fake.wait_idle(0.3)
        mark = fake.mark()
        fake.push_edit(sent, "It fails on Firefox")
        assert "send the correction as a new message" in await alice.hears("", after=mark)
        answer = fake.push_reply(TECH_CHAT, eve, "Please update", thread_id=thread)
        await fake.wait_idle(0.3)
        mark = fake.mark()
        fake.push_edit(answer, "Please update the plugin")
        assert "send the correction" in await in_team_chat(fake, TECH_CHAT, "correction", mark)
        ticket = await desk.app.tickets.get(1)
        assert [e.text for e in ticket.entries[-2:]] == ["It fails on Chrome", "Please update"]
        polls = fake.calls_of("getUpdates")
        assert {"edited_message", "chat_member"} <= set(polls[-1].params["allowed_updates"])
