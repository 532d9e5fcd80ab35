"""Incidents: one problem many customers have (an outage, a broken payment gateway).
Agents link its tickets to it, post one update that reaches every affected customer,
and resolving it resolves its tickets (each customer still confirms)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class IncidentBrief:
    """What a conversation keeps of an incident it offered to join."""

    id: int
    title: str


@dataclass(frozen=True, slots=True)
class Incident:
    title: str
    departments: tuple[str, ...]
    opened_by: str
    opened_at: datetime
    status: IncidentStatus = IncidentStatus.OPEN
    resolved_at: datetime | None = None
    id: int | None = None
    # Numbers of the linked tickets (filled when read).
    tickets: tuple[int, ...] = ()

    @property
    def brief(self) -> IncidentBrief:
        assert self.id is not None
        return IncidentBrief(self.id, self.title)
