"""Help first on Discord, through the real discord.py client on the fake Discord: the
articles offered at intake ("This solved it" files nothing and counts as deflected, "I
still need help" carries on with nothing retyped), ``/help WORDS``, the articles'
"Was this helpful?" with reasons (the "Other" words by a form), and the satisfaction
rating in the customer's DM after a ticket closes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from discord_app import ALICE, COMMUNITY, TECH, Desk, help_policy, running_desk
from discord_people import (
    button,
    card_of,
    components,
    file_directly,
    last_with,
    start_ticket,
)
from fake_discord import MODAL, Interaction

from bot.commands import ResolveTicket
from bot.participant import Actor, Participant, Role
from bot.ticket import Status

TITLE = "Pokladna hlásí chybu"
DESCRIPTION = "Objednávku nelze dokončit, po stisku Objednat pokladna hlásí chybu platby."
ARTICLE = "Objednávku nelze dokončit nebo pokladna hlásí chybu"


async def _offered(desk: Desk) -> Interaction:
    """An intake in a server up to the help articles (the problem form submitted)."""
    submitted = await start_ticket(
        desk, ALICE, title=TITLE, description=DESCRIPTION, channel=COMMUNITY
    )
    offer = last_with(submitted, "c:solved")
    assert "tyto články nápovědy" in offer["content"]
    assert offer["flags"] & 64  # private in the server, as the whole intake
    return submitted


async def test_an_article_that_solves_it_at_intake_files_no_ticket(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        offer = last_with(await _offered(desk), "c:solved")
        assert button(offer, f"📄 {ARTICLE}") == "c:read.0"
        assert [i["custom_id"] for i in components(offer)][-2:] == ["c:solved", "c:need_help"]

        read = await fake.press(ALICE, offer, "c:read.0")
        article = last_with(read, "c:solved")
        assert ARTICLE in article["content"] and "Platební metody" in article["content"]
        assert "Vyřešilo to váš problém?" in article["content"]

        solved = await fake.press(ALICE, article, "c:solved")
        assert "Žádný požadavek jsme nezaložili" in solved.texts[-1]
        await desk.relay()
        assert fake.threads_of(TECH) == []
        async with desk.app.uow() as uow:
            assert await uow.tickets.recent() == []
            since = datetime(2000, 1, 1, tzinfo=UTC)
            assert await uow.articles.deflections(since) == {"technical": 1}


async def test_still_needing_help_carries_on_with_the_forms_steps_and_files(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        offer = last_with(await _offered(desk), "c:need_help")
        # Nothing is asked again: the phone comes next, then the summary.
        carried = await fake.press(ALICE, offer, "c:need_help")
        phone = last_with(carried, "f:phone")
        skipped = await fake.press(ALICE, phone, button(phone, "Přeskočit"))
        filed = await fake.press(ALICE, last_with(skipped, "c:confirm"), "c:confirm")
        assert any("#1" in text for text in filed.texts)
        ticket = await desk.app.tickets.get(1)
        assert (ticket.title, ticket.description) == (TITLE, DESCRIPTION)
        assert ticket.steps == "1. Cart\n2. Pay"
        assert [a.file_name for a in ticket.attachments] == ["checkout.png"]


async def test_help_words_then_was_it_helpful_no_other_with_a_form(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        fake = desk.fake
        found = await fake.command(
            ALICE, "help", channel_id=COMMUNITY, words="import produktů z CSV"
        )
        listed = last_with(found, "c:art:")
        assert "Články nápovědy k „import produktů z CSV“" in listed["content"]
        assert listed["flags"] & 64
        shown = await fake.press(ALICE, listed, "c:art:import-products:cs")
        asked = last_with(shown, "c:fb:")
        assert "Pomohl vám tento článek?" in asked["content"]
        assert [i["custom_id"] for i in components(asked)] == [
            "c:fb:y:import-products:cs",
            "c:fb:n:import-products:cs",
        ]
        why = last_with(await fake.press(ALICE, asked, "c:fb:n:import-products:cs"), "c:fr:")
        assert [i["custom_id"] for i in components(why)] == [
            f"c:fr:{reason}:import-products:cs"
            for reason in ("outdated", "unclear", "unsolved", "other")
        ]
        other = last_with(await fake.press(ALICE, why, "c:fr:other:import-products:cs"), "f:")
        opened = await fake.press(ALICE, other, "f:feedback.other")
        assert opened.response_type == MODAL
        thanks = await fake.submit(ALICE, opened, {"text": "Chybí sloupec **EAN**"})
        assert "Děkujeme za zpětnou vazbu" in thanks.texts[-1]

        # Yes on another article.
        found = await fake.command(ALICE, "help", channel_id=COMMUNITY, words="web nejde")
        listed = last_with(found, "c:art:")
        first = str(components(listed)[0]["custom_id"])
        slug = first.split(":")[2]
        asked = last_with(await fake.press(ALICE, listed, first), "c:fb:")
        await fake.press(ALICE, asked, f"c:fb:y:{slug}:cs")

        async with desk.app.uow() as uow:
            counts = {c.slug: c for c in await uow.articles.feedback()}
        no = counts["import-products"]
        assert (no.lang, no.helpful, no.not_helpful, no.reasons) == ("cs", 0, 1, {"other": 1})
        assert no.comments == ("Chybí sloupec **EAN**",)
        assert (counts[slug].helpful, counts[slug].not_helpful) == (1, 0)

        # Words that find nothing come back escaped.
        nothing = await fake.command(ALICE, "help", channel_id=COMMUNITY, words="**xyzzy**")
        assert "\\*\\*xyzzy\\*\\*" in nothing.texts[-1]


async def test_a_closed_ticket_is_rated_in_the_dm_once_and_the_card_shows_it(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        number = await file_directly(desk.app, ALICE, "Obrázky se nenačítají")
        await desk.relay()
        tereza = Actor(
            Participant("discord", "71"), "Tereza", Role.AGENT, frozenset({"technical"})
        )
        await desk.app.tickets.execute(tereza, ResolveTicket(number=number, text="Opraveno"))
        await desk.relay()
        resolution = fake.messages[fake.dm_channel_of(ALICE) or 0][-1]
        confirmed = await fake.press(ALICE, resolution, f"c:confirm:{number}")
        stars = last_with(confirmed, f"c:rate:{number}:")
        assert "Ohodnoťte ho 1 až 5 hvězdičkami" in stars["content"]
        assert [i["custom_id"] for i in components(stars)] == [
            f"c:rate:{number}:{score}" for score in range(1, 6)
        ]
        assert components(stars)[4]["label"] == "★★★★★"

        asked = await fake.press(ALICE, stars, f"c:rate:{number}:4")
        assert "Chcete týmu napsat pár slov?" in asked.texts[-1]
        await fake.dm(ALICE, "Rychlé, ale *pozdě*")
        assert "Děkujeme za hodnocení" in fake.dm_texts(ALICE)[-1]
        # One rating per ticket: another star later changes nothing.
        again = await fake.press(ALICE, stars, f"c:rate:{number}:1")
        assert "už je ohodnocen" in again.texts[-1]

        ticket = await desk.app.tickets.get(number)
        assert ticket.status is Status.CLOSED
        assert ticket.rating is not None and ticket.rating.score == 4
        assert ticket.rating.comment == "Rychlé, ale *pozdě*"
        await desk.relay()
        card = card_of(desk, TECH, number)["embeds"][0]
        shown = card["description"] + str(card.get("fields", ""))
        assert "Rating: ★★★★☆ (4/5) | Rychlé, ale \\*pozdě\\*" in shown
