"""Incidents and their tickets (``bot.ports.IncidentRepository``)."""

from __future__ import annotations

import functools
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.incident import Incident, IncidentStatus
from store.driver import Prepared
from store.models import IncidentRow, IncidentTicketRow

_INCIDENTS = cast(Table, IncidentRow.__table__)
_LINKS = cast(Table, IncidentTicketRow.__table__)


@functools.cache
def _open_in(departments: frozenset[str] | None) -> Prepared:
    """The open incidents of any of ``departments`` (None: all), newest first: asked at
    every intake that names its department, so compiled once per set and run on the
    driver (no session for the step)."""
    query = select(_INCIDENTS).where(_INCIDENTS.c.status == IncidentStatus.OPEN.value)
    if departments is not None:
        query = query.where(
            or_(*(_INCIDENTS.c.departments.like(f"% {d} %") for d in sorted(departments)))
        )
    return Prepared(query.order_by(_INCIDENTS.c.id.desc()))


class SqlIncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, incident: Incident) -> int:
        result = await self._session.execute(
            insert(_INCIDENTS)
            .values(
                title=incident.title,
                departments=f" {' '.join(incident.departments)} ",
                opened_by=incident.opened_by,
                opened_at=incident.opened_at,
                status=incident.status.value,
                resolved_at=incident.resolved_at,
            )
            .returning(_INCIDENTS.c.id)
        )
        return int(result.scalar_one())

    async def get(self, incident_id: int) -> Incident | None:
        row = (
            await self._session.execute(select(_INCIDENTS).where(_INCIDENTS.c.id == incident_id))
        ).first()
        if row is None:
            return None
        numbers: Any = await self._session.scalars(
            select(_LINKS.c.ticket_number)
            .where(_LINKS.c.incident_id == incident_id)
            .order_by(_LINKS.c.ticket_number)
        )
        return _incident(row, tuple(int(n) for n in numbers))

    async def open_in(self, departments: frozenset[str] | None) -> list[Incident]:
        if departments is not None and not departments:
            return []
        rows = await _open_in(departments).rows(self._session, {})
        return [_incident(SimpleNamespace(**row), ()) for row in rows]

    async def link(self, incident_id: int, number: int) -> None:
        await self._session.execute(delete(_LINKS).where(_LINKS.c.ticket_number == number))
        await self._session.execute(
            insert(_LINKS).values(ticket_number=number, incident_id=incident_id)
        )

    async def resolve(self, incident_id: int, at: datetime) -> None:
        await self._session.execute(
            update(_INCIDENTS)
            .where(_INCIDENTS.c.id == incident_id)
            .values(status=IncidentStatus.RESOLVED.value, resolved_at=at)
        )

    async def of_ticket(self, number: int) -> int | None:
        found = await self._session.scalar(
            select(_LINKS.c.incident_id).where(_LINKS.c.ticket_number == number)
        )
        return None if found is None else int(found)


def _incident(row: Any, tickets: tuple[int, ...]) -> Incident:
    return Incident(
        id=int(row.id),
        title=str(row.title),
        departments=tuple(str(row.departments).split()),
        opened_by=str(row.opened_by),
        opened_at=row.opened_at,
        status=IncidentStatus(row.status),
        resolved_at=row.resolved_at,
        tickets=tickets,
    )
