"""In-memory implementations of the desk's ports, for unit tests of the core.

They honour the contracts of ``bot.ports``: a unit of work only publishes its
changes on commit, ticket numbers are assigned on add.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from bot.account import Account
from bot.customer import Customer, Profile
from bot.dialog import TicketBrief
from bot.errors import ConcurrentUpdate, DuplicateEscalation, DuplicateUpdate, TicketNotFound
from bot.held import HeldMessage
from bot.incident import Incident, IncidentStatus
from bot.inputs import UpdateRef
from bot.knowledge.article import Article, Feedback, FeedbackCounts
from bot.knowledge.ranking import NO_STATS, Candidate, CorpusStats, Matches
from bot.notification import Notification
from bot.paging import Page
from bot.participant import Participant
from bot.ports import Deflection, SearchDocument
from bot.ticket import Status, Ticket


@dataclass
class Db:
    tickets: dict[int, Ticket] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    customers: dict[Participant, Customer] = field(default_factory=dict)
    outbox: list[Notification] = field(default_factory=list)
    inbox: dict[UpdateRef, datetime] = field(default_factory=dict)
    answers: dict[UpdateRef, list[Any] | None] = field(default_factory=dict)
    quota: dict[tuple[str, datetime], int] = field(default_factory=dict)
    once: set[tuple[str, str]] = field(default_factory=set)
    # Held messages: (participant, update key, message), in the order they came.
    held: list[tuple[Participant, str, HeldMessage]] = field(default_factory=list)
    # participant -> its person's key; code -> (who issued it, until when)
    people: dict[Participant, str] = field(default_factory=dict)
    link_codes: dict[str, tuple[Participant, datetime]] = field(default_factory=dict)
    next_number: int = 1
    articles: dict[tuple[str, str], Article] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    documents: dict[str, list[SearchDocument]] = field(default_factory=dict)
    deflections: list[Deflection] = field(default_factory=list)
    feedback: dict[tuple[str, str, str], Feedback] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    incident_of: dict[int, int] = field(default_factory=dict)


class _Tickets:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, ticket: Ticket) -> int:
        if ticket.origin.post_ref and any(
            t.origin.post_ref == ticket.origin.post_ref for t in self.db.tickets.values()
        ):
            raise DuplicateEscalation(ticket.origin.post_ref)
        ticket.number = self.db.next_number
        self.db.next_number += 1
        self.db.tickets[ticket.number] = ticket
        return ticket.number

    async def get(self, number: int) -> Ticket:
        try:
            return copy.deepcopy(self.db.tickets[number])
        except KeyError:
            raise TicketNotFound(f"#{number}", number=number) from None

    async def get_many(self, numbers: Collection[int]) -> list[Ticket]:
        return [copy.deepcopy(self.db.tickets[n]) for n in set(numbers) if n in self.db.tickets]

    async def save(self, ticket: Ticket) -> None:
        assert ticket.number is not None
        stored = self.db.tickets.get(ticket.number)
        if stored is None:
            raise TicketNotFound(f"#{ticket.number}", number=ticket.number)
        if stored.version != ticket.version:
            raise ConcurrentUpdate(f"#{ticket.number} changed meanwhile", number=ticket.number)
        ticket.version += 1
        self.db.tickets[ticket.number] = copy.deepcopy(ticket)

    async def briefs(
        self, customer: Participant, statuses: frozenset[Status]
    ) -> list[TicketBrief]:
        return [_brief(t) for t in await self.for_customer(customer, statuses)]

    async def brief(self, number: int) -> TicketBrief | None:
        ticket = self.db.tickets.get(number)
        return _brief(ticket) if ticket is not None else None

    async def waiting_since(self, customer: Participant) -> list[tuple[int, datetime]]:
        out = []
        for t in await self.for_customer(customer, frozenset({Status.WAITING})):
            asked = [h.at for h in t.history if h.new is Status.WAITING]
            if asked and t.number is not None:
                out.append((t.number, max(asked)))
        return sorted(out)

    def _sorted(self, tickets: list[Ticket], newest: bool = True) -> list[Ticket]:
        return sorted(tickets, key=lambda t: t.number or 0, reverse=newest)

    async def for_customer(
        self,
        customer: Participant,
        statuses: frozenset[Status] | None = None,
        *,
        page: Page | None = None,
        linked: Iterable[Participant] = (),
    ) -> list[Ticket]:
        people = {customer, *linked}
        found = [
            t
            for t in self.db.tickets.values()
            if t.customer in people and (statuses is None or t.status in statuses)
        ]
        return _page(self._sorted([copy.deepcopy(t) for t in found]), page)

    async def for_account(
        self,
        support_number: str,
        statuses: frozenset[Status] | None = None,
        *,
        customer: Participant | None = None,
        page: Page | None = None,
    ) -> list[Ticket]:
        found = [
            t
            for t in self.db.tickets.values()
            if t.support_number == support_number
            and (statuses is None or t.status in statuses)
            and (customer is None or t.customer == customer)
        ]
        return _page(self._sorted([copy.deepcopy(t) for t in found]), page)

    async def queue(
        self,
        departments: frozenset[str] | None,
        statuses: frozenset[Status],
        *,
        page: Page | None = None,
    ) -> list[Ticket]:
        found = [
            copy.deepcopy(t)
            for t in self.db.tickets.values()
            if (departments is None or t.department in departments) and t.status in statuses
        ]
        found.sort(key=lambda t: (-int(t.priority), t.queue_due or t.created_at, t.number or 0))
        return _page(found, page)

    async def count_for_customer(
        self, customer: Participant, linked: Iterable[Participant] = ()
    ) -> dict[Status, int]:
        people = {customer, *linked}
        return _counts(t for t in self.db.tickets.values() if t.customer in people)

    async def count_for_account(
        self, support_number: str, customer: Participant | None = None
    ) -> dict[Status, int]:
        return _counts(
            t
            for t in self.db.tickets.values()
            if t.support_number == support_number and (customer is None or t.customer == customer)
        )

    async def count_queue(self, departments: frozenset[str] | None) -> dict[Status, int]:
        return _counts(
            t
            for t in self.db.tickets.values()
            if t.is_open and (departments is None or t.department in departments)
        )

    async def people_of_account(self, support_number: str) -> list[tuple[Participant, str]]:
        people: dict[Participant, str] = {}
        for t in self.db.tickets.values():
            if t.support_number == support_number:
                people.setdefault(t.customer, t.customer_name or t.customer.external_id)
        return sorted(people.items(), key=lambda p: (p[1], p[0].external_id))

    async def without_queue_due(self, limit: int = 500) -> list[Ticket]:
        found = [t for t in self.db.tickets.values() if t.is_open and t.queue_due is None]
        return [copy.deepcopy(t) for t in found[:limit]]

    async def by_post(self, post_ref: str) -> Ticket | None:
        for t in self.db.tickets.values():
            if t.origin.post_ref == post_ref:
                return copy.deepcopy(t)
        return None

    async def count_opened(
        self,
        support_number: str,
        since: datetime,
        until: datetime,
        exclude_department: str | None = None,
    ) -> int:
        return sum(
            1
            for t in self.db.tickets.values()
            if t.support_number == support_number
            and since <= t.created_at < until
            and t.department != exclude_department
        )

    async def claim_due(
        self, now: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[int, datetime]]:
        found = [t for t in self.db.tickets.values() if t.next_check_at and t.next_check_at <= now]
        found.sort(key=lambda t: t.next_check_at or now)
        claimed = []
        for t in found[:limit]:
            assert t.number is not None
            t.next_check_at = until
            claimed.append((t.number, until))
        return sorted(claimed)

    async def open_by_department(self, departments: frozenset[str] | None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.db.tickets.values():
            if t.is_open and (departments is None or t.department in departments):
                counts[t.department] = counts.get(t.department, 0) + 1
        return counts

    async def filed_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[Ticket]:
        return [
            copy.deepcopy(t)
            for _, t in sorted(self.db.tickets.items())
            if t.created_at >= since and (departments is None or t.department in departments)
        ]

    async def ratings_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[tuple[str, str, int]]:
        return [
            (t.department, t.assignee_name, t.rating.score)
            for _, t in sorted(self.db.tickets.items())
            if t.rating is not None
            and t.rating.at >= since
            and (departments is None or t.department in departments)
        ]

    async def changed_since(self, after: tuple[datetime, int] | None, limit: int) -> list[Ticket]:
        def key(t: Ticket) -> tuple[datetime, int]:
            return (t.updated_at or t.created_at, t.number or 0)

        changed = sorted(
            (t for t in self.db.tickets.values() if after is None or key(t) > after), key=key
        )
        return [copy.deepcopy(t) for t in changed[:limit]]

    async def recent(self, limit: int = 50, status: Status | None = None) -> list[Ticket]:
        found = [t for t in self.db.tickets.values() if status is None or t.status is status]
        return self._sorted(found)[:limit]


class _Accounts:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def get(self, support_number: str) -> Account | None:
        return self.db.accounts.get(support_number)

    async def put(self, account: Account) -> None:
        self.db.accounts[account.support_number] = account

    async def all(self) -> list[Account]:
        return list(self.db.accounts.values())


class _Customers:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def get(self, participant: Participant) -> Customer | None:
        return copy.deepcopy(self.db.customers.get(participant))

    async def profile(self, participant: Participant) -> Profile:
        customer = await self.get(participant)
        if customer is None:
            return Profile(None)
        awaited = any(
            t.customer == participant and t.status is Status.WAITING
            for t in self.db.tickets.values()
        )
        account = self.db.accounts.get(customer.support_number)
        held = any(who == participant for who, _, _ in self.db.held)
        return Profile(customer, account if customer.support_number else None, awaited, held=held)

    async def put(self, customer: Customer) -> None:
        self.db.customers[customer.participant] = customer

    async def add(self, customer: Customer) -> None:
        self.db.customers.setdefault(customer.participant, customer)

    async def create(self, customer: Customer) -> None:
        if customer.participant in self.db.customers:
            raise ConcurrentUpdate(customer.participant.key)
        self.db.customers[customer.participant] = customer

    async def in_conversation(self, limit: int) -> list[Participant]:
        found = [c.participant for c in self.db.customers.values() if c.conversation]
        return found[:limit]

    async def mark_unreachable(self, participant: Participant) -> bool:
        found = self.db.customers.get(participant)
        if found is None or found.unreachable:
            return False
        self.db.customers[participant] = replace(found, unreachable=True)
        return True


class _Outbox:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, notification: Notification) -> None:
        self.db.outbox.append(notification)


class _Inbox:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def record(
        self, update: UpdateRef, at: datetime, answer: list[Any] | None = None
    ) -> None:
        if update in self.db.inbox:
            raise DuplicateUpdate(str(update))
        self.db.inbox[update] = at
        self.db.answers[update] = copy.deepcopy(answer)

    async def seen(self, update: UpdateRef) -> bool:
        return update in self.db.inbox

    async def answer(self, update: UpdateRef) -> list[Any] | None:
        return copy.deepcopy(self.db.answers.get(update))

    async def forget(self, before: datetime) -> int:
        old = [u for u, at in self.db.inbox.items() if at < before]
        for update in old:
            del self.db.inbox[update]
        return len(old)


class _Held:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def hold(self, who: Participant, update: str, message: HeldMessage, keep: int) -> bool:
        if sum(1 for w, _, _ in self.db.held if w == who) >= keep:
            return False
        if all(u != update for _, u, _ in self.db.held):
            self.db.held.append((who, update, message))
        return True

    async def take(self, who: Participant) -> list[HeldMessage]:
        mine = [m for w, _, m in self.db.held if w == who]
        self.db.held = [h for h in self.db.held if h[0] != who]
        return mine

    async def due(self, before: datetime, limit: int = 100) -> list[Participant]:
        first: dict[Participant, datetime] = {}
        for who, _, message in self.db.held:
            first.setdefault(who, message.at)
        return [who for who, at in first.items() if at < before][:limit]


class _Quota:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def used(self, support_number: str, month: datetime) -> int | None:
        return self.db.quota.get((support_number, month))

    async def take(
        self, support_number: str, month: datetime, count: int, limit: int, start: int | None
    ) -> int | None:
        if start is not None:
            self.db.quota.setdefault((support_number, month), start)
        used = self.db.quota.get((support_number, month))
        if used is None:
            return None
        if used + count > limit:
            return None
        self.db.quota[(support_number, month)] = used + count
        return used + count

    async def used_once(self, support_number: str, keys: Collection[str]) -> frozenset[str]:
        return frozenset(k for k in keys if (support_number, k) in self.db.once)

    async def take_once(self, support_number: str, key: str) -> bool:
        if (support_number, key) in self.db.once:
            return False
        self.db.once.add((support_number, key))
        return True


class _Search:
    """The search port in memory: any shared term makes a candidate, as FTS does."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def replace(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        self.db.documents[collection] = list(documents)

    async def put(self, collection: str, documents: Sequence[SearchDocument]) -> None:
        keys = {d.key for d in documents}
        kept = [d for d in self.db.documents.get(collection, []) if d.key not in keys]
        self.db.documents[collection] = kept + list(documents)

    async def watermark(self, collection: str) -> str:
        return self.db.fingerprints.get(collection, "")

    async def set_watermark(self, collection: str, value: str) -> None:
        self.db.fingerprints[collection] = value

    def _docs(self, collection: str, langs: Collection[str]) -> list[SearchDocument]:
        return [d for d in self.db.documents.get(collection, []) if d.lang in langs]

    async def matches(
        self,
        collection: str,
        terms: Collection[str],
        *,
        langs: Collection[str],
        scope: str | None = None,
        limit: int = 500,
    ) -> Matches:
        docs = self._docs(collection, langs)
        found = [
            Candidate(d.key, d.lang, d.title, d.keywords, d.body)
            for d in reversed(docs)
            if (scope is None or scope in d.scope)
            and set(terms) & {*d.title, *d.keywords, *d.body}
        ][:limit]
        if not found:
            return Matches((), NO_STATS)
        lengths = [len(d.title) + len(d.keywords) + len(d.body) for d in docs]
        stats = CorpusStats(
            documents=len(docs),
            average_length=sum(lengths) / len(lengths),
            frequencies={
                t: sum(t in {*d.title, *d.keywords, *d.body} for d in docs) for t in terms
            },
        )
        return Matches(found, stats)

    async def vocabulary(self, collection: str, lang: str) -> set[str]:
        docs = self._docs(collection, (lang,))
        return {t for d in docs for t in (*d.title, *d.keywords, *d.body)}


class _Articles:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def replace(self, articles: Sequence[Article], fingerprint: str) -> None:
        self.db.articles = {(a.slug, a.lang): a for a in articles}
        self.db.fingerprints["help"] = fingerprint

    async def fingerprint(self, *, lock: bool = False) -> str:
        return self.db.fingerprints.get("help", "")

    async def get(self, keys: Sequence[tuple[str, str]]) -> list[Article]:
        return [self.db.articles[k] for k in keys if k in self.db.articles]

    async def all(self) -> list[Article]:
        return [self.db.articles[k] for k in sorted(self.db.articles, key=lambda k: (k[1], k[0]))]

    async def record_deflection(self, deflection: Deflection) -> None:
        self.db.deflections.append(deflection)

    async def deflections(self, since: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.db.deflections:
            if d.at >= since:
                counts[d.department] = counts.get(d.department, 0) + 1
        return counts

    async def record_feedback(self, feedback: Feedback) -> None:
        self.db.feedback[(feedback.customer, feedback.slug, feedback.lang)] = feedback

    async def feedback(self, since: datetime | None = None) -> list[FeedbackCounts]:
        by_article: dict[tuple[str, str], list[Feedback]] = {}
        for f in sorted(self.db.feedback.values(), key=lambda f: f.at, reverse=True):
            if since is not None and f.at < since:
                continue
            by_article.setdefault((f.slug, f.lang), []).append(f)
        out = []
        for (slug, lang), answers in by_article.items():
            reasons: dict[str, int] = {}
            for f in answers:
                if not f.helpful and f.reason is not None:
                    reasons[f.reason.value] = reasons.get(f.reason.value, 0) + 1
            comments = tuple(f.comment for f in answers if f.comment)[:3]
            yes = sum(f.helpful for f in answers)
            out.append(FeedbackCounts(slug, lang, yes, len(answers) - yes, reasons, comments))
        out.sort(key=lambda c: (-c.not_helpful, -c.helpful, c.slug, c.lang))
        return out


class _Incidents:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, incident: Incident) -> int:
        number = max(self.db.incidents, default=0) + 1
        self.db.incidents[number] = replace(incident, id=number, tickets=())
        return number

    async def get(self, incident_id: int) -> Incident | None:
        found = self.db.incidents.get(incident_id)
        if found is None:
            return None
        tickets = tuple(sorted(n for n, i in self.db.incident_of.items() if i == incident_id))
        return replace(found, tickets=tickets)

    async def open_in(self, departments: frozenset[str] | None) -> list[Incident]:
        return [
            i
            for _, i in sorted(self.db.incidents.items(), reverse=True)
            if i.status is IncidentStatus.OPEN
            and (departments is None or set(i.departments) & departments)
        ]

    async def link(self, incident_id: int, number: int) -> None:
        self.db.incident_of[number] = incident_id

    async def resolve(self, incident_id: int, at: datetime) -> None:
        incident = self.db.incidents[incident_id]
        self.db.incidents[incident_id] = replace(
            incident, status=IncidentStatus.RESOLVED, resolved_at=at
        )

    async def of_ticket(self, number: int) -> int | None:
        return self.db.incident_of.get(number)


def _brief(ticket: Ticket) -> TicketBrief:
    assert ticket.number is not None
    return TicketBrief(
        number=ticket.number,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        department=ticket.department,
        category=ticket.category,
    )


class _People:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def issue(self, who: Participant, code: str, until: datetime) -> None:
        self.db.link_codes = {c: v for c, v in self.db.link_codes.items() if v[0] != who}
        self.db.link_codes[code] = (who, until)

    async def redeem(self, code: str, now: datetime) -> Participant | None:
        found = self.db.link_codes.pop(code, None)
        return found[0] if found is not None and found[1] >= now else None

    async def link(self, one: Participant, other: Participant) -> None:
        person = self.db.people.get(one, one.key)
        previous = self.db.people.get(other)
        for who, theirs in list(self.db.people.items()):
            if previous is not None and theirs == previous:
                self.db.people[who] = person
        self.db.people[one] = self.db.people[other] = person

    async def linked(self, who: Participant) -> list[Participant]:
        person = self.db.people.get(who)
        if person is None:
            return []
        return sorted(
            (p for p, theirs in self.db.people.items() if theirs == person and p != who),
            key=lambda p: p.key,
        )


class FakeUnitOfWork:
    def __init__(self, committed: Db) -> None:
        self._committed = committed
        self._work = copy.deepcopy(committed)
        self.tickets = _Tickets(self._work)
        self.accounts = _Accounts(self._work)
        self.customers = _Customers(self._work)
        self.outbox = _Outbox(self._work)
        self.inbox = _Inbox(self._work)
        self.quota = _Quota(self._work)
        self.held = _Held(self._work)
        self.people = _People(self._work)
        self.search = _Search(self._work)
        self.articles = _Articles(self._work)
        self.incidents = _Incidents(self._work)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        self._committed.__dict__.update(copy.deepcopy(self._work).__dict__)

    async def rollback(self) -> None:
        self._work.__dict__.update(copy.deepcopy(self._committed).__dict__)


class FakeUnitOfWorkFactory:
    def __init__(self) -> None:
        self.db = Db()

    def __call__(self, *, read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)


def _page(tickets: list[Ticket], page: Page | None) -> list[Ticket]:
    return tickets if page is None else tickets[page.offset : page.offset + page.size]


def _counts(tickets: Iterable[Ticket]) -> dict[Status, int]:
    counts: dict[Status, int] = {}
    for t in tickets:
        counts[t.status] = counts.get(t.status, 0) + 1
    return counts
