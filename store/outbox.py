"""The outbox table: notifications queued in a unit of work, claimed by the relay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notification import Audience, DeliveryStatus, Notification, OutboxItem
from bot.reply import Choice, decode_params, encode_params
from store.models import OutboxRow


class SqlOutbox:
    """``bot.ports.Outbox``: inserts in the unit of work's own transaction, so a
    notification exists exactly when the change it reports was committed."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._position = 0

    async def add(self, notification: Notification) -> None:
        values = _row_values(notification) | {"position": self._position}
        self._position += 1
        await self._session.execute(insert(OutboxRow).values(**values))


class SqlOutboxStore:
    """``bot.ports.OutboxStore``: the relay's side; every call is its own transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def claim_due(self, now: datetime, limit: int, lease_seconds: float) -> list[OutboxItem]:
        if limit <= 0:
            return []
        async with self._sessions() as session, session.begin():
            due = (
                select(OutboxRow.id)
                .where(
                    OutboxRow.status == DeliveryStatus.PENDING.value,
                    OutboxRow.next_attempt_at <= now,
                )
                # Creation order: one recipient's messages must arrive as they were written.
                .order_by(OutboxRow.created_at, OutboxRow.position, OutboxRow.id)
                .limit(limit)
            )
            if session.get_bind().dialect.name == "postgresql":
                # Parallel relays each take different rows instead of queueing on locks.
                # MATERIALIZED: evaluated once; as a plain IN (subquery) the planner may
                # rescan it per row and so claim more than ``limit`` rows.
                locked = (
                    due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
                )
                due = select(locked.c.id)
            # One statement: pick and flip together. The status guard repeats the
            # subquery's condition so a row another claimer already flipped is left alone
            # (SQLite has no row locks but runs one writer at a time).
            claimed = await session.scalars(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_(due.scalar_subquery()),
                    OutboxRow.status == DeliveryStatus.PENDING.value,
                )
                .values(
                    status=DeliveryStatus.SENDING.value,
                    lease_until=now + timedelta(seconds=lease_seconds),
                )
                .returning(OutboxRow)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            rows = sorted(claimed.all(), key=lambda r: (r.created_at, r.position, r.id))
            return [_item(row) for row in rows]

    async def mark_delivered(self, notification_id: str, at: datetime) -> None:
        await self._update(
            notification_id,
            status=DeliveryStatus.DELIVERED.value,
            delivered_at=at,
            lease_until=None,
        )

    async def reschedule(
        self, notification_id: str, at: datetime, error: str, attempted: bool = True
    ) -> None:
        await self._update(
            notification_id,
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=at,
            attempts=OutboxRow.attempts + (1 if attempted else 0),
            last_error=error,
            lease_until=None,
        )

    async def mark_failed(self, notification_id: str, error: str, unreachable: bool) -> None:
        status = DeliveryStatus.UNREACHABLE if unreachable else DeliveryStatus.FAILED
        await self._update(
            notification_id,
            status=status.value,
            attempts=OutboxRow.attempts + 1,
            last_error=error,
            lease_until=None,
        )

    async def expire_leases(self, now: datetime) -> int:
        # A relay that died between sending and marking may or may not have delivered;
        # UNCERTAIN is never claimed again, because a duplicate is worse than a gap.
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.status == DeliveryStatus.SENDING.value,
                    OutboxRow.lease_until < now,
                )
                .values(status=DeliveryStatus.UNCERTAIN.value, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(result, "rowcount", 0))

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

    async def _update(self, notification_id: str, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == notification_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


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
    )
