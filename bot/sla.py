"""SLA clocks in business time: due times at filing, pauses, warnings and breaches,
what the customer is told at filing, and when silent tickets are nudged or closed.

The clock runs while a ticket is New, Accepted or Blocked (the team owes work),
pauses while it is Waiting for customer (an answer, or their approval of a quote),
and stops once it is Resolved, Closed or Declined (a disputed resolution goes back
to Accepted and the clock runs again).
Each target counts on its own clock (``bot.policy.TargetClock``): business hours of
the department's calendar, or calendar hours (every hour, nights and weekends
included). A target given as a range ("24-48 h") warns the team at its lower bound and
is breached at its upper one; a single number warns at ``[sla] warn_at`` of it. A
critical request filed off hours is announced to the team at once
(``off_hours_alert``); its targets count as the policy says (e.g. one calendar hour).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.policy import DueRule, Promise, TargetClock
from bot.reply import Moment, Reply, Text
from bot.service_level import (
    BusinessCalendar,
    ReminderConfig,
    moment_params,
)
from bot.ticket import Status, StatusChange

RUNNING = frozenset({Status.NEW, Status.ACCEPTED, Status.BLOCKED})
# Waiting for the customer: an answer, or their consent to a quote.
PAUSED = frozenset({Status.WAITING, Status.AWAITING_APPROVAL})

# Reply keys (bot/locales/<lang>/sla.po); each takes the moment params of
# ``moment_params`` (weekday, day, month, time, zone), the team ones also ``number``.
EXPECT_OPEN = "sla.expect_open"
EXPECT_PEAK = "sla.expect_peak"
EXPECT_CLOSED = "sla.expect_closed"
EXPECT_CLOSED_CRITICAL_ONLY = "sla.expect_closed_critical_only"
EXPECT_CRITICAL_OFF_HOURS = "sla.expect_critical_off_hours"
EXPECT_CLOSED_BY = "sla.expect_closed_by"
EXPECT_CRITICAL_BY = "sla.expect_critical_by"
# Off-hours notices: followed by the department's hotline, where it has one.
OFF_HOURS_NOTICES = frozenset(
    {
        "sla.expect_closed",
        "sla.expect_closed_critical_only",
        "sla.expect_critical_off_hours",
        "sla.expect_closed_by",
        "sla.expect_critical_by",
    }
)
HOTLINE = "sla.hotline"
# The promised moment, or range of moments ({due} of the expectations above).
DUE_SINGLE = "sla.due.single"
DUE_RANGE = "sla.due.range"
# What a team notice is about ({what}).
TARGET_NAMES: dict[tuple[str, ...], str] = {
    ("first_response",): "sla.target.first_response",
    ("resolution",): "sla.target.resolution",
}
TARGET_BOTH = "sla.target.both"
TEAM_WARNING = "sla.team_warning"
TEAM_BREACHED = "sla.team_breached"
TEAM_CRITICAL_OFF_HOURS = "sla.team_critical_off_hours"


class SlaState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Due times of one ticket and the time each target allows, on its own clock."""

    filed_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_budget: timedelta
    resolution_budget: timedelta
    first_response_clock: TargetClock = TargetClock.BUSINESS
    resolution_clock: TargetClock = TargetClock.BUSINESS
    # The lower bound of a range ("24-48 h"): the team is warned there. None: warned
    # at ``warn_at`` of the budget.
    first_response_warn: timedelta | None = None
    resolution_warn: timedelta | None = None


def sla_due(calendar: BusinessCalendar, filed_at: datetime, promise: Promise) -> Deadlines:
    """Due times computed at filing from the promised targets, each on its clock.

    A same-business-day request (payment, subscription) is resolved by the close of
    the business day it is filed in, or of the next one when filed after hours; its
    first response is due no later than that.
    """
    filed_at = filed_at.astimezone(UTC)
    first_target, resolution_target = promise.first_response, promise.resolution
    first_calendar = calendar.for_clock(first_target.clock)
    first = first_calendar.add_business_hours(filed_at, first_target.hours.high)
    resolution_clock = resolution_target.clock
    resolution_warn: timedelta | None = None
    if promise.due is DueRule.SAME_BUSINESS_DAY:
        resolution = calendar.end_of_business_day(filed_at)
        resolution_clock = TargetClock.BUSINESS
        first = min(first, resolution)
    else:
        resolution_calendar = calendar.for_clock(resolution_clock)
        resolution = resolution_calendar.add_business_hours(filed_at, resolution_target.hours.high)
        if resolution_target.hours.is_range:
            resolution_warn = timedelta(hours=resolution_target.hours.low)
    first_budget = first_calendar.business_time_between(filed_at, first)
    first_warn = None
    if first_target.hours.is_range:
        first_warn = min(timedelta(hours=first_target.hours.low), first_budget)
    return Deadlines(
        filed_at=filed_at,
        first_response_due=first,
        resolution_due=resolution,
        first_response_budget=first_budget,
        resolution_budget=calendar.for_clock(resolution_clock).business_time_between(
            filed_at, resolution
        ),
        first_response_clock=first_target.clock,
        resolution_clock=resolution_clock,
        first_response_warn=first_warn,
        resolution_warn=resolution_warn,
    )


# -- the clock over a status history ----------------------------------------------------


def _segments(
    history: Iterable[StatusChange], now: datetime, filed_at: datetime | None = None
) -> list[tuple[Status, datetime, datetime]]:
    """``(status, from, to)`` pieces of the history up to ``now``.

    Without a filing record (``old is None``) the ticket is taken to have been in the
    first change's ``old`` status, or New, since ``filed_at``.
    """
    now = now.astimezone(UTC)
    changes = sorted((c for c in history if c.at <= now), key=lambda c: c.at)
    timeline: list[tuple[datetime, Status]] = []
    if filed_at is not None and (not changes or changes[0].old is not None):
        first_status = changes[0].old if changes and changes[0].old else Status.NEW
        timeline.append((filed_at.astimezone(UTC), first_status))
    timeline.extend((c.at.astimezone(UTC), c.new) for c in changes)
    ends = [at for at, _ in timeline[1:]] + [now]
    return [(status, at, end) for (at, status), end in zip(timeline, ends, strict=True)]


def _time_in(
    calendar: BusinessCalendar,
    segments: list[tuple[Status, datetime, datetime]],
    statuses: frozenset[Status],
) -> timedelta:
    total = timedelta(0)
    for status, start, end in segments:
        if status in statuses:
            total += calendar.business_time_between(start, end)
    return total


def elapsed_business_seconds(
    calendar: BusinessCalendar,
    history: Iterable[StatusChange],
    now: datetime,
    filed_at: datetime | None = None,
) -> float:
    """Business seconds the SLA clock has run: New, Accepted and Blocked count;
    Waiting for customer and anything after Resolved/Closed/Declined do not."""
    return _time_in(calendar, _segments(history, now, filed_at), RUNNING).total_seconds()


def paused_business_seconds(
    calendar: BusinessCalendar,
    history: Iterable[StatusChange],
    now: datetime,
    filed_at: datetime | None = None,
) -> float:
    """Business seconds spent in Waiting for customer (the pause that extends dues)."""
    return _time_in(calendar, _segments(history, now, filed_at), PAUSED).total_seconds()


def _reached_at(
    calendar: BusinessCalendar,
    segments: list[tuple[Status, datetime, datetime]],
    amount: timedelta,
    now: datetime,
) -> datetime:
    """When the running clock reached (or, running on from ``now``, will reach) ``amount``."""
    remaining = amount
    for status, start, end in segments:
        if status not in RUNNING:
            continue
        available = calendar.business_time_between(start, end)
        if remaining <= available:
            return calendar.add_business_time(start, remaining)
        remaining -= available
    # Not reached yet: project as if the clock runs from now on (for a paused ticket,
    # "if the customer answered now").
    return calendar.add_business_time(now.astimezone(UTC), remaining)


def effective_deadlines(
    calendar: BusinessCalendar,
    deadlines: Deadlines,
    history: Iterable[StatusChange],
    now: datetime,
) -> Deadlines:
    """Due times as they stand at ``now``: every pause pushes them later by the time
    it took on the target's clock. Passed due times stay where the breach happened."""
    segments = _segments(history, now, deadlines.filed_at)
    first_calendar = calendar.for_clock(deadlines.first_response_clock)
    resolution_calendar = calendar.for_clock(deadlines.resolution_clock)
    return replace(
        deadlines,
        first_response_due=_reached_at(
            first_calendar, segments, deadlines.first_response_budget, now
        ),
        resolution_due=_reached_at(
            resolution_calendar, segments, deadlines.resolution_budget, now
        ),
    )


def sla_state(budget_seconds: float, elapsed_seconds: float, warn_at: float) -> SlaState:
    """OK, WARNING from ``warn_at`` of the budget on, BREACHED once it is used up."""
    return _state(budget_seconds, warn_at * budget_seconds, elapsed_seconds)


def _state(budget_seconds: float, warn_seconds: float, elapsed_seconds: float) -> SlaState:
    if elapsed_seconds >= budget_seconds:
        return SlaState.BREACHED
    if elapsed_seconds >= warn_seconds:
        return SlaState.WARNING
    return SlaState.OK


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One ticket's SLA at a moment, for a ticket card or the breach watcher."""

    deadlines: Deadlines  # effective (pauses included)
    elapsed_seconds: float  # on the resolution target's clock
    paused_seconds: float  # business seconds waiting for the customer
    running: bool
    first_response: SlaState
    resolution: SlaState
    # When the next warning or breach falls due; None while the clock stands still.
    next_check: datetime | None


def sla_clock(
    calendar: BusinessCalendar,
    deadlines: Deadlines,
    history: Iterable[StatusChange],
    now: datetime,
    warn_at: float,
    first_response_at: datetime | None = None,
) -> SlaClock:
    """The SLA of a ticket at ``now``. Once ``first_response_at`` is known the
    first-response state is frozen at that moment."""
    history = list(history)
    segments = _segments(history, now, deadlines.filed_at)
    first_calendar = calendar.for_clock(deadlines.first_response_clock)
    resolution_calendar = calendar.for_clock(deadlines.resolution_clock)
    elapsed = _time_in(resolution_calendar, segments, RUNNING)
    paused = _time_in(calendar, segments, PAUSED)
    answered = first_response_at is not None and first_response_at <= now
    first_segments = segments
    if first_response_at is not None and answered:
        first_segments = _segments(history, first_response_at, deadlines.filed_at)
    first_elapsed = _time_in(first_calendar, first_segments, RUNNING)
    first_warn = deadlines.first_response_warn or deadlines.first_response_budget * warn_at
    resolution_warn = deadlines.resolution_warn or deadlines.resolution_budget * warn_at
    running = bool(segments) and segments[-1][0] in RUNNING
    next_check: datetime | None = None
    if running:
        moments: list[datetime] = []
        targets = [(resolution_calendar, elapsed, (resolution_warn, deadlines.resolution_budget))]
        if not answered:
            targets.append(
                (first_calendar, first_elapsed, (first_warn, deadlines.first_response_budget))
            )
        for target_calendar, spent, amounts in targets:
            upcoming = [a for a in amounts if a > spent]
            if upcoming:
                moments.append(_reached_at(target_calendar, segments, min(upcoming), now))
        next_check = min(moments, default=None)
    return SlaClock(
        deadlines=effective_deadlines(calendar, deadlines, history, now),
        elapsed_seconds=elapsed.total_seconds(),
        paused_seconds=paused.total_seconds(),
        running=running,
        first_response=_state(
            deadlines.first_response_budget.total_seconds(),
            first_warn.total_seconds(),
            first_elapsed.total_seconds(),
        ),
        resolution=_state(
            deadlines.resolution_budget.total_seconds(),
            resolution_warn.total_seconds(),
            elapsed.total_seconds(),
        ),
        next_check=next_check,
    )


def sla_alert(
    state: SlaState, number: int, targets: tuple[str, ...], due: datetime, tz: str
) -> Reply | None:
    """The team's notice for a ticket entering WARNING or BREACHED; None for OK.
    ``targets`` (``first_response``, ``resolution``) are named: both in one notice when
    they fall due together."""
    if state is SlaState.OK:
        return None
    key = TEAM_WARNING if state is SlaState.WARNING else TEAM_BREACHED
    what = TARGET_NAMES.get(tuple(sorted(set(targets))), TARGET_BOTH)
    return Reply(key, {"number": number, "what": Text(what), **moment_params(due, tz)})


# -- what the customer is told at filing ------------------------------------------------


def off_hours_alert(calendar: BusinessCalendar, filed_at: datetime, critical: bool) -> bool:
    """Whether a request must be flagged and announced to the team right away:
    a critical one filed while closed, where the team handles crises off hours."""
    return critical and calendar.off_hours_critical_only and not calendar.is_open(filed_at)


def due_text(latest: datetime, tz: str, earliest: datetime | None = None) -> Text:
    """A promised moment, or a range of them ("between ... and ...")."""
    if earliest is not None and earliest < latest:
        return Text(DUE_RANGE, {"earliest": Moment(earliest, tz), "latest": Moment(latest, tz)})
    return Text(DUE_SINGLE, {"when": Moment(latest, tz)})


def expectation(
    calendar: BusinessCalendar,
    filed_at: datetime,
    critical: bool,
    first_response_due: datetime,
    display_tz: str | None = None,
    *,
    earliest: datetime | None = None,
    clock: TargetClock = TargetClock.BUSINESS,
) -> Reply:
    """When to expect an answer, told at filing: ``first_response_due``, or the range
    from ``earliest`` when the target is one ("24-48 h").

    Open: the due time (``sla.expect_open``, or ``sla.expect_peak`` in peak hours).
    Closed, with a target counted in calendar hours: the due time all the same
    (``sla.expect_closed_by``, or ``sla.expect_critical_by`` for a critical request the
    team was alerted to). Closed, in business hours: when the team is back
    (``sla.expect_closed``, or ``sla.expect_closed_critical_only`` where off hours take
    only critical requests), or, for a critical request there, that the team was
    alerted (``sla.expect_critical_off_hours``, naming the regular opening). Moments
    are shown in ``display_tz`` (the customer's zone when known) or the department's.
    """
    tz = display_tz or calendar.timezone
    due = {"due": due_text(first_response_due, tz, earliest)}
    if calendar.is_open(filed_at):
        key = EXPECT_PEAK if calendar.is_peak(filed_at) else EXPECT_OPEN
        return Reply(key, due)
    alerted = off_hours_alert(calendar, filed_at, critical)
    if clock is TargetClock.CALENDAR:
        return Reply(EXPECT_CRITICAL_BY if alerted else EXPECT_CLOSED_BY, due)
    opens = moment_params(calendar.next_open(filed_at), tz)
    if alerted:
        return Reply(EXPECT_CRITICAL_OFF_HOURS, opens)
    # When the team is back, and the promise itself (a range is told as a range): an
    # answer is not due the moment the team is back.
    if calendar.off_hours_critical_only:
        return Reply(EXPECT_CLOSED_CRITICAL_ONLY, opens | due)
    return Reply(EXPECT_CLOSED, opens | due)


def critical_alert(number: int, filed_at: datetime, tz: str) -> Reply:
    """The team announcement for a critical request filed off hours."""
    return Reply(TEAM_CRITICAL_OFF_HOURS, {"number": number, **moment_params(filed_at, tz)})


# -- reminders and auto-close -----------------------------------------------------------


def status_since(history: Iterable[StatusChange], status: Status) -> datetime | None:
    """When the ticket entered ``status``, if that is its current status."""
    changes = sorted(history, key=lambda c: c.at)
    if changes and changes[-1].new is status:
        return changes[-1].at
    return None


def waiting_reminder_due(
    calendar: BusinessCalendar, waiting_since: datetime, cfg: ReminderConfig
) -> datetime:
    """When a customer who has not answered is reminded (business hours)."""
    return calendar.add_business_hours(waiting_since, cfg.waiting_reminder_hours)


def waiting_close_due(
    calendar: BusinessCalendar, waiting_since: datetime, cfg: ReminderConfig
) -> datetime:
    """When a ticket still Waiting for customer is closed (business hours)."""
    return calendar.add_business_hours(waiting_since, cfg.waiting_close_hours)


def resolved_close_due(resolved_at: datetime, cfg: ReminderConfig) -> datetime:
    """When a Resolved ticket neither confirmed nor disputed closes (calendar days)."""
    return resolved_at.astimezone(UTC) + timedelta(days=cfg.resolved_close_days)
