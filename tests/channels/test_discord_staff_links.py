"""Leads, moderators and agents are one person across platforms once they link their
participants with ``/link`` (the customers' one-time code): a lead or moderator the
policy lists on one platform has those rights on the other, and a ticket one of them
holds is the person's, wherever they press."""

from __future__ import annotations

import re
from pathlib import Path

from discord_app import (
    AGENT,
    ALICE,
    COMMUNITY,
    OUTSIDER,
    TECH,
    TG_TECH,
    Desk,
    policy_data,
    running_desk,
)
from discord_people import card_of, file_directly
from telegram_people import Person, card_message, press_in_team

from bot.participant import Participant

CODE = re.compile(r"\b([A-Z2-9]{8})\b")


async def link_on_discord(desk: Desk, telegram_user: Person, discord_user: int) -> None:
    """The code asked for on Telegram, given on Discord."""
    said = await telegram_user.says("/link")
    code = CODE.search(said)
    assert code is not None, said
    done = await desk.fake.command(discord_user, "link", code=code.group(1))
    assert any(w in done.texts[-1] for w in ("linked", "propojené")), done.texts


async def test_a_lead_listed_on_telegram_leads_on_discord_once_linked(tmp_path: Path) -> None:
    data = policy_data()
    data["desk"]["leads"] = ["telegram:900"]
    async with running_desk(tmp_path, telegram=True, policy=data) as desk:
        assert desk.telegram is not None
        number = await file_directly(desk.app, ALICE, "Checkout is blank")
        await desk.relay()
        # A member without any role: not an agent here, nothing changes.
        refused = await desk.fake.press(OUTSIDER, card_of(desk, TECH, number), f"a:claim:{number}")
        assert "Nothing was changed" in refused.texts[-1]
        assert (await desk.app.tickets.get(number)).assignee is None

        await link_on_discord(desk, Person(desk.telegram, 900, "Lena"), OUTSIDER)
        claimed = await desk.fake.press(OUTSIDER, card_of(desk, TECH, number), f"a:claim:{number}")
        assert "Done" in claimed.texts[-1], claimed.texts
        ticket = await desk.app.tickets.get(number)
        assert ticket.assignee == Participant("discord", str(OUTSIDER))


async def test_a_moderator_listed_on_telegram_escalates_on_discord_once_linked(
    tmp_path: Path,
) -> None:
    data = policy_data()
    data["desk"]["moderators"] = ["telegram:901"]
    async with running_desk(tmp_path, telegram=True, policy=data) as desk:
        assert desk.telegram is not None
        post = await desk.fake.post(ALICE, COMMUNITY, "Search finds nothing for ä and ö.")
        refused = await desk.fake.context_menu(OUTSIDER, "Escalate to ticket", post)
        assert "Only moderators" in refused.texts[-1]

        await link_on_discord(desk, Person(desk.telegram, 901, "Mira"), OUTSIDER)
        done = await desk.fake.context_menu(OUTSIDER, "Escalate to ticket", post)
        assert "#1" in done.texts[-1], done.texts
        assert (await desk.app.tickets.get(1)).customer == Participant("discord", str(ALICE))


async def test_a_ticket_an_agent_holds_on_telegram_is_theirs_on_discord(tmp_path: Path) -> None:
    """Eve on Telegram and Tereza on Discord are one agent: her Claim on Discord of the
    ticket she holds on Telegram changes nothing and tells nobody."""
    async with running_desk(
        tmp_path, telegram=True, policy=policy_data(telegram_team=True)
    ) as desk:
        tg = desk.telegram
        assert tg is not None
        tg.add_group(TG_TECH, "Tech", forum=True, members={700: "member"})
        eve = Person(tg, 700, "Eve")
        number = await file_directly(desk.app, ALICE, "Checkout is blank")
        await desk.relay()
        await press_in_team(tg, eve.user, card_message(tg, number, TG_TECH), f"a:claim:{number}")
        await desk.relay()
        assert (await desk.app.tickets.get(number)).assignee == Participant("telegram", "700")
        told = len(desk.fake.dm_texts(ALICE))

        await link_on_discord(desk, eve, AGENT)
        await desk.fake.press(AGENT, card_of(desk, TECH, number), f"a:claim:{number}")
        await desk.relay()
        ticket = await desk.app.tickets.get(number)
        assert ticket.assignee == Participant("telegram", "700")
        assert len(desk.fake.dm_texts(ALICE)) == told, "the customer is not told again"
