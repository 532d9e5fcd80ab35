"""Customers on Discord, end to end: the real discord.py client, desk and relay against
the fake Discord."""

from __future__ import annotations

from pathlib import Path

from discord_app import ALICE, GUILD, PNG, TECH, running_desk
from discord_people import button, components, file_directly, last_with, start_ticket
from fake_discord import PRIVATE_THREAD

from bot.participant import Participant


async def test_ticket_new_files_a_ticket_through_the_intake_with_a_screenshot(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        # The support number typed in the DM; one domain on the account: the problem
        # next, as a form; then the phone.
        submitted = await start_ticket(desk, ALICE, number_in_dm=True)
        phone = last_with(submitted, "f:phone")
        assert "telefon" in phone["content"].lower()
        skipped = await fake.press(ALICE, phone, button(phone, "Přeskočit"))
        summary = last_with(skipped, "c:confirm")
        assert "Checkout is blank" in summary["content"]
        assert "SN-1001" in summary["content"]
        filed = await fake.press(ALICE, summary, "c:confirm")
        assert any("#1" in text for text in filed.texts)

        # The team's channel: a private thread "#1 Checkout is blank", the card as an
        # embed with the agents' buttons, the screenshot uploaded beside it.
        await desk.relay()
        (thread,) = fake.threads_of(TECH)
        assert thread["name"] == "#1 Checkout is blank"
        assert thread["type"] == PRIVATE_THREAD
        card, *rest = fake.messages[int(thread["id"])]
        assert "Checkout is blank" in card["embeds"][0]["title"]
        # Markdown in what the customer typed is shown literally, not as bold.
        assert "\\*\\*now\\*\\*" in card["embeds"][0]["description"]
        assert [i["custom_id"] for i in components(card)][:2] == ["a:claim:1", "a:ask:1"]
        uploads = [a for m in rest for a in m.get("attachments", [])]
        assert [a["filename"] for a in uploads] == ["checkout.png"]
        path = uploads[0]["url"].split("/attachments/")[1]
        assert fake.files[path] == PNG

        ticket = await desk.app.tickets.get(1)
        assert ticket.customer == Participant("discord", str(ALICE))
        assert ticket.locale == "cs"


async def test_an_intake_begun_in_a_server_stays_private_and_is_answered_by_forms(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        submitted = await start_ticket(desk, ALICE, channel=TECH)
        # Everything went privately, the support number by its own form.
        assert all(m.get("flags", 0) & 64 for m in submitted.messages)
        phone = last_with(submitted, "f:phone")
        assert phone["flags"] & 64
        assert fake.dm_channel_of(ALICE) is None  # nothing went to the DM
        assert GUILD


async def test_ticket_list_and_show(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        listed = await fake.command(ALICE, "ticket", "list", which="open")
        assert any("žádné" in t.lower() or "nemáte" in t.lower() for t in listed.texts)
        shown = await fake.command(ALICE, "ticket", "show", number=5)
        assert shown.texts and "#5" in shown.texts[-1]


async def test_ticket_list_pages_turn_in_place(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        for i in range(12):
            await file_directly(desk.app, ALICE, f"Problem number {i:02}")
        listed = await fake.command(ALICE, "ticket", "list", which="all")
        page = last_with(listed, "c:tickets:all:2")
        assert "Problem number 11" in page["content"]
        assert "Problem number 00" not in page["content"]
        turned = await fake.press(ALICE, page, "c:tickets:all:2")
        # The same message shows page 2 (the oldest); nothing new was sent.
        assert turned.edited and not turned.followups
        assert "Problem number 00" in page["content"]
        assert "Problem number 11" not in page["content"]
        # A ticket of the list opens from its button.
        shown = await fake.press(ALICE, page, "c:ticket:1")
        assert "Problem number 00" in shown.texts[-1]
