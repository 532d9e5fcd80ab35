"""Help articles through the real aiogram bot on the fake Bot API: offered at intake
(solved files nothing and counts as deflected; still need help carries on), and
``/help WORDS`` at any time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from telegram_app import SALES_CHAT, help_policy, running_desk
from telegram_people import Person

PAYMENT = "The payment for the subscription failed or the card was declined"


async def _describe(alice: Person) -> str:
    await alice.says("/new")
    await alice.presses("c:payment")
    await alice.says("/skip")  # no support number: sales takes anyone
    await alice.says("/skip")  # no domain
    await alice.says("Card declined <again>")
    return await alice.says("My card was declined when paying the subscription invoice.")


async def test_an_article_that_solves_the_problem_files_no_ticket(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        alice = Person(desk.fake, 501, "Alice")
        offered = await _describe(alice)
        assert "these help articles may answer it" in offered
        buttons = alice.last_buttons()
        assert buttons[0] == {"text": f"📄 {PAYMENT}", "callback_data": "c:read.0"}
        assert [b["callback_data"] for b in buttons[-2:]] == ["c:solved", "c:need_help"]

        article = await alice.presses("c:read.0")
        assert PAYMENT in article and "Account › Billing" in article
        assert "Did this solve your problem?" in article
        assert "**" not in article

        done = await alice.presses("c:solved")
        assert "No request was filed" in done
        await desk.fake.wait_idle(0.3)
        assert desk.fake.calls_of("createForumTopic") == []
        assert not any(
            c.params["chat_id"] == SALES_CHAT for c in desk.fake.calls_of("sendMessage")
        )
        async with desk.app.uow() as uow:
            assert await uow.tickets.recent() == []
            since = datetime(2000, 1, 1, tzinfo=UTC)
            assert await uow.articles.deflections(since) == {"sales": 1}


async def test_still_needing_help_goes_on_without_retyping(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        alice = Person(desk.fake, 502, "Alice")
        await _describe(alice)
        steps = await alice.presses("c:need_help")
        assert "steps" in steps.lower()
        await alice.says("/skip")
        await alice.presses("c:done")
        await alice.says("/skip")  # phone
        filed = await alice.presses("c:confirm")
        assert "#1" in filed
        async with desk.app.uow() as uow:
            ticket = await uow.tickets.get(1)
        assert ticket.title == "Card declined <again>"
        assert ticket.description == "My card was declined when paying the subscription invoice."


async def test_help_words_find_articles_in_the_customers_language(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        jana = Person(desk.fake, 503, "Jana", language="cs")
        found = await jana.says("/help nechodi potvrzeni objednavky emailem")
        assert "Články nápovědy" in found
        first = jana.last_buttons()[0]
        assert first == {
            "text": "📄 Nechodí e-maily s potvrzením objednávky",
            "callback_data": "c:art:emails-not-sent:cs",
        }
        article = await jana.presses("c:art:emails-not-sent:cs")
        assert "SPF a DKIM" in article
        nothing = await jana.says("/help <b>xyzzy</b>")
        # The customer's words come back escaped.
        assert "„&lt;b&gt;xyzzy&lt;/b&gt;“" in nothing


async def test_was_this_helpful_no_with_other_takes_the_customers_words(tmp_path: Path) -> None:
    async with running_desk(tmp_path, policy=help_policy()) as desk:
        piotr = Person(desk.fake, 504, "Piotr", language="pl")
        await piotr.says("/help import produktow z csv")
        article = await piotr.presses("c:art:import-products:pl")
        assert "Czy ten artykuł był pomocny?" in article
        assert [b["callback_data"] for b in piotr.last_buttons()] == [
            "c:fb:y:import-products:pl",
            "c:fb:n:import-products:pl",
        ]
        why = await piotr.presses("c:fb:n:import-products:pl")
        assert "Jest nieaktualny" in str(piotr.last_buttons()) and "Co było" in why
        ask = await piotr.presses("c:fr:other:import-products:pl")
        assert "w kilku słowach" in ask
        thanks = await piotr.says("Brakuje kolumny <EAN>")
        assert "Dziękujemy za opinię" in thanks
        async with desk.app.uow() as uow:
            (counts,) = await uow.articles.feedback()
        assert (counts.slug, counts.lang, counts.not_helpful) == ("import-products", "pl", 1)
        assert counts.comments == ("Brakuje kolumny <EAN>",)
