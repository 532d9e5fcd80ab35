"""What a policy file means, in plain words: ``python -m bot policy check FILE``.

The policy is read as the desk reads it at start-up (every key and cross-reference
checked, the service levels parsed), then told back to the person who wrote it:
departments and where their teams work, opening hours in each zone, targets per plan,
quotas and request types. The report is for the deployment's administrator, in the
language the CLI picked (``--lang``, else the policy's default): the words come from
the ``cli.report.*`` messages; the policy's own keys (``technical``, ``premium``) stay as
written, since they are what the file says.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from bot.i18n import FALLBACK, Translator
from bot.policy import (
    CRITICAL_TARGET,
    KNOWN_PLATFORMS,
    WORDING,
    DeskPolicy,
    DueRule,
    Hours,
    Plan,
    Target,
    TargetClock,
    TargetRule,
    load_policy,
)
from bot.service_level import WEEKDAYS, BusinessCalendar, ServiceLevels, Span
from bot.ticket import RequestType


def check_policy(path: Path | None) -> tuple[DeskPolicy, ServiceLevels]:
    """Read and check the policy at ``path`` (the shipped example when None) the way the
    desk does at start-up; ``PolicyError`` names the first problem (every unknown key)."""
    policy = load_policy(path)
    return policy, ServiceLevels.from_policy(policy)


class _Words:
    """The report's words in one language."""

    def __init__(self, translator: Translator, lang: str) -> None:
        self.translator = translator
        self.lang = lang

    def __call__(self, key: str, **params: Any) -> str:
        return self.translator.text(f"cli.report.{key}", self.lang, params)

    def label(self, labels: Mapping[str, str]) -> str:
        return labels.get(self.lang) or labels[FALLBACK]

    def join(self, items: list[str]) -> str:
        """ "a and b", "a, b and c" in the language."""
        if len(items) < 2:
            return "".join(items)
        return self("and", first=", ".join(items[:-1]), last=items[-1])

    def kind(self, key: str) -> str:
        """A target table's key: a request type or critical requests."""
        if key == CRITICAL_TARGET:
            return self("kind.critical")
        if key in {t.value for t in RequestType}:
            return self(f"type.{key}")
        return key


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _spans(spans: tuple[Span, ...], words: _Words) -> str:
    return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in spans) if spans else words("closed")


def week_hours(calendar: BusinessCalendar, words: _Words) -> str:
    """``mon-fri 08:00-16:00; sat-sun closed``: runs of weekdays with the same hours."""
    runs: list[tuple[int, int, tuple[Span, ...]]] = []
    for day, spans in enumerate(calendar.week):
        if runs and runs[-1][2] == spans:
            runs[-1] = (runs[-1][0], day, spans)
        else:
            runs.append((day, day, spans))
    parts = []
    for first, last, spans in runs:
        name = words(f"day.{WEEKDAYS[first]}")
        days = name if first == last else f"{name}-{words(f'day.{WEEKDAYS[last]}')}"
        parts.append(f"{days} {_spans(spans, words)}")
    return "; ".join(parts)


def _holidays(days: frozenset[date], words: _Words) -> str:
    if not days:
        return words("none")
    ordered = sorted(days)
    return words(
        "closed_days",
        count=len(ordered),
        first=ordered[0].isoformat(),
        last=ordered[-1].isoformat(),
    )


def _hours(hours: Hours, words: _Words) -> str:
    if hours.is_range:
        return words("hours_range", low=f"{hours.low:g}", high=f"{hours.high:g}")
    return words("hours", hours=f"{hours.high:g}")


def _target(target: Target, words: _Words) -> str:
    clock = "business" if target.clock is TargetClock.BUSINESS else "calendar"
    return words("target", hours=_hours(target.hours, words), clock=words(f"clock.{clock}"))


def _rule(rule: TargetRule, words: _Words) -> str:
    parts = []
    if rule.first_response_hours is not None:
        parts.append(words("rule.first", hours=_hours(rule.first_response_hours, words)))
    if rule.resolution_hours is not None:
        parts.append(words("rule.resolution", hours=_hours(rule.resolution_hours, words)))
    if rule.clock is not None:
        parts.append(words(f"rule.clock.{rule.clock.value}"))
    if rule.due is not None and rule.due is not DueRule.PLAN:
        parts.append(words("rule.same_day"))
    if rule.departments:
        parts.append(words("rule.departments", departments=", ".join(sorted(rule.departments))))
    return ", ".join(parts) or words("rule.as_plan")


def _plan_line(policy: DeskPolicy, levels: ServiceLevels, plan: Plan, words: _Words) -> list[str]:
    out = [f"  {plan.key} - {words.label(plan.labels)}"]
    out.append("    " + words("plan.departments", departments=", ".join(sorted(plan.departments))))
    out.append(
        "    "
        + words(
            "plan.targets",
            first=_target(plan.first_response, words),
            resolution=_target(plan.resolution, words),
        )
    )
    for key, rule in plan.targets.items():
        out.append("    " + words("plan.rule", kind=words.kind(key), rule=_rule(rule, words)))
    quota = (
        words("plan.quota", count=plan.monthly_quota)
        if plan.monthly_quota is not None
        else words("plan.no_quota")
    )
    out.append("    " + words("plan.quota_line", quota=quota))
    support = (
        words("plan.support", count=plan.support_months)
        if plan.support_months is not None
        else words("plan.no_end")
    )
    out.append("    " + words("plan.support_line", support=support))
    out.append("    " + words("plan.domains", count=plan.domains_per_package))
    asks = [
        words(what)
        for what, on in (
            ("plan.ask_support_number", plan.ask_support_number),
            ("plan.ask_domain", plan.ask_domain),
        )
        if on
    ]
    if asks:
        out.append("    " + words("plan.asks", what=words.join(asks)))
    if plan.direct_only:
        out.append("    " + words("plan.direct_only"))
    if boost := levels.priority_boost(plan.key):
        out.append("    " + words("plan.priority", count=boost))
    if plan.key == policy.default_plan:
        out.append("    " + words("plan.default"))
    return out


def describe(
    policy: DeskPolicy,
    levels: ServiceLevels,
    source: Path | None = None,
    translator: Translator | None = None,
    lang: str = FALLBACK,
) -> list[str]:
    """The policy in plain words, a line each, in ``lang``; warnings (legal but probably
    unmeant settings) come last, each starting with the language's "warning:"."""
    words = _Words(translator or Translator.load(), lang)
    out = [words("valid", source=str(source) if source else words("example"))]
    out.append(
        words(
            "languages",
            languages=", ".join(policy.languages),
            default=policy.default_language,
        )
    )
    warnings: list[str] = []
    out.append(words("departments"))
    for dep in policy.departments.values():
        calendar = levels.calendar(dep.key)
        out.append(f"  {dep.key} - {words.label(dep.labels)}")
        chats = [
            f"{platform}: {', '.join(ids)}" for platform, ids in sorted(dep.team_channels.items())
        ]
        out.append("    " + words("team_channels", chats="; ".join(chats) or words("none")))
        for platform in dep.team_channels:
            if platform not in KNOWN_PLATFORMS:
                warnings.append(
                    words(
                        "warning.platform",
                        where=f"departments.{dep.key}.team_channels",
                        platform=repr(platform),
                        channels=", ".join(KNOWN_PLATFORMS),
                    )
                )
        out.append(
            "    " + words("hours_line", zone=calendar.timezone, week=week_hours(calendar, words))
        )
        if calendar.holiday_country:
            region = calendar.holiday_country + (
                f"-{calendar.holiday_subdivision}" if calendar.holiday_subdivision else ""
            )
            out.append("    " + words("public_holidays", region=region))
        out.append("    " + words("own_closed_days", dates=_holidays(calendar.holidays, words)))
        if dep.hotline:
            out.append("    " + words("hotline", hotline=words.label(dep.hotline)))
        out.append(
            "    "
            + words(
                "off_hours.critical_only" if calendar.off_hours_critical_only else "off_hours.wait"
            )
        )
        if calendar.peak is not None:
            out.append("    " + words("peak", hours=_spans((calendar.peak,), words)))
    out.append(words("sales", department=policy.sales_department))
    out.append(words("plans"))
    for plan in policy.plans.values():
        out.extend(_plan_line(policy, levels, plan, words))
        reachable = [c.key for c in policy.listed_categories() if c.department in plan.departments]
        if not reachable:
            warnings.append(words("warning.unreachable_plan", plan=plan.key))
    if policy.targets:
        out.append(words("targets"))
        for key, rule in policy.targets.items():
            out.append("  " + words("targets_line", kind=words.kind(key), rule=_rule(rule, words)))
    out.append(
        words(
            "quota",
            zone=levels.desk_timezone,
            ways=", ".join(words(f"over.{w}") for w in policy.over_quota),
            critical=words(
                "critical.exempt" if policy.quota_exempts_critical else "critical.counted"
            ),
        )
    )
    out.append(words("categories"))
    for cat in policy.categories.values():
        traits = [words(f"type.{cat.request_type.value}"), words("to", department=cat.department)]
        if cat.critical:
            traits.append(words("trait.critical"))
        if cat.paid:
            traits.append(words("trait.paid"))
        if levels.terms(cat.key).due is not DueRule.PLAN:
            traits.append(words("trait.same_day"))
        if cat.plans:
            traits.append(words("trait.plans", plans=", ".join(sorted(cat.plans))))
        if cat.once_per_account:
            traits.append(words("trait.once"))
        if not cat.counts_toward_quota:
            traits.append(words("trait.uncounted"))
        if not cat.listed:
            traits.append(words("trait.unlisted"))
        out.append(f"  {cat.key} - {words.label(cat.labels)}: {'; '.join(traits)}")
    out.append(words("quotes", refusal=words(f"refusal.{policy.quote_refusal.value}")))
    rem = levels.reminders
    out.append(
        words(
            "waiting",
            reminded=words("hours", hours=f"{rem.waiting_reminder_hours:g}"),
            closed=words("hours", hours=f"{rem.waiting_close_hours:g}"),
            days=rem.resolved_close_days,
        )
    )
    out.append(words("sla_warning", share=f"{levels.sla.warn_at:.0%}"))
    onboarding = levels.onboarding
    if onboarding.offered(policy):
        who = sorted(onboarding.plans) + ([words("trial")] if onboarding.trial else [])
        out.append(words("training", who=", ".join(who), days=onboarding.days))
    else:
        out.append(words("no_training"))
    names = {key: name for name, key in WORDING.items()}
    for key, labels in policy.wording.items():
        out.append(words("wording", name=names[key], text=repr(words.label(labels))))
    missing = [
        f"{where}.{key}.name"
        for where, key, labels in _all_labels(policy)
        if set(policy.languages) - set(labels)
    ]
    for name in missing:
        warnings.append(words("warning.label", name=name))
    return out + warnings


def _all_labels(policy: DeskPolicy) -> list[tuple[str, str, dict[str, str]]]:
    return (
        [("departments", d.key, d.labels) for d in policy.departments.values()]
        + [("categories", c.key, c.labels) for c in policy.categories.values()]
        + [("plans", p.key, p.labels) for p in policy.plans.values()]
    )
