"""Explicit moments: every test states its clock instead of reading one."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC moment."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
