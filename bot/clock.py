"""Clocks: the real one, and one tests can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class OffsetClock:
    """The real clock, moved forward on request: the terminal's ``/wait`` uses it to
    show reminders and auto-close without waiting for days."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        moved = self._offset + delta
        now = datetime.now(UTC) + moved  # raises OverflowError past year 9999
        self._offset = moved
        return now


def parse_duration(text: str) -> timedelta | None:
    """``90m``, ``3h``, ``2d``, ``1d12h`` -> timedelta; None when it is not one."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    total, number = timedelta(0), ""
    for ch in text.strip().lower():
        if ch.isdigit():
            number += ch
        elif ch in units and number:
            total += timedelta(**{units[ch]: int(number)})
            number = ""
        else:
            return None
    return total if not number and total > timedelta(0) else None
