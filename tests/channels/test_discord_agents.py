"""Agents on Discord: the card's buttons and forms, the ticket thread, permissions by
role, the thread archived and locked at close, a forum post with tags."""

from __future__ import annotations

from pathlib import Path

from discord_app import AGENT, ALICE, OUTSIDER, SALES, SELLER, TECH, running_desk
from discord_people import card_of, components, file_ticket, last_with, thread_of
from fake_discord import MODAL

from bot.ticket import Status


async def test_claim_answer_ask_resolve_confirm_from_the_thread(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        number = await file_ticket(desk, ALICE)
        thread = thread_of(desk, TECH, number)
        thread_id = int(thread["id"])

        # Someone without the agent role: refused, and nothing changes.
        refused = await fake.press(OUTSIDER, card_of(desk, TECH, number), f"a:claim:{number}")
        assert refused.followups[0]["flags"] & 64
        assert "Nothing was changed" in refused.texts[-1]
        ticket = await desk.app.tickets.get(number)
        assert ticket.status is Status.NEW and ticket.assignee is None

        claimed = await fake.press(AGENT, card_of(desk, TECH, number), f"a:claim:{number}")
        assert "Done" in claimed.texts[-1]
        # The card shows who has it, and Claim became Take over.
        card = card_of(desk, TECH, number)
        assert "Tereza" in card["embeds"][0]["description"]
        assert components(card)[0]["label"] == "Take over"
        await desk.relay()
        assert "Tereza" in fake.dm_texts(ALICE)[-1]

        # A message in the thread reaches the customer; a note does not.
        await fake.post(AGENT, thread_id, "Please clear the browser cache.")
        await desk.wait_ticket(number, lambda t: "clear the browser" in t.entries[-1].text)
        noted = await fake.command(AGENT, "note", channel_id=thread_id, note="old plugin")
        assert "note" in noted.texts[-1].lower()
        await desk.relay()
        dm = fake.dm_texts(ALICE)
        assert any("Please clear the browser cache." in t for t in dm)
        assert not any("old plugin" in t for t in dm)

        # Ask customer opens a form; the question reaches the DM; the answer the thread.
        asked = await fake.press(AGENT, card_of(desk, TECH, number), f"a:ask:{number}")
        assert asked.response_type == MODAL
        await fake.submit(AGENT, asked, {"text": "Which browser?"})
        await desk.relay()
        assert "Which browser?" in fake.dm_texts(ALICE)[-1]
        assert (await desk.app.tickets.get(number)).status is Status.WAITING
        await fake.dm(ALICE, "Firefox 126")
        await desk.relay()
        assert any("Firefox 126" in t for t in fake.texts(thread_id))

        # Resolve: the customer confirms with the DM's button; the thread is locked.
        await fake.press(AGENT, card_of(desk, TECH, number), f"a:resolve:{number}")
        await desk.relay()
        resolution = fake.messages[fake.dm_channel_of(ALICE) or 0][-1]
        await fake.press(ALICE, resolution, f"c:confirm:{number}")
        await desk.relay()
        assert (await desk.app.tickets.get(number)).status is Status.CLOSED
        meta = fake.channels[thread_id]["thread_metadata"]
        assert meta["archived"] and meta["locked"]
        assert components(card_of(desk, TECH, number)) == []


async def test_decline_with_a_reason_and_transfer_to_a_forum(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        first = await file_ticket(desk, ALICE)
        menu = await fake.press(AGENT, card_of(desk, TECH, first), f"a:decline:{first}")
        reasons = last_with(menu, f"a:dr:{first}")
        await fake.pick(AGENT, reasons, f"a:dr:{first}", "cannot_reproduce")
        ticket = await desk.app.tickets.get(first)
        assert ticket.status is Status.DECLINED
        await desk.relay()
        assert fake.channels[int(thread_of(desk, TECH, first)["id"])]["thread_metadata"]["locked"]

        second = await file_ticket(desk, ALICE, title="Invoice is missing")
        menu = await fake.press(AGENT, card_of(desk, TECH, second), f"a:transfer:{second}")
        departments = last_with(menu, f"a:tt:{second}")
        await fake.pick(AGENT, departments, f"a:tt:{second}", "sales")
        await desk.relay()
        # The sales forum: a post "#2 ..." tagged with its status and priority; the
        # technical thread is closed (nobody acts there any more).
        post = thread_of(desk, SALES, second)
        tags = {t["id"]: t["name"] for t in fake.channels[SALES]["available_tags"]}
        priority = f"priority-{(await desk.app.tickets.get(second)).priority.name.lower()}"
        assert {tags[t] for t in post["applied_tags"]} == {"status-new", priority}
        assert fake.channels[int(thread_of(desk, TECH, second)["id"])]["thread_metadata"]["locked"]
        # Technical agents may not act on it now; the sales agent may.
        card = card_of(desk, SALES, second)
        refused = await fake.press(AGENT, card, f"a:claim:{second}")
        assert "Nothing was changed" in refused.texts[-1]
        await fake.press(SELLER, card, f"a:claim:{second}")
        await desk.relay()
        post = thread_of(desk, SALES, second)
        assert {tags[t] for t in post["applied_tags"]} == {"status-accepted", priority}

        # Back to the technical department: its thread opens again and says so.
        tech = int(thread_of(desk, TECH, second)["id"])
        before = len(fake.messages[tech])
        menu = await fake.press(SELLER, card_of(desk, SALES, second), f"a:transfer:{second}")
        await fake.pick(SELLER, last_with(menu, f"a:tt:{second}"), f"a:tt:{second}", "technical")
        await desk.relay()
        meta = fake.channels[tech]["thread_metadata"]
        assert not meta["locked"] and not meta["archived"]
        assert len(fake.messages[tech]) > before
        assert fake.channels[int(post["id"])]["thread_metadata"]["locked"]


async def test_closed_dms_make_the_customer_unreachable_and_the_team_is_told(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        number = await file_ticket(desk, ALICE)
        fake.close_dms(ALICE)
        await fake.post(AGENT, int(thread_of(desk, TECH, number)["id"]), "Any news?")
        await desk.wait_ticket(number, lambda t: t.entries[-1].text == "Any news?")
        await desk.relay()
        async with desk.app.uow() as uow:
            customer = await uow.customers.get((await desk.app.tickets.get(number)).customer)
        assert customer is not None and customer.unreachable
        thread = fake.texts(int(thread_of(desk, TECH, number)["id"]))
        assert any("cannot be delivered" in t for t in thread)
