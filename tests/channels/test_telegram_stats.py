"""``/stats`` in a team chat through the real aiogram bot: a text and a PNG chart, with
the deflection and satisfaction the customers' own actions in this test produced."""

from __future__ import annotations

from pathlib import Path

from telegram_app import SALES_CHAT, help_policy, running_desk
from telegram_people import Person, file_directly, in_team_chat, wait_card

from bot.commands import ResolveTicket
from bot.participant import Actor, Participant, Role


async def test_stats_show_deflection_and_satisfaction_with_a_chart(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={700: "member"})
        agent = fake.user(700, "Sam")
        # A customer whose problem an article solves: a deflected request.
        alice = Person(fake, 501, "Alice")
        await alice.says("/new")
        await alice.presses("c:payment")
        await alice.says("/skip")  # no support number
        await alice.says("/skip")  # no domain
        await alice.says("Card declined")
        await alice.says("My card was declined when paying the subscription invoice.")
        await alice.presses("c:read.0")
        assert "No request was filed" in await alice.presses("c:solved")
        # A customer whose ticket is resolved, confirmed and rated 5.
        bob = Person(fake, 502, "Bob")
        number = await file_directly(desk.app, 502, "payment", "Invoice paid twice")
        await wait_card(fake, number, SALES_CHAT)
        sam = Actor(Participant("telegram", "700"), "Sam", Role.AGENT, frozenset({"sales"}))
        await desk.app.tickets.execute(sam, ResolveTicket(number=number, text="Refunded"))
        await bob.hears("Refunded")
        await bob.presses(f"c:confirm:{number}")
        await bob.presses(f"c:rate:{number}:5")

        # "Was this helpful?" No, unclear, about a sales article.
        await alice.says("/help renew support")
        await alice.presses("c:art:renew-support:en")
        await alice.presses("c:fb:n:renew-support:en")
        await alice.presses("c:fr:unclear:renew-support:en")

        mark = fake.mark()
        fake.push_message(SALES_CHAT, agent, "/stats 7d")
        text = await in_team_chat(fake, SALES_CHAT, "The last 7 days", mark)
        assert (
            "Sales department: 0 open · 1 filed, 1 solved by an article (deflection 50 %)" in text
        )
        assert "satisfaction 5.0/5 (1 rating)" in text
        assert "Sam: satisfaction 5.0/5 (1 rating)" in text
        assert "Help articles, “Was this helpful?”" in text
        assert ": 0 votes yes · 1 vote no (out of date ×0, unclear ×1," in text
        [photo] = await fake.wait_call("sendPhoto", after=mark)
        assert photo.params["chat_id"] == SALES_CHAT
        [png] = photo.files.values()
        assert png.startswith(b"\x89PNG")

        mark = fake.mark()
        fake.push_message(SALES_CHAT, agent, "/stats 1y")
        assert "/stats [7d|30d]" in await in_team_chat(fake, SALES_CHAT, "/stats", mark)
