"""One queue across platforms: a Telegram customer's ticket handled by agents on
Discord and a Discord customer's by agents on Telegram, files crossing over through
the desk's file store.

``test_demo_telegram_customer_discord_agent`` is the scripted demo: run it with
``-s`` to read the whole exchange as both sides saw it (docs/discord-demo.txt).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path
from typing import Any

from discord_app import AGENT, ALICE, PNG, TECH, TG_TECH, Desk, policy_data, running_desk
from discord_people import card_of, file_ticket, thread_of
from telegram_people import Person, card_message, press_in_team
from telegram_people import file_directly as file_on_telegram_directly
from telegram_people import file_ticket as file_on_telegram

from bot.participant import Participant
from bot.ticket import Status
from store.s3files import S3FileStore
from tests.conftest import S3Bucket


def telegram_texts(desk: Desk, chat_id: int, after: int = 0) -> list[str]:
    assert desk.telegram is not None
    return desk.telegram.sent_texts(chat_id, after)


def telegram_bytes(file: dict[str, Any]) -> bytes:
    """What the fake Bot API serves for a file (its content, or a PNG-looking filler)."""
    content = file["content"]
    if content is None:
        content = b"\x89PNG" + b"\0" * max(0, min(file["file_size"], 65536) - 4)
    return bytes(content)


def uploads(desk: Desk, channel_id: int) -> list[dict[str, Any]]:
    return [a for m in desk.fake.messages[channel_id] for a in m.get("attachments", [])]


def served(desk: Desk, attachment: dict[str, Any]) -> bytes:
    return desk.fake.files[attachment["url"].split("/attachments/")[1]]


async def test_demo_telegram_customer_discord_agent(tmp_path: Path) -> None:
    """Opened on Telegram with a screenshot; claimed, asked, answered and resolved on
    Discord, the screenshot shown there; every change back on Telegram."""
    # The technical department works on Discord; the customer is on Telegram.
    async with running_desk(tmp_path, telegram=True, policy=policy_data()) as desk:
        tg = desk.telegram
        assert tg is not None
        alice = Person(tg, 501, "Alice")
        filed = await file_on_telegram(alice, title="Printer module prints nothing")
        assert "#1" in filed
        await desk.relay()
        transcript = [f"[telegram, customer] {filed}"]

        thread = int(thread_of(desk, TECH, 1)["id"])
        card = card_of(desk, TECH, 1)
        embed = card["embeds"][0]
        buttons = ", ".join(c["label"] for row in card["components"] for c in row["components"])
        transcript.append(
            f"[discord, #tech-team private thread {thread_of(desk, TECH, 1)['name']!r}] card:\n"
            f"{embed['title']}\n{embed['description']}\n[{buttons}]"
        )
        shown = uploads(desk, thread)
        names = [a["filename"] for a in shown]
        transcript.append(f"[discord, thread] files: {', '.join(names)}")
        # The customer's photo, its very bytes, is in the Discord thread.
        photo = next(a for a in shown if a["filename"].endswith(".jpg"))
        unique = photo["filename"].removeprefix("photo_").removesuffix(".jpg")
        original = next(f for f in tg.files.values() if f["file_unique_id"] == unique)
        assert served(desk, photo) == telegram_bytes(original)
        assert "console.log" in names

        mark = tg.mark()
        await desk.fake.press(AGENT, card_of(desk, TECH, 1), "a:claim:1")
        await desk.relay()
        accepted = await alice.hears("Tereza", after=mark)
        transcript.append("[discord, Tereza] presses Claim")
        transcript.append(f"[telegram, customer] {accepted}")

        mark = tg.mark()
        shot = desk.fake.add_file("fixed.png", PNG, "image/png")
        await desk.fake.post(
            AGENT, thread, "Fixed in the print template, see the screenshot.", [shot]
        )
        await desk.relay()
        await desk.wait_ticket(1, lambda t: "print template" in t.entries[-1].text)
        transcript.append(
            "[discord, Tereza in the thread] Fixed in the print template, ... (fixed.png)"
        )
        answer = await alice.hears("Fixed in the print template", after=mark)
        transcript.append(f"[telegram, customer] {answer}")
        photos = [c for c in tg.calls_of("sendPhoto", after=mark) if c.params["chat_id"] == 501]
        assert photos, "the agent's screenshot reaches the Telegram customer"
        transcript.append("[telegram, customer] (photo fixed.png)")

        mark = tg.mark()
        await desk.fake.press(AGENT, card_of(desk, TECH, 1), "a:resolve:1")
        transcript.append("[discord, Tereza] presses Resolve")
        await desk.relay()
        resolved = await alice.hears("resolved", after=mark)
        transcript.append(f"[telegram, customer] {resolved}")
        await alice.presses("c:confirm:1")
        transcript.append("[telegram, customer] presses Confirm")
        await desk.relay()
        assert (await desk.app.tickets.get(1)).status is Status.CLOSED
        assert desk.fake.channels[thread]["thread_metadata"]["locked"]
        meta = desk.fake.channels[thread]["thread_metadata"]
        transcript.append(
            f"[discord, thread] archived: {meta['archived']}, locked: {meta['locked']}"
        )
        print("\n".join(transcript))


async def test_a_discord_customers_ticket_is_handled_on_telegram(tmp_path: Path) -> None:
    data = policy_data()
    data["departments"]["technical"]["team_channels"] = {"telegram": str(TG_TECH)}
    async with running_desk(tmp_path, telegram=True, policy=data) as desk:
        tg = desk.telegram
        assert tg is not None
        tg.add_group(TG_TECH, "Tech", forum=True, members={700: "member"})
        eve = tg.user(700, "Eve")
        number = await file_ticket(desk, ALICE)
        ticket = await desk.app.tickets.get(number)
        assert ticket.customer == Participant("discord", str(ALICE))
        await desk.relay()
        # The card in the Telegram topic, the Discord screenshot uploaded as a photo.
        card = card_message(tg, number, TG_TECH)
        photos = [c for c in tg.calls_of("sendPhoto") if c.params["chat_id"] == TG_TECH]
        assert photos and photos[0].files, "uploaded from the desk's copy, not by a file id"
        assert next(iter(photos[0].files.values())) == PNG

        await press_in_team(tg, eve, card, f"a:claim:{number}")
        await desk.relay()
        assert "Eve" in desk.fake.dm_texts(ALICE)[-1]


async def test_link_makes_one_ticket_list_on_telegram_and_discord(tmp_path: Path) -> None:
    async with running_desk(tmp_path, telegram=True, policy=policy_data()) as desk:
        tg = desk.telegram
        assert tg is not None
        alice = Person(tg, 501, "Alice")
        await file_on_telegram_directly(desk.app, 501, "bug", "Printer module prints nothing")
        number = await file_ticket(desk, ALICE, title="Checkout is blank")

        said = await alice.says("/link")
        code = re.search(r"\b([A-Z2-9]{8})\b", said)
        assert code is not None, said
        listed = await desk.fake.command(ALICE, "ticket", "list", which="all")
        assert "Printer module" not in " ".join(listed.texts)  # not linked yet
        wrong = await desk.fake.command(ALICE, "link", code="WRONG234")
        assert "expired" in wrong.texts[-1] or "vypršel" in wrong.texts[-1]
        linked = await desk.fake.command(ALICE, "link", code=code.group(1))
        assert "propojené" in linked.texts[-1]
        # A code works once.
        again = await desk.fake.command(ALICE, "link", code=code.group(1))
        assert "vypršel" in again.texts[-1]

        listed = await desk.fake.command(ALICE, "ticket", "list", which="all")
        shown = " ".join(listed.texts)
        assert "Printer module prints nothing" in shown and "Checkout is blank" in shown
        on_telegram = await alice.says("/tickets all")
        assert (
            "Printer module prints nothing" in on_telegram and "Checkout is blank" in on_telegram
        )
        # Each ticket stays where it was opened: Telegram's customer hears there.
        assert (await desk.app.tickets.get(number)).customer == Participant("discord", str(ALICE))


def stored_rows(tmp_path: Path) -> int:
    """Files kept in the desk's database (``stored_files``), read with plain sqlite3."""
    with contextlib.closing(sqlite3.connect(tmp_path / "desk.db")) as db:
        return int(db.execute("SELECT count(*) FROM stored_files").fetchone()[0])


async def test_s3_store_carries_a_telegram_screenshot_to_discord(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    async with running_desk(
        tmp_path, telegram=True, policy=policy_data(), settings=s3_bucket.settings()
    ) as desk:
        tg = desk.telegram
        assert tg is not None and isinstance(desk.app.files, S3FileStore)
        await file_on_telegram(Person(tg, 501, "Alice"))
        await desk.relay()
        shown = uploads(desk, int(thread_of(desk, TECH, 1)["id"]))
        photo = next(a for a in shown if a["filename"].endswith(".jpg"))
        unique = photo["filename"].removeprefix("photo_").removesuffix(".jpg")
        original = telegram_bytes(
            next(f for f in tg.files.values() if f["file_unique_id"] == unique)
        )
        assert served(desk, photo) == original
        # The bytes went through the bucket, none into the database.
        assert original in s3_bucket.objects().values()
        assert stored_rows(tmp_path) == 0


async def test_s3_store_carries_a_discord_screenshot_to_telegram(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    data = policy_data()
    data["departments"]["technical"]["team_channels"] = {"telegram": str(TG_TECH)}
    async with running_desk(
        tmp_path, telegram=True, policy=data, settings=s3_bucket.settings()
    ) as desk:
        tg = desk.telegram
        assert tg is not None
        tg.add_group(TG_TECH, "Tech", forum=True, members={700: "member"})
        number = await file_ticket(desk, ALICE)
        await desk.relay()
        card_message(tg, number, TG_TECH)
        photos = [c for c in tg.calls_of("sendPhoto") if c.params["chat_id"] == TG_TECH]
        assert photos and next(iter(photos[0].files.values())) == PNG
        assert list(s3_bucket.objects().values()) == [PNG]
        assert stored_rows(tmp_path) == 0
