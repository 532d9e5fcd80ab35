"""The five vendors' policy files (docs/policies/): each passes ``python -m bot policy
check`` without a warning and says what its seed publishes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.inputs import ChoicePicked
from bot.policy import DeskPolicy, DueRule, Hours, Target, TargetClock, load_policy
from bot.service_level import ServiceLevels
from bot.ticket import QuoteRefusal, RequestType
from tests.unit.test_intake_desk import BOB, World, keys

POLICIES = Path(__file__).resolve().parents[2] / "docs" / "policies"
VENDORS = ("upgates", "vizitapp", "premsite", "kamelia", "serwisant")


def mon_fri(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """A week open Monday to Friday in ``spans``, closed at the weekend."""
    return (spans,) * 5 + ((), ())


def _load(vendor: str) -> tuple[DeskPolicy, ServiceLevels]:
    policy = load_policy(POLICIES / f"{vendor}.toml")
    return policy, ServiceLevels.from_policy(policy)


def test_there_is_one_policy_per_vendor() -> None:
    assert sorted(p.stem for p in POLICIES.glob("*.toml")) == sorted(VENDORS)


@pytest.mark.parametrize("vendor", VENDORS)
def test_policy_check_passes_without_a_warning(
    vendor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = POLICIES / f"{vendor}.toml"
    assert main(["policy", "check", str(path), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"policy: {path}: valid")
    assert "warning:" not in out
    # Every value's source is said: the seed quoted, or an assumption named as such.
    text = path.read_text(encoding="utf-8")
    assert "seed 00" in text and "ASSUMED" in text


def test_upgates_hours_peak_crises_and_ten_requests_a_month() -> None:
    policy, levels = _load("upgates")
    technical = levels.calendar("technical")
    assert technical.timezone == "Europe/Prague"
    assert technical.week == mon_fri(((8 * 60, 16 * 60),))
    assert technical.peak == (10 * 60, 14 * 60)
    assert technical.off_hours_critical_only
    # Czech public holidays every year, not a list that runs out.
    assert technical.is_holiday(date(2026, 12, 24)) and technical.is_holiday(date(2031, 10, 28))
    assert policy.plan("upgates").monthly_quota == 10
    assert policy.category("crisis").critical
    # A Saturday crisis has a running clock; the Facebook page is where to turn.
    crisis = policy.promise(policy.plan("upgates"), "crisis", "technical")
    assert crisis.first_response == Target(Hours(1, 1), TargetClock.CALENDAR)
    assert "Facebook" in policy.department("technical").hotline["cs"]


def test_vizitapp_paid_changes_need_consent_and_a_refusal_goes_on_as_a_consultation() -> None:
    policy, _ = _load("vizitapp")
    change = policy.category("modification")
    assert change.paid and change.request_type is RequestType.MODIFICATION
    assert {c.request_type for c in policy.listed_categories()} == {
        RequestType.MODIFICATION,
        RequestType.BUG,
        RequestType.CONSULTATION,
    }
    assert policy.quote_refusal is QuoteRefusal.CONSULTATION
    # A clinic app does not tell its customers to look under "Shop information".
    assert "Shop" not in policy.wording["intake.where_to_find_support_number"]["en"]


def test_premsite_moscow_hours_three_departments_free_to_sales_premium_three_hours() -> None:
    policy, levels = _load("premsite")
    assert set(policy.departments) == {"technical", "consultation", "sales"}
    for department in policy.departments:
        calendar = levels.calendar(department)
        assert calendar.timezone == "Europe/Moscow"
        assert calendar.week == mon_fri(((11 * 60, 20 * 60),))
    assert policy.plan("free").departments == {"sales"}
    # "24 часа", Premium "3 часа": calendar hours, not working ones.
    assert policy.plan("standard").first_response == Target(Hours(24, 24), TargetClock.CALENDAR)
    assert policy.plan("premium").first_response == Target(Hours(3, 3), TargetClock.CALENDAR)
    assert policy.route("sales") == "sales"


def test_kamelia_asks_number_and_domain_every_time_direct_customers_one_domain() -> None:
    policy, _ = _load("kamelia")
    paid = [p for p in policy.plans.values() if p.key != policy.default_plan]
    assert {p.support_months for p in paid} == {3, 6}
    for plan in paid:
        assert plan.ask_support_number and plan.ask_domain and plan.direct_only
        assert plan.domains_per_package == 1
        assert plan.first_response == Target(Hours(72, 72), TargetClock.CALENDAR)
    installation = policy.category("installation")
    assert installation.once_per_account
    assert "standard" not in installation.plans
    assert "informacje o sklepie" in (
        policy.wording["intake.where_to_find_support_number"]["pl"].lower()
    )


def test_serwisant_working_days_payments_same_day_training_and_one_installation() -> None:
    policy, levels = _load("serwisant")
    support = levels.calendar("support")
    assert support.timezone == "Europe/Warsaw"
    assert support.week == mon_fri(((9 * 60, 16 * 60),))
    assert support.is_holiday(date(2026, 11, 11)) and support.is_holiday(date(2030, 5, 3))
    # Payments the same day, the rest in 24 to 48 hours (a range), the phone shown.
    standard = policy.plan("standard")
    assert policy.promise(standard, "payment", "support").due is DueRule.SAME_BUSINESS_DAY
    assert policy.promise(standard, "bug", "support").resolution == Target(
        Hours(24, 48), TargetClock.CALENDAR
    )
    assert "+48 33 443-68-90" in policy.department("support").hotline["pl"]
    assert levels.onboarding.plans == {"standard", "all_in_one"}
    assert levels.onboarding.days == 30 and levels.onboarding.trial
    assert levels.onboarding.offered(policy)
    installation = policy.category("installation")
    assert installation.plans == {"all_in_one"} and installation.once_per_account


# -- a vendor's file drives the desk --------------------------------------------------


async def test_kamelia_through_the_desk_number_and_domain_each_time_resellers_sent_back() -> None:
    world = World(load_policy(POLICIES / "kamelia.toml"))
    await world.say("/new")
    replies = await world.say(ChoicePicked("bug"))
    assert keys(replies) == ["intake.ask_support_number"]
    # The package covers one domain, and still it is asked; another one is refused.
    assert keys(await world.say("SN-1")) == ["intake.ask_domain"]
    refused = await world.say("other-shop.pl")
    assert refused[0].key == "intake.domain_not_covered"
    assert refused[0].params["domains"] == "shop.cz" and refused[0].params["limit"] == 1
    await world.say(ChoicePicked("domain.0"))
    summary = await world.write()
    assert summary[0].params["domain"] == "shop.cz"
    # Shown in the summary and editable, though the package has one domain.
    edit = await world.say(ChoicePicked("edit"))
    assert "domain" in [c.value for c in edit[-1].choices]
    await world.say(ChoicePicked("domain"))
    await world.say(ChoicePicked("domain.0"))
    filed = await world.say(ChoicePicked("confirm"))
    assert "intake.filed" in keys(filed)
    # The next request asks the number again, the saved one offered as a button.
    await world.say("/new")
    again = await world.say(ChoicePicked("bug"))
    assert keys(again) == ["intake.ask_support_number"]
    assert [c.value for c in again[-1].choices] == ["saved_number", "no_number"]
    # A licence sold by a reseller is sent back to its seller (direct customers only).
    await world.say("/new", BOB)
    await world.say(ChoicePicked("bug"), BOB)
    assert keys(await world.say("SN-R", BOB)) == ["intake.not_direct"]
