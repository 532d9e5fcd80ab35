"""Translations: gettext catalogs (``bot/locales/<lang>/*.po``) read with Babel.

Messages are looked up by key (``intake.ask_title``); every language has its own
catalog and falls back to English. Labels from the desk policy (department,
category and plan names) are laid over the catalogs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_location
from babel.messages.pofile import read_po
from babel.numbers import format_currency

from bot.reply import Choice, Moment, Money, Reply, Text, Zone

LOCALES_DIR = Path(__file__).with_name("locales")
LANGUAGES = ("en", "cs", "pl", "ru")
FALLBACK = "en"

log = logging.getLogger(__name__)


def read_catalogs(directory: Path = LOCALES_DIR) -> dict[str, dict[str, str]]:
    """``{lang: {key: text}}`` from every ``.po`` file under ``directory/<lang>/``."""
    out: dict[str, dict[str, str]] = {}
    for lang_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        messages: dict[str, str] = {}
        for po in sorted(lang_dir.rglob("*.po")):
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang_dir.name)
            for message in catalog:
                if message.id and isinstance(message.id, str) and message.string:
                    messages[message.id] = str(message.string)
        out[lang_dir.name] = messages
    return out


def pick_language(code: str | None, available: tuple[str, ...] = LANGUAGES) -> str:
    """Map a platform locale (``cs-CZ``, ``pt_BR``, None) to a supported language."""
    if not code:
        return FALLBACK
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in available else FALLBACK


# Zones without a city of their own: named by a catalog key, never a bare "UTC".
_ZONES_WITHOUT_CITY = {"UTC": "zone.utc", "Etc/UTC": "zone.utc", "GMT": "zone.utc"}


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK)


class _SafeParams(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """Turns keys (and ``Reply``/``Text`` values) into text in a given language."""

    def __init__(
        self,
        catalogs: Mapping[str, Mapping[str, str]],
        overlay: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._catalogs = {lang: dict(msgs) for lang, msgs in catalogs.items()}
        for key, labels in (overlay or {}).items():
            for lang, text in labels.items():
                self._catalogs.setdefault(lang, {})[key] = text
        self.languages = tuple(sorted(self._catalogs))

    @classmethod
    def load(cls, overlay: Mapping[str, Mapping[str, str]] | None = None) -> Translator:
        return cls(read_catalogs(), overlay)

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

    def zone_name(self, tz: str, lang: str) -> str:
        """The zone's local name in ``lang``: its city ("Praha", "Москва")."""
        if tz in _ZONES_WITHOUT_CITY:
            return self.template(_ZONES_WITHOUT_CITY[tz], lang)
        return str(get_timezone_location(tz, locale=_locale(lang), return_city=True))

    def moment(self, moment: Moment, lang: str) -> str:
        """``moment`` in its zone, formatted for ``lang`` by Babel, with the zone's name:
        "středa 10. června 2026 12:00 (Praha)"; short: "10. 6. 2026 12:00 (Praha)"."""
        locale = _locale(lang)
        tz = ZoneInfo(moment.tz)
        local = moment.at.astimezone(tz)
        day = format_date(local, "full" if moment.style == "long" else "medium", locale=locale)
        clock = format_time(local, "short", tzinfo=tz, locale=locale)
        joined = str(get_datetime_format("long" if moment.style == "long" else "medium", locale))
        both = joined.replace("{1}", day).replace("{0}", clock)
        return f"{both} ({self.zone_name(moment.tz, lang)})"

    def money(self, money: Money, lang: str) -> str:
        """``money`` formatted for ``lang`` by Babel: "3 000,00 Kč", "CZK 3,000.00"."""
        return str(format_currency(money.amount, money.currency, locale=_locale(lang)))

    def reply(self, reply: Reply, lang: str, escape: Any = None) -> str:
        return self.text(reply.key, lang, reply.params, escape)

    def choice(self, choice: Choice, lang: str, escape: Any = None) -> str:
        return self.text(choice.key, lang, choice.params, escape)
