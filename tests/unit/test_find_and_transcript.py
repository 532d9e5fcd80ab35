"""``/find WORDS`` over the departments' tickets and the transcript file, through the
ticket service on in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.clock import ManualClock
from bot.commands import AnswerCustomer, ResolveTicket, TicketDraft, WriteToTicket
from bot.customer import Customer
from bot.i18n import Translator
from bot.participant import Participant
from bot.policy import load_policy
from bot.tickets import TicketService
from bot.transcript import export, markdown_escape
from tests.unit.fakes import FakeUnitOfWorkFactory
from tests.unit.test_tickets import agent, customer_actor

POLICY = load_policy()
ALICE = Participant("telegram", "100")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


@pytest.fixture
def service(clock: ManualClock) -> TicketService:
    return TicketService(FakeUnitOfWorkFactory(), POLICY, clock)


async def _file(service: TicketService, category: str, title: str, text: str, lang: str) -> int:
    [ticket] = await service.open_tickets(
        Customer(ALICE, name="Alice", locale=lang),
        (TicketDraft(category=category, title=title, description=text),),
        "telegram",
    )
    assert ticket.number is not None
    return ticket.number


async def test_find_ranks_an_agents_department_tickets_in_every_language(
    service: TicketService, clock: ManualClock
) -> None:
    printer = await _file(
        service, "bug", "Tiskárna netiskne", "Modul tisku faktur nic netiskne.", "cs"
    )
    cart = await _file(service, "bug", "Empty cart", "The cart forgets products at login.", "en")
    invoice = await _file(service, "payment", "Invoice twice", "We paid the invoice twice.", "en")
    tech = agent("eva", "technical")
    # Czech words without diacritics find the Czech ticket; the sales one stays hidden.
    assert [t.number for t in await service.find(tech, "tiskarna faktury")] == [printer]
    assert [t.number for t in await service.find(tech, "invoices")] == []
    lead = agent("lea", lead=True)
    assert [t.number for t in await service.find(lead, "invoices")] == [invoice]
    # What is written later is found too (the index catches up before each search).
    clock.advance(minutes=5)
    await service.execute(
        customer_actor(ALICE), WriteToTicket(number=cart, text="Still broken in Firefox")
    )
    assert [t.number for t in await service.find(tech, "firefox")] == [cart]
    assert await service.find(tech, "nothing like this") == []


async def test_the_transcript_file_escapes_what_people_wrote_and_shows_local_times(
    service: TicketService, clock: ManualClock
) -> None:
    n = await _file(service, "bug", "Cart <b>empty</b>", "Items *vanish* & [link](x)", "en")
    await service.execute(agent(), AnswerCustomer(number=n, text="Try <script>x</script>"))
    await service.execute(agent(), ResolveTicket(number=n, text="Fixed"))
    ticket = await service.get(n)
    replies = await service.transcript(n)
    translator = Translator.load(POLICY.labels())
    html = export(ticket, replies, translator, "en", "html").data.decode()
    assert "<title>#1 Cart &lt;b&gt;empty&lt;/b&gt;</title>" in html
    assert "Try &lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "Times are in the Prague time zone." in html
    # 09:00 UTC in November is 10:00 in Prague.
    assert "[Nov 23, 2026, 10:00\u202fAM] agent eva: Try" in html
    assert "Resolved, awaiting confirmation" in html
    md = export(ticket, replies, translator, "en", "md")
    text = md.data.decode()
    assert md.name == "ticket-1.md" and md.mime_type == "text/markdown"
    assert "Items \\*vanish\\* & \\[link\\]\\(x\\)" in text
    assert text.startswith("# \\#1 Cart \\<b\\>empty\\</b\\>\n")
    assert markdown_escape("a_b") == "a\\_b"
    with pytest.raises(ValueError):
        export(ticket, replies, translator, "en", "pdf")
