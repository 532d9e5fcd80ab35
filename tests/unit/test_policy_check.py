"""Strict policy files (issue 9 point 12): an unknown or misspelled key is an error
naming the key, the file and line, and the nearest valid key; ``python -m bot policy
check FILE`` says what a valid policy means in plain words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.policy import EXAMPLE_POLICY, PolicyError, load_policy, parse_policy

EXAMPLE = EXAMPLE_POLICY.read_text(encoding="utf-8")


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def _policy_with(tmp_path: Path, *swaps: tuple[str, str]) -> tuple[Path, str]:
    text = EXAMPLE
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "desk.toml"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_misspelled_keys_are_errors_naming_the_key_the_file_the_line_and_the_nearest_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, text = _policy_with(
        tmp_path,
        ("monthly_quota = 10", "monthly_qouta = 10"),
        ('peak = "10:00-14:00"', 'peek = "10:00-14:00"'),
    )
    assert main(["policy", "check", str(path)]) == 2
    err = capsys.readouterr().err
    quota_line = _line_of(text, "monthly_qouta")
    peak_line = _line_of(text, "peek =")
    assert (
        f"{path}:{quota_line}: unknown key 'monthly_qouta' in [plans.standard]; "
        "did you mean 'monthly_quota'?"
    ) in err
    assert (
        f"{path}:{peak_line}: unknown key 'peek' in [departments.technical]; did you mean 'peak'?"
    ) in err


def test_the_loader_refuses_an_unknown_key_in_an_inline_table_and_at_the_top(
    tmp_path: Path,
) -> None:
    path, text = _policy_with(
        tmp_path,
        ('name = { en = "Free", cs = "Zdarma"', 'name = { en = "Free", cz = "Zdarma"'),
        ("[quotes]", "[quotas]"),
    )
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    message = str(raised.value)
    line = _line_of(text, 'cz = "Zdarma"')
    assert f"{path}:{line}: unknown key 'cz' in [plans.free.name]; did you mean 'cs'?" in message
    quotas = _line_of(text, "[quotas]")
    assert f"{path}:{quotas}: unknown key 'quotas' at the top level; did you mean" in message


def test_a_key_like_no_valid_one_is_told_the_valid_keys(tmp_path: Path) -> None:
    path, _ = _policy_with(tmp_path, ("\non_refusal = ", "\nwhen_the_customer_says_no = "))
    with pytest.raises(PolicyError, match=r"valid keys: currency, on_refusal$"):
        load_policy(path)


def test_a_policy_built_from_a_table_is_as_strict() -> None:
    with pytest.raises(PolicyError, match=r"unknown key 'direct_onyl' in \[plans.x\]"):
        parse_policy(
            {
                "departments": {"sales": {"name": "Sales"}},
                "categories": {"c": {"department": "sales"}},
                "plans": {"x": {"direct_onyl": True}},
            }
        )


def test_policy_check_says_what_the_example_means(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "check", str(EXAMPLE_POLICY)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out.splitlines()[0]
    # Departments with their team channels, hours per zone, holidays, off-hours rule.
    assert "  technical - Technical department" in out
    assert "    team channels: console: technical" in out
    assert "    hours (Europe/Prague): mon-fri 08:00-16:00; sat-sun closed" in out
    assert "    hours (Europe/Moscow): mon-fri 11:00-20:00; sat-sun closed" in out
    assert "only critical requests are handled" in out
    assert "busy hours: 10:00-14:00" in out
    # Targets and quotas per plan.
    premium = out[out.index("  premium - Premium") :]
    assert (
        "first response within 3 h (business hours), resolution within 24 h (business hours)"
        in premium
    )
    assert "public holidays: CZ (the holidays package)" in out
    assert "critical requests: first response within 1 h, in calendar hours" in out
    assert "quota: 30 requests a calendar month" in premium
    assert "quota: counted per calendar month in Europe/Moscow" in out
    # Request types.
    assert re.search(r"  payment - .*: payment; to sales; due same business day", out)
    assert re.search(
        r"  installation - .*only plans all_in_one; once per account; not counted", out
    )
    assert "training: for all_in_one, standard, trial users, within 30 days" in out
    assert "warning:" not in out


def test_policy_check_reads_the_policy_the_settings_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _policy_with(
        tmp_path,
        ("monthly_quota = 10", "monthly_quota = 7"),
        ('team_channels = { console = "sales" }', 'team_channels = { telegramm = "-100" }'),
    )
    monkeypatch.setenv("DESK_POLICY_FILE", str(path))
    assert main(["policy", "check"]) == 0
    out = capsys.readouterr().out
    assert f"policy: {path}: valid" in out
    assert "quota: 7 requests a calendar month" in out
    # A platform no channel has is legal (tests add their own) but told.
    assert "warning: departments.sales.team_channels: 'telegramm' is none of" in out


def test_policy_check_refuses_a_bad_value_with_the_desks_own_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _policy_with(tmp_path, ('peak = "10:00-14:00"', 'peak = "14:00-10:00"'))
    assert main(["policy", "check", str(path)]) == 2
    assert "departments.technical.peak" in capsys.readouterr().err
