"""The lead's dashboard from data the desk made: open, filed, deflected, first response
and resolution against their SLA targets, breaches, satisfaction per department and
agent; and its chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import AnswerCustomer, ConfirmResolution, RateTicket, ResolveTicket, TicketDraft
from bot.customer import Customer
from bot.i18n import Translator
from bot.knowledge.article import Article, Feedback, FeedbackReason
from bot.participant import Actor, Participant, Role
from bot.policy import load_policy
from bot.ports import Deflection
from bot.schedule import Schedule
from bot.stats import StatsService, chart_png, parse_period, report_replies
from bot.tickets import TicketService
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
EVA = Actor(Participant("telegram", "900"), "eva", Role.AGENT, frozenset({"technical"}))
# Monday 9:00 in Prague: within the technical team's hours.
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def _desk() -> tuple[FakeUnitOfWorkFactory, TicketService, ManualClock, StatsService]:
    uow = FakeUnitOfWorkFactory()
    clock = ManualClock(START)
    schedule = Schedule(POLICY)
    tickets = TicketService(uow, POLICY, clock, Announcer(POLICY), schedule)
    return uow, tickets, clock, StatsService(uow, schedule, clock)


async def _file(tickets: TicketService, who: str, category: str = "bug") -> int:
    customer = Customer(Participant("telegram", who), name=who)
    draft = TicketDraft(category=category, title="Checkout down", description="Error 500")
    [ticket] = await tickets.open_tickets(customer, (draft,), "telegram")
    assert ticket.number is not None
    return ticket.number


async def test_the_report_counts_what_happened_per_department_and_agent() -> None:
    uow, tickets, clock, stats = await _desk()
    answered = await _file(tickets, "1")
    await _file(tickets, "2")  # never answered: breaches its first response
    await _file(tickets, "3", "payment")
    clock.advance(hours=1)
    await tickets.execute(EVA, AnswerCustomer(number=answered, text="On it"))
    await tickets.execute(EVA, ResolveTicket(number=answered, text="Fixed"))
    customer = Actor(Participant("telegram", "1"), "1", Role.CUSTOMER)
    await tickets.execute(customer, ConfirmResolution(number=answered))
    await tickets.execute(customer, RateTicket(number=answered, score=4))
    async with uow() as unit:
        for _ in range(2):
            await unit.articles.record_deflection(
                Deflection(clock.now(), "telegram:9", "technical", "bug", "site-down", "en")
            )
        await unit.commit()
    clock.advance(days=3)  # past the standard plan's 24 business hours
    report = await stats.report(None, 7)
    technical, sales = (
        next(s for s in report.departments if s.department == name)
        for name in ("technical", "sales")
    )
    assert (technical.open, technical.filed, technical.deflected) == (1, 2, 2)
    assert technical.deflection_rate == 0.5
    assert technical.first_hours == [1.0] and (technical.first_met, technical.first_due) == (1, 2)
    assert technical.resolution_hours == [1.0] and technical.resolution_met == 1
    assert technical.breaches == 1
    assert technical.ratings == [4]
    assert (sales.open, sales.filed, sales.ratings) == (1, 1, [])
    assert [(a.agent, a.average, a.count) for a in report.agents] == [("eva", 4.0, 1)]
    only_sales = await stats.report(frozenset({"sales"}), 7)
    assert [s.department for s in only_sales.departments] == ["sales"]

    translator = Translator.load(POLICY.labels())
    lines = [translator.reply(r, "en") for r in report_replies(report)]
    assert lines[0] == "The last 7 days (requests filed in them; open: now):"
    assert "Technical department: 1 open · 2 filed, 2 solved by an article (deflection 50 %)" in (
        lines[2] if lines[2].startswith("Technical") else lines[1]
    )
    assert any("satisfaction 4.0/5 (1 rating)" in line for line in lines)
    assert lines[-1] == "eva: satisfaction 4.0/5 (1 rating)"
    png = chart_png(report, translator, "cs")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_periods() -> None:
    assert [parse_period(t) for t in ("", "7d", "30D", "1y")] == [7, 7, 30, None]


async def test_the_report_has_the_help_articles_feedback_of_the_period_and_departments() -> None:
    uow, _, clock, stats = await _desk()
    site_down = Article("site-down", "en", "The shop is down", (), ("technical",), "")
    renew = Article("renew-support", "cs", "Prodloužení podpory", (), ("sales",), "")
    answers = [
        ("1", site_down, True, None),
        ("2", site_down, False, FeedbackReason.OUTDATED),
        ("3", site_down, False, FeedbackReason.OTHER),
        ("4", renew, False, FeedbackReason.UNCLEAR),
    ]
    async with uow() as unit:
        await unit.articles.replace([site_down, renew], "fp")
        # Long ago: not in the period.
        old = Feedback(clock.now() - timedelta(days=40), "telegram:9", "renew-support", "cs", True)
        await unit.articles.record_feedback(old)
        for who, article, helpful, reason in answers:
            await unit.articles.record_feedback(
                Feedback(
                    clock.now(), f"telegram:{who}", article.slug, article.lang, helpful, reason
                )
            )
        await unit.commit()
    report = await stats.report(None, 30)
    assert [(a.slug, a.helpful, a.not_helpful) for a in report.articles] == [
        ("site-down", 1, 2),
        ("renew-support", 0, 1),
    ]
    assert report.articles[0].reasons == {"outdated": 1, "other": 1}
    technical = await stats.report(frozenset({"technical"}), 30)
    assert [a.slug for a in technical.articles] == ["site-down"]

    translator = Translator.load(POLICY.labels())
    lines = [translator.reply(r, "en") for r in report_replies(technical)]
    assert lines[-2] == "Help articles, “Was this helpful?” (most “no” first):"
    assert lines[-1] == (
        "The shop is down [en]: 1 vote yes · 2 votes no (out of date ×1, unclear ×0, "
        "did not solve the problem ×0, other ×1)"
    )
    png = chart_png(technical, translator, "pl")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
