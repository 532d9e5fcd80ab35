"""A lead's dashboard: ``/stats [7d|30d]`` in a team chat (a chart and a short text)
and ``python -m bot stats`` in the terminal.

Per department, over the tickets filed in the period: how many are open now, how many
were filed and how many requests an article solved instead (deflection rate), the
median first-response and resolution times and the share within their SLA target
(the effective due times of ``bot.sla``, pauses included), SLA breaches, and the
customers' satisfaction (per department and per agent, over the ratings given in the
period), and what customers said about the help articles in the period ("Was this
helpful?" per article, the articles of these departments; most "no" first).
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.i18n import Translator
from bot.knowledge.article import Article, FeedbackReason
from bot.ports import Clock, UnitOfWorkFactory
from bot.reply import Reply, Text
from bot.schedule import Schedule
from bot.ticket import Status, Ticket

PERIODS = {"7d": 7, "30d": 30}
DEFAULT_DAYS = 7
# Help articles listed in the text and drawn in the chart (most "not helpful" first).
ARTICLES_SHOWN = 5


def parse_period(text: str) -> int | None:
    """``7d``, ``30d`` (or nothing: 7 days) -> days; None for anything else."""
    text = text.strip().casefold()
    return DEFAULT_DAYS if not text else PERIODS.get(text)


@dataclass
class DepartmentStats:
    department: str
    open: int = 0
    filed: int = 0
    deflected: int = 0
    first_hours: list[float] = field(default_factory=list)
    first_met: int = 0
    first_due: int = 0
    resolution_hours: list[float] = field(default_factory=list)
    resolution_met: int = 0
    resolution_due: int = 0
    breaches: int = 0
    ratings: list[int] = field(default_factory=list)

    @property
    def deflection_rate(self) -> float | None:
        asked = self.filed + self.deflected
        return self.deflected / asked if asked else None


@dataclass(frozen=True, slots=True)
class AgentRating:
    agent: str
    average: float
    count: int


@dataclass(frozen=True, slots=True)
class ArticleStats:
    """The answers to "Was this helpful?" about one article in the period."""

    slug: str
    lang: str
    title: str
    helpful: int
    not_helpful: int
    reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class Report:
    days: int
    since: datetime
    departments: tuple[DepartmentStats, ...]
    agents: tuple[AgentRating, ...]
    # Most "not helpful" first.
    articles: tuple[ArticleStats, ...] = ()


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _resolved_at(ticket: Ticket) -> datetime | None:
    return next((c.at for c in ticket.history if c.new is Status.RESOLVED), None)


class StatsService:
    """The figures of a period for some departments (None: all)."""

    def __init__(self, uow: UnitOfWorkFactory, schedule: Schedule, clock: Clock) -> None:
        self._uow = uow
        self._schedule = schedule
        self._clock = clock

    async def report(self, departments: frozenset[str] | None, days: int) -> Report:
        now = self._clock.now()
        since = now - timedelta(days=days)
        async with self._uow() as uow:
            open_now = await uow.tickets.open_by_department(departments)
            filed = await uow.tickets.filed_since(since, departments)
            ratings = await uow.tickets.ratings_since(since, departments)
            deflected = await uow.articles.deflections(since)
            feedback = await uow.articles.feedback(since)
            known = {
                (a.slug, a.lang): a
                for a in await uow.articles.get([(c.slug, c.lang) for c in feedback])
            }
        names = set(open_now) | {t.department for t in filed} | {r[0] for r in ratings}
        names |= {d for d in deflected if departments is None or d in departments}
        stats = {name: DepartmentStats(name) for name in sorted(names)}
        for name, count in open_now.items():
            stats[name].open = count
        for name, count in deflected.items():
            if name in stats:
                stats[name].deflected = count
        for ticket in filed:
            self._count(stats[ticket.department], ticket, now)
        per_agent: dict[str, list[int]] = {}
        for department, agent, score in ratings:
            stats[department].ratings.append(score)
            per_agent.setdefault(agent or "—", []).append(score)
        agents = tuple(
            AgentRating(name, statistics.fmean(scores), len(scores))
            for name, scores in sorted(per_agent.items())
        )
        articles = tuple(
            ArticleStats(
                c.slug,
                c.lang,
                article.title if article is not None else c.slug,
                c.helpful,
                c.not_helpful,
                dict(c.reasons),
            )
            for c in feedback
            if _concerns(article := known.get((c.slug, c.lang)), departments)
        )
        return Report(days, since, tuple(stats.values()), agents, articles)

    def _count(self, stats: DepartmentStats, ticket: Ticket, now: datetime) -> None:
        stats.filed += 1
        if ticket.first_response_at is not None:
            stats.first_hours.append(_hours(ticket.first_response_at - ticket.created_at))
        resolved = _resolved_at(ticket)
        if resolved is not None:
            stats.resolution_hours.append(_hours(resolved - ticket.created_at))
        clock = self._schedule.clock(ticket, now)
        if clock is None:
            return
        due = clock.deadlines
        breached = False
        answered = ticket.first_response_at
        if answered is not None or now > due.first_response_due:
            stats.first_due += 1
            if answered is not None and answered <= due.first_response_due:
                stats.first_met += 1
            else:
                breached = True
        if resolved is not None or now > due.resolution_due:
            stats.resolution_due += 1
            if resolved is not None and resolved <= due.resolution_due:
                stats.resolution_met += 1
            else:
                breached = True
        stats.breaches += breached


def _concerns(article: Article | None, departments: frozenset[str] | None) -> bool:
    """Whether the article is one of these departments' (an article no longer in the
    help centre: only in the whole desk's figures)."""
    if departments is None:
        return True
    return article is not None and not departments.isdisjoint(article.departments)


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "—"


def _share(met: int, due: int) -> str:
    return f"{round(100 * met / due)} %" if due else "—"


def _counted(key: str, count: int) -> Text:
    """A number of something as a phrase with its own plural forms ("3 otevřené")."""
    return Text(key, {"count": count})


def report_replies(report: Report) -> list[Reply]:
    """The report as text: a header, a line per department, the agents' ratings."""
    out = [Reply("stats.header", {"days": report.days})]
    for s in report.departments:
        rate = s.deflection_rate
        out.append(
            Reply(
                "stats.department",
                {
                    "department": _department_label(s.department),
                    "open": _counted("stats.count.open", s.open),
                    "filed": _counted("stats.count.filed", s.filed),
                    "deflected": _counted("stats.count.deflected", s.deflected),
                    "deflection": f"{round(100 * rate)} %" if rate is not None else "—",
                    "first": _median(s.first_hours),
                    "first_met": _share(s.first_met, s.first_due),
                    "resolution": _median(s.resolution_hours),
                    "resolution_met": _share(s.resolution_met, s.resolution_due),
                    "breaches": _counted("stats.count.breaches", s.breaches),
                    "rating": f"{statistics.fmean(s.ratings):.1f}" if s.ratings else "—",
                    "ratings": _counted("stats.count.ratings", len(s.ratings)),
                },
            )
        )
    if not report.departments:
        out.append(Reply("stats.nothing"))
    for agent in report.agents:
        out.append(
            Reply(
                "stats.agent",
                {"agent": agent.agent, "rating": f"{agent.average:.1f}", "count": agent.count},
            )
        )
    if report.articles:
        out.append(Reply("stats.articles"))
    for article in report.articles[:ARTICLES_SHOWN]:
        reasons = {r.value: article.reasons.get(r.value, 0) for r in FeedbackReason}
        out.append(
            Reply(
                "stats.article",
                {
                    "title": article.title,
                    "lang": article.lang,
                    "helpful": _counted("stats.count.helpful", article.helpful),
                    "not_helpful": _counted("stats.count.not_helpful", article.not_helpful),
                    **reasons,
                },
            )
        )
    return out


def _department_label(key: str) -> Text:
    return Text(f"department.{key}")


def chart_png(report: Report, translator: Translator, lang: str) -> bytes:
    """The report as a PNG bar chart (matplotlib, no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [translator.text(f"department.{s.department}", lang) for s in report.departments]
    shown = report.articles[:ARTICLES_SHOWN]
    figure = Figure(figsize=(8, 9 if shown else 6), dpi=100)
    rows = figure.subplots(3 if shown else 2, 1)
    counts, times = rows[0], rows[1]
    width = 0.2
    series = [
        ("stats.chart.open", [s.open for s in report.departments]),
        ("stats.chart.filed", [s.filed for s in report.departments]),
        ("stats.chart.deflected", [s.deflected for s in report.departments]),
        ("stats.chart.breaches", [s.breaches for s in report.departments]),
    ]
    for i, (key, values) in enumerate(series):
        positions = [x + (i - 1.5) * width for x in range(len(labels))]
        counts.bar(positions, values, width, label=translator.text(key, lang))
    counts.set_xticks(range(len(labels)), labels)
    counts.set_title(translator.text("stats.chart.title", lang, {"days": report.days}))
    counts.legend(fontsize="small")
    shares: list[tuple[str, list[float]]] = [
        ("stats.chart.first_met", [_ratio(s.first_met, s.first_due) for s in report.departments]),
        (
            "stats.chart.resolution_met",
            [_ratio(s.resolution_met, s.resolution_due) for s in report.departments],
        ),
        (
            "stats.chart.satisfaction",
            [
                (statistics.fmean(s.ratings) / 5 * 100) if s.ratings else 0
                for s in report.departments
            ],
        ),
    ]
    for i, (key, share) in enumerate(shares):
        positions = [x + (i - 1) * width for x in range(len(labels))]
        times.bar(positions, share, width, label=translator.text(key, lang))
    times.set_xticks(range(len(labels)), labels)
    times.set_ylim(0, 100)
    times.set_ylabel("%")
    times.legend(fontsize="small")
    if shown:
        _articles_chart(rows[2], shown, translator, lang)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _articles_chart(
    axes: Any, shown: Sequence[ArticleStats], translator: Translator, lang: str
) -> None:
    """Helpful and not helpful per article, as horizontal bars (the most "no" on top)."""
    labels = [_short(f"{a.title} [{a.lang}]") for a in shown]
    positions = list(range(len(shown)))[::-1]
    height = 0.4
    axes.barh(
        [p + height / 2 for p in positions],
        [a.helpful for a in shown],
        height,
        label=translator.text("stats.chart.helpful", lang),
    )
    axes.barh(
        [p - height / 2 for p in positions],
        [a.not_helpful for a in shown],
        height,
        label=translator.text("stats.chart.not_helpful", lang),
    )
    axes.set_yticks(positions, labels, fontsize="small")
    axes.set_title(translator.text("stats.chart.articles", lang))
    axes.legend(fontsize="small")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ratio(met: int, due: int) -> float:
    return 100 * met / due if due else 0.0
