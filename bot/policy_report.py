"""What a policy file means, in plain words: ``python -m bot policy check FILE``.

The policy is read as the desk reads it at start-up (every key and cross-reference
checked, the service levels parsed), then told back to the person who wrote it:
departments and where their teams work, opening hours in each zone, targets per plan,
quotas and request types. The report is for the deployment's administrator and is in
English, as the CLI's other admin output is.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.policy import (
    KNOWN_PLATFORMS,
    WORDING,
    DeskPolicy,
    DueRule,
    Plan,
    Target,
    TargetClock,
    TargetRule,
    load_policy,
)
from bot.service_level import WEEKDAYS, BusinessCalendar, ServiceLevels, Span


def check_policy(path: Path | None) -> tuple[DeskPolicy, ServiceLevels]:
    """Read and check the policy at ``path`` (the shipped example when None) the way the
    desk does at start-up; ``PolicyError`` names the first problem (every unknown key)."""
    policy = load_policy(path)
    return policy, ServiceLevels.from_policy(policy)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _spans(spans: tuple[Span, ...]) -> str:
    return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans) if spans else "closed"


def week_hours(calendar: BusinessCalendar) -> str:
    """``mon-fri 08:00-16:00; sat-sun closed``: runs of weekdays with the same hours."""
    runs: list[tuple[int, int, tuple[Span, ...]]] = []
    for day, spans in enumerate(calendar.week):
        if runs and runs[-1][2] == spans:
            runs[-1] = (runs[-1][0], day, spans)
        else:
            runs.append((day, day, spans))
    parts = []
    for first, last, spans in runs:
        days = WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]}-{WEEKDAYS[last]}"
        parts.append(f"{days} {_spans(spans)}")
    return "; ".join(parts)


def _holidays(days: frozenset[date]) -> str:
    if not days:
        return "none"
    ordered = sorted(days)
    return f"{len(ordered)} days, {ordered[0].isoformat()} to {ordered[-1].isoformat()}"


def _hours(value: float) -> str:
    return f"{value:g} h"


def _target(target: Target) -> str:
    hours = target.hours
    span = _hours(hours.high) if not hours.is_range else f"{hours.low:g}-{hours.high:g} h"
    clock = "business hours" if target.clock is TargetClock.BUSINESS else "calendar hours"
    return f"{span} ({clock})"


def _rule(rule: TargetRule) -> str:
    parts = []
    for what, hours in (
        ("first response", rule.first_response_hours),
        ("resolution", rule.resolution_hours),
    ):
        if hours is not None:
            span = _hours(hours.high) if not hours.is_range else f"{hours.low:g}-{hours.high:g} h"
            parts.append(f"{what} within {span}")
    if rule.clock is not None:
        parts.append(f"in {rule.clock.value} hours")
    if rule.due is not None and rule.due is not DueRule.PLAN:
        parts.append("resolved the same business day")
    if rule.departments:
        parts.append(f"in {', '.join(sorted(rule.departments))} only")
    return ", ".join(parts) or "as the plan"


def _plan_line(policy: DeskPolicy, levels: ServiceLevels, plan: Plan) -> list[str]:
    out = [f"  {plan.key} - {plan.labels['en']}"]
    out.append(f"    may file with: {', '.join(sorted(plan.departments))}")
    out.append(
        f"    targets: first response within {_target(plan.first_response)}, "
        f"resolution within {_target(plan.resolution)}"
    )
    for key, rule in plan.targets.items():
        out.append(f"    {key} requests on this plan: {_rule(rule)}")
    quota = (
        f"{plan.monthly_quota} requests a calendar month"
        if plan.monthly_quota is not None
        else "no monthly quota"
    )
    out.append(f"    quota: {quota}")
    support = (
        f"{plan.support_months} months from the licence purchase"
        if plan.support_months is not None
        else "no end set"
    )
    out.append(f"    support period: {support}")
    out.append(f"    domains per package: {plan.domains_per_package}")
    asks = [
        what
        for what, on in (
            ("the support number", plan.ask_support_number),
            ("the domain", plan.ask_domain),
        )
        if on
    ]
    if asks:
        out.append(f"    asked with every request: {' and '.join(asks)}")
    if plan.direct_only:
        out.append("    only licences bought directly from the vendor (not via a reseller)")
    if boost := levels.priority_boost(plan.key):
        out.append(f"    priority: {boost} step(s) up for non-critical requests")
    if plan.key == policy.default_plan:
        out.append("    the plan of customers without a support number")
    return out


def describe(policy: DeskPolicy, levels: ServiceLevels, source: Path | None = None) -> list[str]:
    """The policy in plain words, a line each; warnings (legal but probably unmeant
    settings) come last, each starting with ``warning:``."""
    out = [f"policy: {source or 'the shipped example'}: valid"]
    out.append(f"languages: {', '.join(policy.languages)} (default {policy.default_language})")
    warnings: list[str] = []
    out.append("departments:")
    for dep in policy.departments.values():
        calendar = levels.calendar(dep.key)
        out.append(f"  {dep.key} - {dep.labels['en']}")
        chats = [
            f"{platform}: {', '.join(ids)}" for platform, ids in sorted(dep.team_channels.items())
        ]
        out.append(f"    team channels: {'; '.join(chats) if chats else 'none'}")
        for platform in dep.team_channels:
            if platform not in KNOWN_PLATFORMS:
                warnings.append(
                    f"warning: departments.{dep.key}.team_channels: {platform!r} is none of "
                    f"the desk's channels ({', '.join(KNOWN_PLATFORMS)})"
                )
        out.append(f"    hours ({calendar.timezone}): {week_hours(calendar)}")
        if calendar.holiday_country:
            region = calendar.holiday_country + (
                f"-{calendar.holiday_subdivision}" if calendar.holiday_subdivision else ""
            )
            out.append(f"    public holidays: {region} (the holidays package)")
        out.append(f"    own closed days: {_holidays(calendar.holidays)}")
        if dep.hotline:
            out.append(f"    hotline: {dep.hotline['en']}")
        out.append(
            "    outside the hours: "
            + (
                "only critical requests are handled (the team is told at once)"
                if calendar.off_hours_critical_only
                else "requests wait for the next opening"
            )
        )
        if calendar.peak is not None:
            out.append(
                f"    busy hours: {_spans((calendar.peak,))} (customers are told replies "
                "may take longer)"
            )
    out.append(f"sales department: {policy.sales_department} (never counted against quotas)")
    out.append("plans:")
    for plan in policy.plans.values():
        out.extend(_plan_line(policy, levels, plan))
        reachable = [c.key for c in policy.listed_categories() if c.department in plan.departments]
        if not reachable:
            warnings.append(f"warning: plans.{plan.key}: no listed category it may file")
    if policy.targets:
        out.append("targets over every plan's:")
        for key, rule in policy.targets.items():
            out.append(f"  {key} requests: {_rule(rule)}")
    ways = {"sales": "the sales department", "paid": "a paid request (quoted first)"}
    out.append(
        f"quota: counted per calendar month in {levels.desk_timezone}; when used up: "
        + ", ".join(ways[w] for w in policy.over_quota)
        + "; critical requests "
        + ("exempt" if policy.quota_exempts_critical else "counted like any other")
    )
    out.append("request types (categories):")
    for cat in policy.categories.values():
        traits = [cat.request_type.value, f"to {cat.department}"]
        if cat.critical:
            traits.append("critical")
        if cat.paid:
            traits.append("paid: quoted before work")
        if levels.terms(cat.key).due.value != "plan":
            traits.append(f"due {levels.terms(cat.key).due.value.replace('_', ' ')}")
        if cat.plans:
            traits.append(f"only plans {', '.join(sorted(cat.plans))}")
        if cat.once_per_account:
            traits.append("once per account")
        if not cat.counts_toward_quota:
            traits.append("not counted against the quota")
        if not cat.listed:
            traits.append("not in the intake menu")
        out.append(f"  {cat.key} - {cat.labels['en']}: {'; '.join(traits)}")
    refusal = {
        "decline": "declines the request (by the customer)",
        "consultation": "goes on as a consultation",
    }
    out.append(f"quotes: a refused quote {refusal[policy.quote_refusal.value]}")
    rem = levels.reminders
    out.append(
        f"waiting for the customer: reminded after {_hours(rem.waiting_reminder_hours)}, "
        f"closed after {_hours(rem.waiting_close_hours)} (business hours); a resolved "
        f"request closes after {rem.resolved_close_days} days"
    )
    out.append(f"SLA warning at {levels.sla.warn_at:.0%} of a target")
    onboarding = levels.onboarding
    if onboarding.offered(policy):
        who = sorted(onboarding.plans) + (["trial users"] if onboarding.trial else [])
        out.append(
            f"training: for {', '.join(who)}, within {onboarding.days} days of the purchase"
        )
    else:
        out.append("training: not offered")
    names = {key: name for name, key in WORDING.items()}
    for key, labels in policy.wording.items():
        out.append(f"wording: {names[key]} = {labels['en']!r}")
    missing = [
        f"{where}.{key}.name"
        for where, key, labels in _all_labels(policy)
        if set(policy.languages) - set(labels)
    ]
    for name in missing:
        warnings.append(f"warning: {name}: not every language has its label (English is used)")
    return out + warnings


def _all_labels(policy: DeskPolicy) -> list[tuple[str, str, dict[str, str]]]:
    return (
        [("departments", d.key, d.labels) for d in policy.departments.values()]
        + [("categories", c.key, c.labels) for c in policy.categories.values()]
        + [("plans", p.key, p.labels) for p in policy.plans.values()]
    )
