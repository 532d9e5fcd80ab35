"""SLA clocks: due times at filing, pauses while waiting, warnings, breaches,
what the customer is told at filing, reminders and auto-close."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.i18n import LANGUAGES, Translator
from bot.policy import DeskPolicy, Promise
from bot.reply import Moment, Reply, Text
from bot.service_level import BusinessCalendar, ServiceLevels
from bot.sla import (
    Deadlines,
    SlaState,
    critical_alert,
    effective_deadlines,
    elapsed_business_seconds,
    expectation,
    off_hours_alert,
    paused_business_seconds,
    resolved_close_due,
    sla_alert,
    sla_clock,
    sla_due,
    sla_state,
    status_since,
    waiting_close_due,
    waiting_reminder_due,
)
from bot.ticket import Status, StatusChange
from tests.unit.service_level.helpers import utc

HOUR = 3600.0


def _promise(policy: DeskPolicy, plan: str, category: str) -> Promise:
    """What a ``category`` request under ``plan`` is promised in its own department."""
    return policy.promise(policy.plan(plan), category, policy.route(category))


# -- due times at filing ----------------------------------------------------------------


def test_premium_targets_in_prague_business_hours(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    filed = utc(2026, 6, 8, 7)  # Monday 9:00 CEST
    due = sla_due(prague, filed, _promise(policy, "premium", "bug"))
    assert due.first_response_due == utc(2026, 6, 8, 10)  # 12:00 CEST
    # 24 business hours: Mon 7 h, Tue 8 h, Wed 8 h, Thu 1 h.
    assert due.resolution_due == utc(2026, 6, 11, 7)
    assert due.first_response_budget == timedelta(hours=3)
    assert due.resolution_budget == timedelta(hours=24)


def test_standard_filed_friday_afternoon_is_due_the_next_week(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    due = sla_due(prague, utc(2026, 6, 5, 13), _promise(policy, "standard", "howto"))
    # 24 business hours from Friday 15:00: 1 + 8 + 8 + 7 -> Wednesday 15:00 CEST.
    assert due.first_response_due == utc(2026, 6, 10, 13)


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        (utc(2026, 6, 8, 9), utc(2026, 6, 8, 17)),  # Monday 12:00 MSK -> 20:00 MSK
        (utc(2026, 6, 8, 6), utc(2026, 6, 8, 17)),  # before opening: the same day
        (utc(2026, 6, 8, 18), utc(2026, 6, 9, 17)),  # after hours: the next business day
        (utc(2026, 6, 5, 18), utc(2026, 6, 8, 17)),  # Friday evening: Monday
        (utc(2026, 6, 6, 12), utc(2026, 6, 8, 17)),  # Saturday: Monday
    ],
)
def test_payment_is_due_the_same_business_day(
    policy: DeskPolicy,
    levels: ServiceLevels,
    moscow: BusinessCalendar,
    filed: datetime,
    due: datetime,
) -> None:
    assert levels.terms("payment").due.value == "same_business_day"
    deadlines = sla_due(moscow, filed, _promise(policy, "standard", "payment"))
    assert deadlines.resolution_due == due
    # The first answer cannot be promised later than the resolution.
    assert deadlines.first_response_due == due


def test_premium_payment_first_response_stays_within_three_hours(
    policy: DeskPolicy, levels: ServiceLevels, moscow: BusinessCalendar
) -> None:
    deadlines = sla_due(moscow, utc(2026, 6, 8, 9), _promise(policy, "premium", "payment"))
    assert deadlines.first_response_due == utc(2026, 6, 8, 12)
    assert deadlines.resolution_due == utc(2026, 6, 8, 17)


# -- the clock over the status history --------------------------------------------------


def _waiting_scenario(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> tuple[Deadlines, list[StatusChange], ManualClock]:
    """Premium bug filed Monday 9:00 CEST; the agent asks at 10:00; the customer
    answers on Tuesday at 10:00; the clock then reads Tuesday 11:00."""
    clock = ManualClock(utc(2026, 6, 8, 7))
    deadlines = sla_due(prague, clock.now(), _promise(policy, "premium", "bug"))
    history = [StatusChange(None, Status.NEW, clock.now(), "customer")]
    clock.advance(hours=1)
    history.append(StatusChange(Status.NEW, Status.WAITING, clock.now(), "agent"))
    clock.set(utc(2026, 6, 9, 8))
    history.append(StatusChange(Status.WAITING, Status.ACCEPTED, clock.now(), "customer"))
    clock.advance(hours=1)
    return deadlines, history, clock


def test_waiting_pauses_the_clock_and_extends_the_dues(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    deadlines, history, clock = _waiting_scenario(policy, levels, prague)
    now = clock.now()
    # Ran Monday 9-10 and Tuesday 10-11 CEST.
    assert elapsed_business_seconds(prague, history, now) == 2 * HOUR
    # Waited Monday 10-16 and Tuesday 8-10 CEST: nights do not count.
    assert paused_business_seconds(prague, history, now) == 8 * HOUR
    effective = effective_deadlines(prague, deadlines, history, now)
    assert effective.first_response_due == utc(2026, 6, 9, 10)  # was Monday 12:00 CEST
    assert effective.resolution_due == utc(2026, 6, 12, 7)  # one business day later
    assert effective.resolution_due == prague.add_business_hours(deadlines.resolution_due, 8)


def test_warning_and_breach_follow_the_paused_clock(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    deadlines, history, clock = _waiting_scenario(policy, levels, prague)
    state = sla_clock(prague, deadlines, history, clock.now(), warn_at=0.8)
    assert state.running
    assert state.first_response is SlaState.OK  # 2 h of 3 h
    # 80 % of 3 h is 2 h 24 min of running time: Tuesday 10:24 UTC+2.
    assert state.next_check == utc(2026, 6, 9, 9, 24)
    clock.set(utc(2026, 6, 9, 9, 30))
    assert sla_clock(prague, deadlines, history, clock.now(), 0.8).first_response is (
        SlaState.WARNING
    )
    clock.set(utc(2026, 6, 9, 10))
    late = sla_clock(prague, deadlines, history, clock.now(), 0.8)
    assert late.first_response is SlaState.BREACHED
    assert late.resolution is SlaState.OK
    # The breach stays where it happened, whatever comes later.
    assert late.deadlines.first_response_due == utc(2026, 6, 9, 10)
    assert sla_alert(
        late.first_response,
        7,
        ("first_response",),
        late.deadlines.first_response_due,
        "Europe/Prague",
    )
    # The agent's question on Monday was the first response: frozen as OK.
    answered = sla_clock(
        prague, deadlines, history, clock.now(), 0.8, first_response_at=utc(2026, 6, 8, 8)
    )
    assert answered.first_response is SlaState.OK


def test_clock_stands_still_while_waiting(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    deadlines, history, _ = _waiting_scenario(policy, levels, prague)
    waiting = history[:2]
    for now in (utc(2026, 6, 8, 9), utc(2026, 6, 10, 12)):
        state = sla_clock(prague, deadlines, waiting, now, 0.8)
        assert not state.running
        assert state.next_check is None
        assert state.elapsed_seconds == HOUR
    # While paused, the due is what it would be if the customer answered now.
    now = utc(2026, 6, 10, 12)
    assert effective_deadlines(prague, deadlines, waiting, now).first_response_due == (
        prague.add_business_hours(now, 2)
    )


def test_resolved_stops_the_clock_and_a_dispute_restarts_it(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    filed = utc(2026, 6, 8, 7)
    history = [
        StatusChange(None, Status.NEW, filed, "customer"),
        StatusChange(Status.NEW, Status.ACCEPTED, utc(2026, 6, 8, 8), "agent"),
        StatusChange(Status.ACCEPTED, Status.RESOLVED, utc(2026, 6, 8, 9), "agent"),
    ]
    assert elapsed_business_seconds(prague, history, utc(2026, 6, 15)) == 2 * HOUR
    history.append(StatusChange(Status.RESOLVED, Status.ACCEPTED, utc(2026, 6, 9, 6), "customer"))
    assert elapsed_business_seconds(prague, history, utc(2026, 6, 9, 7)) == 3 * HOUR
    history.append(StatusChange(Status.ACCEPTED, Status.CLOSED, utc(2026, 6, 9, 7), "agent"))
    assert elapsed_business_seconds(prague, history, utc(2026, 7, 1)) == 3 * HOUR
    # Changes after ``now`` are ignored: the clock is read as it was then.
    assert elapsed_business_seconds(prague, history, utc(2026, 6, 8, 7, 30)) == HOUR / 2


def test_history_without_a_filing_record_starts_at_filing(prague: BusinessCalendar) -> None:
    filed = utc(2026, 6, 8, 7)
    history = [StatusChange(Status.NEW, Status.WAITING, utc(2026, 6, 8, 9), "agent")]
    assert elapsed_business_seconds(prague, history, utc(2026, 6, 8, 12), filed) == 2 * HOUR
    assert elapsed_business_seconds(prague, [], utc(2026, 6, 8, 12), filed) == 5 * HOUR


def test_blocked_counts_as_team_time(prague: BusinessCalendar) -> None:
    filed = utc(2026, 6, 8, 7)
    history = [
        StatusChange(None, Status.NEW, filed, "customer"),
        StatusChange(Status.NEW, Status.BLOCKED, utc(2026, 6, 8, 8), "agent"),
    ]
    assert elapsed_business_seconds(prague, history, utc(2026, 6, 8, 10)) == 3 * HOUR


@pytest.mark.parametrize(
    ("elapsed", "state"),
    [(0, SlaState.OK), (79.9, SlaState.OK), (80, SlaState.WARNING), (100, SlaState.BREACHED)],
)
def test_sla_state_thresholds(elapsed: float, state: SlaState) -> None:
    assert sla_state(100, elapsed, 0.8) is state


def test_team_alerts(translator: Translator) -> None:
    due = utc(2026, 6, 8, 14)
    first = ("first_response",)
    assert sla_alert(SlaState.OK, 3, first, due, "Europe/Prague") is None
    warning = sla_alert(SlaState.WARNING, 3, first, due, "Europe/Prague")
    breached = sla_alert(
        SlaState.BREACHED, 3, ("first_response", "resolution"), due, "Europe/Prague"
    )
    assert warning is not None and warning.key == "sla.team_warning"
    assert breached is not None and breached.key == "sla.team_breached"
    text = _plain(translator.reply(warning, "en"))
    assert "#3" in text and "4:00 PM (Prague)" in text and "the first response" in text
    assert "první reakce i vyřešení" in translator.reply(breached, "cs")
    alert = critical_alert(9, utc(2026, 6, 6, 20), "Europe/Prague")
    assert alert.key == "sla.team_critical_off_hours"
    assert translator.reply(alert, "cs").startswith("Kritický požadavek #9")


# -- what the customer is told at filing ------------------------------------------------


def _plain(text: str) -> str:
    """Babel's narrow and non-breaking spaces as plain ones, for comparing."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _rendered(translator: Translator, reply: Reply) -> dict[str, str]:
    texts = {lang: _plain(translator.reply(reply, lang)) for lang in LANGUAGES}
    for lang, text in texts.items():
        assert "{" not in text and "weekday." not in text and "month." not in text, (lang, text)
    return texts


def test_during_hours_the_due_time_is_named(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar, translator: Translator
) -> None:
    filed = utc(2026, 6, 8, 6, 30)  # Monday 8:30 CEST
    due = sla_due(prague, filed, _promise(policy, "premium", "bug"))
    reply = expectation(prague, filed, False, due.first_response_due)
    assert reply.key == "sla.expect_open"
    texts = _rendered(translator, reply)
    # Babel's dates in each language, the zone by its city's local name, never "UTC".
    assert "Monday, June 8, 2026, 11:30 AM (Prague)" in texts["en"]
    assert "pondělí 8. června 2026 11:30 (Praha)" in texts["cs"]
    assert "poniedziałek, 8 czerwca 2026 11:30 (Praga)" in texts["pl"]
    assert "понедельник, 8 июня 2026 г., 11:30 (Прага)" in texts["ru"]
    assert not any("UTC" in text or "Europe/" in text for text in texts.values())


def test_peak_hours_warn_of_slower_replies(
    policy: DeskPolicy, levels: ServiceLevels, prague: BusinessCalendar, translator: Translator
) -> None:
    filed = utc(2026, 6, 8, 9)  # Monday 11:00 CEST
    due = sla_due(prague, filed, _promise(policy, "standard", "howto"))
    reply = expectation(prague, filed, False, due.first_response_due)
    assert reply.key == "sla.expect_peak"
    assert "busiest hours" in _rendered(translator, reply)["en"]


def test_weekend_non_critical_is_queued_until_monday_8(
    policy: DeskPolicy, prague: BusinessCalendar, translator: Translator
) -> None:
    saturday = utc(2026, 6, 6, 10)
    reply = expectation(prague, saturday, False, prague.add_business_hours(saturday, 24))
    assert reply.key == "sla.expect_closed_critical_only"
    assert reply.params["weekday"] == Text("weekday.mon")
    assert reply.params["time"] == "8:00"
    assert not off_hours_alert(prague, saturday, False)
    texts = _rendered(translator, reply)
    assert "start again Monday, June 8, 2026, 8:00 AM (Prague)" in texts["en"]
    # The answer is due 24 business hours on, not at 8:00 on Monday.
    assert "When to expect an answer: Wednesday, June 10, 2026, 4:00 PM (Prague)" in texts["en"]
    assert "pondělí 8. června 2026 8:00 (Praha)" in texts["cs"]


def test_critical_off_hours_is_accepted_and_the_team_alerted(
    prague: BusinessCalendar, translator: Translator
) -> None:
    christmas = utc(2026, 12, 24, 20)
    assert off_hours_alert(prague, christmas, True)
    reply = expectation(prague, christmas, True, prague.add_business_hours(christmas, 3))
    assert reply.key == "sla.expect_critical_off_hours"
    assert reply.params["day"] == 28  # regular hours resume on Monday 28 December
    assert reply.params["month"] == Text("month.dec")
    assert "28 декабря" in _rendered(translator, reply)["ru"]
    # During hours a critical request needs no off-hours alarm.
    assert not off_hours_alert(prague, utc(2026, 12, 23, 9), True)


def test_without_off_hours_service_even_critical_waits(
    moscow: BusinessCalendar, translator: Translator
) -> None:
    evening = utc(2026, 6, 9, 18)  # Tuesday 21:00 MSK
    assert not off_hours_alert(moscow, evening, True)
    reply = expectation(moscow, evening, True, moscow.add_business_hours(evening, 24))
    assert reply.key == "sla.expect_closed"
    assert reply.params["weekday"] == Text("weekday.wed")
    assert reply.params["time"] == "11:00"
    assert "среда, 10 июня 2026 г., 11:00 (Москва)" in _rendered(translator, reply)["ru"]


def test_moments_can_be_shown_in_the_customers_zone(moscow: BusinessCalendar) -> None:
    reply = expectation(moscow, utc(2026, 6, 9, 18), False, utc(2026, 6, 10, 8), "Europe/Prague")
    assert reply.params["time"] == "10:00"  # 11:00 in Moscow
    assert reply.params["when"] == Moment(utc(2026, 6, 10, 8), "Europe/Prague")


# -- reminders and auto-close -----------------------------------------------------------


def test_waiting_reminder_and_close_count_business_hours(
    levels: ServiceLevels, prague: BusinessCalendar
) -> None:
    since = utc(2026, 6, 5, 13)  # Friday 15:00 CEST
    cfg = levels.reminders
    # 16 business hours: Friday 1, Monday 8, Tuesday 7 -> Tuesday 15:00 CEST.
    assert waiting_reminder_due(prague, since, cfg) == utc(2026, 6, 9, 13)
    # 40 business hours: Friday 1, Monday-Thursday 32, next Friday 7.
    assert waiting_close_due(prague, since, cfg) == utc(2026, 6, 12, 13)


def test_resolved_ticket_closes_after_calendar_days(levels: ServiceLevels) -> None:
    resolved = utc(2026, 10, 23, 13)
    assert resolved_close_due(resolved, levels.reminders) == utc(2026, 10, 30, 13)


def test_status_since() -> None:
    history = [
        StatusChange(None, Status.NEW, utc(2026, 6, 8, 7), "c"),
        StatusChange(Status.NEW, Status.WAITING, utc(2026, 6, 8, 8), "a"),
    ]
    assert status_since(history, Status.WAITING) == utc(2026, 6, 8, 8)
    assert status_since(history, Status.RESOLVED) is None
    assert status_since([], Status.WAITING) is None
