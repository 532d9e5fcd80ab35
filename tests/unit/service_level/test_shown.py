"""Issue 9 point 4: every time shown in the department's zone, named by its city in
the reader's language, formatted by Babel; money by Babel; plurals by gettext's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.announce import price_param
from bot.i18n import LANGUAGES, Translator, plural_rule
from bot.policy import DeskPolicy
from bot.reply import Moment, Money, Reply, Zone, decode_params, encode_params
from bot.views import card, transcript
from tests.unit.test_service_desk import World

AT = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Prague, 13:00 in Moscow


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(
    ("lang", "tz", "shown"),
    [
        ("en", "Europe/Prague", "Wednesday, June 10, 2026, 12:00 PM (Prague)"),
        ("cs", "Europe/Prague", "středa 10. června 2026 12:00 (Praha)"),
        ("pl", "Europe/Warsaw", "środa, 10 czerwca 2026 12:00 (Warszawa)"),
        ("ru", "Europe/Moscow", "среда, 10 июня 2026 г., 13:00 (Москва)"),
    ],
)
def test_a_moment_is_in_its_zone_named_by_its_city_in_the_readers_language(
    translator: Translator, lang: str, tz: str, shown: str
) -> None:
    assert plain(translator.moment(Moment(AT, tz), lang)) == shown


def test_utc_is_never_shown_bare(translator: Translator) -> None:
    for lang in LANGUAGES:
        text = translator.moment(Moment(AT, "UTC", "short"), lang)
        assert "UTC" not in text, text
    assert "koordinovaný světový čas" in translator.moment(Moment(AT, "UTC"), "cs")


def test_moments_money_and_zones_survive_the_outbox() -> None:
    params = {
        "when": Moment(AT, "Europe/Prague", "bare"),
        "price": Money(Decimal("3000"), "CZK"),
        "zone": Zone("Europe/Moscow"),
    }
    assert decode_params(encode_params(params)) == params


def test_a_quote_shows_its_price_in_each_language(translator: Translator) -> None:
    price = price_param("3000", "CZK")
    assert price == Money(Decimal("3000"), "CZK")
    assert plain(translator.money(price, "cs")) == "3 000,00 Kč"
    assert plain(translator.money(price, "en")).replace("CZK ", "CZK") == "CZK3,000.00"
    assert plain(translator.money(price, "ru")).startswith("3 000,00")
    assert price_param("1 500 Kč", "") == Money(Decimal("1500"), "CZK")
    assert price_param("1500 EUR", "CZK") == Money(Decimal("1500"), "EUR")
    assert price_param("€20.50", "CZK") == Money(Decimal("20.50"), "EUR")
    assert price_param("1.500", "CZK") == Money(Decimal("1500"), "CZK")
    assert price_param("from 2000 by the hour", "CZK") == "from 2000 by the hour"
    assert price_param("1500", "") == "1500"  # no currency anywhere: as typed


@pytest.mark.parametrize(
    ("lang", "counts"),
    [
        ("en", {1: "1 request matches", 2: "2 requests match", 5: "5 requests match"}),
        ("cs", {1: "odpovídá 1 požadavek", 3: "odpovídají 3 požadavky", 5: "5 požadavků"}),
        ("pl", {1: "1 zgłoszenie", 3: "3 zgłoszenia", 5: "5 zgłoszeń", 22: "22 zgłoszenia"}),
        ("ru", {1: "1 обращение", 3: "3 обращения", 5: "5 обращений", 21: "21 обращение"}),
    ],
)
def test_counts_take_the_languages_plural_forms(
    translator: Translator, lang: str, counts: dict[int, str]
) -> None:
    for count, said in counts.items():
        text = translator.reply(Reply("find.header", {"count": count, "query": "x"}), lang)
        assert said in text, (count, text)


def test_plural_rules_come_from_babel() -> None:
    assert [plural_rule("cs")(n) for n in (1, 2, 5)] == [0, 1, 2]
    assert [plural_rule("ru")(n) for n in (1, 2, 5, 11, 21)] == [0, 1, 2, 2, 0]


async def test_the_card_and_the_transcript_show_the_departments_zone(
    policy: DeskPolicy, translator: Translator
) -> None:
    world = World()
    n = await world.file()
    ticket = world.uow.db.tickets[n]
    tz = world.schedule.timezone(ticket.department)
    shown = plain(translator.reply(card(ticket, tz), "cs"))
    assert "Založeno: 23. 11. 2026 9:00 (Praha)" in shown
    lines = transcript(ticket, world.schedule.clock(ticket, world.clock.now()), tz, "CZK")
    texts = [plain(translator.reply(r, "ru")) for r in lines]
    assert "Время указано в часовом поясе: Прага." in texts
    assert not any("UTC" in t or "Europe/" in t for t in texts)
    sla = next(t for t in texts if t.startswith("SLA"))
    assert "первый ответ до 26 нояб. 2026 г., 09:00 (Прага)" in sla
