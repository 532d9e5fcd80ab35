"""Issue 9, points 1-3 and 5, through the ticket service and the ticker: targets in
calendar or business hours, ranges, targets per request type and for critical
requests, the hotline, one notice when two targets fall due together, closed tickets
keeping their due times, public holidays from the ``holidays`` package."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.commands import ResolveTicket
from bot.i18n import LANGUAGES, Translator
from bot.notification import Audience
from bot.policy import EXAMPLE_POLICY, DeskPolicy, PolicyError, TargetClock, parse_policy
from bot.reply import Reply
from bot.service_level import ServiceLevels
from bot.ticket import Status
from bot.views import service_lines
from tests.unit.test_service_desk import EVA, World

RAW = tomllib.loads(EXAMPLE_POLICY.read_text(encoding="utf-8"))
# Wednesday 25 November 2026, 12:00 in Prague (CET, UTC+1).
WEDNESDAY_NOON = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
# Saturday 28 November 2026, 21:00 in Prague: the technical team is off.
SATURDAY_NIGHT = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


def policy_with(**tables: dict[str, Any]) -> DeskPolicy:
    """The example policy with ``tables`` (dotted names: ``plans.standard``) merged in."""
    data = copy.deepcopy(RAW)
    for dotted, values in tables.items():
        table = data
        for part in dotted.split("."):
            table = table.setdefault(part, {})
        table.update(values)
    return parse_policy(data, EXAMPLE_POLICY.parent)


def told(world: World, number: int, lang: str = "en") -> list[str]:
    """What the customer is told at filing, rendered as they read it."""
    translator = Translator.load(world.schedule.policy.labels())
    ticket = world.uow.db.tickets[number]
    return [_plain(translator.reply(r, lang)) for r in world.schedule.expectations(ticket)]


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def team(world: World, key: str) -> list[dict[str, Any]]:
    return [n.params for n in world.uow.db.outbox if n.audience is Audience.TEAM and n.key == key]


# -- 1. calendar-hour targets and ranges ----------------------------------------------------


async def test_a_wednesday_noon_24_h_calendar_ticket_is_told_thursday_noon() -> None:
    world = World(WEDNESDAY_NOON, policy_with(**{"plans.standard": {"target_clock": "calendar"}}))
    n = await world.file()
    terms = world.uow.db.tickets[n].terms
    assert terms is not None and terms.first_response_clock == "calendar"
    assert terms.first_response_due == WEDNESDAY_NOON + timedelta(hours=24)
    assert any("Thursday, November 26, 2026, 12:00 PM (Prague)" in t for t in told(world, n))
    # The same plan in business hours (8-16) is due four working days' hours later.
    business = World(WEDNESDAY_NOON)
    m = await business.file()
    due = business.uow.db.tickets[m].terms
    assert due is not None and due.first_response_due == datetime(2026, 11, 30, 11, tzinfo=UTC)


async def test_a_range_is_told_warned_at_its_lower_bound_and_breached_at_its_upper() -> None:
    policy = policy_with(
        **{"plans.standard": {"first_response_hours": "24-48", "target_clock": "calendar"}}
    )
    world = World(WEDNESDAY_NOON, policy)
    n = await world.file()
    (text,) = told(world, n)
    assert (
        "between Thursday, November 26, 2026, 12:00 PM (Prague) and "
        "Friday, November 27, 2026, 12:00 PM (Prague)" in text
    )
    assert (
        "od čtvrtek 26. listopadu 2026 12:00 (Praha) nejpozději do pátek"
        in told(world, n, "cs")[0]
    )
    await world.wait(hours=23, minutes=50)
    assert team(world, "sla.team_warning") == []
    await world.wait(minutes=15)  # past 24 h: the lower bound
    assert [p["what"].key for p in team(world, "sla.team_warning")] == [
        "sla.target.first_response"
    ]
    await world.wait(hours=23)
    assert team(world, "sla.team_breached") == []
    await world.wait(hours=1)  # past 48 h
    assert [p["what"].key for p in team(world, "sla.team_breached")] == [
        "sla.target.first_response"
    ]


async def test_a_business_hours_range_filed_off_hours_is_told_with_the_team_back() -> None:
    """Filed on Saturday night against "24-48" business hours: the customer hears when
    the team is back and the range itself (not an answer the moment it is back)."""
    policy = policy_with(**{"plans.standard": {"first_response_hours": "24-48"}})
    world = World(SATURDAY_NIGHT, policy)
    n = await world.file()
    text = told(world, n)[0]
    assert "Monday, November 30, 2026" in text  # back on Monday morning
    assert "between " in text and " and " in text.split("between ", 1)[1], text
    for lang in ("cs", "pl", "ru"):
        rendered = told(world, n, lang)[0]
        assert "{" not in rendered and "between" not in rendered, rendered


def test_hours_parse_as_a_number_a_range_or_a_pair() -> None:
    for value, low, high in (
        (24, 24, 24),
        ("24-48", 24, 48),
        ("24–48 h", 24, 48),
        ([3, 5.5], 3, 5.5),
    ):
        plan = policy_with(**{"plans.free": {"first_response_hours": value}}).plan("free")
        assert (plan.first_response.hours.low, plan.first_response.hours.high) == (low, high)


@pytest.mark.parametrize(
    ("table", "values", "message"),
    [
        ("plans.free", {"first_response_hours": "48-24"}, "ends before it starts"),
        ("plans.free", {"resolution_hours": "soon"}, "plans.free.resolution_hours"),
        ("plans.free", {"target_clock": "wall"}, "plans.free.target_clock"),
        ("targets.emergency", {"first_response_hours": 1}, "targets.emergency: unknown"),
        ("targets.critical", {"departments": ["hr"]}, "targets.critical.departments"),
        ("targets.payment", {"due": "tomorrow"}, "targets.payment.due"),
        ("departments.technical", {"holiday_region": "Czechia"}, "holiday_region"),
    ],
)
def test_bad_target_keys_are_refused_with_where(
    table: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_with(**{table: values})


# -- 2. targets per request type and for critical requests; the hotline ------------------


async def test_a_saturday_critical_outage_keeps_a_running_clock() -> None:
    world = World(SATURDAY_NIGHT)
    n = await world.file("bug_critical")
    terms = world.uow.db.tickets[n].terms
    assert terms is not None and terms.first_response_clock == "calendar"
    assert terms.first_response_due == SATURDAY_NIGHT + timedelta(hours=1)
    assert len(team(world, "sla.team_critical_off_hours")) == 1
    texts = told(world, n)
    assert "Saturday, November 28, 2026, 10:00 PM (Prague)" in texts[0]
    assert texts[1].startswith("For a critical problem that cannot wait, call our hotline: +420")
    await world.wait(minutes=50)  # 80 % of the hour
    assert len(team(world, "sla.team_warning")) == 1
    await world.wait(minutes=15)
    assert len(team(world, "sla.team_breached")) == 1
    # Its resolution still counts business hours (the table states only the first response).
    assert terms.resolution_clock == "business"


async def test_a_critical_target_limited_to_some_departments_leaves_the_others() -> None:
    policy = policy_with(
        **{
            "categories.outage": {
                "department": "sales",
                "request_type": "bug",
                "critical": True,
                "name": "Outage",
            }
        }
    )
    world = World(SATURDAY_NIGHT, policy)
    n = await world.file("outage")
    terms = world.uow.db.tickets[n].terms
    # Sales is not on call (off_hours_critical_only = false): business hours, Monday.
    assert terms is not None and terms.first_response_clock == "business"
    assert terms.first_response_due > SATURDAY_NIGHT + timedelta(days=1)


async def test_a_plan_may_promise_its_own_critical_target() -> None:
    policy = policy_with(
        **{"plans.premium.targets.critical": {"first_response_hours": 0.5, "resolution_hours": 4}}
    )
    promise = policy.promise(policy.plan("premium"), "bug_critical", "technical")
    # The plan's own table comes after [targets.critical]: its hours, that table's clock.
    assert promise.first_response.hours.high == 0.5
    assert promise.first_response.clock is TargetClock.CALENDAR
    assert promise.resolution.hours.high == 4
    assert promise.resolution.clock is TargetClock.BUSINESS
    standard = policy.promise(policy.plan("standard"), "bug_critical", "technical")
    assert standard.first_response.hours.high == 1


async def test_a_request_type_may_be_due_the_same_business_day() -> None:
    raw_payment = {k: v for k, v in RAW["categories"]["payment"].items() if k != "due"}
    policy = policy_with(**{"targets.payment": {"due": "same_business_day"}})
    data = copy.deepcopy(RAW)
    data["categories"]["payment"] = raw_payment
    data["targets"]["payment"] = {"due": "same_business_day"}
    policy = parse_policy(data, EXAMPLE_POLICY.parent)
    # Tuesday 1 December 2026, 18:00 Moscow: the sales day ends at 20:00.
    world = World(datetime(2026, 12, 1, 15, tzinfo=UTC), policy)
    n = await world.file("payment")
    terms = world.uow.db.tickets[n].terms
    assert terms is not None and terms.resolution_due == datetime(2026, 12, 1, 17, tzinfo=UTC)


def test_the_hotline_is_in_every_language(policy: DeskPolicy, translator: Translator) -> None:
    reply = Reply("sla.hotline", {"hotline": policy_hotline()})
    for lang in LANGUAGES:
        assert "+420 800 100 200" in translator.reply(reply, lang)
    assert "nonstop" in translator.reply(reply, "cs")


def policy_hotline() -> Any:
    from bot.reply import Text

    return Text("hotline.technical")


# -- 3. one notice for two targets due together -----------------------------------------------


async def test_first_response_and_resolution_due_together_make_one_warning_and_one_breach() -> (
    None
):
    # Tuesday 1 December 2026, 18:00 Moscow: a payment problem is due by 20:00, the
    # first response too (same business day).
    world = World(datetime(2026, 12, 1, 15, tzinfo=UTC))
    n = await world.file("payment")
    terms = world.uow.db.tickets[n].terms
    assert terms is not None and terms.first_response_due == terms.resolution_due
    await world.wait(hours=1, minutes=40)  # 83 % of both
    warnings = team(world, "sla.team_warning")
    assert [w["what"].key for w in warnings] == ["sla.target.both"]
    await world.wait(minutes=30)
    breaches = team(world, "sla.team_breached")
    assert [b["what"].key for b in breaches] == ["sla.target.both"]
    await world.wait(hours=3)
    assert len(team(world, "sla.team_warning")) == len(team(world, "sla.team_breached")) == 1
    translator = Translator.load(world.schedule.policy.labels())
    text = translator.text("sla.team_breached", "en", breaches[0])
    assert "the first response and the resolution of ticket" in text


# -- 4 (part). a closed ticket keeps its due times ------------------------------------------


async def test_a_resolved_ticket_shows_the_due_times_it_had_not_ones_projected_from_now() -> None:
    world = World()
    n = await world.file(number="SN-P")
    await world.wait(hours=1)
    await world.tickets.execute(EVA, ResolveTicket(number=n, text="Fixed"))
    await world.wait(hours=1)
    ticket = world.uow.db.tickets[n]
    assert ticket.status is Status.RESOLVED
    tz = world.schedule.timezone(ticket.department)
    then = service_lines(ticket, world.schedule.clock(ticket, world.clock.now()), tz)
    await world.wait(days=10)  # closed by now
    ticket = world.uow.db.tickets[n]
    assert ticket.status is Status.CLOSED
    later = service_lines(ticket, world.schedule.clock(ticket, world.clock.now()), tz)
    assert then[0] == later[0]


# -- 5. public holidays from the holidays package --------------------------------------------


def test_public_holidays_come_from_the_package_for_any_year_plus_the_policys_own() -> None:
    policy = policy_with(
        **{"departments.sales": {"holiday_region": "RU", "holidays": ["2031-06-05"]}}
    )
    moscow = ServiceLevels.from_policy(policy).calendar("sales")
    assert moscow.is_holiday(date(2031, 1, 7))  # Orthodox Christmas, from the package
    assert moscow.is_holiday(date(2031, 6, 5))  # the policy's own closed day
    assert not moscow.is_holiday(date(2031, 6, 4))
    # New Year's holidays: closed from 1 to 8 January, open again on Friday 9th.
    assert moscow.next_open(datetime(2031, 1, 1, 9, tzinfo=UTC)).date() == date(2031, 1, 9)


def test_a_subdivision_is_checked_against_the_package() -> None:
    policy = policy_with(**{"departments.sales": {"holiday_region": "DE-BY"}})
    bavaria = ServiceLevels.from_policy(policy).calendar("sales")
    assert bavaria.is_holiday(date(2030, 1, 6))  # Epiphany, a Bavarian holiday
    with pytest.raises(PolicyError, match="no subdivision 'XX'"):
        ServiceLevels.from_policy(
            policy_with(**{"departments.sales": {"holiday_region": "DE-XX"}})
        )
    with pytest.raises(PolicyError, match="country 'QQ'"):
        ServiceLevels.from_policy(policy_with(**{"departments.sales": {"holiday_region": "QQ"}}))


def test_the_example_policy_lists_no_dates_of_its_own() -> None:
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    assert "2027-" not in text and 'holiday_region = "CZ"' in text


def test_the_new_keys_are_known_to_the_strict_check_and_a_typo_is_not() -> None:
    with pytest.raises(PolicyError, match="did you mean 'hotline'"):
        policy_with(**{"departments.technical": {"hotlien": "+420 1"}})
    with pytest.raises(PolicyError, match="did you mean 'first_response_hours'"):
        policy_with(**{"targets.critical": {"first_respons_hours": 1}})
    with pytest.raises(PolicyError, match="did you mean 'target_clock'"):
        policy_with(**{"plans.free": {"target_clok": "calendar"}})
