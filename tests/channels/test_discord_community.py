"""Moderators on Discord: "Escalate to ticket" on a community message."""

from __future__ import annotations

from pathlib import Path

from discord_app import BOB, COMMUNITY, MOD, OUTSIDER, PNG, SALES, TECH, running_desk
from discord_people import thread_of

from bot.participant import Participant


async def test_a_moderator_escalates_a_message_once(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        shot = fake.add_file("search.png", PNG, "image/png")
        post = await fake.post(
            BOB, COMMUNITY, "Search finds nothing for words with ä and ö.", [shot]
        )

        # A member without the moderator role: refused, no ticket.
        refused = await fake.context_menu(OUTSIDER, "Escalate to ticket", post)
        assert "Only moderators" in refused.texts[-1]
        assert refused.followups[-1]["flags"] & 64
        assert fake.threads_of(TECH) == []

        done = await fake.context_menu(MOD, "Escalate to ticket", post)
        assert "#1" in done.texts[-1]
        ticket = await desk.app.tickets.get(1)
        assert ticket.customer == Participant("discord", str(BOB))
        assert ticket.origin.post_link and str(post["id"]) in ticket.origin.post_link
        assert [a.file_name for a in ticket.attachments] == ["search.png"]

        await desk.relay()
        # The bot answers under the message, the author hears by DM, the team gets a
        # thread with the screenshot.
        reply = fake.messages[COMMUNITY][-1]
        assert reply["message_reference"]["message_id"] == post["id"]
        assert "#1" in reply["content"]
        assert "#1" in fake.dm_texts(BOB)[-1]
        # Bob has no support package: the post goes to sales (as at intake), whose
        # team works in a forum.
        assert ticket.department == "sales"
        thread = int(thread_of(desk, SALES, 1)["id"])
        uploaded = [a["filename"] for m in fake.messages[thread] for a in m.get("attachments", [])]
        assert uploaded == ["search.png"]

        # The same message again: no second ticket.
        again = await fake.context_menu(MOD, "Escalate to ticket", post)
        assert "#1" in again.texts[-1]
        async with desk.app.uow() as uow:
            assert len(await uow.tickets.recent()) == 1
