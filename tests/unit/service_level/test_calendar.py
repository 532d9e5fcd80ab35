"""Business calendars: time zones, daylight saving, holidays, weekends, peak hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.service_level import BusinessCalendar, parse_calendar
from tests.unit.service_level.helpers import utc

HOUR = timedelta(hours=1)


def test_same_instant_is_open_in_prague_but_not_yet_in_moscow(
    prague: BusinessCalendar, moscow: BusinessCalendar
) -> None:
    at = utc(2026, 6, 8, 7, 30)  # Monday: 9:30 in Prague (CEST), 10:30 in Moscow
    assert prague.is_open(at)
    assert not moscow.is_open(at)
    assert moscow.next_open(at) == utc(2026, 6, 8, 8)  # 11:00 Moscow
    assert prague.next_open(at) == at


def test_opening_follows_the_zone_offset_in_winter_and_summer(
    prague: BusinessCalendar, moscow: BusinessCalendar
) -> None:
    assert prague.next_open(utc(2026, 1, 12, 6, 30)) == utc(2026, 1, 12, 7)  # 8:00 CET
    assert prague.next_open(utc(2026, 6, 8, 5, 30)) == utc(2026, 6, 8, 6)  # 8:00 CEST
    # Moscow has no daylight saving: 11:00 is 8:00 UTC all year round.
    assert moscow.next_open(utc(2026, 1, 12, 6)) == utc(2026, 1, 12, 8)
    assert moscow.next_open(utc(2026, 6, 8, 6)) == utc(2026, 6, 8, 8)


def test_closing_time_is_not_open(prague: BusinessCalendar) -> None:
    close = utc(2026, 6, 8, 14)  # 16:00 CEST
    assert prague.is_open(close - timedelta(microseconds=1))
    assert not prague.is_open(close)


def test_spring_forward_weekend(prague: BusinessCalendar) -> None:
    # Friday 27 March 15:00 CET; clocks go forward on Sunday 29 March.
    friday = utc(2026, 3, 27, 14)
    due = prague.add_business_hours(friday, 3)
    # One hour on Friday, two from Monday 8:00 CEST (06:00 UTC).
    assert due == utc(2026, 3, 30, 8)
    assert prague.business_seconds_between(friday, due) == 3 * 3600


def test_fall_back_weekend(prague: BusinessCalendar) -> None:
    # Friday 23 October 15:00 CEST; clocks go back on Sunday 25 October.
    friday = utc(2026, 10, 23, 13)
    due = prague.add_business_hours(friday, 3)
    # One hour on Friday, two from Monday 8:00 CET (07:00 UTC).
    assert due == utc(2026, 10, 26, 9)
    assert prague.business_seconds_between(friday, due) == 3 * 3600


def test_round_the_clock_days_last_23_and_25_hours_at_the_switches() -> None:
    always = BusinessCalendar("Europe/Prague")
    spring = always.windows_on(date(2026, 3, 29))
    autumn = always.windows_on(date(2026, 10, 25))
    assert spring == ((utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),)
    assert autumn == ((utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),)
    assert always.business_time_between(*spring[0]) == 23 * HOUR
    assert always.business_time_between(*autumn[0]) == 25 * HOUR
    # Business time equals elapsed time when always open, across both switches.
    start = utc(2026, 3, 28, 12)
    assert always.add_business_hours(start, 24) == start + 24 * HOUR


def test_window_inside_the_repeated_and_skipped_hour() -> None:
    night = parse_calendar(
        {"timezone": "Europe/Prague", "hours": {"sun": "01:00-04:00"}}, "departments.night"
    )
    # Spring: 1:00 CET to 4:00 CEST is two real hours.
    assert night.business_time_between(utc(2026, 3, 29), utc(2026, 3, 29, 6)) == 2 * HOUR
    # Autumn: 1:00 CEST to 4:00 CET is four real hours; 2:30 happens twice, both open.
    assert night.business_time_between(utc(2026, 10, 24, 23), utc(2026, 10, 25, 6)) == 4 * HOUR
    assert night.is_open(utc(2026, 10, 25, 0, 30))  # 2:30 CEST
    assert night.is_open(utc(2026, 10, 25, 1, 30))  # 2:30 CET


def test_christmas_holidays_are_closed(prague: BusinessCalendar) -> None:
    assert not prague.is_open(utc(2026, 12, 24, 9))  # Thursday, Christmas Eve
    # Wednesday 23 December 15:00 CET + 2 h: Thu-Sat holidays, Sunday closed.
    due = prague.add_business_hours(utc(2026, 12, 23, 14), 2)
    assert due == utc(2026, 12, 28, 8)  # Monday 9:00 CET
    assert prague.next_open(utc(2026, 12, 24, 9)) == utc(2026, 12, 28, 7)


def test_weekend_is_closed_until_monday(
    prague: BusinessCalendar, moscow: BusinessCalendar
) -> None:
    saturday = utc(2026, 6, 6, 10)
    assert not prague.is_open(saturday)
    assert prague.next_open(saturday) == utc(2026, 6, 8, 6)
    assert moscow.next_open(saturday) == utc(2026, 6, 8, 8)
    assert prague.business_seconds_between(saturday, utc(2026, 6, 8, 6)) == 0


def test_peak_hours_only_while_open(prague: BusinessCalendar, moscow: BusinessCalendar) -> None:
    assert prague.is_peak(utc(2026, 6, 8, 8))  # 10:00 CEST
    assert prague.is_peak(utc(2026, 6, 8, 11, 59))  # 13:59
    assert not prague.is_peak(utc(2026, 6, 8, 12))  # 14:00
    assert not prague.is_peak(utc(2026, 6, 8, 7, 59))  # 9:59
    assert prague.is_peak(utc(2026, 1, 12, 9))  # 10:00 CET in winter
    assert not prague.is_peak(utc(2026, 6, 6, 9))  # Saturday 11:00: closed
    assert not moscow.is_peak(utc(2026, 6, 8, 10))  # no peak configured


def test_end_of_business_day(prague: BusinessCalendar, moscow: BusinessCalendar) -> None:
    monday_close = utc(2026, 6, 8, 14)
    assert prague.end_of_business_day(utc(2026, 6, 8, 4)) == monday_close  # before opening
    assert prague.end_of_business_day(utc(2026, 6, 8, 13, 59)) == monday_close
    assert prague.end_of_business_day(monday_close) == utc(2026, 6, 9, 14)  # after hours
    # Friday 21:00 in Moscow: the next business day is Monday, closing 20:00 MSK.
    assert moscow.end_of_business_day(utc(2026, 6, 5, 18)) == utc(2026, 6, 8, 17)


def test_hours_across_local_midnight() -> None:
    late = parse_calendar(
        {
            "timezone": "Europe/Moscow",
            "hours": dict.fromkeys(("mon", "tue", "wed"), "00:00-04:00, 20:00-24:00"),
        },
        "departments.late",
    )
    monday_22 = utc(2026, 6, 8, 19)  # 22:00 MSK
    assert late.add_business_hours(monday_22, 4) == utc(2026, 6, 8, 23)  # 02:00 MSK
    assert late.business_time_between(monday_22, utc(2026, 6, 8, 23)) == 4 * HOUR
    # Wednesday 24:00 is a closing boundary; Thursday is closed, so next Monday.
    wednesday_23 = utc(2026, 6, 10, 20)
    assert late.add_business_hours(wednesday_23, 1) == utc(2026, 6, 10, 21)
    assert late.next_open(utc(2026, 6, 10, 21)) == utc(2026, 6, 14, 21)  # Mon 00:00 MSK


def test_due_on_a_closing_time_stays_there(prague: BusinessCalendar) -> None:
    assert prague.add_business_hours(utc(2026, 6, 8, 6), 8) == utc(2026, 6, 8, 14)


def test_zero_hours_give_the_next_opening(prague: BusinessCalendar) -> None:
    assert prague.add_business_hours(utc(2026, 6, 6, 10), 0) == utc(2026, 6, 8, 6)


def test_naive_and_negative_inputs_are_refused(prague: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        prague.is_open(datetime(2026, 6, 8, 9))  # naive on purpose
    with pytest.raises(ValueError, match="negative"):
        prague.add_business_hours(utc(2026, 6, 8), -1)


def test_other_zones_in_are_utc_out(prague: BusinessCalendar) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 6, 8, 15, tzinfo=ZoneInfo("Europe/Prague"))
    due = prague.add_business_hours(local, 2)
    assert due.tzinfo is UTC
    assert due == utc(2026, 6, 9, 7)


# -- properties -------------------------------------------------------------------------

CALENDARS = [
    parse_calendar(
        {
            "timezone": "Europe/Prague",
            "workdays": ["mon", "tue", "wed", "thu", "fri"],
            "open": "08:00",
            "close": "16:00",
            "holidays": ["2026-12-24", "2026-12-25", "2026-03-30", "2026-10-26"],
        },
        "departments.prague",
    ),
    parse_calendar(
        {
            "timezone": "Europe/Moscow",
            "workdays": ["mon", "fri"],
            "open": "11:00",
            "close": "20:00",
        },
        "departments.moscow",
    ),
    parse_calendar(
        {"timezone": "America/New_York", "hours": {"sun": "00:00-03:00, 22:00-24:00"}},
        "departments.nights",
    ),
    BusinessCalendar("Europe/Prague"),
]

moments = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)


def _at_boundary(calendar: BusinessCalendar, at: datetime) -> bool:
    day = at.astimezone(calendar.zone).date()
    windows = calendar.windows_on(day) + calendar.windows_on(day - timedelta(days=1))
    return any(hi == at for _, hi in windows)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(CALENDARS), moments, st.integers(min_value=0, max_value=200 * 60))
def test_added_business_time_is_measured_back(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    result = calendar.add_business_hours(start, minutes / 60)
    assert result >= start
    assert result.tzinfo is UTC
    assert calendar.business_seconds_between(start, result) == pytest.approx(minutes * 60)
    assert calendar.is_open(result) or _at_boundary(calendar, result)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), moments, moments, moments)
def test_business_time_is_additive(
    calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    between = calendar.business_time_between
    assert between(a, b) + between(b, c) == between(a, c)
    assert between(c, a) == timedelta(0)
    assert between(a, c) <= c - a


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CALENDARS), moments)
def test_next_open_is_open_and_nothing_opens_before_it(
    calendar: BusinessCalendar, at: datetime
) -> None:
    opens = calendar.next_open(at)
    assert calendar.is_open(opens)
    assert calendar.business_time_between(at, opens) == timedelta(0)
