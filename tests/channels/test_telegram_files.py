"""Files between customers and agents: each message carries exactly its own files, as
Telegram knows them (photo or document), and a retry never sends a file twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fake_telegram import FakeTelegram
from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, wait_card

FILE_SENDS = ("sendPhoto", "sendDocument", "sendMediaGroup")


def team_files(fake: FakeTelegram, after: int) -> list[str]:
    """The file ids the team chat received, in order."""
    out: list[str] = []
    for call in fake.calls_of(*FILE_SENDS, after=after):
        if call.params["chat_id"] != TECH_CHAT:
            continue
        if call.method == "sendMediaGroup":
            out += [item["media"] for item in call.params["media"]]
        else:
            out.append(call.params.get("photo") or call.params["document"])
    return out


async def test_files_sent_one_after_another_each_reach_the_team_once(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        await wait_card(fake, 1)
        await alice.says("/ticket 1")
        mark = fake.mark()
        first = fake.push_photo(501, alice.user)  # no caption: both entries have no text
        second = fake.push_photo(501, alice.user)
        await fake.wait_call(
            "sendPhoto", lambda c: c.params["chat_id"] == TECH_CHAT, after=mark, count=2
        )
        await fake.wait_idle(0.5)
        sent = [first["photo"][-1]["file_id"], second["photo"][-1]["file_id"]]
        assert team_files(fake, mark) == sent


async def test_a_png_sent_as_a_file_goes_on_as_a_file(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        await alice.says("/ticket 1")
        mark = fake.mark()
        png = fake.push_document(
            501, alice.user, file_name="screen.png", mime_type="image/png", size=300_000
        )
        sent = await fake.wait_call(
            "sendDocument", lambda c: c.params["chat_id"] == TECH_CHAT, after=mark
        )
        assert sent[0].params["document"] == png["document"]["file_id"]
        # The agent's PNG document reaches the customer as a document too.
        mark = fake.mark()
        agent_png = fake.push_document(
            TECH_CHAT,
            fake.user(700, "Eve"),
            file_name="fixed.png",
            mime_type="image/png",
            thread_id=card["message_thread_id"],
        )
        got = await fake.wait_call(
            "sendDocument", lambda c: c.params["chat_id"] == 501, after=mark
        )
        assert got[0].params["document"] == agent_png["document"]["file_id"]
        await fake.wait_idle(0.3)
        assert fake.calls_of("sendPhoto", after=mark) == []  # "type of file mismatch"


async def test_a_429_part_way_through_files_does_not_send_any_twice(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        await wait_card(fake, 1)
        await alice.says("/ticket 1")
        fake.fail_next("sendDocument", 429, retry_after=1)
        mark = fake.mark()
        parts = fake.push_album(
            501,
            alice.user,
            "g1",
            [
                {"type": "photo"},
                {"type": "photo"},
                {"type": "document", "file_name": "a.log", "mime_type": "text/plain"},
            ],
            caption="logs",
        )
        await fake.wait_call(
            "sendDocument", lambda c: c.params["chat_id"] == TECH_CHAT, after=mark, count=2
        )
        await fake.wait_idle(0.5)
        expected = [p["photo"][-1]["file_id"] for p in parts[:2]]
        expected.append(parts[2]["document"]["file_id"])
        # The refused document is retried; the album that got through is not sent again.
        assert team_files(fake, mark) == [*expected, expected[-1]]
        assert len(fake.calls_of("sendMediaGroup", after=mark)) == 1


async def test_an_agents_photo_with_resolve_or_note_caption_is_not_lost(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        eve = fake.user(700, "Eve")
        fake.user(501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        card = await wait_card(fake, 1)
        thread = card["message_thread_id"]
        mark = fake.mark()
        note = fake.push_photo(TECH_CHAT, eve, caption="/note the log shows it", thread_id=thread)
        told = await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == TECH_CHAT and "Internal note" in c.params["text"],
            after=mark,
        )
        assert "Internal note added to request #1" in told[0].params["text"]
        noted = await desk.app.tickets.get(1)
        assert noted.entries[-1].kind.value == "note"
        assert [a.file_ref for a in noted.entries[-1].attachments] == [
            note["photo"][-1]["file_id"]
        ]
        # An internal note never reaches the customer, files included.
        assert not [
            c for c in fake.calls_of("sendPhoto", after=mark) if c.params["chat_id"] == 501
        ]
        mark = fake.mark()
        photo = fake.push_photo(
            TECH_CHAT, eve, caption="/resolve Fixed, see the screenshot", thread_id=thread
        )
        got = await fake.wait_call("sendPhoto", lambda c: c.params["chat_id"] == 501, after=mark)
        assert got[0].params["photo"] == photo["photo"][-1]["file_id"]
        await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == 501 and "Fixed, see the screenshot" in c.params["text"]
            ),
            after=mark,
        )
        ticket = await desk.app.tickets.get(1)
        assert ticket.status.value == "resolved"
        assert [a.file_ref for a in ticket.attachments] == [
            note["photo"][-1]["file_id"],
            photo["photo"][-1]["file_id"],
        ]


async def test_a_text_sent_right_after_an_album_joins_the_ticket_after_it(
    tmp_path: Path,
) -> None:
    """The album's parts are gathered inside the worker's turn for the chat, so what
    the customer writes next waits for the album (it used to overtake it)."""
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "bug", "Broken")
        await wait_card(fake, 1)
        await alice.says("/ticket 1")
        before = len((await desk.app.tickets.get(1)).entries)
        fake.push_album(501, alice.user, "g7", [{"type": "photo"}, {"type": "photo"}])
        fake.push_message(501, alice.user, "and the log says timeout")
        deadline = asyncio.get_running_loop().time() + 20
        while len((ticket := await desk.app.tickets.get(1)).entries) < before + 2:
            assert asyncio.get_running_loop().time() < deadline, ticket.entries
            await asyncio.sleep(0.05)
        album, text = ticket.entries[before : before + 2]
        assert len(album.attachments) == 2
        assert text.text == "and the log says timeout" and not text.attachments
