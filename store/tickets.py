"""SQL repository of the ticket aggregate."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialog import TicketBrief
from bot.errors import ConcurrentUpdate, DuplicateEscalation, TicketNotFound
from bot.paging import Page
from bot.participant import Participant
from bot.ticket import (
    OPEN_STATUSES,
    Attachment,
    DeclineReason,
    EntryKind,
    Origin,
    Priority,
    Quote,
    QuoteState,
    Rating,
    RequestType,
    ServiceTerms,
    Status,
    StatusChange,
    ThreadEntry,
    Ticket,
)
from store.driver import Prepared
from store.models import OPEN_TICKETS, AttachmentRow, EntryRow, StatusChangeRow, TicketRow

# How PostgreSQL (constraint name) and SQLite (columns) report a clash of two units
# appending to the same ticket.
_SEQ_CONSTRAINTS = (
    "uq_ticket_entries_ticket_number_seq",
    "uq_status_history_ticket_number_seq",
    "ticket_entries.seq",
    "status_history.seq",
)


# The writes of the hot path, built once on the tables (Core, not the ORM's bulk
# path); every value comes as a parameter. Building a fifty-column statement per call
# cost more than running it.
_TICKETS = cast(Table, TicketRow.__table__)
_ADD = insert(_TICKETS).returning(_TICKETS.c.number)
# The SET clause is the parameters' columns; the guard names its own parameters.
_SAVE = update(_TICKETS).where(
    _TICKETS.c.number == bindparam("w_number"), _TICKETS.c.version == bindparam("w_version")
)
_ADD_ENTRIES = insert(cast(Table, EntryRow.__table__))
_ADD_HISTORY = insert(cast(Table, StatusChangeRow.__table__))
_ADD_ATTACHMENTS = insert(cast(Table, AttachmentRow.__table__))
# The same, run on the driver where it can (store/driver.py): filing a ticket is a
# customer's step like any other.
_ADDING = Prepared(_ADD)
_SAVING = Prepared(_SAVE)
_ADDING_ENTRIES = Prepared(_ADD_ENTRIES)
_ADDING_HISTORY = Prepared(_ADD_HISTORY)
_ADDING_ATTACHMENTS = Prepared(_ADD_ATTACHMENTS)


@dataclass(slots=True)
class _Stored:
    """How much of a ticket's thread, history and files is already in the database.

    ``ticket`` is held so that ``id(ticket)``, the key of this record, cannot be reused
    by another object while the record exists.
    """

    ticket: Ticket
    entries: int
    history: int
    attachments: int


class SqlTicketRepository:
    """``bot.ports.TicketRepository`` on the unit of work's session.

    ``save`` writes the ticket only where it is still at the version it was loaded at
    (``WHERE version = :loaded``), then moves the version on, so a stale copy is refused
    with ``ConcurrentUpdate`` and overwrites nothing (the caller retries on a fresh copy).
    It appends only what was added to the ticket since it was loaded, added or last
    saved in this unit; the ``(ticket_number, seq)`` unique constraints back this up.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._stored: dict[int, _Stored] = {}

    def forget(self) -> None:
        """Drop what is known to be stored (after a rollback it no longer is)."""
        self._stored.clear()

    # -- writes ------------------------------------------------------------------------

    async def add(self, ticket: Ticket) -> int:
        if ticket.number is not None:
            raise ValueError(f"ticket #{ticket.number} was already added")
        post_ref = ticket.origin.post_ref
        # The check gives a clean error in the common case and keeps the transaction
        # usable; the unique constraint still decides races between two moderators.
        if post_ref is not None and await self._post_taken(post_ref):
            raise DuplicateEscalation(post_ref, post_ref=post_ref)
        try:
            number: int | None = await _ADDING.scalar(self._session, _ticket_values(ticket))
        except IntegrityError as exc:
            if post_ref is not None and "origin_post_ref" in str(exc.orig):
                raise DuplicateEscalation(post_ref, post_ref=post_ref) from exc
            raise
        assert number is not None
        ticket.number = number
        await self._append(ticket, _Stored(ticket, 0, 0, 0))
        return number

    async def save(self, ticket: Ticket) -> None:
        number = ticket.number
        if number is None:
            raise ValueError("save() of a ticket that was never added")
        stored = self._stored.get(id(ticket))
        if stored is None:
            # Checked before writing anything: a refused stale copy changes nothing.
            stored = await self._compare_with_stored(ticket, number)
        changed = await _SAVING.execute(
            self._session,
            _ticket_values(ticket)
            | {"version": ticket.version + 1, "w_number": number, "w_version": ticket.version},
        )
        if changed == 0:
            if await self._session.scalar(
                select(TicketRow.number).where(TicketRow.number == number)
            ):
                raise ConcurrentUpdate(f"ticket #{number} changed meanwhile", number=number)
            raise TicketNotFound(str(number), number=number)
        ticket.version += 1
        await self._append(ticket, stored)

    async def _append(self, ticket: Ticket, stored: _Stored) -> None:
        number = ticket.number
        assert number is not None
        new_entries = ticket.entries[stored.entries :]
        entry_rows: list[dict[str, Any]] = []
        # An entry's files are also appended to ticket.attachments (Ticket.add_entry).
        # Match them from the end, where add_entry put them, so each file is stored once
        # with its entry and equal files given at intake stay intake files.
        expected: list[tuple[Attachment, int]] = []
        for offset, entry in enumerate(new_entries):
            seq = stored.entries + offset
            entry_rows.append(
                {
                    "ticket_number": number,
                    "seq": seq,
                    "kind": entry.kind.value,
                    "text": entry.text,
                    "at": entry.at,
                    "author_platform": entry.author.platform if entry.author else None,
                    "author_id": entry.author.external_id if entry.author else None,
                    "author_name": entry.author_name,
                }
            )
            expected.extend((attachment, seq) for attachment in entry.attachments)
        new_attachments = ticket.attachments[stored.attachments :]
        entry_seqs: list[int | None] = [None] * len(new_attachments)
        unmatched = len(expected)
        for index in reversed(range(len(new_attachments))):
            if unmatched and new_attachments[index] == expected[unmatched - 1][0]:
                unmatched -= 1
                entry_seqs[index] = expected[unmatched][1]
        attachment_rows = [
            _attachment_values(number, attachment, entry_seq)
            for attachment, entry_seq in zip(new_attachments, entry_seqs, strict=True)
        ]
        # Entries built with files but not through add_entry: keep their files too.
        attachment_rows.extend(
            _attachment_values(number, attachment, seq) for attachment, seq in expected[:unmatched]
        )
        history_rows = [
            {
                "ticket_number": number,
                "seq": stored.history + offset,
                "old": change.old.value if change.old is not None else None,
                "new": change.new.value,
                "at": change.at,
                "by": change.by,
                "reason": change.reason,
            }
            for offset, change in enumerate(ticket.history[stored.history :])
        ]
        try:
            await _ADDING_ENTRIES.execute_many(self._session, entry_rows)
            await _ADDING_HISTORY.execute_many(self._session, history_rows)
        except IntegrityError as exc:
            if any(name in str(exc.orig) for name in _SEQ_CONSTRAINTS):
                raise ConcurrentUpdate(
                    f"ticket #{number} changed meanwhile", number=number
                ) from exc
            raise
        await _ADDING_ATTACHMENTS.execute_many(self._session, attachment_rows)
        self._track(ticket)

    def _track(self, ticket: Ticket) -> None:
        self._stored[id(ticket)] = _Stored(
            ticket, len(ticket.entries), len(ticket.history), len(ticket.attachments)
        )

    async def _compare_with_stored(self, ticket: Ticket, number: int) -> _Stored:
        """Counts for a ticket loaded in another unit, after checking that it extends
        what is stored: a stale copy must not overwrite a newer status silently."""
        stored = await self._load_one(number, track=False)
        if stored is None:
            raise TicketNotFound(str(number), number=number)
        if (
            ticket.entries[: len(stored.entries)] != stored.entries
            or ticket.history[: len(stored.history)] != stored.history
        ):
            raise ConcurrentUpdate(f"ticket #{number} changed meanwhile", number=number)
        return _Stored(ticket, len(stored.entries), len(stored.history), len(stored.attachments))

    async def _post_taken(self, post_ref: str) -> bool:
        found = await self._session.scalar(
            select(TicketRow.number).where(TicketRow.origin_post_ref == post_ref)
        )
        return found is not None

    # -- reads -------------------------------------------------------------------------

    async def get(self, number: int) -> Ticket:
        ticket = await self._load_one(number)
        if ticket is None:
            raise TicketNotFound(str(number), number=number)
        return ticket

    async def get_many(self, numbers: Collection[int]) -> list[Ticket]:
        """The tickets of these numbers that exist, whole, in no set order: on
        PostgreSQL one statement per 500 numbers (children as JSON arrays), on SQLite
        four."""
        wanted = sorted(set(numbers))
        if self._session.get_bind().dialect.name != "postgresql":
            return await self._load(_aggregate().where(TicketRow.number.in_(wanted)))
        tickets: list[Ticket] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = await self._session.execute(_WHOLE.where(_TICKETS.c.number.in_(chunk)))
            tickets += [_whole(dict(row._mapping)) for row in rows]
        return self._built(tickets, True)

    async def for_customer(
        self,
        customer: Participant,
        statuses: frozenset[Status] | None = None,
        *,
        page: Page | None = None,
        linked: Collection[Participant] = (),
    ) -> list[Ticket]:
        where = _of_person(customer, linked)
        query = _with_statuses(_aggregate().where(*where), statuses)
        return await self._load(_paged(_newest_first(query), page))

    async def for_account(
        self,
        support_number: str,
        statuses: frozenset[Status] | None = None,
        *,
        customer: Participant | None = None,
        page: Page | None = None,
    ) -> list[Ticket]:
        query = _aggregate().where(TicketRow.support_number == support_number)
        if customer is not None:
            query = query.where(*_of_customer(customer))
        return await self._load(_paged(_newest_first(_with_statuses(query, statuses)), page))

    async def queue(
        self,
        departments: frozenset[str] | None,
        statuses: frozenset[Status],
        *,
        page: Page | None = None,
    ) -> list[Ticket]:
        query = _in_queue(_with_statuses(_aggregate(), statuses), departments, statuses)
        ordered = query.order_by(TicketRow.priority.desc(), TicketRow.queue_due, TicketRow.number)
        return await self._load(_paged(ordered, page))

    async def count_for_customer(
        self, customer: Participant, linked: Collection[Participant] = ()
    ) -> dict[Status, int]:
        return await self._counts(_of_person(customer, linked))

    async def count_for_account(
        self, support_number: str, customer: Participant | None = None
    ) -> dict[Status, int]:
        where = [TicketRow.support_number == support_number]
        return await self._counts(
            [*where, *(_of_customer(customer) if customer is not None else ())]
        )

    async def count_queue(self, departments: frozenset[str] | None) -> dict[Status, int]:
        where: list[Any] = [text(OPEN_TICKETS)]
        if departments is not None:
            where.append(TicketRow.department.in_(sorted(departments)))
        if self._session.get_bind().dialect.name != "sqlite":
            return await self._counts(where)
        # SQLite without statistics counts through (department, status), every ticket
        # the department ever had (30 ms at a million, measured by `benchmarks store`);
        # the open-queue index holds the open ones alone (1 ms). PostgreSQL's planner
        # picks it by itself.
        query = text(
            "SELECT status, count(*) FROM tickets INDEXED BY ix_tickets_open_queue"
            f" WHERE {OPEN_TICKETS}"
            + (" AND department IN :departments" if departments is not None else "")
            + " GROUP BY status"
        )
        params: dict[str, Any] = {}
        if departments is not None:
            query = query.bindparams(bindparam("departments", expanding=True))
            params["departments"] = sorted(departments)
        rows = await self._session.execute(query, params)
        return {Status(str(status)): int(str(count)) for status, count in rows}

    async def people_of_account(self, support_number: str) -> list[tuple[Participant, str]]:
        rows = await self._session.execute(
            select(TicketRow.customer_platform, TicketRow.customer_id, TicketRow.customer_name)
            .where(TicketRow.support_number == support_number)
            .group_by(TicketRow.customer_platform, TicketRow.customer_id, TicketRow.customer_name)
            .order_by(TicketRow.customer_name, TicketRow.customer_id)
        )
        people: dict[Participant, str] = {}
        for platform, external_id, name in rows:
            people.setdefault(Participant(platform, external_id), name or external_id)
        return list(people.items())

    async def without_queue_due(self, limit: int = 500) -> list[Ticket]:
        query = _aggregate().where(text(OPEN_TICKETS), TicketRow.queue_due.is_(None))
        return await self._load(query.order_by(TicketRow.number).limit(limit))

    async def _counts(self, where: Sequence[Any]) -> dict[Status, int]:
        query = select(TicketRow.status, func.count()).where(*where)
        rows = await self._session.execute(query.group_by(TicketRow.status))
        return {Status(status): int(count) for status, count in rows}

    async def by_post(self, post_ref: str) -> Ticket | None:
        tickets = await self._load(_aggregate().where(TicketRow.origin_post_ref == post_ref))
        return tickets[0] if tickets else None

    async def count_opened(
        self,
        support_number: str,
        since: datetime,
        until: datetime,
        exclude_department: str | None = None,
    ) -> int:
        query = (
            select(func.count())
            .select_from(TicketRow)
            .where(
                TicketRow.support_number == support_number,
                TicketRow.created_at >= since,
                TicketRow.created_at < until,
            )
        )
        if exclude_department is not None:
            query = query.where(TicketRow.department != exclude_department)
        count = await self._session.scalar(query)
        return int(count or 0)

    async def claim_due(
        self, now: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[int, datetime]]:
        due = (
            select(TicketRow.number)
            .where(TicketRow.next_check_at <= now)
            .order_by(TicketRow.next_check_at)
            .limit(limit)
        )
        if self._session.get_bind().dialect.name == "postgresql":
            # Parallel tickers take different tickets instead of queueing on row locks;
            # MATERIALIZED for the reason given in store/outbox.py.
            locked = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
            due = select(locked.c.number)
        # Pick and move in one statement; the repeated condition leaves alone a ticket
        # another ticker moved meanwhile (SQLite runs one writer at a time).
        claimed = await self._session.execute(
            update(TicketRow)
            .where(TicketRow.number.in_(due.scalar_subquery()), TicketRow.next_check_at <= now)
            .values(next_check_at=until)
            .returning(TicketRow.number)
            .execution_options(synchronize_session=False)
        )
        return sorted((number, until) for number in claimed.scalars())

    async def briefs(
        self, customer: Participant, statuses: frozenset[Status]
    ) -> list[TicketBrief]:
        params = {"platform": customer.platform, "external_id": customer.external_id}
        rows = await _briefs(statuses).rows(self._session, params)
        return [_brief(row) for row in rows]

    async def brief(self, number: int) -> TicketBrief | None:
        rows = await _BRIEF.rows(self._session, {"number": number})
        return _brief(rows[0]) if rows else None

    async def waiting_since(self, customer: Participant) -> list[tuple[int, datetime]]:
        asked = func.max(StatusChangeRow.at)
        rows = await self._session.execute(
            select(TicketRow.number, asked)
            .join(StatusChangeRow, StatusChangeRow.ticket_number == TicketRow.number)
            .where(
                TicketRow.customer_platform == customer.platform,
                TicketRow.customer_id == customer.external_id,
                TicketRow.status == Status.WAITING.value,
                StatusChangeRow.new == Status.WAITING.value,
            )
            .group_by(TicketRow.number)
            .order_by(TicketRow.number)
        )
        return [(number, at) for number, at in rows]

    async def open_by_department(self, departments: frozenset[str] | None) -> dict[str, int]:
        query = select(TicketRow.department, func.count()).where(text(OPEN_TICKETS))
        if departments is not None:
            query = query.where(TicketRow.department.in_(sorted(departments)))
        rows = await self._session.execute(query.group_by(TicketRow.department))
        return {str(department): int(count) for department, count in rows}

    async def filed_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[Ticket]:
        query = _aggregate().where(TicketRow.created_at >= since)
        if departments is not None:
            query = query.where(TicketRow.department.in_(sorted(departments)))
        return await self._load(query.order_by(TicketRow.number), track=False)

    async def ratings_since(
        self, since: datetime, departments: frozenset[str] | None
    ) -> list[tuple[str, str, int]]:
        query = select(
            TicketRow.department, TicketRow.assignee_name, TicketRow.rating_score
        ).where(TicketRow.rated_at >= since, TicketRow.rating_score.is_not(None))
        if departments is not None:
            query = query.where(TicketRow.department.in_(sorted(departments)))
        rows = await self._session.execute(query.order_by(TicketRow.number))
        return [(str(d), str(a or ""), int(score or 0)) for d, a, score in rows]

    async def changed_since(self, after: tuple[datetime, int] | None, limit: int) -> list[Ticket]:
        query = _aggregate()
        if after is not None:
            at, number = after
            query = query.where(
                or_(
                    TicketRow.updated_at > at,
                    and_(TicketRow.updated_at == at, TicketRow.number > number),
                )
            )
        # ix_tickets_updated_at_number: the catch-up reads a range, not the table.
        ordered = query.order_by(TicketRow.updated_at, TicketRow.number).limit(limit)
        return await self._load(ordered, track=False)

    async def recent(self, limit: int = 50, status: Status | None = None) -> list[Ticket]:
        query = _aggregate()
        if status is not None:
            query = query.where(TicketRow.status == status.value)
        return await self._load(_newest_first(query).limit(limit))

    async def _load(
        self,
        query: Select[Any],
        params: dict[str, Any] | None = None,
        track: bool = True,
    ) -> list[Ticket]:
        """The tickets ``query`` selects (root rows of ``_aggregate()``), each with its
        thread, files and history read by number: Core reads, no ORM objects."""
        roots = [dict(row._mapping) for row in await self._session.execute(query, params)]
        numbers = [root["number"] for root in roots]
        children: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for name, table, order in _CHILDREN:
            found = children[name] = {number: [] for number in numbers}
            for start in range(0, len(numbers), _CHUNK):
                chunk = numbers[start : start + _CHUNK]
                rows = await self._session.execute(
                    select(table)
                    .where(table.c.ticket_number.in_(chunk))
                    .order_by(table.c.ticket_number, order(table))
                )
                for row in rows:
                    found[row.ticket_number].append(dict(row._mapping))
        return self._built(
            [
                _ticket(root, *(children[name][root["number"]] for name, _, _ in _CHILDREN))
                for root in roots
            ],
            track,
        )

    async def _load_one(self, number: int, track: bool = True) -> Ticket | None:
        """The one ticket by number, the most frequent read: on PostgreSQL one statement
        (its children as JSON arrays, one round trip), on SQLite four prepared reads."""
        params = {"number": number}
        if self._session.get_bind().dialect.name == "postgresql":
            found = await _GET_WHOLE.rows(self._session, params)
            if not found:
                return None
            return self._built([_whole(found[0])], track)[0]
        roots = await _GET.rows(self._session, params)
        if not roots:
            return None
        entries = await _GET_ENTRIES.rows(self._session, params)
        attachments = await _GET_ATTACHMENTS.rows(self._session, params)
        history = await _GET_HISTORY.rows(self._session, params)
        return self._built([_ticket(roots[0], entries, attachments, history)], track)[0]

    def _built(self, tickets: list[Ticket], track: bool) -> list[Ticket]:
        if track:
            for ticket in tickets:
                self._track(ticket)
        return tickets


_BRIEF_COLUMNS = (
    TicketRow.number,
    TicketRow.title,
    TicketRow.description,
    TicketRow.status,
    TicketRow.department,
    TicketRow.category,
)


_BRIEF = Prepared(select(*_BRIEF_COLUMNS).where(TicketRow.number == bindparam("number")))


@functools.cache
def _briefs(statuses: frozenset[Status]) -> Prepared:
    """A customer's tickets in ``statuses``, newest first: one statement per set of
    statuses asked for (there are two or three), the statuses written into it."""
    return Prepared(
        select(*_BRIEF_COLUMNS)
        .where(
            TicketRow.customer_platform == bindparam("platform"),
            TicketRow.customer_id == bindparam("external_id"),
            or_(*(TicketRow.status == status.value for status in sorted(statuses))),
        )
        .order_by(TicketRow.created_at.desc(), TicketRow.number.desc())
    )


def _brief(row: Mapping[str, Any]) -> TicketBrief:
    return TicketBrief(
        number=row["number"],
        title=row["title"],
        description=row["description"],
        status=Status(row["status"]),
        department=row["department"],
        category=row["category"],
    )


def _aggregate() -> Select[Any]:
    """The tickets' root rows; ``_load`` reads their children by number."""
    return select(_TICKETS)


_ENTRIES = cast(Table, EntryRow.__table__)
_ATTACHMENTS = cast(Table, AttachmentRow.__table__)
_HISTORY = cast(Table, StatusChangeRow.__table__)
# Each child table with its order in the aggregate (as the thread, files and history
# grew), by the name ``_ticket`` takes it under.
_CHILDREN: tuple[tuple[str, Table, Callable[[Any], Any]], ...] = (
    ("entries", _ENTRIES, lambda t: t.c.seq),
    ("attachments", _ATTACHMENTS, lambda t: t.c.id),
    ("history", _HISTORY, lambda t: t.c.seq),
)
_CHUNK = 500  # numbers per IN list


def _child(table: Table, order: Any) -> Prepared:
    return Prepared(
        select(table).where(table.c.ticket_number == bindparam("number")).order_by(order)
    )


# The one ticket by number, the most frequent read: built once.
_GET = Prepared(select(_TICKETS).where(_TICKETS.c.number == bindparam("number")))
_GET_ENTRIES = _child(_ENTRIES, _ENTRIES.c.seq)
_GET_ATTACHMENTS = _child(_ATTACHMENTS, _ATTACHMENTS.c.id)
_GET_HISTORY = _child(_HISTORY, _HISTORY.c.seq)


def _as_json(name: str, table: Table, order: Callable[[Any], Any]) -> Any:
    """A ticket's rows of ``table`` in order, as one JSON array (PostgreSQL)."""
    child = table.alias(f"{name}_rows")
    pairs: list[Any] = []
    for column in child.c:
        pairs += [literal_column(f"'{column.name}'"), column]
    rows = func.json_agg(aggregate_order_by(func.json_build_object(*pairs), order(child)))
    return (
        select(func.coalesce(rows, literal_column("'[]'::json")))
        .where(child.c.ticket_number == _TICKETS.c.number)
        .scalar_subquery()
        .label(name)
    )


# PostgreSQL: whole tickets, each in one row.
_WHOLE = select(_TICKETS, *(_as_json(*child) for child in _CHILDREN))
_GET_WHOLE = Prepared(_WHOLE.where(_TICKETS.c.number == bindparam("number")))
# The JSON text of a child row's timestamps (``at``), read back as UTC datetimes.
_JSON_TIMES = ("at",)


def _whole(row: dict[str, Any]) -> Ticket:
    """A ticket from a row of ``_WHOLE``: its root columns and its children as JSON."""
    children = [_from_json(row.pop(name)) for name, _, _ in _CHILDREN]
    return _ticket(row, *children)


def _from_json(value: Any) -> list[dict[str, Any]]:
    """Child rows as ``_as_json`` gave them (decoded by the driver, or text)."""
    rows: list[dict[str, Any]] = json.loads(value) if isinstance(value, str) else list(value)
    for row in rows:
        for name in _JSON_TIMES:
            if isinstance(row.get(name), str):
                row[name] = datetime.fromisoformat(row[name]).astimezone(UTC)
    return rows


def _with_statuses(query: Select[Any], statuses: frozenset[Status] | None) -> Select[Any]:
    if statuses is None:
        return query
    return query.where(TicketRow.status.in_(sorted(status.value for status in statuses)))


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(TicketRow.created_at.desc(), TicketRow.number.desc())


def _paged(query: Select[Any], page: Page | None) -> Select[Any]:
    return query if page is None else query.limit(page.size).offset(page.offset)


def _of_customer(customer: Participant) -> tuple[Any, Any]:
    return (
        TicketRow.customer_platform == customer.platform,
        TicketRow.customer_id == customer.external_id,
    )


def _of_person(customer: Participant, linked: Collection[Participant]) -> tuple[Any, ...]:
    """The customer's tickets, and those of the same person's other participants (the
    plain pair of conditions, on the customer index, when there are none)."""
    if not linked:
        return _of_customer(customer)
    return (or_(*(and_(*_of_customer(who)) for who in (customer, *linked))),)


def _in_queue(
    query: Select[Any], departments: frozenset[str] | None, statuses: frozenset[Status]
) -> Select[Any]:
    if statuses <= OPEN_STATUSES:
        # The partial index's own condition: the queue is read from it, in its order.
        query = query.where(text(OPEN_TICKETS))
    if departments is not None:
        query = query.where(TicketRow.department.in_(sorted(departments)))
    return query


def _ticket_values(ticket: Ticket) -> dict[str, Any]:
    return {
        "customer_platform": ticket.customer.platform,
        "customer_id": ticket.customer.external_id,
        "customer_name": ticket.customer_name,
        "department": ticket.department,
        "category": ticket.category,
        "request_type": ticket.request_type.value,
        "critical": ticket.critical,
        "title": ticket.title,
        "description": ticket.description,
        "steps": ticket.steps,
        "support_number": ticket.support_number,
        "domain": ticket.domain,
        "phone": ticket.phone,
        "locale": ticket.locale,
        "status": ticket.status.value,
        "priority": int(ticket.priority),
        "assignee_platform": ticket.assignee.platform if ticket.assignee else None,
        "assignee_id": ticket.assignee.external_id if ticket.assignee else None,
        "assignee_name": ticket.assignee_name,
        "decline_reason": ticket.decline_reason.value if ticket.decline_reason else None,
        "follow_up_of": ticket.follow_up_of,
        "origin_channel": ticket.origin.channel,
        "origin_post_ref": ticket.origin.post_ref,
        "origin_post_link": ticket.origin.post_link,
        "escalated_by": ticket.origin.escalated_by,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        **_service_values(ticket),
    }


def _service_values(ticket: Ticket) -> dict[str, Any]:
    terms, quote = ticket.terms, ticket.quote
    return {
        "plan": terms.plan if terms else "",
        "first_response_due": terms.first_response_due if terms else None,
        "resolution_due": terms.resolution_due if terms else None,
        "first_response_budget": terms.first_response_budget if terms else None,
        "resolution_budget": terms.resolution_budget if terms else None,
        "first_response_clock": terms.first_response_clock if terms else None,
        "resolution_clock": terms.resolution_clock if terms else None,
        "first_response_warn": terms.first_response_warn if terms else None,
        "resolution_warn": terms.resolution_warn if terms else None,
        "first_response_at": ticket.first_response_at,
        "sla_alerts": ",".join(sorted(ticket.sla_alerts)),
        "next_check_at": ticket.next_check_at,
        "queue_due": ticket.queue_due,
        "reminded_at": ticket.reminded_at,
        "off_hours": ticket.off_hours,
        "paid": ticket.paid,
        "quote_price": quote.price if quote else None,
        "quote_note": quote.note if quote else None,
        "quote_state": quote.state.value if quote else None,
        "quote_at": quote.at if quote else None,
        "quote_decided_at": quote.decided_at if quote else None,
        "rating_score": ticket.rating.score if ticket.rating else None,
        "rating_comment": ticket.rating.comment if ticket.rating else None,
        "rated_at": ticket.rating.at if ticket.rating else None,
    }


def _rating(row: Mapping[str, Any]) -> Rating | None:
    if row["rating_score"] is None or row["rated_at"] is None:
        return None
    return Rating(row["rating_score"], row["rated_at"], row["rating_comment"] or "")


def _terms(row: Mapping[str, Any]) -> ServiceTerms | None:
    if (
        row["first_response_due"] is None
        or row["resolution_due"] is None
        or row["first_response_budget"] is None
        or row["resolution_budget"] is None
    ):
        return None
    return ServiceTerms(
        plan=row["plan"],
        first_response_due=row["first_response_due"],
        resolution_due=row["resolution_due"],
        first_response_budget=row["first_response_budget"],
        resolution_budget=row["resolution_budget"],
        # Tickets filed before targets had clocks counted business hours.
        first_response_clock=row["first_response_clock"] or "business",
        resolution_clock=row["resolution_clock"] or "business",
        first_response_warn=row["first_response_warn"],
        resolution_warn=row["resolution_warn"],
    )


def _quote(row: Mapping[str, Any]) -> Quote | None:
    if row["quote_state"] is None or row["quote_at"] is None:
        return None
    return Quote(
        price=row["quote_price"] or "",
        note=row["quote_note"] or "",
        state=QuoteState(row["quote_state"]),
        at=row["quote_at"],
        decided_at=row["quote_decided_at"],
    )


def attachment_fields(attachment: Attachment) -> dict[str, Any]:
    """An attachment's fields as stored (its row's columns, or a JSON object)."""
    return {
        "file_ref": attachment.file_ref,
        "file_name": attachment.file_name,
        "mime_type": attachment.mime_type,
        "size": attachment.size,
        "platform": attachment.platform,
        "kind": attachment.kind,
        "stored": attachment.stored,
    }


def _attachment_values(
    number: int, attachment: Attachment, entry_seq: int | None
) -> dict[str, Any]:
    return {"ticket_number": number, "entry_seq": entry_seq, **attachment_fields(attachment)}


def _participant(platform: str | None, external_id: str | None) -> Participant | None:
    if platform is None or external_id is None:
        return None
    return Participant(platform, external_id)


def _ticket(
    row: Mapping[str, Any],
    entry_rows: Sequence[Mapping[str, Any]],
    attachment_rows: Sequence[Mapping[str, Any]],
    history_rows: Sequence[Mapping[str, Any]],
) -> Ticket:
    attachments: list[Attachment] = []
    by_entry: dict[int, list[Attachment]] = {}
    for stored in attachment_rows:  # in insertion order, like Ticket.attachments grew
        attachment = Attachment(
            file_ref=stored["file_ref"],
            file_name=stored["file_name"],
            mime_type=stored["mime_type"],
            size=stored["size"],
            platform=stored["platform"],
            kind=stored["kind"],
            stored=stored["stored"],
        )
        attachments.append(attachment)
        if stored["entry_seq"] is not None:
            by_entry.setdefault(stored["entry_seq"], []).append(attachment)
    entries = [
        ThreadEntry(
            kind=EntryKind(entry["kind"]),
            text=entry["text"],
            at=entry["at"],
            author=_participant(entry["author_platform"], entry["author_id"]),
            author_name=entry["author_name"],
            attachments=tuple(by_entry.get(entry["seq"], ())),
        )
        for entry in entry_rows
    ]
    history = [
        StatusChange(
            old=Status(change["old"]) if change["old"] is not None else None,
            new=Status(change["new"]),
            at=change["at"],
            by=change["by"],
            reason=change["reason"],
        )
        for change in history_rows
    ]
    return Ticket(
        customer=Participant(row["customer_platform"], row["customer_id"]),
        customer_name=row["customer_name"],
        department=row["department"],
        category=row["category"],
        request_type=RequestType(row["request_type"]),
        title=row["title"],
        description=row["description"],
        origin=Origin(
            channel=row["origin_channel"],
            post_ref=row["origin_post_ref"],
            post_link=row["origin_post_link"],
            escalated_by=row["escalated_by"],
        ),
        created_at=row["created_at"],
        critical=row["critical"],
        steps=row["steps"],
        attachments=attachments,
        support_number=row["support_number"],
        domain=row["domain"],
        phone=row["phone"],
        locale=row["locale"],
        status=Status(row["status"]),
        priority=Priority(row["priority"]),
        assignee=_participant(row["assignee_platform"], row["assignee_id"]),
        assignee_name=row["assignee_name"],
        decline_reason=DeclineReason(row["decline_reason"]) if row["decline_reason"] else None,
        follow_up_of=row["follow_up_of"],
        number=row["number"],
        updated_at=row["updated_at"],
        entries=entries,
        history=history,
        terms=_terms(row),
        first_response_at=row["first_response_at"],
        sla_alerts=frozenset(a for a in row["sla_alerts"].split(",") if a),
        next_check_at=row["next_check_at"],
        queue_due=row["queue_due"],
        reminded_at=row["reminded_at"],
        off_hours=row["off_hours"],
        paid=row["paid"],
        quote=_quote(row),
        rating=_rating(row),
        version=row["version"],
    )
