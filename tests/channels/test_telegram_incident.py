"""Incidents through the real aiogram bot: an agent opens one in the team chat, links
two customers' tickets, posts one update that reaches both in their language, and
resolving it asks each to confirm."""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, in_team_chat, wait_card


async def test_one_update_reaches_every_customer_and_resolving_asks_each(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        alice = Person(fake, 501, "Alice")
        jana = Person(fake, 502, "Jana", language="cs")
        first = await file_directly(desk.app, 501, "bug", "Checkout down")
        second = await file_directly(desk.app, 502, "bug", "Pokladna nejde", locale="cs")
        await wait_card(fake, second)

        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/incident new Payment gateway <outage>")
        assert "Incident #1 «Payment gateway &lt;outage&gt;» is open" in await in_team_chat(
            fake, TECH_CHAT, "Incident #1", mark
        )
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, f"/incident add {first} {second}")
        await in_team_chat(fake, TECH_CHAT, f"linked #{first}, #{second}", mark)
        assert "part of a known problem" in await alice.hears("known problem", after=mark)
        assert "známému problému" in await jana.hears("známému problému", after=mark)

        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/incident update The provider is fixing it.")
        await in_team_chat(fake, TECH_CHAT, "the update went to 2 customers", mark)
        assert "The provider is fixing it." in await alice.hears("Update on", after=mark)
        assert "The provider is fixing it." in await jana.hears("Novinka k", after=mark)

        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/incident resolve")
        await in_team_chat(fake, TECH_CHAT, "Incident #1 is resolved", mark)
        await alice.hears("Payment gateway", after=mark)
        assert [b["callback_data"] for b in alice.last_buttons()] == [
            f"c:confirm:{first}",
            f"c:dispute:{first}",
        ]
        for number in (first, second):
            assert (await desk.app.tickets.get(number)).status.value == "resolved"
