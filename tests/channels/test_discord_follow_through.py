"""Follow-through for agents on Discord, through the real discord.py client on the fake
Discord: ``/transcript`` posts the ticket as a file in its thread, ``/find`` searches
the channel's departments' tickets, ``/incident`` links tickets and reaches their
customers (and is offered at a matching intake), ``/stats`` posts the figures and a
PNG chart, deflections and ratings included."""

from __future__ import annotations

from pathlib import Path

from discord_app import (
    AGENT,
    ALICE,
    COMMUNITY,
    OUTSIDER,
    SALES,
    SELLER,
    TECH,
    Desk,
    help_policy,
    running_desk,
)
from discord_people import button, components, file_directly, file_ticket, last_with, start_ticket
from fake_discord import Interaction

from bot.commands import ResolveTicket
from bot.participant import Actor, Participant, Role


async def _file_of(desk: Desk, answer: Interaction) -> tuple[str, bytes, str]:
    """The one file the interaction was answered with: its name, bytes and caption."""
    # Drawing a chart takes a while after the text was sent.
    await desk.fake.wait_for(lambda: any(m.get("attachments") for m in answer.messages), 20)
    (message,) = [m for m in answer.messages if m.get("attachments")]
    (attachment,) = message["attachments"]
    path = attachment["url"].split("/attachments/")[1]
    return attachment["filename"], desk.fake.files[path], message["content"]


async def test_transcript_is_posted_as_a_file_in_the_tickets_thread(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        number = await file_ticket(desk, ALICE, title="Checkout <is> blank")
        thread = next(t for t in fake.threads_of(TECH) if t["name"].startswith(f"#{number} "))
        thread_id = int(thread["id"])
        await fake.command(AGENT, "note", channel_id=thread_id, note="old plugin")

        refused = await fake.command(OUTSIDER, "transcript", channel_id=thread_id)
        assert refused.messages[-1]["flags"] & 64
        assert "Nothing was changed" in refused.texts[-1]

        posted = await fake.command(AGENT, "transcript", channel_id=thread_id)
        name, data, caption = await _file_of(desk, posted)
        assert caption == f"Transcript of request #{number}"
        assert name.endswith(".html")
        html = data.decode()
        assert "Checkout &lt;is&gt; blank" in html and "old plugin" in html
        # For the team to see: in the thread, not a private answer.
        (message,) = [m for m in posted.messages if m.get("attachments")]
        assert int(message["channel_id"]) == thread_id
        assert not message.get("flags", 0) & 64

        markdown = await fake.command(AGENT, "transcript", channel_id=thread_id, format="md")
        name, data, _ = await _file_of(desk, markdown)
        assert name.endswith(".md") and "Checkout" in data.decode()


async def test_find_searches_the_channels_departments_for_an_agent(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        first = await file_directly(desk.app, ALICE, "Obrázky produktů se nenačítají")
        await file_directly(desk.app, ALICE, "Faktura chybí", category="payment")
        found = await fake.command(AGENT, "find", channel_id=TECH, words="obrázky produktu")
        assert found.messages[-1]["flags"] & 64  # told to the agent alone
        assert f"#{first}" in found.texts[-1] and "Faktura" not in found.texts[-1]
        # The sales ticket is not the technical channel's.
        missed = await fake.command(AGENT, "find", channel_id=TECH, words="faktura")
        assert "No request of your departments matches" in missed.texts[-1]
        refused = await fake.command(OUTSIDER, "find", channel_id=TECH, words="obrázky")
        assert "Nothing was changed" in refused.texts[-1]
        sold = await fake.command(SELLER, "find", channel_id=SALES, words="faktura")
        assert "Faktura chybí" in sold.texts[-1]


async def test_incident_reaches_discord_customers_and_is_offered_at_intake(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        number = await file_directly(desk.app, ALICE, "Platba kartou selhává")
        await desk.relay()

        opened = await fake.command(
            AGENT, "incident", "new", channel_id=TECH, title="Platební brána hlásí chybu"
        )
        assert "Incident #1 «Platební brána hlásí chybu» is open" in opened.texts[-1]
        assert not opened.messages[-1].get("flags", 0) & 64  # the channel sees it
        added = await fake.command(AGENT, "incident", "add", channel_id=TECH, numbers=str(number))
        assert f"linked \\#{number}" in added.texts[-1]
        updated = await fake.command(
            AGENT, "incident", "update", channel_id=TECH, update="Poskytovatel to **opravuje**."
        )
        assert "the update went to 1 customer." in updated.texts[-1]
        await desk.relay()
        dm = fake.dm_texts(ALICE)
        assert any("je součástí známého problému" in t or "známému problému" in t for t in dm)
        assert "Novinka k „Platební brána hlásí chybu“" in dm[-1]
        assert "Poskytovatel to \\*\\*opravuje\\*\\*." in dm[-1]
        refused = await fake.command(OUTSIDER, "incident", "list", channel_id=TECH)
        assert refused.messages[-1]["flags"] & 64 and "Nothing was changed" in refused.texts[-1]

        # A new request with the incident's words: offered to join it.
        submitted = await start_ticket(
            desk,
            ALICE,
            title="Platební brána nefunguje",
            description="Při platbě kartou platební brána hlásí chybu a objednávka nevznikne.",
            channel=COMMUNITY,
        )
        offer = last_with(submitted, "c:join")
        assert "Platební brána hlásí chybu" in offer["content"]
        joined = await fake.press(ALICE, offer, "c:join")
        phone = last_with(joined, "f:phone")
        skipped = await fake.press(ALICE, phone, button(phone, "Přeskočit"))
        filed = await fake.press(ALICE, last_with(skipped, "c:confirm"), "c:confirm")
        new = int(" ".join(filed.texts).split("#", 1)[1].split()[0].strip(".,:«»"))
        async with desk.app.uow() as uow:
            assert [await uow.incidents.of_ticket(n) for n in (number, new)] == [1, 1]


async def test_stats_posts_the_figures_and_a_chart_with_deflections_and_ratings(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        # A request an article solved, through the intake.
        submitted = await start_ticket(
            desk,
            ALICE,
            title="Pokladna hlásí chybu",
            description="Objednávku nelze dokončit, po stisku Objednat pokladna hlásí chybu.",
            channel=COMMUNITY,
        )
        await fake.press(ALICE, last_with(submitted, "c:solved"), "c:solved")
        # A ticket resolved, confirmed and rated 5 in the DM.
        number = await file_directly(desk.app, ALICE, "Obrázky se nenačítají")
        await desk.relay()
        tereza = Actor(
            Participant("discord", str(AGENT)), "Tereza", Role.AGENT, frozenset({"technical"})
        )
        await desk.app.tickets.execute(tereza, ResolveTicket(number=number, text="Opraveno"))
        await desk.relay()
        resolution = fake.messages[fake.dm_channel_of(ALICE) or 0][-1]
        confirmed = await fake.press(ALICE, resolution, f"c:confirm:{number}")
        await fake.press(ALICE, last_with(confirmed, "c:rate:"), f"c:rate:{number}:5")

        # "Was this helpful?" No, out of date, about a technical article.
        found = await fake.command(ALICE, "help", channel_id=COMMUNITY, words="web nejde")
        listed = last_with(found, "c:art:")
        read = str(components(listed)[0]["custom_id"])
        slug = read.split(":")[2]
        asked = last_with(await fake.press(ALICE, listed, read), "c:fb:")
        why = last_with(await fake.press(ALICE, asked, f"c:fb:n:{slug}:cs"), "c:fr:")
        await fake.press(ALICE, why, f"c:fr:outdated:{slug}:cs")

        refused = await fake.command(OUTSIDER, "stats", channel_id=TECH)
        assert "Nothing was changed" in refused.texts[-1] and not any(
            m.get("attachments") for m in refused.messages
        )
        posted = await fake.command(AGENT, "stats", channel_id=TECH, period="30d")
        text = "\n".join(posted.texts)
        assert "The last 30 days" in text
        line = next(t for t in text.splitlines() if t.startswith("Technical"))
        assert "1 filed, 1 solved by an article (deflection 50 %)" in line
        assert "satisfaction 5.0/5 (1 rating)" in line
        assert "Tereza" in text
        assert "[cs]: 0 votes yes · 1 vote no (out of date ×1, unclear ×0" in text
        name, data, caption = await _file_of(desk, posted)
        assert name == "dashboard.png" and data.startswith(b"\x89PNG")
        assert "30" in caption
        assert not any(m.get("flags", 0) & 64 for m in posted.messages)
        assert components(posted.messages[-1]) == []
