"""Every reply key of the service-level code exists in all four languages with the
same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import bot.quota
import bot.service_level
import bot.sla
from bot.i18n import LANGUAGES, read_catalogs
from bot.service_level import MONTHS, WEEKDAYS

SOURCES = [Path(m.__file__ or "") for m in (bot.service_level, bot.sla, bot.quota)]


def _keys_in_code() -> set[str]:
    keys: set[str] = set()
    for source in SOURCES:
        # Reply keys are module constants: ``EXPECT_OPEN = "sla.expect_open"``.
        keys |= set(re.findall(r'^[A-Z_]+ = "(sla\.[a-z_.]+)"', source.read_text(), re.M))
        # ... or the values of a table of them: ``("resolution",): "sla.target.resolution"``.
        keys |= set(re.findall(r'^    .*: "(sla\.[a-z_.]+)",$', source.read_text(), re.M))
    keys |= {f"weekday.{d}" for d in WEEKDAYS}
    keys |= {f"month.{m}" for m in MONTHS}
    return keys


KEYS = sorted(_keys_in_code())
CATALOGS = read_catalogs()


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_the_code_uses_the_expected_keys() -> None:
    assert {"sla.expect_open", "sla.quota_exceeded", "weekday.sun", "month.dec"} <= set(KEYS)
    assert len(KEYS) == 18 + 7 + 12


@pytest.mark.parametrize("key", KEYS)
def test_key_in_every_language_with_the_same_placeholders(key: str) -> None:
    fields = {lang: _fields(CATALOGS[lang][key]) for lang in LANGUAGES}
    assert all(fields[lang] == fields["en"] for lang in LANGUAGES), fields


def test_sla_catalogs_define_nothing_the_code_does_not_use() -> None:
    for lang in LANGUAGES:
        defined = {k for k in CATALOGS[lang] if k.split(".")[0] in ("sla", "weekday", "month")}
        assert defined == set(KEYS), lang
