"""Reading service levels from the policy file, and clear errors for bad values."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from bot.policy import DeskPolicy, PolicyError, parse_policy
from bot.service_level import (
    ALWAYS_OPEN,
    DueRule,
    ServiceLevels,
)


def test_example_policy_reproduces_the_seeds(levels: ServiceLevels) -> None:
    technical = levels.calendar("technical")
    assert technical.timezone == "Europe/Prague"
    assert technical.week[0] == ((8 * 60, 16 * 60),)
    assert technical.week[5] == technical.week[6] == ()
    assert technical.off_hours_critical_only
    assert technical.peak == (10 * 60, 14 * 60)
    # Czech public holidays from the holidays package, in any year (the hand-written
    # list ran out in 2027): Christmas Eve, Easter Monday 2027 and 2031, Good Friday.
    for day in (date(2026, 12, 24), date(2027, 3, 29), date(2026, 4, 6), date(2031, 4, 14)):
        assert technical.is_holiday(day), day
    assert not technical.is_holiday(date(2031, 4, 15))
    assert levels.calendar("consultation") == technical
    sales = levels.calendar("sales")
    assert sales.timezone == "Europe/Moscow"
    assert sales.week[:5] == ((((11 * 60, 20 * 60),),) * 5)
    assert not sales.off_hours_critical_only
    assert levels.desk_timezone == "Europe/Moscow"  # the sales department's
    assert levels.terms("payment").due is DueRule.SAME_BUSINESS_DAY
    assert levels.terms("bug").due is DueRule.PLAN
    assert levels.sla.warn_at == 0.8
    assert levels.reminders.waiting_reminder_hours == 16
    assert levels.reminders.waiting_close_hours == 40
    assert levels.reminders.resolved_close_days == 7
    assert levels.onboarding.plans == {"standard", "all_in_one"}
    assert levels.onboarding.days == 30
    assert levels.priority_boost("premium") == 1
    assert levels.priority_boost("free") == 0


def test_unknown_department_and_category(levels: ServiceLevels) -> None:
    with pytest.raises(PolicyError, match="department"):
        levels.calendar("marketing")
    with pytest.raises(PolicyError, match="category"):
        levels.terms("lottery")


def _levels(policy: DeskPolicy, change: Callable[[dict[str, Any]], None]) -> ServiceLevels:
    raw = copy.deepcopy(policy.raw)
    change(raw)
    return ServiceLevels.from_policy(parse_policy(raw))


def test_department_without_hours_is_always_open_in_the_desk_zone(policy: DeskPolicy) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["desk"]["timezone"] = "Europe/Warsaw"
        raw["departments"]["technical"] = {"name": "Technical"}

    levels = _levels(policy, change)
    assert levels.calendar("technical").week == ALWAYS_OPEN
    assert levels.calendar("technical").timezone == "Europe/Warsaw"
    assert levels.desk_timezone == "Europe/Warsaw"


def test_lunch_breaks_and_holiday_strings(policy: DeskPolicy) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["departments"]["technical"]["hours"] = {"mon": "13:00-16:00, 08:00-12:00"}
        raw["departments"]["technical"]["holidays"] = ["2026-06-08"]

    calendar = _levels(policy, change).calendar("technical")
    assert calendar.week[0] == ((480, 720), (780, 960))
    assert calendar.holidays == {date(2026, 6, 8)}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        table = raw
        for name in parents:
            table = table.setdefault(name, {})
        table[last] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("departments.technical.timezone", "Europe/Atlantis", "unknown time zone"),
        ("desk.timezone", "Mars/Olympus", "unknown time zone"),
        ("departments.technical.hours", {"mon": "8-16"}, "time like 08:00"),
        ("departments.technical.hours", {"mon": "16:00-08:00"}, "ends before it starts"),
        ("departments.technical.hours", {"mon": "08:00-12:00,11:00-16:00"}, "overlap"),
        (
            "departments.technical.hours",
            {"monday": "08:00-16:00"},
            "unknown key .monday. in .departments.technical.hours.; did you mean .mon.",
        ),
        ("departments.technical.hours", {"mon": "08:00-25:00"}, "no such time"),
        ("departments.technical.hours", {"mon": "", "tue": ""}, "never open"),
        ("departments.technical.hours", "08:00-16:00", "expected a table"),
        ("departments.technical.workdays", ["mon"], "either 'hours'"),
        ("departments.sales.close", 20, "expected a string"),
        ("departments.sales.workdays", "mon-fri", "expected a list"),
        ("departments.technical.holidays", ["2026-13-01"], "not a date"),
        ("departments.technical.holidays", "sk", "no list 'sk'"),
        ("departments.technical.holidays", 2026, "list of dates"),
        ("departments.technical.peak", "14:00", "range like"),
        ("departments.technical.off_hours_critical_only", "yes", "true or false"),
        ("categories.payment.due", "tomorrow", "not one of"),
        ("sla.warn_at", 1.5, "between 0 and 1"),
        ("sla.warn_at", True, "expected a number"),
        ("reminders.waiting_close_hours", 8, "less than waiting_close_hours"),
        ("reminders.resolved_close_days", 2.5, "whole number"),
        ("reminders.resolved_close_days", 0, "at least 1"),
        ("onboarding.plans", ["gold"], "unknown plans"),
        ("onboarding.plans", "standard", "list of plan keys"),
        ("plans.premium.priority_boost", -1, "at least 0"),
    ],
)
def test_bad_values_are_policy_errors(
    policy: DeskPolicy, path: str, value: Any, message: str
) -> None:
    raw = copy.deepcopy(policy.raw)
    _set(path, value)(raw)
    with pytest.raises(PolicyError, match=message):
        ServiceLevels.from_policy(parse_policy(raw))
