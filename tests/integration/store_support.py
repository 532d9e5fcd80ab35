"""Helpers shared by the store tests (backends, sample tickets, fake clocks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.participant import Participant
from bot.ticket import Origin, RequestType, Ticket
from store.db import create_engine, migrate, session_factory
from store.models import Base
from store.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Backend:
    """A migrated, empty database for one test."""

    name: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWorkFactory(self.sessions)()


@asynccontextmanager
async def open_backend(kind: str, tmp_path: Path, pg: str | None) -> AsyncIterator[Backend]:
    if kind == "sqlite":
        # A sub-folder that does not exist yet: create_engine must make it.
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'desk.db'}")
        await migrate(engine)
    else:
        assert pg is not None
        engine = create_engine(pg)
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    try:
        yield Backend(kind, engine, session_factory(engine))
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_redis(url: str) -> AsyncIterator[tuple[Redis, str]]:
    """A client and a key prefix of this test only; its keys are removed afterwards."""
    client = Redis.from_url(url)
    prefix = f"supportbot-test:{uuid.uuid4().hex}:"
    try:
        yield client, prefix
    finally:
        try:
            keys = [key async for key in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


class FakeSeconds:
    """A settable clock in seconds, for the rate limiters."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def make_ticket(**changes: Any) -> Ticket:
    values: dict[str, Any] = {
        "customer": Participant("telegram", "1001"),
        "customer_name": "Jana Nováková",
        "department": "technical",
        "category": "eshop",
        "request_type": RequestType.BUG,
        "title": "Cart is empty after login",
        "description": "Items vanish from the cart when I log in.",
        "origin": Origin("telegram"),
        "created_at": T0,
        "support_number": "SN-100",
        "domain": "shop.cz",
    }
    values.update(changes)
    return Ticket(**values)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
