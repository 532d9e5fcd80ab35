"""The outbox table: notifications queued in a unit of work, claimed by the relay."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    String,
    Table,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import ColumnElement

from bot.notification import Audience, Backlog, DeliveryStatus, Notification, OutboxItem
from bot.reply import Choice, decode_params, encode_params
from store.driver import Prepared, UnitConnection, among, on_demand
from store.links import LINKS_TABLE as _LINKS
from store.links import LinkWrites, write_links
from store.models import OutboxRow

log = logging.getLogger(__name__)

_OUTBOX = cast(Table, OutboxRow.__table__)
_ADD = Prepared(insert(_OUTBOX))
# How many runs' worth of a team chat's later rows of the same tickets come along.
SAME_TICKET_RUNS = 2


class SqlOutbox:
    """``bot.ports.Outbox``: inserts in the unit of work's own transaction, so a
    notification exists exactly when the change it reports was committed."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._pending: list[dict[str, Any]] = []

    async def add(self, notification: Notification) -> None:
        self._pending.append(_row_values(notification) | {"position": len(self._pending)})

    async def flush(self) -> None:
        """Write what was added, in one statement; the unit of work calls this just
        before it commits."""
        if self._pending:
            rows, self._pending = self._pending, []
            await _ADD.execute_many(self._session, rows)

    def forget(self) -> None:
        """Rolled back: what was added is gone with the transaction."""
        self._pending = []


class SqlOutboxStore:
    """``bot.ports.OutboxStore``: the relay's side; every call is its own transaction.

    The calls that record what sends did (claim with marks, reschedule, failure) also
    write the links the notifiers kept meanwhile (``links``, see ``LinkWrites``), so a
    delivered notification costs one commit, shared with the next claim.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], links: LinkWrites | None = None
    ) -> None:
        self._sessions = sessions
        self._links = links

    @contextlib.asynccontextmanager
    async def _links_in(self, session: AsyncSession) -> AsyncIterator[bool]:
        """Write the kept links in ``session``'s transaction, which the block commits;
        whether there were any. Kept again when the block fails."""
        taken = self._links.take() if self._links is not None else {}
        try:
            await write_links(session, taken)
            yield bool(taken)
        except BaseException:
            if self._links is not None and taken:
                self._links.give_back(taken)
            raise

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        lease_seconds: float,
        *,
        delivered: Collection[str] = (),
        run: int = 1,
        leading: Callable[[Sequence[Notification]], str] | None = None,
    ) -> list[OutboxItem]:
        lease = uuid.uuid4().hex
        restarted: dict[str, bool] = {}  # started flags the claim changed after RETURNING
        async with self._sessions() as session, self._links_in(session) as changed:
            if delivered:
                # The deliveries since the last claim, marked in the transaction of the
                # next one: a commit per claim rather than one per message. Marked first,
                # so those recipients' next messages can be claimed right away.
                changed = await _mark_delivered(session, delivered, now) > 0 or changed
            rows: list[OutboxRow] = []
            if limit > 0:
                claimed = await session.scalars(
                    _claim(session.get_bind().dialect.name),
                    {
                        "now": now,
                        "limit": limit,
                        "lease_until": now + timedelta(seconds=lease_seconds),
                        "lease_token": lease,
                    },
                )
                rows = list(claimed.all())
            if run > 1 and (teams := _team_queues(rows)):
                lease_until = now + timedelta(seconds=lease_seconds)
                heads = len(rows)
                rows += await _claim_followers(session, teams, run - 1, lease_until, lease)
                if tickets := _tickets_of(rows, teams):
                    # Their later rows too, so that each ticket's waiting messages go out
                    # joined even when other tickets' messages lie between them.
                    rows += await _claim_followers(
                        session, list(tickets), run * SAME_TICKET_RUNS, lease_until, lease, tickets
                    )
                if runs := {(r.channel, r.recipient) for r in rows[heads:]}:
                    restarted = await _lead_runs(session, rows, heads, runs, leading)
            # A poll that found nothing changed nothing: it ends without a commit.
            if changed or rows:
                await session.commit()
        rows.sort(key=lambda r: (r.created_at, r.position, r.id))
        items = [_item(row) for row in rows]
        if restarted:
            items = [
                dataclasses.replace(i, started=restarted[i.notification.id])
                if i.notification.id in restarted
                else i
                for i in items
            ]
        return items

    async def mark_delivered(self, notification_id: str, at: datetime) -> None:
        await self.mark_all_delivered((notification_id,), at)

    async def backlog(self, channel: str, recipient: str) -> Backlog:
        async with self._sessions() as session:
            found = (
                await session.execute(
                    _backlog(session.get_bind().dialect.name),
                    {"channel": channel, "recipient": recipient},
                )
            ).first()
        count, oldest = (found[0], found[1]) if found is not None else (0, None)
        if isinstance(oldest, str):  # SQLite hands a MIN() of timestamps back as text
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return Backlog(int(count or 0), oldest)

    async def mark_all_delivered(self, notification_ids: Collection[str], at: datetime) -> None:
        async with self._sessions() as session, self._links_in(session):
            if notification_ids:
                await _mark_delivered(session, notification_ids, at)
            await session.commit()

    async def reschedule(
        self,
        notification_id: str,
        at: datetime,
        error: str,
        attempted: bool = True,
        lease: str | None = None,
    ) -> None:
        await self._update_sending(
            (notification_id,),
            lease,
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=at,
            attempts=OutboxRow.attempts + (1 if attempted else 0),
            last_error=error,
            lease_until=None,
            lease_token=None,
            started=False,
        )

    async def renew(self, notification_ids: Collection[str], until: datetime) -> None:
        # The links kept meanwhile go too: a run that lasts minutes must not lose its
        # new topics' and cards' links to a crash at its end.
        await self._update_sending(notification_ids, lease_until=until)

    async def release(self, notification_ids: Collection[str], lease: str | None = None) -> None:
        await self._update_sending(
            notification_ids,
            lease,
            status=DeliveryStatus.PENDING.value,
            lease_until=None,
            lease_token=None,
            started=False,
        )

    async def mark_progress(
        self, started: Collection[str], delivered: Collection[str], at: datetime, lease: str
    ) -> int:
        # A row delivered now is not started any more (it was SENDING; now it is not).
        starting = [i for i in started if i not in set(delivered)]
        taken = self._links.take() if self._links is not None else {}
        if not (starting or delivered or taken):
            return 0
        params: dict[str, Any] = {"lease": lease, "at": at}
        params["done_ids"], params["start_ids"] = list(delivered), starting
        unit = UnitConnection(self._sessions)
        try:
            await unit.open()
            session = on_demand(unit)
            if unit.asyncpg is not None:
                # One statement on its own (data-modifying WITHs), one round trip.
                for name, values in zip(_LINK_COLUMNS, zip(*taken, strict=True), strict=False):
                    params[f"l_{name}"] = list(values)
                params["l_value"] = list(taken.values())
                report = _report(bool(taken), bool(delivered), bool(starting))
                held = int(await report.scalar(session, params) or 0)
                unit.sync.dispatch.commit(unit.sync)  # its own transaction, which wrote
                return held
            # SQLite: the same three writes in one transaction, on the driver.
            rows = [
                dict(zip(_LINK_COLUMNS, key, strict=True)) | {"value": v}
                for key, v in taken.items()
            ]
            await _WRITE_LINKS.execute_many(session, rows)
            if delivered:
                await _DELIVERED.execute(session, params)
            held = await _STARTED.execute(session, params) if starting else 0
            await unit.commit()
            return held
        except BaseException:
            if self._links is not None and taken:
                self._links.give_back(taken)
            raise
        finally:
            await unit.rollback()
            await unit.close()

    async def _update_sending(
        self, notification_ids: Collection[str], lease: str | None = None, **values: Any
    ) -> None:
        """Set ``values`` on those of these rows still SENDING (under ``lease`` when
        given), with the kept links."""
        if not notification_ids:
            return
        held = [
            OutboxRow.id.in_(list(notification_ids)),
            # Only a row still SENDING: one reported as uncertain meanwhile (its lease
            # ran out), or sent again since, is not this caller's any more; nor, with a
            # lease, one given back and claimed again by another relay.
            OutboxRow.status == DeliveryStatus.SENDING.value,
        ]
        if lease is not None:
            held.append(OutboxRow.lease_token == lease)
        async with self._sessions() as session, self._links_in(session):
            await session.execute(
                update(OutboxRow)
                .where(*held)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def mark_failed(
        self, notification_id: str, error: str, unreachable: bool, lease: str | None = None
    ) -> None:
        status = DeliveryStatus.UNREACHABLE if unreachable else DeliveryStatus.FAILED
        await self._update_sending(
            (notification_id,),
            lease,
            status=status.value,
            attempts=OutboxRow.attempts + 1,
            last_error=error,
            lease_until=None,
            lease_token=None,
        )

    async def take_expired(self, now: datetime, lease_seconds: float) -> list[OutboxItem]:
        # A relay that died between sending and marking may or may not have delivered a
        # started row. It is leased again, to the caller alone, for reporting it; it
        # stays SENDING (holding back its recipient's later messages) until
        # ``mark_uncertain``, so a report cut short by another crash is made again after
        # this lease. A row never started (the rest of a run) was not tried: it goes
        # back to waiting, in its place, in the same statement.
        async with self._sessions() as session:
            taken = await session.scalars(
                update(OutboxRow)
                .where(
                    # The partial index's own condition, so only open rows are read.
                    text(_OPEN.replace("o.", "outbox.")),
                    OutboxRow.status == DeliveryStatus.SENDING.value,
                    OutboxRow.lease_until < now,
                )
                .values(
                    status=case(
                        (OutboxRow.started, DeliveryStatus.SENDING.value),
                        else_=DeliveryStatus.PENDING.value,
                    ),
                    lease_until=case(
                        (OutboxRow.started, now + timedelta(seconds=lease_seconds)),
                        else_=None,
                    ),
                    lease_token=None,
                )
                .returning(OutboxRow)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            rows = list(taken.all())
            if rows:
                await session.commit()
        if released := [r.id for r in rows if r.status != DeliveryStatus.SENDING.value]:
            log.info(
                "%d notifications of a stopped relay were not tried; queued again", len(released)
            )
        rows = [r for r in rows if r.status == DeliveryStatus.SENDING.value]
        rows.sort(key=lambda r: (r.created_at, r.position, r.id))
        return [_item(row) for row in rows]

    async def mark_uncertain(self, notification_ids: Collection[str]) -> int:
        if not notification_ids:
            return 0
        # UNCERTAIN is never claimed again (a duplicate is worse than a gap) and no
        # longer holds back the recipient's later messages.
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_(list(notification_ids)),
                    OutboxRow.status == DeliveryStatus.SENDING.value,
                )
                .values(status=DeliveryStatus.UNCERTAIN.value, lease_until=None, lease_token=None)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result)

    async def resend(self, notification_id: str) -> bool:
        # next_attempt_at stays as it was: it had come when the row was claimed, so the
        # row is due at once. Attempts are kept: they count real tries.
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == notification_id,
                    OutboxRow.status == DeliveryStatus.UNCERTAIN.value,
                )
                .values(status=DeliveryStatus.PENDING.value, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    async def get(self, notification_id: str) -> OutboxItem | None:
        async with self._sessions() as session:
            row = await session.get(OutboxRow, notification_id)
            return _item(row) if row is not None else None

    async def items(
        self, statuses: Sequence[str] | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        query = (
            select(OutboxRow)
            .order_by(OutboxRow.created_at, OutboxRow.position, OutboxRow.id)
            .limit(limit)
        )
        if statuses is not None:
            query = query.where(OutboxRow.status.in_([str(status) for status in statuses]))
        async with self._sessions() as session:
            return [_item(row) for row in await session.scalars(query)]


# Rows that hold back the later messages of their recipient.
_UNFINISHED = (DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value)


# The relay's statements run on every claim: built once (per dialect), bound each time.


@functools.cache
def _claim(dialect: str) -> ReturningUpdate[OutboxRow]:
    """Move the rows ``_heads`` names to SENDING, leased until ``:lease_until``."""
    return (
        update(OutboxRow)
        .where(
            OutboxRow.id.in_(_heads(dialect).scalar_subquery()),
            # Repeats the subquery's condition, so a row another claimer flipped
            # meanwhile is left alone (SQLite has no row locks but runs one writer at a
            # time).
            OutboxRow.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.SENDING.value,
            lease_until=bindparam("lease_until", type_=OutboxRow.lease_until.type),
            lease_token=bindparam("lease_token", type_=String),
            # Straight to its send (unless its run goes first with another: ``_lead_runs``).
            started=True,
        )
        .returning(OutboxRow)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


async def _lead_runs(
    session: AsyncSession,
    rows: Sequence[OutboxRow],
    heads: int,
    runs: Collection[tuple[str, str]],
    leading: Callable[[Sequence[Notification]], str] | None,
) -> dict[str, bool]:
    """Of each run that brought followers, start the row its notifier sends first
    (``leading``) instead of its head, where they differ: the first call of a run costs
    no commit of its own, and a crash before it leaves in doubt only that row, as it
    does a row claimed alone. The started flags changed, by id."""
    if leading is None:
        return {}
    ordered = sorted(rows, key=lambda r: (r.created_at, r.position, r.id))
    changed: dict[str, bool] = {}
    for head in rows[:heads]:
        queue = (head.channel, head.recipient)
        if queue not in runs:
            continue
        run = [_item(r).notification for r in ordered if (r.channel, r.recipient) == queue]
        lead = leading(run)
        if lead != head.id:
            changed[head.id] = False
            changed[lead] = True
    if changed:
        await session.execute(
            _restart(),
            {"ids": list(changed), "started": [i for i, on in changed.items() if on]},
        )
    return changed


@functools.cache
def _restart() -> Update:
    """Of ``:ids``, started exactly those in ``:started``."""
    return (
        update(OutboxRow)
        .where(OutboxRow.id.in_(bindparam("ids", expanding=True)))
        .values(started=OutboxRow.id.in_(bindparam("started", expanding=True)))
        .execution_options(synchronize_session=False)
    )


# The open rows (PENDING, SENDING), spelled as the partial index ``ix_outbox_open_queue``
# spells them, so the planners see that it covers the query.
_OPEN = "o.status IN ('pending', 'sending')"
# SQLite without statistics (no ANALYZE yet) prefers the status index and scans the
# open rows: it is told which index to use. PostgreSQL's planner finds it.
_QUEUE_SQLITE = "outbox o INDEXED BY ix_outbox_open_queue"
_HEADS = """
WITH RECURSIVE queues(channel, recipient) AS (
    SELECT channel, recipient FROM (
        SELECT o.channel, o.recipient FROM {queue} WHERE {open}
        ORDER BY o.channel, o.recipient LIMIT 1
    ) AS first_queue
    UNION ALL
    -- The next recipient of the same channel, else the first of the next channel: two
    -- seeks a hop (one compound "(channel, recipient) > (...)" would be scanned).
    SELECT
        COALESCE(
            (SELECT o.channel FROM {queue}
              WHERE {open} AND o.channel = q.channel AND o.recipient > q.recipient
              ORDER BY o.recipient LIMIT 1),
            (SELECT o.channel FROM {queue} WHERE {open} AND o.channel > q.channel
              ORDER BY o.channel, o.recipient LIMIT 1)),
        COALESCE(
            (SELECT o.recipient FROM {queue}
              WHERE {open} AND o.channel = q.channel AND o.recipient > q.recipient
              ORDER BY o.recipient LIMIT 1),
            (SELECT o.recipient FROM {queue} WHERE {open} AND o.channel > q.channel
              ORDER BY o.channel, o.recipient LIMIT 1))
    FROM queues q WHERE q.channel IS NOT NULL
),
heads AS MATERIALIZED (
    SELECT (SELECT o.id FROM {queue}
             WHERE {open} AND o.channel = q.channel AND o.recipient = q.recipient
             ORDER BY o.created_at, o.position, o.id LIMIT 1) AS id
    FROM queues q WHERE q.channel IS NOT NULL
)
SELECT head.id FROM heads CROSS JOIN outbox head
WHERE head.id = heads.id AND head.status = 'pending' AND head.next_attempt_at <= :now
ORDER BY head.created_at, head.position, head.id
LIMIT :limit
"""


def _heads(dialect: str) -> Select[str]:
    """Ids of up to ``:limit`` rows that are PENDING, due by ``:now`` and the oldest
    unfinished row of their recipient, oldest first.

    A loose index scan of ``ix_outbox_open_queue``: the recursive part hops from one
    recipient with open rows to the next (a seek each), then each recipient's first
    row is read off the index. Its cost grows with the number of recipients that have
    open rows, not with their backlogs: a team chat paced to 20 messages a minute may
    have hundreds waiting. (Ranking every open row with ``row_number()`` cost 1.3 ms
    for 1,000 open rows on SQLite and 180 ms for 100,000; a NOT EXISTS "older open
    row" probe was planned by PostgreSQL as a quadratic hash anti-join.)
    """
    queue = _QUEUE_SQLITE if dialect == "sqlite" else "outbox o"
    heads = (
        text(_HEADS.format(open=_OPEN, queue=queue))
        .bindparams(
            bindparam("now", type_=OutboxRow.next_attempt_at.type),
            bindparam("limit", type_=Integer),
        )
        .columns(id=String)
        .cte("heads_due")
    )
    if dialect == "postgresql":
        # Ranked once whatever the planner thinks of the table's size.
        heads = heads.prefix_with("MATERIALIZED")
    due = select(heads.c.id)
    if dialect != "postgresql":
        return due
    # Parallel relays each take different rows instead of queueing on locks (the heads
    # cannot be locked where they are found, hence the join). MATERIALIZED: evaluated
    # once; as a plain IN (subquery) the planner may rescan it per row.
    row = aliased(OutboxRow, name="claimed")
    locked = (
        select(row.id)
        .join(heads, heads.c.id == row.id)
        .where(row.status == DeliveryStatus.PENDING.value)
        .with_for_update(skip_locked=True, of=row)
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    return select(locked.c.id)


def _team_queues(heads: Sequence[OutboxRow]) -> list[tuple[str, str]]:
    """The team chats among the claimed heads: their next rows may ride along, unless
    the head failed before. A run's failure is charged to its head, so after one the
    head goes alone: a notification that always fails is found out on its own instead
    of costing the good ones ahead of it their tries."""
    return sorted(
        {
            (r.channel, r.recipient)
            for r in heads
            if r.audience == Audience.TEAM.value and r.attempts == 0
        }
    )


def _tickets_of(
    rows: Sequence[OutboxRow], queues: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[int]]:
    """The tickets of the rows claimed for each of these team chats."""
    wanted = set(queues)
    found: dict[tuple[str, str], set[int]] = {}
    for r in rows:
        if (r.channel, r.recipient) in wanted and r.ticket_number is not None:
            found.setdefault((r.channel, r.recipient), set()).add(r.ticket_number)
    return {queue: sorted(numbers) for queue, numbers in sorted(found.items())}


async def _claim_followers(
    session: AsyncSession,
    queues: Sequence[tuple[str, str]],
    more: int,
    lease_until: datetime,
    lease: str,
    tickets: Mapping[tuple[str, str], Sequence[int]] | None = None,
) -> list[OutboxRow]:
    """Claim up to ``more`` pending rows of each of these queues, in their order (only
    rows of ``tickets[queue]`` when given): a team chat's next messages, sent with its
    head (claimed in this transaction) so that its notifier can join them
    (``Notifier.deliver_run``). Each ticket's rows taken are the first it has waiting,
    so its order holds; other tickets' rows may be passed over, which only the head's
    recipient could tell, and it is held by the head. They need no lock of their own:
    behind a SENDING head no other claimer takes them."""
    params: dict[str, Any] = {"more": more, "lease_until": lease_until, "lease_token": lease}
    for i, queue in enumerate(queues):
        params[f"c{i}"], params[f"r{i}"] = queue
        if tickets is not None:
            params[f"t{i}"] = list(tickets[queue])
    statement = _followers(session.get_bind().dialect.name, len(queues), tickets is not None)
    found = await session.scalars(statement, params)
    return list(found.all())


@functools.cache
def _followers(dialect: str, queues: int, of_tickets: bool) -> ReturningUpdate[OutboxRow]:
    queue = _QUEUE_SQLITE if dialect == "sqlite" else "outbox o"
    each = (
        f"SELECT f.id FROM (SELECT o.id FROM {queue}"
        f" WHERE {_OPEN} AND o.channel = :c{{i}} AND o.recipient = :r{{i}}"
        " AND o.status = 'pending'"
        + (" AND o.ticket_number IN :t{i}" if of_tickets else "")
        + " ORDER BY o.created_at, o.position, o.id LIMIT :more) AS f"
    )
    ids = text(" UNION ALL ".join(each.format(i=i) for i in range(queues)))
    if of_tickets:
        ids = ids.bindparams(*(bindparam(f"t{i}", expanding=True) for i in range(queues)))
    return (
        update(OutboxRow)
        .where(
            OutboxRow.id.in_(ids.columns(id=String)),
            OutboxRow.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.SENDING.value,
            lease_until=bindparam("lease_until", type_=OutboxRow.lease_until.type),
            lease_token=bindparam("lease_token", type_=String),
            # Started one call at a time, as the notifier reaches them.
            started=False,
        )
        .returning(OutboxRow)
        .execution_options(synchronize_session=False, populate_existing=True)
    )


@functools.cache
def _backlog(dialect: str) -> Any:
    """One recipient's open rows, counted on the open-queue index."""
    queue = _QUEUE_SQLITE if dialect == "sqlite" else "outbox o"
    return text(
        f"SELECT count(*), min(o.created_at) FROM {queue}"
        f" WHERE {_OPEN} AND o.channel = :channel AND o.recipient = :recipient"
    )


def _delivering(ids: ColumnElement[bool], at: Any) -> Update:
    """Mark the rows ``ids`` picks delivered at ``at``."""
    return (
        update(OutboxRow)
        .where(
            ids,
            # UNCERTAIN too: a send that outlived its lease did go out after all.
            or_(
                OutboxRow.status == DeliveryStatus.SENDING.value,
                OutboxRow.status == DeliveryStatus.UNCERTAIN.value,
            ),
        )
        .values(status=DeliveryStatus.DELIVERED.value, delivered_at=at, lease_until=None)
    )


_LINK_COLUMNS = ("channel", "kind", "key")


@functools.cache
def _report(links: bool, delivered: bool, started: bool) -> Prepared:
    """PostgreSQL: ``mark_progress`` as one statement (the kept links from arrays, the
    delivered rows, the started ones, each a data-modifying WITH); it returns how many
    rows were started."""
    parts: list[Any] = []
    if links:
        given = (
            func.unnest(
                *(bindparam(f"l_{c}", type_=ARRAY(String)) for c in (*_LINK_COLUMNS, "value"))
            )
            .table_valued(*_LINK_COLUMNS, "value")
            .render_derived()
        )
        rows = postgresql.insert(_LINKS).from_select([*_LINK_COLUMNS, "value"], select(*given.c))
        parts.append(
            rows.on_conflict_do_update(
                index_elements=list(_LINK_COLUMNS), set_={"value": rows.excluded.value}
            )
            .returning(_LINKS.c.key)
            .cte("links")
        )
    if delivered:
        parts.append(_delivered("postgresql").returning(OutboxRow.id).cte("delivered"))
    held: Any = literal(0)
    if started:
        marked = _started("postgresql").returning(OutboxRow.id).cte("started")
        parts.append(marked)
        held = select(func.count()).select_from(marked).scalar_subquery()
    return Prepared(select(held.label("held")).add_cte(*parts))


def _delivered(dialect: str) -> Update:
    """The rows in ``:done_ids`` marked delivered at ``:at``."""
    at = bindparam("at", type_=OutboxRow.delivered_at.type)
    return _delivering(among(_OUTBOX.c.id, "done_ids", dialect), at)


def _started(dialect: str) -> Update:
    """The rows in ``:start_ids`` marked started, where still SENDING under ``:lease``."""
    return (
        update(OutboxRow)
        .where(
            among(_OUTBOX.c.id, "start_ids", dialect),
            OutboxRow.status == DeliveryStatus.SENDING.value,
            OutboxRow.lease_token == bindparam("lease", type_=String),
        )
        .values(started=True)
    )


_WRITE_LINKS = Prepared(
    (_upsert := sqlite.insert(_LINKS)).on_conflict_do_update(
        index_elements=list(_LINK_COLUMNS), set_={"value": _upsert.excluded.value}
    )
)
_DELIVERED = Prepared(_delivered("sqlite"))
_STARTED = Prepared(_started("sqlite"))


@functools.cache
def _deliver() -> Update:
    return _delivering(
        OutboxRow.id.in_(bindparam("ids", expanding=True)),
        bindparam("at", type_=OutboxRow.delivered_at.type),
    ).execution_options(synchronize_session=False)


async def _mark_delivered(session: AsyncSession, ids: Collection[str], at: datetime) -> int:
    return _rowcount(await session.execute(_deliver(), {"ids": list(ids), "at": at}))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))


def _row_values(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "channel": notification.channel,
        "audience": notification.audience.value,
        "recipient": notification.recipient,
        "ticket_number": notification.ticket_number,
        "key": notification.key,
        "params": encode_params(notification.params),
        "choices": [
            {"value": choice.value, "key": choice.key, "params": encode_params(choice.params)}
            for choice in notification.choices
        ],
        "locale": notification.locale,
        "created_at": notification.created_at,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": notification.created_at,
        "lease_until": None,
        "last_error": "",
        "delivered_at": None,
        "started": False,
    }


def _item(row: OutboxRow) -> OutboxItem:
    notification = Notification(
        id=row.id,
        channel=row.channel,
        audience=Audience(row.audience),
        recipient=row.recipient,
        key=row.key,
        created_at=row.created_at,
        params=decode_params(row.params),
        choices=tuple(
            Choice(str(c["value"]), str(c["key"]), decode_params(c.get("params", {})))
            for c in row.choices
        ),
        locale=row.locale,
        ticket_number=row.ticket_number,
    )
    return OutboxItem(
        notification=notification,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        started=bool(row.started),
        lease=row.lease_token,
    )
