"""Translations: gettext catalogs (``bot/locales/<lang>/*.po``) read with Babel.

Messages are looked up by key (``intake.ask_title``); every language has its own
catalog and falls back to English. Labels from the desk policy (department,
category and plan names) are laid over the catalogs.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_location
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from bot.reply import Choice, Day, Moment, Money, Reply, Text, Zone

LOCALES_DIR = Path(__file__).with_name("locales")
LANGUAGES = ("en", "cs", "pl", "ru")
FALLBACK = "en"

log = logging.getLogger(__name__)


# A message with plural forms: the parameter that counts (its ``msgid_plural``) and the
# forms, in the order of the language's gettext plural rule.
PluralForms = tuple[str, tuple[str, ...]]

# The parameter names that hold a number of something ("{count} requests", "within
# {days} days", "{min}-{max} characters"). A message with one of them has plural forms,
# its ``msgid_plural`` one of them (the one the words agree with; another stands where
# no word agrees, as "of {limit}"). A message counting several things gives each its
# own phrase with plural forms, passed as a ``Text`` ("stats.count.open": "{count}
# otevřené"). ``tests/unit/test_plurals.py`` holds every other parameter name to it.
COUNTS = frozenset(
    {
        "count",
        "days",
        "minutes",
        "left",
        "limit",
        "min",
        "max",
        "length",
        "wanted",
        "pages",
        "size",
    }
)


def _messages(directory: Path) -> dict[str, tuple[Any, ...]]:
    """The messages of every ``.po`` file under ``directory/<lang>/``, by language.
    Parsed once per process while the files stay as they are: a desk built again (every
    worker started, every test's desk) takes them from memory (parsing is ~0.3 s)."""
    langs = tuple(sorted(p.name for p in directory.iterdir() if p.is_dir()))
    files: list[tuple[str, str, int, int]] = []
    for lang in langs:
        for po in sorted((directory / lang).rglob("*.po")):
            stat = po.stat()
            files.append((lang, str(po), stat.st_mtime_ns, stat.st_size))
    return _parsed(langs, tuple(files))


@lru_cache(maxsize=8)
def _parsed(
    langs: tuple[str, ...], files: tuple[tuple[str, str, int, int], ...]
) -> dict[str, tuple[Any, ...]]:
    """``files`` (language, path, and what tells a changed file) parsed, by language."""
    found: dict[str, list[Any]] = {lang: [] for lang in langs}
    for lang, path, _, _ in files:
        with open(path, "rb") as fh:
            found[lang].extend(read_po(fh, locale=lang))
    return {lang: tuple(messages) for lang, messages in found.items()}


def read_catalogs(directory: Path = LOCALES_DIR) -> dict[str, dict[str, str]]:
    """``{lang: {key: text}}`` from every ``.po`` file under ``directory/<lang>/``. A
    message with plural forms gives its last (most general) form here; the forms are
    read by ``read_plurals``."""
    out: dict[str, dict[str, str]] = {}
    for lang, found in _messages(directory).items():
        messages: dict[str, str] = {}
        for message in found:
            if message.id and isinstance(message.id, str) and message.string:
                messages[message.id] = str(message.string)
            elif isinstance(message.id, tuple) and message.string and all(message.string):
                messages[str(message.id[0])] = str(message.string[-1])
        out[lang] = messages
    return out


def read_plurals(directory: Path = LOCALES_DIR) -> dict[str, dict[str, PluralForms]]:
    """``{lang: {key: (count parameter, forms)}}``: the messages with plural forms
    (``msgid_plural`` names the parameter that counts, e.g. ``count``)."""
    out: dict[str, dict[str, PluralForms]] = {}
    for lang, found in _messages(directory).items():
        out[lang] = {
            str(m.id[0]): (str(m.id[1]), tuple(str(form) for form in m.string))
            for m in found
            if isinstance(m.id, tuple) and m.string and all(m.string)
        }
    return out


@lru_cache(maxsize=16)
def plural_rule(lang: str) -> Callable[[int], int]:
    """The gettext plural rule of ``lang`` (from Babel's locale data): count -> form."""
    try:
        expr = Catalog(locale=lang).plural_expr
    except (UnknownLocaleError, ValueError):
        expr = Catalog(locale=FALLBACK).plural_expr
    return gettext.c2py(expr)


def pick_language(code: str | None, available: tuple[str, ...] = LANGUAGES) -> str:
    """Map a platform locale (``cs-CZ``, ``pt_BR``, None) to a supported language."""
    if not code:
        return FALLBACK
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in available else FALLBACK


# Zones without a city of their own: named by a catalog key, never a bare "UTC".
_ZONES_WITHOUT_CITY = {"UTC": "zone.utc", "Etc/UTC": "zone.utc", "GMT": "zone.utc"}


@lru_cache(maxsize=64)
def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK)


@lru_cache(maxsize=256)
def _city(tz: str, lang: str) -> str:
    return str(get_timezone_location(tz, locale=_locale(lang), return_city=True))


@lru_cache(maxsize=4096)
def _date_and_time(minute: datetime, tz: str, long: bool, lang: str) -> str:
    """A minute in zone ``tz``, its day and clock time as ``lang`` joins them."""
    locale = _locale(lang)
    zone = ZoneInfo(tz)
    local = minute.astimezone(zone)
    day = format_date(local, "full" if long else "medium", locale=locale)
    clock = format_time(local, "short", tzinfo=zone, locale=locale)
    joined = str(get_datetime_format("long" if long else "medium", locale))
    return joined.replace("{1}", day).replace("{0}", clock)


class _SafeParams(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """Turns keys (and ``Reply``/``Text`` values) into text in a given language."""

    def __init__(
        self,
        catalogs: Mapping[str, Mapping[str, str]],
        overlay: Mapping[str, Mapping[str, str]] | None = None,
        plurals: Mapping[str, Mapping[str, PluralForms]] | None = None,
    ) -> None:
        self._catalogs = {lang: dict(msgs) for lang, msgs in catalogs.items()}
        self._plurals = {lang: dict(forms) for lang, forms in (plurals or {}).items()}
        for key, labels in (overlay or {}).items():
            for lang, text in labels.items():
                self._catalogs.setdefault(lang, {})[key] = text
        self.languages = tuple(sorted(self._catalogs))

    @classmethod
    def load(cls, overlay: Mapping[str, Mapping[str, str]] | None = None) -> Translator:
        return cls(read_catalogs(), overlay, read_plurals())

    def has(self, key: str, lang: str = FALLBACK) -> bool:
        return key in self._catalogs.get(lang, {})

    def template(self, key: str, lang: str) -> str:
        for candidate in (lang, FALLBACK):
            text = self._catalogs.get(candidate, {}).get(key)
            if text is not None:
                return text
        log.warning("missing translation key %r", key)
        return key

    def text(
        self,
        key: str,
        lang: str,
        params: Mapping[str, Any] | None = None,
        escape: Any = None,
    ) -> str:
        """Translate ``key`` and fill ``params``; ``escape`` (if given) is applied to
        every plain string parameter, so user text is escaped and templates are not."""
        template = self.template(key, lang)
        if not params:
            return template
        template = self._plural(key, lang, params) or template
        values = _SafeParams()
        for name, value in params.items():
            if isinstance(value, Text):
                values[name] = self.text(value.key, lang, value.params, escape)
            elif isinstance(value, Moment):
                values[name] = self.moment(value, lang)
            elif isinstance(value, Money):
                values[name] = self.money(value, lang)
            elif isinstance(value, Zone):
                values[name] = self.zone_name(value.tz, lang)
            elif isinstance(value, Day):
                values[name] = str(format_date(value.day, "long", locale=_locale(lang)))
            elif isinstance(value, str) and escape is not None:
                values[name] = escape(value)
            else:
                values[name] = value
        try:
            # Optional parts left empty (e.g. no comment) must not leave dangling space.
            return template.format_map(values).strip()
        except (ValueError, IndexError, KeyError):
            log.warning("bad template for %r in %s", key, lang)
            return template

    def _plural(self, key: str, lang: str, params: Mapping[str, Any]) -> str | None:
        """The form of a message with plural forms that its count asks for, in the
        language the message is found in."""
        for candidate in (lang, FALLBACK):
            if key not in self._catalogs.get(candidate, {}):
                continue
            entry = self._plurals.get(candidate, {}).get(key)
            if entry is None:
                return None
            name, forms = entry
            count = params.get(name)
            if not isinstance(count, int) or isinstance(count, bool):
                return None
            return forms[min(plural_rule(candidate)(abs(count)), len(forms) - 1)]
        return None

    def zone_name(self, tz: str, lang: str) -> str:
        """The zone's local name in ``lang``: its city ("Praha", "Москва")."""
        if tz in _ZONES_WITHOUT_CITY:
            return self.template(_ZONES_WITHOUT_CITY[tz], lang)
        return _city(tz, lang)

    def moment(self, moment: Moment, lang: str) -> str:
        """``moment`` in its zone, formatted for ``lang`` by Babel, with the zone's name:
        "středa 10. června 2026 12:00 (Praha)"; short: "10. 6. 2026 12:00 (Praha)"."""
        # Shown to the minute: the moments of one minute read alike (a card shows the
        # same few moments each time it changes, a burst of tickets shares them).
        minute = moment.at.replace(second=0, microsecond=0)
        both = _date_and_time(minute, moment.tz, moment.style == "long", lang)
        if moment.style == "bare":
            return both
        return f"{both} ({self.zone_name(moment.tz, lang)})"

    def money(self, money: Money, lang: str) -> str:
        """``money`` formatted for ``lang`` by Babel: "3 000,00 Kč", "CZK 3,000.00"."""
        text = str(format_currency(money.amount, money.currency, locale=_locale(lang)))
        # CLDR's currency spacing, which Babel leaves out: a code of letters is kept
        # apart from the digits by a no-break space ("CZK 3,000.00", not "CZK3,000.00").
        text = re.sub(r"^([^\d\s-]*[^\W\d_])(?=\d)", "\\1\u00a0", text)
        return str(re.sub(r"(?<=\d)([^\W\d_][^\d\s]*)$", "\u00a0\\1", text))

    def reply(self, reply: Reply, lang: str, escape: Any = None) -> str:
        return self.text(reply.key, lang, reply.params, escape)

    def choice(self, choice: Choice, lang: str, escape: Any = None) -> str:
        return self.text(choice.key, lang, choice.params, escape)
