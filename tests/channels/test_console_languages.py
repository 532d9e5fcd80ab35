"""The terminal in another language than English: nothing an agent reads is an English
code (issue 9 point 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.channels.test_console import BUG, DESCRIPTION, STEPS, Desk


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
