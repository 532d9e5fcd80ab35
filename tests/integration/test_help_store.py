"""The help centre's records on the real stores: feedback (one answer per customer and
article, counted per article) and deflected requests per department."""

from __future__ import annotations

from datetime import timedelta

from store_support import T0, Backend, make_ticket

from bot.incident import Incident, IncidentStatus
from bot.knowledge.article import Feedback, FeedbackReason
from bot.knowledge.ticket_search import catch_up, find
from bot.ports import Deflection
from bot.ticket import EntryKind, Rating, Status, ThreadEntry


async def test_feedback_is_one_answer_per_customer_and_counted_per_article(
    backend: Backend,
) -> None:
    answers = [
        Feedback(T0, "telegram:1", "site-down", "en", True),
        Feedback(T0, "telegram:2", "site-down", "en", False, FeedbackReason.OUTDATED),
        Feedback(T0, "telegram:3", "site-down", "en", False, FeedbackReason.OTHER, "Old menu"),
        Feedback(T0, "telegram:1", "payment-failed", "cs", True),
        # Customer 1 changes their mind about site-down: replaces their yes.
        Feedback(T0 + timedelta(minutes=1), "telegram:1", "site-down", "en", False,
                 FeedbackReason.UNCLEAR),
    ]  # fmt: skip
    for feedback in answers:
        async with backend.uow() as uow:
            await uow.articles.record_feedback(feedback)
            await uow.commit()
    async with backend.uow() as uow:
        counts = await uow.articles.feedback()
    assert [(c.lang, c.slug, c.helpful, c.not_helpful) for c in counts] == [
        ("en", "site-down", 0, 3),
        ("cs", "payment-failed", 1, 0),
    ]
    assert counts[0].reasons == {"outdated": 1, "other": 1, "unclear": 1}
    assert counts[0].comments == ("Old menu",)
    # A period's answers only (a lead's /stats): the one changed a minute later.
    async with backend.uow() as uow:
        recent = await uow.articles.feedback(T0 + timedelta(seconds=30))
    assert [(c.slug, c.helpful, c.not_helpful, c.reasons) for c in recent] == [
        ("site-down", 0, 1, {"unclear": 1})
    ]


async def test_deflections_are_counted_per_department_since_a_time(backend: Backend) -> None:
    async with backend.uow() as uow:
        for minutes, department in ((0, "sales"), (10, "sales"), (20, "technical")):
            await uow.articles.record_deflection(
                Deflection(T0 + timedelta(minutes=minutes), "telegram:1", department, "bug")
            )
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.articles.deflections(T0) == {"sales": 2, "technical": 1}
        assert await uow.articles.deflections(T0 + timedelta(minutes=5)) == {
            "sales": 1,
            "technical": 1,
        }


async def test_a_tickets_rating_is_saved_with_it(backend: Backend) -> None:
    ticket = make_ticket(status=Status.CLOSED)
    async with backend.uow() as uow:
        number = await uow.tickets.add(ticket)
        await uow.commit()
    async with backend.uow() as uow:
        stored = await uow.tickets.get(number)
        stored.rate(4, T0 + timedelta(hours=1))
        stored.comment_rating("Quick «help»")
        await uow.tickets.save(stored)
        await uow.commit()
    async with backend.uow() as uow:
        again = await uow.tickets.get(number)
    assert again.rating == Rating(4, T0 + timedelta(hours=1), "Quick «help»")


async def test_ticket_search_catches_up_with_changes_and_keeps_to_departments(
    backend: Backend,
) -> None:
    tickets = [
        make_ticket(title="Printer prints nothing", updated_at=T0, locale="en"),
        make_ticket(
            title="Faktura dvakrát", department="sales", updated_at=T0, locale="cs",
            description="Platba za fakturu byla stržena dvakrát.",
        ),
        make_ticket(title="Cart is empty", updated_at=T0 + timedelta(minutes=1), locale="en"),
    ]  # fmt: skip
    async with backend.uow() as uow:
        numbers = [await uow.tickets.add(t) for t in tickets]
        await uow.commit()
    languages = ("en", "cs", "pl", "ru")
    async with backend.uow() as uow:
        assert await catch_up(uow) == 3
        assert await find(uow, "faktury platby", languages, None) == [numbers[1]]
        assert await find(uow, "faktury", languages, frozenset({"technical"})) == []
        await uow.commit()
    async with backend.uow() as uow:
        cart = await uow.tickets.get(numbers[2])
        cart.add_entry(
            ThreadEntry(EntryKind.CUSTOMER, "Broken in Firefox", T0 + timedelta(hours=1))
        )
        await uow.tickets.save(cart)
        await uow.commit()
    async with backend.uow() as uow:
        assert await catch_up(uow) == 1  # only what changed since
        technical = frozenset({"technical"})
        both = await find(uow, "firefox printer", languages, technical)
        assert sorted(both) == [numbers[0], numbers[2]]
        assert await find(uow, "firefox", languages, frozenset({"technical"})) == [numbers[2]]
        await uow.commit()


async def test_incidents_their_tickets_and_their_end(backend: Backend) -> None:
    async with backend.uow() as uow:
        first = await uow.incidents.add(Incident("Checkout down", ("technical",), "eva", T0))
        second = await uow.incidents.add(
            Incident("Invoices doubled", ("sales", "technical"), "sam", T0)
        )
        await uow.incidents.link(first, 7)
        await uow.incidents.link(first, 3)
        await uow.incidents.link(second, 9)
        await uow.incidents.link(second, 3)  # a ticket belongs to one incident: moved
        await uow.commit()
    async with backend.uow() as uow:
        got = await uow.incidents.get(first)
        assert got is not None and got.tickets == (7,) and got.departments == ("technical",)
        assert [i.id for i in await uow.incidents.open_in(frozenset({"technical"}))] == [
            second,
            first,
        ]
        assert [i.id for i in await uow.incidents.open_in(frozenset({"sales"}))] == [second]
        assert await uow.incidents.of_ticket(3) == second
        assert await uow.incidents.get(999) is None
        await uow.incidents.resolve(first, T0 + timedelta(hours=2))
        await uow.commit()
    async with backend.uow() as uow:
        assert [i.id for i in await uow.incidents.open_in(None)] == [second]
        ended = await uow.incidents.get(first)
        assert ended is not None and ended.status is IncidentStatus.RESOLVED
        assert ended.resolved_at == T0 + timedelta(hours=2)
