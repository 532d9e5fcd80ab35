"""No English in a Czech, Polish or Russian session (issue 9 point 13): every message of
the desk rendered in every language, the agents' views and cards, and the channels'
buttons; one register per language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.i18n import COUNTS, LANGUAGES, Translator, read_catalogs, read_plurals
from bot.participant import Participant
from bot.policy import EXAMPLE_POLICY, load_policy
from bot.reply import Reply
from bot.sla import Deadlines, SlaClock, SlaState
from bot.ticket import (
    DeclineReason,
    EntryKind,
    Origin,
    Quote,
    QuoteState,
    Rating,
    RequestType,
    ServiceTerms,
    Status,
    StatusChange,
    ThreadEntry,
    Ticket,
)
from bot.views import (
    HISTORY_REASONS,
    card_opening,
    queue_counts,
    queue_line,
    service_lines,
    transcript,
)
from handlers.discord.cards import card_view, departments_view, reasons_view
from handlers.discord.render import Renderer as DiscordRenderer
from handlers.telegram.cards import card_keyboard, departments_keyboard, reasons_keyboard
from handlers.telegram.render import Renderer as TelegramRenderer

POLICIES = Path(__file__).resolve().parents[2] / "docs" / "policies"
CATALOGS = read_catalogs()
PLURALS = read_plurals()
ENGLISH = CATALOGS["en"]
OTHERS = [lang for lang in LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")
WORD = re.compile(r"[^\W\d_]{3,}")
# Messages that read the same in every language: each language's own name.
SAME_EVERYWHERE = {f"language.{lang}" for lang in LANGUAGES}
NUMERIC = re.compile(r"number|count|left|limit|min|max|days|hours|page|pages|score|files|size")


def _sample(template: str, count: int = 3) -> dict[str, object]:
    """A value per placeholder: a number where one is meant (``count`` for a count),
    else neutral text."""
    return {
        name: count if name in COUNTS else 3 if NUMERIC.search(name) else f"«{name[:1]}»"
        for name in PLACEHOLDER.findall(template)
    }


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


# Words of the English catalog no other language's catalog uses (loanwords and brand
# names such as "Premium" or "SEO" are in both, so they never count as English).
def _all_forms(lang: str) -> list[str]:
    """Every template of ``lang``, each plural form included."""
    return [*CATALOGS[lang].values(), *(f for _, forms in PLURALS[lang].values() for f in forms)]


OWN_WORDS = {lang: set().union(*map(_words, _all_forms(lang))) for lang in LANGUAGES}
ENGLISH_WORDS = OWN_WORDS["en"]


def _english_in(text: str, lang: str, data: str = "") -> list[str]:
    """English words (and raw codes like ``not_disputed``) in ``text``, a rendering in
    ``lang``; words of the sample data are the user's own."""
    allowed = OWN_WORDS[lang] | _words(data)
    found = [w for w in _words(text) if w in ENGLISH_WORDS and w not in allowed]
    found += re.findall(r"\b[a-z]+_[a-z_]+\b", PLACEHOLDER.sub(" ", text))
    return sorted(set(found))


@pytest.mark.parametrize("lang", OTHERS)
def test_every_message_is_translated_and_none_falls_back_to_english(lang: str) -> None:
    translator = Translator(CATALOGS)
    missing, untranslated, broken = [], [], []
    for key, template in ENGLISH.items():
        if key not in CATALOGS[lang]:
            missing.append(key)
            continue
        # Each plural form: 1, 3 and 5 pick every form of the four languages.
        for count in (1, 3, 5) if key in PLURALS["en"] else (3,):
            params = _sample(template, count)
            english = translator.text(key, "en", params)
            rendered = translator.text(key, lang, params)
            if PLACEHOLDER.search(rendered):
                broken.append(key)
            # The same as English, though it has words of its own: English left in.
            if rendered == english and _words(template) and key not in SAME_EVERYWHERE:
                untranslated.append(key)
    assert (missing, untranslated, broken) == ([], [], [])


@pytest.mark.parametrize("lang", OTHERS)
def test_no_message_has_english_words_the_language_never_uses(lang: str) -> None:
    """A template translated only in part ("Stav: pending") leaves English words that
    the language's catalog uses nowhere else."""
    leaks = {}
    for key, template in CATALOGS[lang].items():
        forms = PLURALS[lang][key][1] if key in PLURALS[lang] else (template,)
        english_only = sorted({w for form in forms for w in _english_in(form, lang)})
        if english_only:
            leaks[key] = english_only
    assert leaks == {}


def test_polish_speaks_formally_throughout() -> None:
    """ "Państwo", never "ty": no informal pronoun anywhere, no informal verb in a
    sentence (a button or command label may be a short imperative, as in every Polish
    interface: "Wyślij zgłoszenie")."""
    pronouns = re.compile(r"\b(ty|twój|twoj\w*|tobie|ciebie|cię)\b", re.IGNORECASE)
    verbs = re.compile(
        r"\b(masz|możesz|jesteś|chcesz|wiesz|napisz|wybierz|podaj|wyślij|spróbuj|"
        r"odpowiedz|poczekaj|sprawdź|kliknij)\b",
        re.IGNORECASE,
    )
    labels = re.compile(r"(^|\.)(choice|button|command)(\.|_|$)")
    found = {
        key: pronouns.findall(text) + ([] if labels.search(key) else verbs.findall(text))
        for key, text in CATALOGS["pl"].items()
    }
    assert {key: words for key, words in found.items() if words} == {}


def test_russian_calls_a_request_one_thing() -> None:
    """One term, "обращение", in the catalogs and in the policies' labels: never
    "заявка", "тикет" or "билет"."""
    other_terms = re.compile(r"заявк|тикет|билет", re.IGNORECASE)
    assert [key for key, text in CATALOGS["ru"].items() if other_terms.search(text)] == []
    for path in [EXAMPLE_POLICY, *sorted(POLICIES.glob("*.toml"))]:
        labels = load_policy(path).labels()
        russian = {key: text.get("ru", "") for key, text in labels.items()}
        assert [key for key, text in russian.items() if other_terms.search(text)] == [], path


# -- the agents' views and the channels' buttons --------------------------------------

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ALICE = Participant("telegram", "100")
# The sample ticket's own words (a user's, not the desk's).
DATA = "Alice Eva Checkout fails The checkout page shows error shop.cz SN-1 CZK banner open"


def _ticket(status: Status = Status.CLOSED) -> Ticket:
    """A ticket whose history holds every reason the desk writes itself."""
    at = iter(START + timedelta(hours=h) for h in range(100))
    history = [StatusChange(None, Status.NEW, next(at), "Alice")]
    for reason in [*sorted(HISTORY_REASONS), *(r.value for r in DeclineReason)]:
        history.append(StatusChange(Status.ACCEPTED, Status.ACCEPTED, next(at), "Eva", reason))
    ticket = Ticket(
        customer=ALICE,
        customer_name="Alice",
        department="technical",
        category="template",
        request_type=RequestType.MODIFICATION,
        title="Checkout fails",
        description="The checkout page shows error 500.",
        origin=Origin("telegram"),
        created_at=START,
        steps="1. open the shop",
        support_number="SN-1",
        domain="shop.cz",
        status=status,
        number=7,
        history=history,
        entries=[
            ThreadEntry(EntryKind(kind.value), "banner", next(at), ALICE, "Alice")
            for kind in EntryKind
        ],
        paid=True,
        quote=Quote("1500 CZK", "banner", QuoteState.ACCEPTED, START),
        rating=Rating(4, START, "banner"),
        decline_reason=DeclineReason.OUT_OF_SCOPE,
    )
    return ticket


def _clock() -> SlaClock:
    due = START + timedelta(hours=24)
    deadlines = Deadlines(START, due, due, timedelta(hours=24), timedelta(hours=24))
    return SlaClock(deadlines, 0.0, 0.0, True, SlaState.WARNING, SlaState.BREACHED, None)


def _views() -> list[Reply]:
    counts = dict.fromkeys(Status, 1)
    open_ticket = _ticket(Status.ACCEPTED)
    open_ticket.terms = ServiceTerms("premium", START, START, 3600.0, 3600.0)
    return [
        *transcript(_ticket(), None, "Europe/Prague"),
        *service_lines(open_ticket, _clock(), "Europe/Moscow"),
        card_opening(_ticket()),
        queue_line(_ticket(Status.ACCEPTED)),
        queue_counts(counts),
    ]


@pytest.mark.parametrize("lang", OTHERS)
def test_the_agents_views_have_no_english(lang: str) -> None:
    translator = Translator(CATALOGS, load_policy().labels())
    leaks = {}
    rendered = []
    for reply in _views():
        text = translator.reply(reply, lang)
        rendered.append(text)
        if found := _english_in(text, lang, DATA):
            leaks[reply.key] = (found, text)
    assert leaks == {}
    # Zones by their local names, never an IANA id nor a bare "UTC".
    everything = "\n".join(rendered)
    assert "Europe/" not in everything and "UTC" not in everything
    assert CITIES[lang][0] in everything and CITIES[lang][1] in everything


CITIES = {"cs": ("Praha", "Moskva"), "pl": ("Praga", "Moskwa"), "ru": ("Прага", "Москва")}


def test_the_history_says_each_reason_the_desk_writes_in_words() -> None:
    translator = Translator(CATALOGS, load_policy().labels())
    lines = [r for r in transcript(_ticket(), None, "UTC") if r.key == "view.history_line"]
    english = [translator.reply(line, "en") for line in lines]
    assert any("(not disputed in time)" in line for line in english), english
    czech = "\n".join(translator.reply(line, "cs") for line in lines)
    assert "not_disputed" not in czech and "disputed" not in czech


@pytest.mark.parametrize("lang", OTHERS)
def test_the_channels_buttons_have_no_english(lang: str) -> None:
    translator = Translator(CATALOGS, load_policy().labels())
    departments = list(load_policy().departments)
    telegram = TelegramRenderer(translator)
    discord = DiscordRenderer(translator)
    labels: list[str] = []
    for status in (Status.NEW, Status.AWAITING_APPROVAL, Status.BLOCKED):
        ticket = _ticket(status)
        for markup in (
            card_keyboard(telegram, ticket, lang),
            reasons_keyboard(telegram, 7, lang),
            departments_keyboard(telegram, 7, departments, lang),
        ):
            assert markup is not None
            labels += [button.text for row in markup.inline_keyboard for button in row]
        view = card_view(discord, ticket, lang)
        assert view is not None
        for item in [*view.children, *reasons_view(discord, 7, lang).children]:
            labels.append(getattr(item, "label", None) or "")
            labels += [option.label for option in getattr(item, "options", [])]
        labels += [
            option.label
            for item in departments_view(discord, 7, departments, lang).children
            for option in getattr(item, "options", [])
        ]
    assert labels
    assert {label: _english_in(label, lang) for label in labels if _english_in(label, lang)} == {}
