"""Quota and entitlement: tickets per calendar month, the support period after a
licence purchase, covered domains, the departments a plan may use, and onboarding.

Pure functions; ``now``/``today`` are always passed in.
"""

from __future__ import annotations

import calendar as std_calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.account import Account, Entitlement
from bot.policy import Plan
from bot.reply import Reply, Text
from bot.service_level import OnboardingConfig, moment_params, zone

QUOTA_LEFT = "sla.quota_left"  # {left}, {limit}
# {limit}, {department}, and the renewal moment: {weekday} {day} {month} {time} {zone}
QUOTA_EXCEEDED = "sla.quota_exceeded"


def month_window(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The calendar month containing ``now`` in zone ``tz``, as UTC ``[start, end)``.

    23:30 UTC on 31 January is already February in Prague, so such a ticket counts
    towards February's quota.
    """
    local = now.astimezone(zone(tz))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """Tickets this month: ``limit``/``left`` are None when the plan has no quota."""

    limit: int | None
    used: int
    left: int | None

    @property
    def exhausted(self) -> bool:
        """No further ticket may be filed this month."""
        return self.left is not None and self.left <= 0


def quota_status(plan: Plan, used: int) -> QuotaStatus:
    """The plan's monthly quota against ``used`` tickets filed in the month window."""
    if plan.monthly_quota is None:
        return QuotaStatus(None, used, None)
    limit = int(plan.monthly_quota)
    return QuotaStatus(limit, used, max(limit - used, 0))


def quota_reply(
    status: QuotaStatus, now: datetime, tz: str, sales_department: str
) -> Reply | None:
    """What the customer sees: requests left, or that the quota is used up and the
    way forward (the sales department, or a paid request) until it renews."""
    if status.limit is None or status.left is None:
        return None
    if not status.exhausted:
        return Reply(QUOTA_LEFT, {"left": status.left, "limit": status.limit})
    _, renews = month_window(now, tz)
    return Reply(
        QUOTA_EXCEEDED,
        {
            "limit": status.limit,
            "department": Text(f"department.{sales_department}"),
            **moment_params(renews, tz),
        },
    )


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # 31 January + 1 month is the end of February, not an error.
    return date(year, month, min(day.day, std_calendar.monthrange(year, month)[1]))


def support_valid_until(purchased_on: date, plan: Plan) -> date | None:
    """The last day of support: ``support_months`` from the licence purchase (seed 003).

    The period is whole months: bought on 15 January with 3 months, support covers
    15 January to 14 April inclusive. None when the plan's support does not expire.
    """
    if plan.support_months is None:
        return None
    anniversary = _add_months(purchased_on, int(plan.support_months))
    return date.fromordinal(anniversary.toordinal() - 1)


def check_entitlement(
    account: Account | None, plan: Plan | None, domain: str, today: date
) -> Entitlement:
    """Whether ``account`` may get support for ``domain`` on ``today``.

    UNKNOWN without an account; EXPIRED after the stored ``valid_until`` or, without
    one, after the period derived from ``purchased_on``; WRONG_DOMAIN when the domain
    is not one of the account's (one domain per support package, seed 003). An empty
    ``domain`` or an account without domains is not checked: intake asks for it.
    """
    if account is None:
        return Entitlement.UNKNOWN
    valid_until = account.valid_until
    if valid_until is None and account.purchased_on is not None and plan is not None:
        valid_until = support_valid_until(account.purchased_on, plan)
    if valid_until is not None and today > valid_until:
        return Entitlement.EXPIRED
    if domain.strip() and account.domains and not account.covers(domain):
        return Entitlement.WRONG_DOMAIN
    return Entitlement.OK


def allowed_department(
    plan: Plan | None, department: str, entitlement: Entitlement, sales_department: str
) -> str:
    """Where a request goes: the chosen department when the plan allows it and
    support is valid; otherwise the sales department (free plan, expired support)."""
    if entitlement is Entitlement.EXPIRED or plan is None:
        return sales_department
    return department if department in plan.departments else sales_department


def training_eligible(account: Account | None, today: date, cfg: OnboardingConfig) -> bool:
    """Free onboarding training (seed 004): plans in ``cfg.plans``, within ``cfg.days``
    days of the purchase (day 0 = the purchase day)."""
    if account is None or account.purchased_on is None or account.plan not in cfg.plans:
        return False
    return 0 <= (today - account.purchased_on).days < cfg.days
