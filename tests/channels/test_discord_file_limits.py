"""Size limits per channel: a file is taken up to what the desk can fetch from the
channel it came on (and keep), and shown elsewhere up to what the bot may upload
there; past that, a notice with a download link (S3) takes its place, and the agent
is told when their file cannot reach the customer. Through both fakes: the Discord
fake refuses uploads over a server's limit (413, 40005), as Discord does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from discord_app import AGENT, ALICE, PNG, TECH, TG_TECH, Desk, policy_data, running_desk
from discord_people import file_directly, thread_of
from telegram_people import Person
from telegram_people import file_directly as file_on_telegram_directly

from bot.files import MB
from tests.conftest import S3Bucket


def big_png(size: int) -> bytes:
    return PNG + b"\0" * (size - len(PNG))


def thread_texts(desk: Desk, number: int) -> list[str]:
    thread = int(thread_of(desk, TECH, number)["id"])
    return [m["content"] for m in desk.fake.messages[thread] if m.get("content")]


def thread_uploads(desk: Desk, number: int) -> list[dict[str, Any]]:
    thread = int(thread_of(desk, TECH, number)["id"])
    return [a for m in desk.fake.messages[thread] for a in m.get("attachments", [])]


async def fetch(link: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status == 200
        return await response.read()


async def test_a_discord_file_over_the_servers_limit_is_offered_as_a_link(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    """21 MB from a Discord customer: over Telegram's download limit, yet taken (it
    came on Discord); too large for the unboosted server's thread (10 MB), where a
    link to the bucket stands in; uploaded to the Telegram team as a document."""
    shot = big_png(21 * MB)
    async with running_desk(
        tmp_path,
        telegram=True,
        policy=policy_data(telegram_team=True),
        settings=s3_bucket.settings(),
    ) as desk:
        tg = desk.telegram
        assert tg is not None
        tg.add_group(TG_TECH, "Tech", forum=True, members={700: "member"})
        number = await file_directly(desk.app, ALICE, "Checkout is blank")
        await desk.relay()
        mark = tg.mark()
        await desk.fake.dm(ALICE, "the whole page", [desk.fake.add_file("page.png", shot)])
        await desk.relay()
        ticket = await desk.app.tickets.get(number)
        [kept] = ticket.entries[-1].attachments
        assert kept.size == len(shot) and kept.stored
        said = [t for t in thread_texts(desk, number) if "page.png" in t]
        assert said and "21 MB" in said[-1] and "10 MB" in said[-1], said
        assert not [a for a in thread_uploads(desk, number) if a["filename"] == "page.png"]
        link = said[-1].rsplit(" ", 1)[1]
        assert await fetch(link) == shot
        # On Telegram (50 MB for documents, 10 MB for photos) it goes, as a document.
        documents = tg.calls_of("sendDocument", after=mark)
        assert [next(iter(c.files.values())) for c in documents] == [shot]
        assert not [c for c in tg.calls_of("sendPhoto", after=mark) if c.files]


async def test_a_boosted_server_takes_the_file_itself(tmp_path: Path) -> None:
    shot = big_png(12 * MB)
    async with running_desk(tmp_path, boosts=2) as desk:
        number = await file_directly(desk.app, ALICE, "Checkout is blank")
        await desk.relay()
        await desk.fake.dm(ALICE, "the whole page", [desk.fake.add_file("page.png", shot)])
        await desk.relay()
        [upload] = [a for a in thread_uploads(desk, number) if a["filename"] == "page.png"]
        assert desk.fake.files[upload["url"].split("/attachments/")[1]] == shot
        assert not [t for t in thread_texts(desk, number) if "page.png" in t]


async def test_an_agents_file_the_customers_channel_cannot_take(
    tmp_path: Path, s3_bucket: S3Bucket
) -> None:
    """The policy's limit for Telegram (a lower one here, to keep the test small): the
    customer gets a notice and a link, the agent hears it in the thread."""
    data = policy_data()
    data["files"] = {"send_mb": {"telegram": 8}}
    export = big_png(9 * MB)
    async with running_desk(
        tmp_path, telegram=True, policy=data, settings=s3_bucket.settings()
    ) as desk:
        tg = desk.telegram
        assert tg is not None
        alice = Person(tg, 501, "Alice")
        number = await file_on_telegram_directly(desk.app, 501, "bug", "Printer prints nothing")
        await desk.relay()
        thread = int(thread_of(desk, TECH, number)["id"])
        mark = tg.mark()
        shot = desk.fake.add_file("small.png", PNG)
        big = desk.fake.add_file("export.png", export)
        await desk.fake.post(AGENT, thread, "Here is the export and a screenshot.", [big, shot])
        await desk.wait_ticket(number, lambda t: any("the export" in e.text for e in t.entries))
        await desk.relay()
        notice = await alice.hears("export.png", after=mark)
        assert "9 MB" in notice and "8 MB" in notice
        assert await fetch(notice.rsplit(" ", 1)[1]) == export
        sent = [next(iter(c.files.values())) for c in tg.calls_of("sendPhoto", after=mark)]
        assert sent == [PNG], "the file that fits still goes"
        told = [t for t in thread_texts(desk, number) if "export.png" in t]
        assert told and "Telegram" in told[-1] and "8 MB" in told[-1], told
        assert "small.png" not in told[-1]


async def test_a_telegram_customers_file_the_discord_team_is_not_shown_is_told_to_them(
    tmp_path: Path,
) -> None:
    """15 MB from a Telegram customer (Telegram lets the bot fetch 20 MB): kept, but over
    the 10 MB the bot may upload to the team's Discord thread, where a notice stands in;
    the customer is told so in their language (Polish here), so that they can send a
    smaller file or a link."""
    async with running_desk(tmp_path, telegram=True) as desk:
        tg = desk.telegram
        assert tg is not None
        alice = Person(tg, 501, "Alice", language="pl")
        number = await file_on_telegram_directly(
            desk.app, 501, "bug", "Printer prints nothing", locale="pl"
        )
        await desk.relay()
        mark = tg.mark()
        tg.push_document(
            501,
            alice.user,
            file_name="scan.pdf",
            mime_type="application/pdf",
            size=15 * MB,
            caption="the whole scan",
        )
        await desk.wait_ticket(number, lambda t: any("whole scan" in e.text for e in t.entries))
        await desk.relay()
        said = [t for t in thread_texts(desk, number) if "scan.pdf" in t]
        assert said and "15 MB" in said[-1] and "10 MB" in said[-1], said
        notice = await alice.hears("«scan.pdf»", after=mark)
        assert "Państwa" in notice and "Discord" in notice and "10 MB" in notice, notice
