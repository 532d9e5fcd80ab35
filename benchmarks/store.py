"""Store: the lists a customer, an organisation and an agent read, on a desk with a
million tickets, against a bare indexed ``SELECT`` on the same table.

Data (``BENCH_TICKETS``, default 1,000,000 tickets, the other counts scaled with it):
a fresh database (a temporary SQLite file; a new PostgreSQL database on
``BENCH_DATABASE_URL``) migrated by ``store.db.migrate``, then filled in bulk as a
restore would (``executemany`` of batches of plain INSERTs on SQLite, asyncpg
``COPY`` on PostgreSQL, in one transaction, the secondary indexes dropped and built
again after the rows): one ``tickets`` row and one ``status_history`` row per ticket,
filed over three years, on Telegram. 0.25 % of the tickets are open (new, accepted,
waiting, blocked), filed in the last two weeks and due a few hours after filing
(``queue_due``), 1,520 of them in "technical"; the rest are closed or declined, in
"technical", "consultation" and "sales". ~200,000 customers (~5 tickets each), one
of them with 1,000; ~50,000 support numbers, one organisation's with ~5,000
tickets. PostgreSQL is vacuumed and analysed after the load, as autovacuum would;
SQLite gets no ``ANALYZE`` (the desk never runs one), only its WAL checkpointed.

Reads, each in a unit of work of its own (``SqlUnitOfWorkFactory``) through
``SqlTicketRepository``, page 1 of 10: a typical customer's tickets and their counts
per status (``for_customer``, ``count_for_customer``), the same for the customer
with 1,000 tickets, the big organisation's (``for_account``, ``count_for_account``),
the "technical" queue and the lead's queue of every department (``queue``,
``count_queue``); then the open tickets' filing times are spread over three years
and both queues are read again. Each read ``REPETITIONS`` times after a warm-up,
alternating with its baseline: the bare indexed ``SELECT number ... ORDER BY ...
LIMIT 10`` that finds the same page's rows, on a connection of the same engine. The
ratio is what loading whole tickets (children included) and counting cost beyond
finding the rows.

Every backend is measured in a fresh process (``python -m benchmarks.store RUN_JSON``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, TextClause, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from benchmarks.probes import Stopwatch
from benchmarks.runs import Backend, ChildFailed, Figures, in_child, rate, times

TITLE = "store: lists and queues through the ticket repository on a large desk"
DEFAULT_TICKETS = 1_000_000
REPETITIONS = 200
WARM_UP_READS = 20
TARGET_P95_MS = 10.0
BATCH = 50_000  # rows per executemany / COPY
PLATFORM = "telegram"
DEPARTMENTS = ("technical", "consultation", "sales")
TECHNICAL = "technical"

# The desk at a million tickets; smaller runs scale these (BENCH_TICKETS).
OPEN_SHARE = 0.0025
TECHNICAL_OPEN_SHARE = 1_520 / 2_500
TICKETS_PER_CUSTOMER = 5
TICKETS_PER_SUPPORT_NUMBER = 20
HEAVY_CUSTOMER_TICKETS = 1_000
BIG_ORGANISATION_TICKETS = 5_000
YEARS = 3
RECENT = timedelta(days=14)  # where the open tickets were filed (first variant)
# Until the next due time, by priority (low .. urgent): "a few hours".
DUE_HOURS = {1: 24, 2: 8, 3: 4, 4: 1}
BIG_ORGANISATION = "SN-000000"
HEAVY_CUSTOMER = 0  # customer index

CATEGORIES = {
    "technical": (("bug", "bug"), ("bug_critical", "bug"), ("template", "modification")),
    "consultation": (("howto", "consultation"), ("modification", "modification")),
    "sales": (("sales", "payment"), ("payment", "payment"), ("training", "training")),
}
DESCRIPTION = (
    "Since the last update the checkout page shows an error after the customer "
    "chooses a payment method. Nothing was changed in the templates; the log says "
    "the session expired. It happens on every browser we tried."
)


@dataclass(frozen=True, slots=True)
class StoreRun:
    """What one child process measures."""

    tickets: int
    database_url: str | None = None  # None: a SQLite file in a temporary folder


@dataclass(frozen=True, slots=True)
class Shape:
    """How many of what, for ``tickets`` tickets."""

    tickets: int

    @property
    def open(self) -> int:
        return max(10, round(self.tickets * OPEN_SHARE))

    @property
    def technical_open(self) -> int:
        return round(self.open * TECHNICAL_OPEN_SHARE)

    @property
    def customers(self) -> int:
        return max(10, self.tickets // TICKETS_PER_CUSTOMER)

    @property
    def heavy_customer_tickets(self) -> int:
        return min(HEAVY_CUSTOMER_TICKETS, self.tickets // 20)

    @property
    def support_numbers(self) -> int:
        return max(10, self.tickets // TICKETS_PER_SUPPORT_NUMBER)

    @property
    def big_organisation_customers(self) -> int:
        """Customers under the big organisation's support number: ~5,000 tickets."""
        big = min(BIG_ORGANISATION_TICKETS, self.tickets // 10)
        return max(1, round(big / TICKETS_PER_CUSTOMER))


def tickets() -> int:
    return int(os.environ.get("BENCH_TICKETS", DEFAULT_TICKETS))


def customer_id(index: int) -> str:
    return str(100_000_000 + index)


def support_number(shape: Shape, customer: int) -> str:
    if 1 <= customer <= shape.big_organisation_customers:
        return BIG_ORGANISATION
    return f"SN-{1 + customer % (shape.support_numbers - 1):06d}"


# -- the data -----------------------------------------------------------------------


@dataclass(slots=True)
class Generated:
    open_numbers: list[int]
    seconds: float
    settle_seconds: float


def ticket_table() -> Table:
    from store.models import TicketRow

    return cast(Table, TicketRow.__table__)


def filler(column: Any) -> Any:
    """A value for a NOT NULL column this benchmark does not know (added later)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return ""
    return {str: "", int: 0, bool: False, float: 0.0}.get(kind, "")


HISTORY_COLUMNS = ("ticket_number", "seq", "old", "new", "at", "by", "reason")
Rows = list[tuple[Any, ...]]
Batches = Iterator[tuple[Rows, Rows]]
Stamp = Callable[[datetime], Any]
# The tickets' columns with something to say; the others keep their defaults.
TICKET_COLUMNS = (
    "number",
    "customer_platform",
    "customer_id",
    "customer_name",
    "department",
    "category",
    "request_type",
    "critical",
    "title",
    "description",
    "steps",
    "support_number",
    "domain",
    "phone",
    "locale",
    "status",
    "priority",
    "assignee_platform",
    "assignee_id",
    "assignee_name",
    "origin_channel",
    "created_at",
    "updated_at",
    "plan",
    "first_response_due",
    "resolution_due",
    "first_response_budget",
    "resolution_budget",
    "first_response_at",
    "sla_alerts",
    "next_check_at",
    "queue_due",
    "off_hours",
    "version",
)


@dataclass(slots=True)
class Layout:
    """The rows to load: the tickets' columns, batches of (ticket rows, their
    status_history rows), and which tickets are open."""

    columns: list[str]
    batches: Batches
    open_numbers: list[int]


def ticket_rows(shape: Shape, now: datetime, rng: random.Random, stamp: Stamp) -> Layout:
    """``shape``'s tickets, filed over the three years up to ``now``; every time as
    ``stamp`` gives it (the driver's own form)."""
    n = shape.tickets
    # A NOT NULL column added to the table later gets a plain value of its type.
    extra = [
        column
        for column in ticket_table().columns
        if column.name not in TICKET_COLUMNS
        and not column.nullable
        and column.server_default is None
        and not column.primary_key
    ]
    extras = tuple(filler(column) for column in extra)
    # Numbers grow with filing times, one ticket every ``step``.
    step = timedelta(days=365 * YEARS) / n
    recent = min(n, max(shape.open * 4, RECENT // step))
    open_positions = rng.sample(range(n - recent, n), shape.open)
    open_statuses = rng.choices(
        ("new", "accepted", "waiting", "blocked"), weights=(35, 40, 20, 5), k=shape.open
    )
    open_rows = {
        position: (TECHNICAL if k < shape.technical_open else rng.choice(DEPARTMENTS[1:]), status)
        for k, (position, status) in enumerate(zip(open_positions, open_statuses, strict=True))
    }
    population = shape.customers
    customers = [rng.randrange(1, population) for _ in range(n)]
    for position in rng.sample(range(n), shape.heavy_customer_tickets):
        customers[position] = HEAVY_CUSTOMER
    priorities = rng.choices((1, 2, 3, 4), weights=(15, 60, 20, 5), k=n)
    departments = rng.choices(DEPARTMENTS, weights=(55, 25, 20), k=n)
    declined = rng.choices((False, True), weights=(9, 1), k=n)
    # Per priority: (first answer due after, resolution due after, their budgets in s).
    terms = {
        p: (timedelta(hours=h), timedelta(hours=5 * h), h * 3600.0, 5 * h * 3600.0)
        for p, h in DUE_HOURS.items()
    }
    agents = [(PLATFORM, str(900 + k), f"Agent {900 + k}") for k in range(40)]
    unassigned = (None, None, "")
    closed_after, answered_after = timedelta(days=1), timedelta(minutes=10)
    plans = ("free", "standard", "premium")
    people = [
        (
            customer_id(k),
            f"Customer {k}",
            support_number(shape, k),
            f"shop{k}.example.com",
            plans[k % len(plans)],
        )
        for k in range(population)
    ]

    def batches() -> Batches:
        rows: Rows = []
        history: Rows = []
        created = now - step * n
        for i in range(n):
            number = i + 1
            created += step
            external_id, name, account, domain, plan = people[customers[i]]
            priority = priorities[i]
            first_due, resolution_due, first_budget, resolution_budget = terms[priority]
            filed = stamp(created)
            opened = open_rows.get(i)
            if opened is None:
                department = departments[i]
                status = "declined" if declined[i] else "closed"
                due = None
                updated = stamp(created + closed_after)
            else:
                department, status = opened
                due = stamp(created + first_due)
                updated = stamp(created + answered_after)
            categories = CATEGORIES[department]
            category, request_type = categories[i % len(categories)]
            assigned = status not in ("new", "declined")
            assignee_platform, assignee_id, assignee_name = (
                agents[i % len(agents)] if assigned else unassigned
            )
            rows.append(
                (
                    number,
                    PLATFORM,
                    external_id,
                    name,
                    department,
                    category,
                    request_type,
                    priority == 4,
                    f"Request {number}: checkout error",
                    DESCRIPTION,
                    "",
                    account,
                    domain,
                    "+420 600 000 000",
                    "en",
                    status,
                    priority,
                    assignee_platform,
                    assignee_id,
                    assignee_name,
                    PLATFORM,
                    filed,
                    updated,
                    plan,
                    stamp(created + first_due),
                    stamp(created + resolution_due),
                    first_budget,
                    resolution_budget,
                    updated if assigned else None,
                    "",
                    due,  # next_check_at: the ticker's next look, at the due time
                    due,
                    False,
                    0,
                    *extras,
                )
            )
            history.append((number, 0, None, "new", filed, name, ""))
            if len(rows) == BATCH:
                yield rows, history
                rows, history = [], []
        if rows:
            yield rows, history

    return Layout(
        [*TICKET_COLUMNS, *(column.name for column in extra)],
        batches(),
        sorted(position + 1 for position in open_positions),
    )


async def generate(engine: AsyncEngine, shape: Shape, now: datetime) -> Generated:
    """Fill the migrated database; how long it took (and the settling after it)."""
    rng = random.Random(8)
    began = time.perf_counter()
    if engine.dialect.name == "postgresql":
        layout = ticket_rows(shape, now, rng, lambda at: at)
        await _copy(engine, layout)
    else:
        # As SQLAlchemy's SQLite DATETIME stores them (UTC, no zone), written as text
        # here: SQLAlchemy's per-value conversion cost more than SQLite's inserts.
        stamp = sqlite_stamp(engine)
        layout = ticket_rows(shape, now.replace(tzinfo=None), rng, stamp)
        await _insert(engine, layout)
    generated = time.perf_counter() - began
    began = time.perf_counter()
    await settle(engine)
    return Generated(layout.open_numbers, generated, time.perf_counter() - began)


def sqlite_stamp(engine: AsyncEngine) -> Stamp:
    """A naive UTC time as the store writes it to SQLite; checked against the column
    type's own conversion, so a change there is noticed rather than mixed in."""
    dialect = engine.dialect
    process = ticket_table().c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None

    def stamp(at: datetime) -> str:
        return at.isoformat(" ", "microseconds")

    for sample in (datetime(2025, 1, 2, 3, 4, 5, 6, UTC), datetime(2025, 1, 2, 3, 4, 5, 0, UTC)):
        if process(sample) != stamp(sample.replace(tzinfo=None)):
            raise RuntimeError(f"SQLite times are stored as {process(sample)!r} now")
    return stamp


def insert_sql(table: str, columns: Sequence[str]) -> str:
    names = ", ".join(f'"{name}"' for name in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


async def _insert(engine: AsyncEngine, layout: Layout) -> None:
    add_tickets = insert_sql("tickets", layout.columns)
    add_history = insert_sql("status_history", HISTORY_COLUMNS)
    async with engine.connect() as conn:
        sql = await conn.execution_options(isolation_level="AUTOCOMMIT")
        cache = int((await sql.exec_driver_sql("PRAGMA cache_size")).scalar_one())
        # A restore's settings for the load (no journal, a large cache), the desk's
        # again after it (WAL, SQLite's default cache).
        await sql.exec_driver_sql("PRAGMA journal_mode=OFF")
        await sql.exec_driver_sql("PRAGMA cache_size=-262144")
        await sql.exec_driver_sql("BEGIN")
        # The secondary indexes are built after the load, from the sorted rows, as a
        # restore would: far faster than a million random inserts into each.
        found = await sql.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('tickets', 'status_history')"
        )
        indexes = [(str(index["name"]), str(index["sql"])) for index in found.mappings()]
        for name, _ in indexes:
            await sql.exec_driver_sql(f'DROP INDEX "{name}"')
        for rows, history in layout.batches:
            await sql.exec_driver_sql(add_tickets, rows)
            await sql.exec_driver_sql(add_history, history)
        for _, create in indexes:
            await sql.exec_driver_sql(create)
        await sql.exec_driver_sql("COMMIT")
        await sql.exec_driver_sql("PRAGMA journal_mode=WAL")
        await sql.exec_driver_sql(f"PRAGMA cache_size={cache}")


async def _copy(engine: AsyncEngine, layout: Layout) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        async with driver.transaction():
            # As in _insert: the secondary indexes are built after the load (those of
            # constraints stay).
            indexes = await driver.fetch(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename IN ('tickets', 'status_history') AND indexname NOT IN "
                "(SELECT conname FROM pg_constraint)"
            )
            for index in indexes:
                await driver.execute(f'DROP INDEX "{index["indexname"]}"')
            for rows, history in layout.batches:
                await driver.copy_records_to_table("tickets", records=rows, columns=layout.columns)
                await driver.copy_records_to_table(
                    "status_history", records=history, columns=HISTORY_COLUMNS
                )
            await driver.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for index in indexes:
                await driver.execute(index["indexdef"])
            # Numbers were given: the identity goes on after them.
            await driver.execute(
                "SELECT setval(pg_get_serial_sequence('tickets', 'number'), "
                "(SELECT max(number) FROM tickets))"
            )


async def settle(engine: AsyncEngine) -> None:
    """What a running database does by itself after a bulk load: PostgreSQL's
    autovacuum (visibility map, statistics); SQLite's checkpoint of the WAL."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            await auto.execute(text("VACUUM ANALYZE tickets"))
            await auto.execute(text("VACUUM ANALYZE status_history"))
        else:
            await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


async def spread_open(engine: AsyncEngine, open_numbers: list[int], now: datetime) -> float:
    """File the open tickets at random moments of the last three years (due a few
    hours after); the seconds it took, settling included."""
    rng = random.Random(3)
    table = ticket_table()
    move = (
        update(table)
        .where(table.c.number == bindparam("b_number"))
        .values(created_at=bindparam("b_created"), queue_due=bindparam("b_due"))
    )
    span = 365 * YEARS * 86_400
    rows = []
    for number in open_numbers:
        created = now - timedelta(seconds=rng.uniform(0, span))
        rows.append(
            {
                "b_number": number,
                "b_created": created,
                "b_due": created + timedelta(hours=rng.choice(tuple(DUE_HOURS.values()))),
            }
        )
    began = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(move, rows)
    await settle(engine)
    return time.perf_counter() - began


# -- the reads ----------------------------------------------------------------------

Call = Callable[[Any], Awaitable[Any]]


async def compare(reads: dict[str, Call], args: Sequence[Any]) -> Figures:
    """Each read on the same arguments in turn, ``WARM_UP_READS`` rounds untimed,
    then ``REPETITIONS`` timed; p50 and p95 of each."""
    watches = {name: Stopwatch() for name in reads}
    for round_ in range(WARM_UP_READS + REPETITIONS):
        if round_ == WARM_UP_READS:
            for watch in watches.values():
                watch.start()
        arg = args[round_ % len(args)]
        for name, read in reads.items():
            with watches[name].lap():
                await read(arg)
    figures: Figures = {}
    for name, watch in watches.items():
        figures[f"{name}.p50_ms"] = watch.percentile(0.50) * 1000
        figures[f"{name}.p95_ms"] = watch.percentile(0.95) * 1000
    return figures


def bare(engine: AsyncEngine, query: TextClause, params: Callable[[Any], dict[str, Any]]) -> Call:
    async def read(arg: Any) -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(query, params(arg))).all()

    return read


_NEWEST_OF_CUSTOMER = text(
    "SELECT number FROM tickets WHERE customer_platform = :platform "
    "AND customer_id = :external_id ORDER BY created_at DESC LIMIT 10"
)
_NEWEST_OF_ACCOUNT = text(
    "SELECT number FROM tickets WHERE support_number = :support_number "
    "ORDER BY created_at DESC LIMIT 10"
)
_QUEUE = text(
    "SELECT number FROM tickets WHERE department IN :departments AND status IN :statuses "
    "ORDER BY priority DESC LIMIT 10"
).bindparams(bindparam("departments", expanding=True), bindparam("statuses", expanding=True))


async def measure(run: StoreRun) -> Figures:
    """Generate the desk on a scratch database and time every read against its bare
    ``SELECT``."""
    from benchmarks.desk import scratch_database
    from store.db import create_engine, migrate, session_factory

    with tempfile.TemporaryDirectory() as folder:
        async with scratch_database(run.database_url, folder) as url:
            engine = create_engine(url)
            try:
                await migrate(engine)
                return await measure_on(engine, session_factory(engine), Shape(run.tickets))
            finally:
                await engine.dispose()


async def measure_on(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], shape: Shape
) -> Figures:
    from bot.paging import Page
    from bot.participant import Participant
    from bot.ticket import OPEN_STATUSES
    from store.uow import SqlUnitOfWorkFactory

    uows = SqlUnitOfWorkFactory(sessions)
    page = Page(number=1, size=10)
    statuses = sorted(status.value for status in OPEN_STATUSES)
    now = datetime.now(UTC).replace(microsecond=0)
    generated = await generate(engine, shape, now)
    figures: Figures = {
        "tickets": shape.tickets,
        "open": len(generated.open_numbers),
        "customers": shape.customers,
        "support_numbers": shape.support_numbers,
        "generate_s": generated.seconds,
        "settle_s": generated.settle_seconds,
    }

    async def for_customer(participant: Participant) -> Any:
        async with uows() as uow:
            return await uow.tickets.for_customer(participant, None, page=page)

    async def count_for_customer(participant: Participant) -> Any:
        async with uows() as uow:
            return await uow.tickets.count_for_customer(participant)

    async def for_account(number: str) -> Any:
        async with uows() as uow:
            return await uow.tickets.for_account(number, None, page=page)

    async def count_for_account(number: str) -> Any:
        async with uows() as uow:
            return await uow.tickets.count_for_account(number)

    async def queue(departments: frozenset[str] | None) -> Any:
        async with uows() as uow:
            return await uow.tickets.queue(departments, OPEN_STATUSES, page=page)

    async def count_queue(departments: frozenset[str] | None) -> Any:
        async with uows() as uow:
            return await uow.tickets.count_queue(departments)

    def of_customer(participant: Participant) -> dict[str, Any]:
        return {"platform": participant.platform, "external_id": participant.external_id}

    def of_queue(departments: frozenset[str] | None) -> dict[str, Any]:
        # The lead's queue: every department, as the policy names them.
        return {"departments": sorted(departments or DEPARTMENTS), "statuses": statuses}

    customer_reads = {
        "list": for_customer,
        "count": count_for_customer,
        "bare": bare(engine, _NEWEST_OF_CUSTOMER, of_customer),
    }
    queue_reads = {
        "list": queue,
        "count": count_queue,
        "bare": bare(engine, _QUEUE, of_queue),
    }
    rng = random.Random(5)
    typical = [
        Participant(PLATFORM, customer_id(rng.randrange(1, shape.customers)))
        for _ in range(REPETITIONS)
    ]
    heavy = [Participant(PLATFORM, customer_id(HEAVY_CUSTOMER))]
    technical: list[frozenset[str] | None] = [frozenset({TECHNICAL})]
    everything: list[frozenset[str] | None] = [None]
    groups: list[tuple[str, dict[str, Call], Sequence[Any]]] = [
        ("customer", customer_reads, typical),
        ("heavy", customer_reads, heavy),
        (
            "account",
            {
                "list": for_account,
                "count": count_for_account,
                "bare": bare(
                    engine, _NEWEST_OF_ACCOUNT, lambda number: {"support_number": number}
                ),
            },
            [BIG_ORGANISATION],
        ),
        ("queue", queue_reads, technical),
        ("lead", queue_reads, everything),
    ]
    counters: dict[str, Call] = {
        "customer": count_for_customer,
        "heavy": count_for_customer,
        "account": count_for_account,
        "queue": count_queue,
        "lead": count_queue,
    }
    for name, reads, args in groups:
        figures |= _named(name, await compare(reads, args))
        figures[f"{name}.tickets"] = await _mean_total(counters[name], args)
    figures["spread_s"] = await spread_open(engine, generated.open_numbers, now)
    for name, reads, args in groups[-2:]:
        figures |= _named(f"{name}3y", await compare(reads, args))
        figures[f"{name}3y.tickets"] = await _mean_total(counters[name], args)
    return figures


async def _mean_total(count: Call, args: Sequence[Any]) -> float:
    totals: list[int] = [sum((await count(arg)).values()) for arg in args]
    return sum(totals) / len(totals)


def _named(section: str, figures: Figures) -> Figures:
    return {f"{section}.{key}": value for key, value in figures.items()}


# -- the parent: one child per backend, the report ------------------------------------


def store_backends() -> Iterator[Backend | str]:
    """SQLite always; PostgreSQL when ``BENCH_DATABASE_URL`` names it (Redis plays no
    part here), otherwise why it is skipped."""
    yield Backend("SQLite (temporary file)")
    database_url = os.environ.get("BENCH_DATABASE_URL")
    if database_url:
        yield Backend("PostgreSQL", database_url)
    else:
        yield "skipped: PostgreSQL (BENCH_DATABASE_URL not set; `make bench` starts it)"


def measure_in_child(run: StoreRun) -> Figures:
    return in_child("store", "benchmarks.store", json.dumps(asdict(run)))


def heading(count: int) -> str:
    shape = Shape(count)
    return (
        f"{TITLE}: {count} tickets (BENCH_TICKETS), {shape.open} open, page 1 of 10;\n"
        f"  p50/p95 of {REPETITIONS} reads after {WARM_UP_READS} warm-up rounds, each read "
        "alternating with its bare SELECT on the same engine (target: p95 < "
        f"{TARGET_P95_MS:.0f} ms)"
    )


def main() -> bool:
    """Print the store's figures on every backend; False when one failed."""
    count = tickets()
    print(heading(count))
    ok = True
    for backend in store_backends():
        if isinstance(backend, str):
            print(f"  {backend}")
            continue
        try:
            figures = measure_in_child(StoreRun(count, backend.database_url))
        except ChildFailed as exc:
            print(f"  {backend.label}: failed: {exc}")
            ok = False
            continue
        report(backend, figures)
    return ok


# (figures' prefix, what is read, which bare SELECT it is compared with)
GROUPS = (
    ("customer", "a typical customer's tickets", "customer"),
    ("heavy", "the customer with the most tickets", "customer"),
    ("account", "the big organisation's tickets", "account"),
    ("queue", "the technical queue, open tickets filed in the last 2 weeks", "queue"),
    ("lead", "the lead's queue (every department), the same tickets", "lead"),
    ("queue3y", "the technical queue, open tickets filed over 3 years", "queue"),
    ("lead3y", "the lead's queue (every department), filed over 3 years", "lead"),
)
BARE = {
    "customer": "customer_platform = ? AND customer_id = ? ORDER BY created_at DESC",
    "account": "support_number = ? ORDER BY created_at DESC",
    "queue": "department = 'technical' AND status IN (open) ORDER BY priority DESC",
    "lead": "department IN (all 3) AND status IN (open) ORDER BY priority DESC",
}


def report(backend: Backend, figures: Figures) -> None:
    print(f"  {backend.label}")
    print(
        f"    data      {figures['tickets']:.0f} tickets + {figures['tickets']:.0f} status "
        f"changes generated in {figures['generate_s']:.1f} s "
        f"({rate(figures['tickets'], figures['generate_s']):,.0f} tickets/s), "
        f"settled in {figures['settle_s']:.1f} s"
    )
    print(
        f"              {figures['open']:.0f} open, {figures['customers']:.0f} customers, "
        f"{figures['support_numbers']:.0f} support numbers"
    )
    for key, label, kind in GROUPS:
        if key == "queue3y":
            print(
                f"    moved     the open tickets' filing times over 3 years in "
                f"{figures['spread_s']:.2f} s (settled)"
            )
        found = {
            name[len(key) + 1 :]: v for name, v in figures.items() if name.startswith(key + ".")
        }
        size = (
            f"{found['tickets']:.1f} tickets on average"
            if key == "customer"
            else (f"{found['tickets']:.0f} tickets")
        )
        print(f"    {label} ({size})")
        for name, call in (("list", "page 1"), ("count", "counts")):
            print(
                f"      {call:<8}p50 {found[f'{name}.p50_ms']:6.2f} ms  "
                f"p95 {found[f'{name}.p95_ms']:6.2f} ms  (target: p95 < {TARGET_P95_MS:.0f} ms)"
            )
        print(
            f"      bare    p50 {found['bare.p50_ms']:6.2f} ms  p95 {found['bare.p95_ms']:6.2f} ms"
            f"  WHERE {BARE[kind]} LIMIT 10"
        )
        print(
            f"      ratio   page 1/bare p50 {times(found['list.p50_ms'], found['bare.p50_ms'])}, "
            f"p95 {times(found['list.p95_ms'], found['bare.p95_ms'])}; counts/bare p50 "
            f"{times(found['count.p50_ms'], found['bare.p50_ms'])}, "
            f"p95 {times(found['count.p95_ms'], found['bare.p95_ms'])}"
        )


def child(argv: list[str]) -> int:
    (config,) = argv
    figures = asyncio.run(measure(StoreRun(**json.loads(config))))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(child(sys.argv[1:]))
