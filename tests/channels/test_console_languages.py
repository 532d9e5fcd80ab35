"""The terminal in another language than English: nothing an agent reads is an English
code (issue 9 point 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.policy import load_policy
from tests.channels.test_console import BUG, DESCRIPTION, STEPS, Desk, intake
from tests.unit.test_cli_languages import POLICIES, english_in, policy_words
from tests.unit.test_languages import WORD


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    d = Desk(tmp_path)
    d.account(
        "SN-1001", "--domain", "shop.cz", "--plan", "standard", "--valid-until", "2099-12-31"
    )
    return d


def test_a_czech_agent_declines_by_the_reasons_number_and_reads_no_code(desk: Desk) -> None:
    desk.env["LANG"] = "cs_CZ.UTF-8"
    out = desk.console(
        "/as customer alice",
        "/new",
        BUG,
        "SN-1001",
        "Checkout fails with error 500",
        DESCRIPTION,
        "3",  # the help articles offered: still need help
        STEPS,
        "done",
        "/skip",
        "1",  # filed
        "/as agent eva",
        "/decline 1",
        "/decline 1 2 Postup nevede k chybě.",
    )
    usage = out.split("Uveďte důvod")[1]
    assert "1) nebyly poskytnuty informace potřebné k vyřešení" in usage
    assert "2) problém se nepodařilo reprodukovat" in usage
    assert "missing_information" not in out and "cannot_reproduce" not in out
    shown = desk.run("tickets", "show", "1", "--lang", "cs")
    assert "(problém se nepodařilo reprodukovat)" in shown
    assert "cannot_reproduce" not in shown


# -- the admin commands in the operator's language (issue 9 point 4) -----------------

TICKET_WORDS = " ".join(
    [DESCRIPTION, STEPS, "Checkout fails with error 500", "alice eva SN-1001 shop.cz cs pl ru"]
)


def _no_english(out: str, lang: str, data: str = "") -> None:
    allowed = policy_words(load_policy(), lang) | {w.lower() for w in WORD.findall(data)}
    assert "cli." not in out
    assert english_in(out, lang, allowed) == [], out


def test_accounts_are_kept_in_the_operators_language(desk: Desk, tmp_path: Path) -> None:
    saved = desk.run(
        "accounts", "add", "SN-2", "--domain", "b.cz", "--plan", "standard", "--lang", "cs"
    )
    assert saved == "uloženo: SN-2\n"
    listed = desk.run("accounts", "list", "--lang", "pl")
    assert "SN-2\tstandard\t-\tb.cz\tbezpośrednio" in listed
    _no_english(listed, "pl", "SN-1001 SN-2 SN-OLD shop.cz old.cz b.cz")
    good = tmp_path / "good.csv"
    good.write_text(
        "support_number,domain,plan,valid_until\nSN-5,e.cz,standard,\nSN-6,f.cz,standard,\n"
        "SN-7,g.cz,standard,\nSN-8,h.cz,standard,\nSN-9,i.cz,standard,\n",
        encoding="utf-8",
    )
    assert desk.run("accounts", "import", str(good), "--lang", "cs") == "importováno 5 účtů\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "support_number,domain,plan,valid_until,direct\n"
        "SN-3001,x.cz,gold,\n"
        "SN-3003,a.cz;b.cz,standard,\n"
        "SN-3004,d.cz,standard,,maybe\n"
        "SN-3005,e.cz,standard,31.12.2027\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "accounts", "import", str(bad), "--lang", "ru"],
        capture_output=True,
        text=True,
        env=desk.env,
        cwd=desk.cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("ничего не импортировано:\n")
    assert "строка 2: SN-3001: неизвестный тариф 'gold' (известные: " in done.stdout
    assert (
        "строка 3: SN-3003: 2 домена, но тариф standard покрывает на пакет не более 1"
        in done.stdout
    )
    assert "строка 4: SN-3004: direct — 'maybe' (yes или no)" in done.stdout
    assert "строка 5: SN-3005: valid_until — не дата (ГГГГ-ММ-ДД): 31.12.2027" in done.stdout
    _no_english(done.stdout, "ru", "SN gold maybe direct valid_until yes no")


def test_tickets_and_stats_in_the_operators_language(desk: Desk) -> None:
    desk.console(*intake("SN-1001"), "1")
    listed = desk.run("tickets", "list", "--lang", "pl")
    assert listed.startswith("#1 ") and "Nowe" in listed
    _no_english(listed, "pl", TICKET_WORDS)
    shown = desk.run("tickets", "show", "1", "--lang", "ru")
    assert "Статус: Новое" in shown
    _no_english(shown, "ru", TICKET_WORDS)
    stats = desk.run("stats", "--days", "7", "--lang", "cs")
    assert stats.startswith("Posledních 7 dní")
    assert "1 otevřený · 1 založený, 0 vyřešených článkem" in stats
    _no_english(stats, "cs", TICKET_WORDS)
    # Without --lang: the policy's default language (the example's is English).
    assert desk.run("stats", "--days", "7").startswith("The last 7 days")


def test_a_policy_in_czech_by_default_runs_its_admin_commands_in_czech(tmp_path: Path) -> None:
    """UPgates' file says ``default_language = "cs"``: no --lang needed."""
    d = Desk(tmp_path, POLICIES / "upgates.toml")
    saved = d.run("accounts", "add", "SN-1", "--domain", "a.cz", "--plan", "upgates")
    assert saved == "uloženo: SN-1\n"
    assert "\tpřímo" in d.run("accounts", "list")
    assert d.run("help", "feedback") == "zatím žádná zpětná vazba\n"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "tickets", "show", "9"],
        capture_output=True,
        text=True,
        env=d.env,
        cwd=d.cwd,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("chyba: "), done.stderr
    _no_english(done.stderr, "cs")
