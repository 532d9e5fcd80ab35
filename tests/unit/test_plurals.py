"""Counted messages through gettext plural forms (issue 9 point 4): every message that
shows a number of something, in every catalog (the desk's and the channels'), has the
plural forms of each language, and they read right for 1, 2, 5, 21, 22 and 25."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import COUNTS, LANGUAGES, LOCALES_DIR, Translator, read_catalogs, read_plurals
from bot.reply import Reply, Text
from bot.stats import DepartmentStats, Report, report_replies
from bot.ticket import Status
from bot.views import queue_counts

PLACEHOLDER = re.compile(r"\{(\w+)\}")
CATALOGS = read_catalogs()
PLURALS = read_plurals()

# Every other parameter name, and why it is no count. A new parameter must be put in
# ``bot.i18n.COUNTS`` (and its messages given plural forms) or here.
NOT_COUNTS = {
    # ids and positions: "#{number}", "Incident #{id}", "Page {page}"
    "number", "id", "page", "agent_id", "line",
    # measures with a unit symbol that no word agrees with: "{max_mb} MB", "{first} h",
    # shares and scores: "{deflection}", "{first_met}", "{rating}/5", "{score}/5"
    "max_mb", "size_mb", "first", "resolution", "deflection", "first_met",
    "resolution_met", "rating", "score", "stars", "hours", "low", "high", "share",
    # tallies shown as "×{n}" after a reason's name
    "outdated", "unclear", "unsolved", "other",
    # counted phrases: a ``Text`` of a message with its own plural forms
    "open", "done", "all", "filed", "deflected", "breaches", "ratings", "helpful",
    "not_helpful", "new", "accepted", "waiting", "awaiting_approval", "resolved",
    "blocked", "quota", "articles", "problems",
    # a card's field (label: value), or a list of names: "Files: {files}"
    "files", "numbers", "domains", "departments", "slots", "parts", "part",
    # dates, times and zones: "{day} {month}", a Moment
    "at", "created", "date", "day", "month", "due", "earliest", "latest", "now", "when",
    "first_due", "resolution_due", "zone", "to", "dates", "last",
    # texts: the user's, the policy's labels, translated codes
    "agent", "asked", "assignee", "author", "body", "by", "category", "channel", "code",
    "command", "comment", "customer", "department", "description", "domain", "filter",
    "first_state", "follow_up", "hotline", "incident_title", "label", "lang", "language",
    "link", "mention", "message", "name", "note", "old", "path", "phone", "plan", "price",
    "priority", "query", "reason", "resolution_state", "state", "status", "steps",
    "suggested", "support_number", "text", "title", "training", "type", "what", "where",
    "who",
    # the CLI's: the policy's keys and values, files, parts of the policy report
    "article", "channels", "chats", "clock", "closed", "column", "critical", "default",
    "detail", "error", "folder", "hint", "key", "keys", "kind", "languages", "plans",
    "platform", "problem", "refusal", "region", "reminded", "rule", "source", "support",
    "table", "value", "ways", "week",
}  # fmt: skip


def _messages() -> list[tuple[str, Path, object]]:
    """``(lang, file, message)`` for every message of every catalog."""
    out = []
    for lang in LANGUAGES:
        for path in sorted((LOCALES_DIR / lang).rglob("*.po")):
            with path.open("rb") as fh:
                out += [(lang, path, m) for m in read_po(fh, locale=lang) if m.id]
    return out


MESSAGES = _messages()


def test_every_parameter_is_a_count_or_named_as_no_count() -> None:
    """The naming convention the next test relies on: each parameter name of every
    catalog is either a count (``COUNTS``) or listed above with its reason."""
    names = set()
    for texts in CATALOGS.values():
        for text in texts.values():
            names.update(PLACEHOLDER.findall(text))
    assert sorted(names - COUNTS - NOT_COUNTS) == []
    assert set() == COUNTS & NOT_COUNTS


def test_every_message_with_a_count_has_the_plural_forms_of_its_language() -> None:
    """A message with a count parameter has plural forms in every language: as many as
    the language's gettext rule has (English 2; Czech, Polish, Russian 3), counted by
    one of its own count parameters, each form keeping the placeholders."""
    wrong = []
    for lang, path, message in MESSAGES:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        counts = {n for s in strings for n in PLACEHOLDER.findall(s)} & COUNTS
        where = f"{path.parent.name}/{path.name} {key}"
        if not counts:
            continue
        if not isinstance(message.id, tuple):
            wrong.append(f"{where}: {sorted(counts)} without plural forms")
            continue
        if message.id[1] not in counts:
            wrong.append(f"{where}: counted by {message.id[1]!r}, not one of {sorted(counts)}")
        if len(strings) != Catalog(locale=lang).num_plurals:
            wrong.append(f"{where}: {len(strings)} forms")
        if len({frozenset(PLACEHOLDER.findall(s)) for s in strings}) != 1:
            wrong.append(f"{where}: forms with different placeholders")
    assert wrong == []


def test_a_message_has_plural_forms_in_every_language_or_in_none() -> None:
    english = set(PLURALS["en"])
    for lang in LANGUAGES:
        assert set(PLURALS[lang]) == english, lang
        assert {k: v[0] for k, v in PLURALS[lang].items()} == {
            k: v[0] for k, v in PLURALS["en"].items()
        }


NUMBERS = (1, 2, 5, 21, 22, 25)
# A few representative messages, rendered for NUMBERS in each language.
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "incident.line": {
        "en": ("1 request", "2 requests", "5 requests", "21 requests", "22 requests",
               "25 requests"),
        "cs": ("1 požadavek", "2 požadavky", "5 požadavků", "21 požadavků", "22 požadavků",
               "25 požadavků"),
        "pl": ("1 zgłoszenie", "2 zgłoszenia", "5 zgłoszeń", "21 zgłoszeń", "22 zgłoszenia",
               "25 zgłoszeń"),
        "ru": ("1 обращение", "2 обращения", "5 обращений", "21 обращение", "22 обращения",
               "25 обращений"),
    },
    "training.intro": {
        "en": ("1 day", "2 days", "5 days", "21 days", "22 days", "25 days"),
        "cs": ("1 dne", "2 dnů", "5 dnů", "21 dnů", "22 dnů", "25 dnů"),
        "pl": ("1 dnia", "2 dni", "5 dni", "21 dni", "22 dni", "25 dni"),
        "ru": ("1 дня", "2 дней", "5 дней", "21 дня", "22 дней", "25 дней"),
    },
    "telegram.queue.behind": {
        "en": ("1 message is", "2 messages are", "5 messages are", "21 messages are",
               "22 messages are", "25 messages are"),
        "cs": ("1 zpráva čeká", "2 zprávy čekají", "5 zpráv čeká", "21 zpráv čeká",
               "22 zpráv čeká", "25 zpráv čeká"),
        "pl": ("1 wiadomość czeka", "2 wiadomości czekają", "5 wiadomości czeka",
               "21 wiadomości czeka", "22 wiadomości czekają", "25 wiadomości czeka"),
        "ru": ("1 сообщение ждёт", "2 сообщения ждут", "5 сообщений ждут",
               "21 сообщение ждёт", "22 сообщения ждут", "25 сообщений ждут"),
    },
    "sla.quota_left": {
        "en": ("1 request of 30", "2 requests of 30", "5 requests of 30",
               "21 requests of 30", "22 requests of 30", "25 requests of 30"),
        "cs": ("zbývá 1 požadavek z 30", "zbývají 2 požadavky z 30",
               "zbývá 5 požadavků z 30", "zbývá 21 požadavků z 30",
               "zbývá 22 požadavků z 30", "zbývá 25 požadavků z 30"),
        "pl": ("pozostało 1 zgłoszenie z 30", "pozostały 2 zgłoszenia z 30",
               "pozostało 5 zgłoszeń z 30", "pozostało 21 zgłoszeń z 30",
               "pozostały 22 zgłoszenia z 30", "pozostało 25 zgłoszeń z 30"),
        "ru": ("осталось 1 обращение из 30", "осталось 2 обращения из 30",
               "осталось 5 обращений из 30", "осталось 21 обращение из 30",
               "осталось 22 обращения из 30", "осталось 25 обращений из 30"),
    },
    "intake.ask_title": {
        "en": ("–1 character", "–2 characters", "–5 characters", "–21 characters",
               "–22 characters", "–25 characters"),
        "cs": ("–1 znak", "–2 znaky", "–5 znaků", "–21 znaků", "–22 znaků", "–25 znaků"),
        "pl": ("–1 znak", "–2 znaki", "–5 znaków", "–21 znaków", "–22 znaki", "–25 znaków"),
        "ru": ("–1 символ", "–2 символа", "–5 символов", "–21 символ", "–22 символа",
               "–25 символов"),
    },
    "stats.count.open": {
        "en": ("1 open", "2 open", "5 open", "21 open", "22 open", "25 open"),
        "cs": ("1 otevřený", "2 otevřené", "5 otevřených", "21 otevřených", "22 otevřených",
               "25 otevřených"),
        "pl": ("1 otwarte", "2 otwarte", "5 otwartych", "21 otwartych", "22 otwarte",
               "25 otwartych"),
        "ru": ("1 открытое", "2 открытых", "5 открытых", "21 открытое", "22 открытых",
               "25 открытых"),
    },
}  # fmt: skip
PARAMS = {
    "incident.line": lambda n: {"id": 4, "title": "Outage", "count": n},
    "training.intro": lambda n: {"training": "Onboarding", "days": n},
    "telegram.queue.behind": lambda n: {"count": n, "minutes": 3},
    "sla.quota_left": lambda n: {"left": n, "limit": 30},
    "intake.ask_title": lambda n: {"min": 0, "max": n},
    "stats.count.open": lambda n: {"count": n},
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_counted_messages_read_right_for_1_2_5_21_22_25(key: str, lang: str) -> None:
    translator = Translator.load()
    for number, expected in zip(NUMBERS, EXPECTED[key][lang], strict=True):
        text = translator.text(key, lang, PARAMS[key](number))
        assert expected in text, (number, text)


def test_a_message_counting_several_things_counts_each_in_its_own_phrase() -> None:
    """The department's statistics and the queue's counts: each number with its word."""
    translator = Translator.load()
    stats = DepartmentStats("technical", open=1, filed=22, deflected=5, breaches=2)
    stats.ratings = [5] * 21
    report = Report(7, datetime(2026, 12, 1, tzinfo=UTC), (stats,), ())
    line = next(r for r in report_replies(report) if r.key == "stats.department")
    assert all(isinstance(v, Text) for k, v in line.params.items() if k in {"open", "filed"})
    cs = translator.reply(line, "cs")
    assert "1 otevřený · 22 založených, 5 vyřešených článkem" in cs, cs
    assert "2 porušení SLA" in cs and "(21 hodnocení)" in cs, cs
    pl = translator.reply(line, "pl")
    assert "1 otwarte · 22 utworzone, 5 rozwiązanych przez artykuł" in pl, pl
    assert "2 naruszenia SLA" in pl and "(21 ocen)" in pl, pl
    ru = translator.reply(line, "ru")
    assert "1 открытое · 22 созданных, 5 решённых статьёй" in ru, ru
    assert "2 нарушения SLA" in ru and "(21 оценка)" in ru, ru
    en = translator.reply(line, "en")
    assert "1 open · 22 filed, 5 solved by an article" in en and "(21 ratings)" in en, en

    counts = {Status.NEW: 1, Status.ACCEPTED: 2, Status.WAITING: 5, Status.BLOCKED: 21}
    assert translator.reply(queue_counts(counts), "cs").startswith(
        "1 nový · 2 přijaté · 5 čeká na klienta · 0 čeká na schválení · 0 vyřešených"
    )
    assert translator.reply(queue_counts(counts), "ru").startswith(
        "1 новое · 2 принятых · 5 ждут клиента"
    )
    assert "21 заблокированное" in translator.reply(queue_counts(counts), "ru")


def test_a_count_not_given_as_a_number_leaves_the_most_general_form() -> None:
    translator = Translator.load()
    reply = Reply("incident.line", {"id": 1, "title": "X", "count": "?"})
    assert translator.reply(reply, "cs") == "#1 X (? požadavků)"
