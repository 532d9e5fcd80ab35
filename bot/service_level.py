"""Service levels: business calendars per department, and the SLA, reminder,
onboarding and priority settings, read from the desk policy file.

Everything here is pure: no clock reads, no I/O. Datetimes going in must be
timezone-aware and come out in UTC; local time is used only to lay the opening
hours onto the time line and to render moments for people. The keys are described
in ``bot/desk.example.toml``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as public_holidays

from bot.policy import DeskPolicy, DueRule, PolicyError, TargetClock
from bot.reply import Moment, Text

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_MINUTES = 24 * 60

# An opening window within one local day: minutes after local midnight, [start, end).
# ``end`` may be 1440 ("24:00"), the next local midnight.
Span = tuple[int, int]

ALL_DAY: tuple[Span, ...] = ((0, DAY_MINUTES),)
ALWAYS_OPEN: tuple[tuple[Span, ...], ...] = (ALL_DAY,) * 7

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
# Longest run of public holidays a country may have in a row (Russia's New Year: 8 days),
# with room to spare: the calendar looks that far ahead for its next opening.
PUBLIC_HOLIDAY_RUN = 16


def check_holiday_region(country: str, subdivision: str) -> None:
    """``PolicyError`` unless the ``holidays`` package knows the country and subdivision."""
    supported = public_holidays.list_supported_countries()
    if country not in supported:
        raise PolicyError(f"holiday_region: no public holidays known for country {country!r}")
    if subdivision and subdivision not in supported[country]:
        known = ", ".join(supported[country]) or "none"
        raise PolicyError(
            f"holiday_region: {country} has no subdivision {subdivision!r} (known: {known})"
        )


@lru_cache(maxsize=256)
def public_holidays_of(country: str, subdivision: str, year: int) -> frozenset[date]:
    """Public holidays of ``country`` (and ``subdivision``) in ``year``, from the
    ``holidays`` package (computed, not fetched: its rules have no last year)."""
    found = public_holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found)


def _aware(at: datetime, name: str = "at") -> datetime:
    """``at`` in UTC; naive datetimes are refused because their zone is a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {at!r}")
    return at.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a ``PolicyError`` when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"unknown time zone {name!r}") from None


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When a department works: weekly hours in its time zone, minus holidays.

    Business time is real elapsed time inside the opening windows, so a window on a
    daylight-saving day lasts what the wall clock says it lasts in UTC.
    """

    timezone: str = "UTC"
    # Monday first; each day is a sorted tuple of non-overlapping spans.
    week: tuple[tuple[Span, ...], ...] = ALWAYS_OPEN
    # The policy's own closed days (``holidays`` of the department).
    holidays: frozenset[date] = frozenset()
    # Public holidays of this country and subdivision (``holiday_region``; "" for none).
    holiday_country: str = ""
    holiday_subdivision: str = ""
    # Outside the windows only critical requests are handled (seed 000: crises only).
    off_hours_critical_only: bool = False
    peak: Span | None = None

    def __post_init__(self) -> None:
        zone(self.timezone)
        if len(self.week) != 7:
            raise PolicyError("a business week needs seven days")
        for spans in self.week:
            previous_end = 0
            for start, end in spans:
                if not 0 <= start < end <= DAY_MINUTES or start < previous_end:
                    raise PolicyError(f"bad opening hours {spans!r}")
                previous_end = end
        if not any(self.week):
            # Every search for the next opening would run forever.
            raise PolicyError("the calendar is never open")
        if self.holiday_country:
            check_holiday_region(self.holiday_country, self.holiday_subdivision)

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def around_the_clock(self) -> BusinessCalendar:
        """The same zone open every hour of every day: the calendar of calendar-hour
        targets."""
        return replace(
            self,
            week=ALWAYS_OPEN,
            holidays=frozenset(),
            holiday_country="",
            holiday_subdivision="",
            peak=None,
        )

    def for_clock(self, clock: TargetClock) -> BusinessCalendar:
        """The calendar a target counted on ``clock`` runs on."""
        return self if clock is TargetClock.BUSINESS else self.around_the_clock()

    def is_holiday(self, day: date) -> bool:
        """Whether local ``day`` is closed: one of the policy's own closed days or a
        public holiday of the department's country (and subdivision)."""
        if day in self.holidays:
            return True
        if not self.holiday_country:
            return False
        return day in public_holidays_of(self.holiday_country, self.holiday_subdivision, day.year)

    @property
    def _longest_closure(self) -> int:
        return 8 + len(self.holidays) + (PUBLIC_HOLIDAY_RUN if self.holiday_country else 0)

    # -- the time line -----------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        return _aware(at).astimezone(self.zone)

    def windows_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The opening windows of local ``day`` as UTC ``[start, end)`` pairs (worked
        out once per calendar and day: every card's SLA line walks the same days)."""
        return _windows_on(self, day)

    def _windows_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Windows that end after ``at``, in order, for ever."""
        day = self._local(at).date()
        # Holidays are finite, so the calendar opens again within a week after them.
        allowed_gap = self._longest_closure
        gap = 0
        while True:
            found = False
            for lo, hi in self.windows_on(day):
                if hi > at:
                    found = True
                    yield lo, hi
            gap = 0 if found else gap + 1
            if gap > allowed_gap:
                raise PolicyError("the calendar never opens again")
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls inside an opening window."""
        at = _aware(at)
        return any(lo <= at < hi for lo, hi in self.windows_on(self._local(at).date()))

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, otherwise the start of the next window."""
        at = _aware(at)
        lo, _ = next(self._windows_from(at))
        return max(lo, at)

    def is_peak(self, at: datetime) -> bool:
        """Whether ``at`` is open and inside the peak hours (replies may be slower)."""
        if self.peak is None or not self.is_open(at):
            return False
        local = self._local(at)
        minute = local.hour * 60 + local.minute
        return self.peak[0] <= minute < self.peak[1]

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of business time after ``start``.

        A result that lands exactly on a closing time stays there (due at 16:00, not
        at the next morning's opening); a zero amount gives the next opening.
        """
        start = _aware(start, "start")
        if amount < timedelta(0):
            raise ValueError("business time cannot be negative")
        remaining = amount
        for lo, hi in self._windows_from(start):
            lo = max(lo, start)
            if remaining <= hi - lo:
                return lo + remaining
            remaining -= hi - lo
        raise AssertionError("unreachable: _windows_from never ends")  # pragma: no cover

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """``add_business_time`` with the amount in (possibly fractional) hours."""
        return self.add_business_time(start, timedelta(hours=hours))

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time in ``[a, b)``; zero when ``b`` is not after ``a``."""
        a, b = _aware(a, "a"), _aware(b, "b")
        total = timedelta(0)
        if b <= a:
            return total
        for lo, hi in self._windows_from(a):
            if lo >= b:
                break
            total += min(hi, b) - max(lo, a)
        return total

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """``business_time_between`` in seconds."""
        return self.business_time_between(a, b).total_seconds()

    def end_of_business_day(self, at: datetime) -> datetime:
        """The last closing time of the business day ``at`` belongs to.

        Before or during a working day that is the day's close; after hours, at a
        weekend or on a holiday it is the close of the next working day.
        """
        at = _aware(at)
        day = self._local(at).date()
        for _ in range(self._longest_closure):
            windows = self.windows_on(day)
            if windows and at < windows[-1][1]:
                return windows[-1][1]
            day += timedelta(days=1)
        raise PolicyError("the calendar never opens again")


def moment_params(at: datetime, tz: str) -> dict[str, Any]:
    """Reply parameters naming a moment in zone ``tz``: ``weekday`` and ``month`` as
    translatable ``Text`` (``weekday.mon``, ``month.jan``: genitive, as after a day
    number), ``day`` as a number, ``time`` as ``8:00``; ``when``: the whole moment,
    formatted per language by Babel with the zone's local name (``Moment``)."""
    local = _aware(at).astimezone(zone(tz))
    return {
        "when": Moment(_aware(at), tz),
        "weekday": Text(f"weekday.{WEEKDAYS[local.weekday()]}"),
        "day": local.day,
        "month": Text(f"month.{MONTHS[local.month - 1]}"),
        "time": f"{local.hour}:{local.minute:02d}",
    }


# -- settings ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryTerms:
    """The service-level part of a category (``[categories.X] due``)."""

    key: str
    due: DueRule = DueRule.PLAN


@dataclass(frozen=True, slots=True)
class SlaConfig:
    """``[sla]``: when the team is warned before a breach."""

    warn_at: float = 0.8  # share of the target's business time


@dataclass(frozen=True, slots=True)
class ReminderConfig:
    """``[reminders]``: nudging silent customers and closing forgotten tickets."""

    waiting_reminder_hours: float = 16.0  # business hours in Waiting for customer
    waiting_close_hours: float = 40.0  # business hours in Waiting, then closed
    resolved_close_days: int = 7  # calendar days in Resolved, then closed


@dataclass(frozen=True, slots=True)
class OnboardingConfig:
    """``[onboarding]``: the free training offered to new customers (seed 004)."""

    plans: frozenset[str] = frozenset()
    days: int = 30
    # Customers trying the product without a support number yet may ask too (seed 004).
    trial: bool = False

    def offered(self, policy: DeskPolicy) -> bool:
        """Whether the desk offers the training at all: a ``training`` category, and
        plans (or trial users) it is for."""
        return "training" in policy.categories and (bool(self.plans) or self.trial)


@dataclass(frozen=True, slots=True)
class ServiceLevels:
    """Everything service-level from one policy, checked once at start-up."""

    calendars: Mapping[str, BusinessCalendar]
    categories: Mapping[str, CategoryTerms]
    priority_boosts: Mapping[str, int] = field(default_factory=dict)
    sla: SlaConfig = SlaConfig()
    reminders: ReminderConfig = ReminderConfig()
    onboarding: OnboardingConfig = OnboardingConfig()
    # The zone whose calendar months count quotas.
    desk_timezone: str = "UTC"

    def calendar(self, department: str) -> BusinessCalendar:
        """The business calendar of ``department``."""
        try:
            return self.calendars[department]
        except KeyError:
            raise PolicyError(f"unknown department {department!r}") from None

    def terms(self, category: str) -> CategoryTerms:
        """The service-level terms of ``category``."""
        try:
            return self.categories[category]
        except KeyError:
            raise PolicyError(f"unknown category {category!r}") from None

    def priority_boost(self, plan: str) -> int:
        """Priority steps a plan adds to non-critical requests (``[plans.X] priority_boost``)."""
        return self.priority_boosts.get(plan, 0)

    @classmethod
    def from_policy(cls, policy: DeskPolicy) -> ServiceLevels:
        """Read the service-level keys from ``policy.raw``; ``PolicyError`` on bad values."""
        raw = policy.raw
        desk = _table(raw.get("desk", {}), "desk")
        default_tz = desk.get("timezone")
        if default_tz is not None:
            zone(_string(default_tz, "[desk] timezone"))
        holiday_sets = _table(raw.get("holidays", {}), "holidays")
        departments = _table(raw.get("departments", {}), "departments")
        calendars = {
            key: parse_calendar(
                _table(departments.get(key, {}), f"departments.{key}"),
                f"departments.{key}",
                default_timezone=str(default_tz or "UTC"),
                holiday_sets=holiday_sets,
                holiday_region=(department.holiday_country, department.holiday_subdivision),
            )
            for key, department in policy.departments.items()
        }
        categories = {
            key: CategoryTerms(key, category.due) for key, category in policy.categories.items()
        }
        raw_plans = _table(raw.get("plans", {}), "plans")
        boosts: dict[str, int] = {}
        for key in policy.plans:
            where = f"plans.{key}.priority_boost"
            value = _table(raw_plans.get(key, {}), f"plans.{key}").get("priority_boost", 0)
            boosts[key] = int(_number(value, where, minimum=0, integer=True))
        onboarding = _onboarding(_table(raw.get("onboarding", {}), "onboarding"))
        if unknown := onboarding.plans - policy.plans.keys():
            raise PolicyError(f"onboarding.plans: unknown plans {sorted(unknown)}")
        return cls(
            calendars=calendars,
            categories=categories,
            priority_boosts=boosts,
            sla=_sla(_table(raw.get("sla", {}), "sla")),
            reminders=_reminders(_table(raw.get("reminders", {}), "reminders")),
            onboarding=onboarding,
            desk_timezone=str(default_tz or calendars[policy.sales_department].timezone),
        )


# -- parsing ----------------------------------------------------------------------------


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where}: expected a table")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(f"{where}: expected a string, got {value!r}")
    return value


def _number(value: Any, where: str, minimum: float = 0.0, integer: bool = False) -> float:
    # bool is an int in Python, but "true" is never a sensible number of hours.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: expected a number, got {value!r}")
    if integer and not isinstance(value, int):
        raise PolicyError(f"{where}: expected a whole number, got {value!r}")
    if value < minimum:
        raise PolicyError(f"{where}: must be at least {minimum:g}, got {value!r}")
    return float(value)


def _clock(text: str, where: str) -> int:
    match = _CLOCK.match(text.strip())
    if not match:
        raise PolicyError(f"{where}: expected a time like 08:00, got {text!r}")
    hour, minute = int(match[1]), int(match[2])
    if minute >= 60 or hour > 24 or (hour == 24 and minute):
        raise PolicyError(f"{where}: no such time {text!r}")
    return hour * 60 + minute


def parse_span(text: Any, where: str) -> Span:
    """``"08:00-16:00"`` -> ``(480, 960)``; the end must come after the start."""
    start, sep, end = _string(text, where).partition("-")
    if not sep:
        raise PolicyError(f"{where}: expected a range like 08:00-16:00, got {text!r}")
    span = (_clock(start, where), _clock(end, where))
    if span[0] >= span[1]:
        raise PolicyError(f"{where}: {text!r} ends before it starts (overnight is not supported)")
    return span


def _day_hours(value: Any, where: str) -> tuple[Span, ...]:
    # "" = closed; "08:00-12:00, 13:00-16:00" = a lunch break; a list works too.
    parts: list[Any]
    if isinstance(value, list):
        parts = value
    else:
        parts = [p for p in _string(value, where).split(",") if p.strip()]
    spans = sorted(parse_span(p, where) for p in parts)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise PolicyError(f"{where}: opening hours overlap")
    return tuple(spans)


def _weekday(value: Any, where: str) -> int:
    name = _string(value, where).strip().lower()
    if name not in WEEKDAYS:
        raise PolicyError(f"{where}: unknown weekday {value!r} (use {', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(name)


def _holidays(value: Any, where: str, sets: Mapping[str, Any]) -> frozenset[date]:
    if isinstance(value, str):  # the name of a shared list in [holidays]
        if value not in sets:
            raise PolicyError(f"{where}: no list {value!r} in [holidays]")
        return _holidays(sets[value], f"holidays.{value}", {})
    if not isinstance(value, list):
        raise PolicyError(f"{where}: expected a list of dates or a [holidays] name")
    out: set[date] = set()
    for item in value:
        # TOML dates arrive as date; a datetime (a date subclass) is not a day.
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(_string(item, where)))
        except ValueError:
            raise PolicyError(f"{where}: {item!r} is not a date like 2026-12-24") from None
    return frozenset(out)


def parse_calendar(
    table: Mapping[str, Any],
    where: str,
    default_timezone: str = "UTC",
    holiday_sets: Mapping[str, Any] | None = None,
    holiday_region: tuple[str, str] = ("", ""),
) -> BusinessCalendar:
    """A department's calendar from its table; without hours it is open round the clock."""
    tz = _string(table.get("timezone", default_timezone), f"{where}.timezone")
    zone(tz)
    shorthand = [k for k in ("workdays", "open", "close") if k in table]
    if "hours" in table and shorthand:
        raise PolicyError(f"{where}: use either 'hours' or 'workdays'/'open'/'close'")
    week: tuple[tuple[Span, ...], ...] = ALWAYS_OPEN
    if "hours" in table:
        hours = _table(table["hours"], f"{where}.hours")
        days: list[tuple[Span, ...]] = [()] * 7
        for name, value in hours.items():
            days[_weekday(name, f"{where}.hours")] = _day_hours(value, f"{where}.hours.{name}")
        week = tuple(days)
    elif shorthand:
        if len(shorthand) != 3:
            raise PolicyError(f"{where}: 'workdays', 'open' and 'close' go together")
        workdays = table["workdays"]
        if not isinstance(workdays, list):
            raise PolicyError(f'{where}.workdays: expected a list like ["mon", "tue"]')
        open_days = {_weekday(d, f"{where}.workdays") for d in workdays}
        opens = _string(table["open"], f"{where}.open")
        closes = _string(table["close"], f"{where}.close")
        span = parse_span(f"{opens}-{closes}", f"{where}.open/close")
        week = tuple((span,) if d in open_days else () for d in range(7))
    if not any(week):
        raise PolicyError(f"{where}: the department is never open")
    peak = table.get("peak")
    critical_only = table.get("off_hours_critical_only", False)
    if not isinstance(critical_only, bool):
        raise PolicyError(f"{where}.off_hours_critical_only: expected true or false")
    return BusinessCalendar(
        timezone=tz,
        week=week,
        holidays=_holidays(table.get("holidays", []), f"{where}.holidays", holiday_sets or {}),
        holiday_country=holiday_region[0],
        holiday_subdivision=holiday_region[1],
        off_hours_critical_only=critical_only,
        peak=None if peak in (None, "") else parse_span(peak, f"{where}.peak"),
    )


def _sla(table: Mapping[str, Any]) -> SlaConfig:
    warn_at = _number(table.get("warn_at", 0.8), "[sla] warn_at")
    if not 0 < warn_at < 1:
        raise PolicyError(f"[sla] warn_at: must be between 0 and 1 (e.g. 0.8), got {warn_at:g}")
    return SlaConfig(warn_at=warn_at)


def _reminders(table: Mapping[str, Any]) -> ReminderConfig:
    default = ReminderConfig()
    remind = _number(
        table.get("waiting_reminder_hours", default.waiting_reminder_hours),
        "reminders.waiting_reminder_hours",
    )
    close = _number(
        table.get("waiting_close_hours", default.waiting_close_hours),
        "reminders.waiting_close_hours",
    )
    days = _number(
        table.get("resolved_close_days", default.resolved_close_days),
        "reminders.resolved_close_days",
        minimum=1,
        integer=True,
    )
    if remind <= 0 or close <= remind:
        raise PolicyError(
            "reminders: waiting_reminder_hours must be positive and less than waiting_close_hours"
        )
    return ReminderConfig(remind, close, int(days))


def _onboarding(table: Mapping[str, Any]) -> OnboardingConfig:
    plans = table.get("plans", [])
    if not isinstance(plans, list):
        raise PolicyError("onboarding.plans: expected a list of plan keys")
    days = _number(table.get("days", 30), "onboarding.days", minimum=1, integer=True)
    return OnboardingConfig(
        plans=frozenset(_string(p, "onboarding.plans") for p in plans),
        days=int(days),
        trial=bool(table.get("trial", False)),
    )


@lru_cache(maxsize=4096)
def _windows_on(calendar: BusinessCalendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    if calendar.is_holiday(day):
        return ()
    tz = calendar.zone
    midnight = datetime.combine(day, time())
    out: list[tuple[datetime, datetime]] = []
    for start, end in calendar.week[day.weekday()]:
        # Naive local arithmetic first, then the zone: "24:00" becomes the next
        # midnight and each end gets the offset valid at that moment.
        lo = (midnight + timedelta(minutes=start)).replace(tzinfo=tz).astimezone(UTC)
        hi = (midnight + timedelta(minutes=end)).replace(tzinfo=tz).astimezone(UTC)
        if hi > lo:  # a window inside a skipped (spring-forward) hour is empty
            out.append((lo, hi))
    return tuple(out)
