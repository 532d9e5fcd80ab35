"""Every message the intake can send exists in every language, with the same fields."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from intake_support import SEEN_KEYS, runs_at_every_step, to_summary

import bot.files
import conversations.intake
from bot.i18n import LANGUAGES, read_catalogs
from bot.inputs import TicketsFiled
from bot.ticket import Status

CATALOGS = read_catalogs()
KEY = re.compile(r"""["']((?:intake|files|followup)\.[a-z_.]*[a-z_])["']""")
# Keys laid over the catalogs from the desk policy, and keys the desk itself sends
# back in a Refused answer (tests use made-up ones).
FOREIGN = ("category.", "department.", "plan.", "desk.", "quota.", "notice.")


def _source_keys() -> set[str]:
    keys: set[str] = set()
    for module in (conversations.intake, bot.files):
        keys |= set(KEY.findall(Path(module.__file__ or "").read_text(encoding="utf-8")))
    keys |= {f"intake.status.{s.value}" for s in Status}
    return keys


def _flow_keys() -> set[str]:
    # Answer every step wrongly, skip it, and cancel it: hints, refusals and goodbyes.
    for run in runs_at_every_step():
        run.text("x")
        if run.state is not None:
            run.command("skip")
        if run.state is not None:
            run.command("cancel")
    run = to_summary()
    run.pick("confirm")
    run.send(TicketsFiled((1, 2)))
    return {k for k in SEEN_KEYS if not k.startswith(FOREIGN)}


ALL_KEYS = sorted(_source_keys() | _flow_keys())


def test_keys_were_found() -> None:
    assert len(ALL_KEYS) > 60
    assert "intake.ask_title" in ALL_KEYS and "files.too_big" in ALL_KEYS


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_is_translated(lang: str) -> None:
    missing = [key for key in ALL_KEYS if not CATALOGS.get(lang, {}).get(key)]
    assert missing == []


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_placeholders_match_in_every_language(key: str) -> None:
    english = _fields(CATALOGS["en"][key])
    for lang in LANGUAGES:
        assert _fields(CATALOGS[lang][key]) == english, lang


def test_translations_are_not_english_copies() -> None:
    # Labels made only of placeholders ("{domain}") and signs are the same everywhere.
    for lang in ("cs", "pl", "ru"):
        same = [
            key
            for key in ALL_KEYS
            if CATALOGS[lang][key] == CATALOGS["en"][key]
            and re.search(r"[a-z]{3}", re.sub(r"\{\w+\}", "", CATALOGS["en"][key]))
        ]
        assert same == [], lang


def test_the_catalogs_hold_no_stale_intake_keys() -> None:
    stale = {
        key
        for key in CATALOGS["en"]
        if key.startswith(("intake.", "files.", "followup.")) and key not in ALL_KEYS
    }
    assert stale == set()
