"""Quotas per calendar month, entitlement from the licence purchase, onboarding."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.account import Account, Entitlement
from bot.i18n import Translator
from bot.policy import DeskPolicy
from bot.quota import (
    QuotaStatus,
    allowed_department,
    check_entitlement,
    month_window,
    quota_reply,
    quota_status,
    support_valid_until,
    training_eligible,
)
from bot.reply import Text
from bot.service_level import ServiceLevels
from tests.unit.service_level.helpers import utc


def test_late_on_the_31st_utc_is_already_next_month_in_prague() -> None:
    start, end = month_window(utc(2026, 1, 31, 23, 30), "Europe/Prague")
    assert (start, end) == (utc(2026, 1, 31, 23), utc(2026, 2, 28, 23))
    # The same instant still belongs to January in UTC.
    assert month_window(utc(2026, 1, 31, 23, 30), "UTC") == (utc(2026, 1, 1), utc(2026, 2, 1))


def test_moscow_month_starts_three_hours_before_utc() -> None:
    assert month_window(utc(2026, 1, 31, 21, 30), "Europe/Moscow") == (
        utc(2026, 1, 31, 21),
        utc(2026, 2, 28, 21),
    )


def test_month_windows_across_daylight_saving_and_new_year() -> None:
    # March starts in CET and ends in CEST: 743 hours long.
    assert month_window(utc(2026, 3, 15), "Europe/Prague") == (
        utc(2026, 2, 28, 23),
        utc(2026, 3, 31, 22),
    )
    assert month_window(utc(2026, 12, 31, 23, 30), "Europe/Prague") == (
        utc(2026, 12, 31, 23),
        utc(2027, 1, 31, 23),
    )


def _count_in_month(filed: list[datetime], now: datetime, tz: str) -> int:
    start, end = month_window(now, tz)
    return sum(start <= at < end for at in filed)


def test_quota_counts_tickets_by_the_desk_month(policy: DeskPolicy) -> None:
    filed = [utc(2026, 1, 10), utc(2026, 1, 31, 22, 59), utc(2026, 1, 31, 23)]
    # Early February in Prague: only the ticket filed at 0:00 on 1 February counts.
    assert _count_in_month(filed, utc(2026, 2, 3), "Europe/Prague") == 1
    assert _count_in_month(filed, utc(2026, 1, 31, 12), "Europe/Prague") == 2
    status = quota_status(policy.plan("standard"), 1)
    assert status == QuotaStatus(limit=10, used=1, left=9)


def test_quota_left_and_exhausted(policy: DeskPolicy, translator: Translator) -> None:
    standard = policy.plan("standard")
    left = quota_status(standard, 7)
    assert (left.left, left.exhausted) == (3, False)
    reply = quota_reply(left, utc(2026, 1, 20), "Europe/Prague", policy.sales_department)
    assert reply is not None and reply.key == "sla.quota_left"
    assert reply.params == {"left": 3, "limit": 10}
    assert translator.reply(reply, "en") == "3 requests of 10 left this month."
    over = quota_status(standard, 12)
    assert (over.left, over.exhausted) == (0, True)
    reply = quota_reply(over, utc(2026, 1, 31, 23, 30), "Europe/Prague", "sales")
    assert reply is not None and reply.key == "sla.quota_exceeded"
    assert reply.params["department"] == Text("department.sales")
    # Already February in Prague, so the quota renews on 1 March.
    assert (reply.params["day"], reply.params["month"]) == (1, Text("month.mar"))
    assert "1. března" in translator.reply(reply, "cs")
    assert "Obchodní oddělení" in translator.reply(reply, "cs")
    assert "Отдел продаж" in translator.reply(reply, "ru")


def test_unlimited_plans_show_no_quota(policy: DeskPolicy) -> None:
    status = quota_status(policy.plan("all_in_one"), 55)
    assert status.limit is None and not status.exhausted
    assert quota_reply(status, utc(2026, 1, 1), "UTC", "sales") is None


@pytest.mark.parametrize(
    ("plan", "purchased", "until"),
    [
        ("standard", date(2026, 1, 15), date(2026, 4, 14)),
        ("premium", date(2026, 1, 15), date(2026, 7, 14)),
        ("standard", date(2025, 11, 30), date(2026, 2, 27)),  # no 30 February
        ("premium", date(2026, 8, 31), date(2027, 2, 27)),
        ("free", date(2026, 1, 15), None),
    ],
)
def test_support_period_runs_from_the_licence_purchase(
    policy: DeskPolicy, plan: str, purchased: date, until: date | None
) -> None:
    assert support_valid_until(purchased, policy.plan(plan)) == until


def test_entitlement(policy: DeskPolicy) -> None:
    standard = policy.plan("standard")
    account = Account("SN-1", ("shop.cz",), "standard", purchased_on=date(2026, 1, 15))
    today = date(2026, 4, 14)
    assert check_entitlement(None, None, "shop.cz", today) is Entitlement.UNKNOWN
    assert check_entitlement(account, standard, "https://www.Shop.cz/admin", today) is (
        Entitlement.OK
    )
    assert check_entitlement(account, standard, "other.cz", today) is Entitlement.WRONG_DOMAIN
    assert check_entitlement(account, standard, "", today) is Entitlement.OK
    assert check_entitlement(account, standard, "shop.cz", date(2026, 4, 15)) is (
        Entitlement.EXPIRED
    )
    # A stored valid_until wins over the derived period.
    extended = Account("SN-1", ("shop.cz",), "standard", date(2026, 12, 31), date(2026, 1, 15))
    assert check_entitlement(extended, standard, "shop.cz", date(2026, 6, 1)) is Entitlement.OK


def test_free_plan_and_expired_support_go_to_sales(policy: DeskPolicy) -> None:
    sales = policy.sales_department
    free, standard = policy.plan("free"), policy.plan("standard")
    assert allowed_department(free, "technical", Entitlement.OK, sales) == "sales"
    assert allowed_department(standard, "technical", Entitlement.OK, sales) == "technical"
    assert allowed_department(standard, "technical", Entitlement.EXPIRED, sales) == "sales"
    assert allowed_department(None, "technical", Entitlement.UNKNOWN, sales) == "sales"


def test_training_in_the_first_30_days(levels: ServiceLevels) -> None:
    cfg = levels.onboarding
    new = Account("SN-2", ("shop.pl",), "standard", purchased_on=date(2026, 3, 1))
    assert training_eligible(new, date(2026, 3, 1), cfg)
    assert training_eligible(new, date(2026, 3, 30), cfg)  # day 29
    assert not training_eligible(new, date(2026, 3, 31), cfg)  # day 30
    assert not training_eligible(new, date(2026, 2, 28), cfg)  # before the purchase
    premium = Account("SN-3", ("shop.pl",), "premium", purchased_on=date(2026, 3, 1))
    assert not training_eligible(premium, date(2026, 3, 2), cfg)
    assert not training_eligible(Account("SN-4", (), "standard"), date(2026, 3, 2), cfg)
    assert not training_eligible(None, date(2026, 3, 2), cfg)
