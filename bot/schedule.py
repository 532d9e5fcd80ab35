"""Service levels applied to tickets: terms at filing, quotas, what the clock owes.

``bot.service_level``, ``bot.sla``, ``bot.quota`` and ``bot.priority`` are the pure
rules; this module applies them to the ticket aggregate, for the ticket service (at
filing and after every action) and for the ticker (reminders, auto-close, SLA
alerts). Every time a ticket changes, ``next_check_at`` is recomputed and stored,
so the timers survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.account import Account
from bot.policy import DeskPolicy, Plan, TargetClock
from bot.priority import priority_for, queue_key
from bot.quota import (
    QuotaStatus,
    month_window,
    quota_reply,
    quota_status,
    support_valid_until,
    training_eligible,
)
from bot.reply import Reply, Text
from bot.service_level import ServiceLevels
from bot.sla import (
    HOTLINE,
    OFF_HOURS_NOTICES,
    PAUSED,
    RUNNING,
    Deadlines,
    SlaClock,
    SlaState,
    expectation,
    off_hours_alert,
    resolved_close_due,
    sla_alert,
    sla_clock,
    sla_due,
    status_since,
    waiting_close_due,
    waiting_reminder_due,
)
from bot.ticket import ServiceTerms, Status, Ticket

# Statuses in which the request waits for the customer: reminded, then closed.
WAITING_ON_CUSTOMER = frozenset({Status.WAITING, Status.AWAITING_APPROVAL})


class Target(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class AutoClose(StrEnum):
    WAITING = "waiting"  # the customer never answered the question
    QUOTE = "quote"  # the customer never decided on the quote
    RESOLVED = "resolved"  # the resolution was neither confirmed nor disputed


AUTO_CLOSE = {
    Status.WAITING: AutoClose.WAITING,
    Status.AWAITING_APPROVAL: AutoClose.QUOTE,
    Status.RESOLVED: AutoClose.RESOLVED,
}


@dataclass(frozen=True, slots=True)
class Review:
    """What the clock owes one ticket now."""

    remind: bool = False
    close: AutoClose | None = None
    # (targets named, state, due): targets due at the same moment in the same state
    # make one notice naming both.
    alerts: tuple[tuple[tuple[Target, ...], SlaState, datetime], ...] = ()


class Schedule:
    """The deployment's service levels, applied to tickets."""

    def __init__(self, policy: DeskPolicy, levels: ServiceLevels | None = None) -> None:
        self.policy = policy
        self.levels = levels or ServiceLevels.from_policy(policy)

    # -- plans and quotas ----------------------------------------------------------------

    def plan(self, account: Account | None) -> Plan:
        if account is not None and account.plan in self.policy.plans:
            return self.policy.plan(account.plan)
        return self.policy.plan(self.policy.default_plan)

    def entitled_account(self, account: Account | None) -> Account | None:
        """The account with its support period filled in: without an explicit
        ``valid_until`` it runs ``support_months`` from the licence purchase (seed 003)."""
        if account is None or account.valid_until is not None or account.purchased_on is None:
            return account
        until = support_valid_until(account.purchased_on, self.plan(account))
        return replace(account, valid_until=until) if until is not None else account

    def month(self, now: datetime) -> tuple[datetime, datetime]:
        return month_window(now, self.levels.desk_timezone)

    def quota(self, account: Account | None, used: int) -> QuotaStatus:
        return quota_status(self.plan(account), used)

    def quota_reply(self, status: QuotaStatus, now: datetime) -> Reply | None:
        return quota_reply(status, now, self.levels.desk_timezone, self.policy.sales_department)

    def training_eligible(self, account: Account | None, today: date) -> bool:
        return training_eligible(account, today, self.levels.onboarding)

    # -- filing ----------------------------------------------------------------------------

    def file(self, ticket: Ticket, account: Account | None, now: datetime) -> None:
        """Priority, due times and the off-hours flag of a ticket being filed."""
        plan = self.plan(account)
        calendar = self.levels.calendar(ticket.department)
        promise = self.policy.promise(plan, ticket.category, ticket.department)
        deadlines = sla_due(calendar, now, promise)
        ticket.priority = priority_for(
            ticket.request_type, ticket.critical, self.levels.priority_boost(plan.key)
        )
        ticket.terms = ServiceTerms(
            plan=plan.key,
            first_response_due=deadlines.first_response_due,
            resolution_due=deadlines.resolution_due,
            first_response_budget=deadlines.first_response_budget.total_seconds(),
            resolution_budget=deadlines.resolution_budget.total_seconds(),
            first_response_clock=deadlines.first_response_clock.value,
            resolution_clock=deadlines.resolution_clock.value,
            first_response_warn=_seconds(deadlines.first_response_warn),
            resolution_warn=_seconds(deadlines.resolution_warn),
        )
        ticket.off_hours = off_hours_alert(calendar, now, ticket.critical)
        self.refresh(ticket, now)

    def refresh(self, ticket: Ticket, now: datetime) -> None:
        """After any change: when the clock must look at the ticket next, and its place
        in the agents' queue (both stored, so neither is computed at read time)."""
        ticket.next_check_at = self.next_check(ticket, now)
        ticket.queue_due = self.queue_due(ticket, now)

    def expectations(self, ticket: Ticket) -> list[Reply]:
        """What the customer is told at filing: when to expect an answer (the range,
        when the target is one), and the department's hotline after an off-hours notice."""
        if ticket.terms is None:
            return []
        calendar = self.levels.calendar(ticket.department)
        deadlines = _deadlines(ticket)
        earliest = None
        if deadlines.first_response_warn is not None:
            target_calendar = calendar.for_clock(deadlines.first_response_clock)
            earliest = target_calendar.add_business_time(
                ticket.created_at, deadlines.first_response_warn
            )
        told = expectation(
            calendar,
            ticket.created_at,
            ticket.critical,
            ticket.terms.first_response_due,
            earliest=earliest,
            clock=deadlines.first_response_clock,
        )
        out = [told]
        if told.key in OFF_HOURS_NOTICES and (hotline := self.hotline(ticket.department)):
            out.append(hotline)
        return out

    def hotline(self, department: str) -> Reply | None:
        """The department's hotline, in the reader's language (None: it has none)."""
        if not self.policy.department(department).hotline:
            return None
        return Reply(HOTLINE, {"hotline": Text(f"hotline.{department}")})

    def timezone(self, department: str) -> str:
        return self.levels.calendar(department).timezone

    # -- the clock ---------------------------------------------------------------------------

    def clock(self, ticket: Ticket, now: datetime) -> SlaClock | None:
        """The ticket's SLA at ``now``; for a ticket whose clock has stopped (resolved,
        closed, declined) at the moment it stopped, so its due times are the ones it had,
        not projected on from ``now``."""
        if ticket.terms is None:
            return None
        stopped = _stopped_at(ticket)
        return sla_clock(
            self.levels.calendar(ticket.department),
            _deadlines(ticket),
            ticket.history,
            min(now, stopped) if stopped is not None else now,
            self.levels.sla.warn_at,
            ticket.first_response_at,
        )

    def queue_key(self, ticket: Ticket, now: datetime) -> tuple[int, datetime]:
        """Agents' queue order: priority, then the due time that matters next."""
        return queue_key(ticket.priority, self.queue_due(ticket, now))

    def queue_due(self, ticket: Ticket, now: datetime) -> datetime:
        """The due time that matters next: the first answer's until there is one, then
        the resolution's; the filing time without service levels. Stored with every
        change (``refresh``): a ticket paused while waiting for its customer keeps the
        due time it had when it changed last, until its next change or clock visit."""
        clock = self.clock(ticket, now)
        if clock is None:
            return ticket.created_at
        due = clock.deadlines.resolution_due
        if ticket.first_response_at is None:
            due = min(due, clock.deadlines.first_response_due)
        return due

    def _reminder_times(self, ticket: Ticket) -> tuple[datetime | None, datetime | None]:
        """(remind at, close at) for the ticket's current status, if any."""
        reminders = self.levels.reminders
        if ticket.status in WAITING_ON_CUSTOMER:
            # A question or a quote: the customer is nudged, then the request closes.
            since = status_since(ticket.history, ticket.status)
            if since is None:
                return None, None
            calendar = self.levels.calendar(ticket.department)
            reminded = ticket.reminded_at is not None and ticket.reminded_at >= since
            remind = None if reminded else waiting_reminder_due(calendar, since, reminders)
            return remind, waiting_close_due(calendar, since, reminders)
        if ticket.status is Status.RESOLVED:
            since = status_since(ticket.history, Status.RESOLVED)
            return None, resolved_close_due(since, reminders) if since else None
        return None, None

    def next_check(self, ticket: Ticket, now: datetime) -> datetime | None:
        """The next moment the clock owes this ticket something (None: nothing)."""
        if not ticket.is_open:
            return None
        moments: list[datetime] = []
        clock = self.clock(ticket, now)
        if clock is not None and clock.next_check is not None:
            moments.append(clock.next_check)
        remind, close = self._reminder_times(ticket)
        moments.extend(m for m in (remind, close) if m is not None)
        return min(moments) if moments else None

    def review(self, ticket: Ticket, now: datetime) -> Review:
        """What is due now: a reminder, an auto-close, SLA alerts not yet sent."""
        if not ticket.is_open:
            return Review()
        remind, close = self._reminder_times(ticket)
        if close is not None and close <= now:
            reason = AUTO_CLOSE[ticket.status]
            return Review(close=reason)
        alerts: list[tuple[tuple[Target, ...], SlaState, datetime]] = []
        clock = self.clock(ticket, now)
        if clock is not None:
            states = [(Target.RESOLUTION, clock.resolution, clock.deadlines.resolution_due)]
            if ticket.first_response_at is None:
                states.append(
                    (
                        Target.FIRST_RESPONSE,
                        clock.first_response,
                        clock.deadlines.first_response_due,
                    )
                )
            # First response first, as the team reads it.
            for target, state, due in reversed(states):
                if state is SlaState.OK or alert_key(target, state) in ticket.sla_alerts:
                    continue
                same = next((a for a in alerts if a[1] is state and a[2] == due), None)
                if same is not None:
                    # Due at the same moment: one notice naming both.
                    alerts[alerts.index(same)] = ((*same[0], target), state, due)
                else:
                    alerts.append(((target,), state, due))
        return Review(remind=remind is not None and remind <= now, alerts=tuple(alerts))

    def alert(
        self, ticket: Ticket, targets: tuple[Target, ...], state: SlaState, due: datetime
    ) -> Reply:
        """The team's SLA notice naming ``targets``, mentioning the assignee, or the
        leads if nobody has it."""
        assert ticket.number is not None
        named = tuple(t.value for t in targets)
        reply = sla_alert(state, ticket.number, named, due, self.timezone(ticket.department))
        assert reply is not None
        mention: str | Text = ticket.assignee_name or Text("team.mention_leads")
        return Reply(reply.key, reply.params | {"mention": mention})


def alert_key(target: Target, state: SlaState) -> str:
    return f"{target.value}:{state.value}"


def _seconds(amount: timedelta | None) -> float | None:
    return None if amount is None else amount.total_seconds()


def _deadlines(ticket: Ticket) -> Deadlines:
    """The due times and budgets the ticket was filed with (``ticket.terms``)."""
    terms = ticket.terms
    assert terms is not None

    def warn(seconds: float | None) -> timedelta | None:
        return None if seconds is None else timedelta(seconds=seconds)

    return Deadlines(
        filed_at=ticket.created_at,
        first_response_due=terms.first_response_due,
        resolution_due=terms.resolution_due,
        first_response_budget=timedelta(seconds=terms.first_response_budget),
        resolution_budget=timedelta(seconds=terms.resolution_budget),
        first_response_clock=TargetClock(terms.first_response_clock),
        resolution_clock=TargetClock(terms.resolution_clock),
        first_response_warn=warn(terms.first_response_warn),
        resolution_warn=warn(terms.resolution_warn),
    )


def _stopped_at(ticket: Ticket) -> datetime | None:
    """When the SLA clock stopped for good: the moment the ticket last left the running
    and paused statuses (resolved, then perhaps closed); None while it may still run."""
    stopped: datetime | None = None
    for change in sorted(ticket.history, key=lambda c: c.at):
        if change.new in RUNNING or change.new in PAUSED:
            stopped = None
        elif stopped is None:
            stopped = change.at
    return stopped
