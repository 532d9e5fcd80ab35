"""Carrying data of an earlier layout over, once, at start.

Before migration 0006 a deployment with Redis kept each running conversation in Redis
(``supportbot:state:<participant key>``) rather than in the database; now it lives in
the customer's row. ``import_redis_states`` moves what is still there, so customers in
the middle of an intake during the upgrade carry on where they were.
"""

from __future__ import annotations

import json
import logging
from typing import Any, cast

from redis.asyncio import Redis
from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import CustomerRow

log = logging.getLogger(__name__)

STATE_PREFIX = "supportbot:state:"
# Set once the states are moved: later starts (every worker's) skip the keyspace scan.
MOVED = "supportbot:legacy:states-moved"


async def import_redis_states(
    client: Redis, sessions: async_sessionmaker[AsyncSession], prefix: str = STATE_PREFIX
) -> int:
    """Move conversation states left in Redis into the customers' rows (a row that has
    a conversation of its own already keeps it); returns how many were moved. Done once
    per Redis: a marker key says so."""
    if await client.exists(MOVED):
        return 0
    customers = cast(Table, CustomerRow.__table__)
    moved = 0
    async for raw_key in client.scan_iter(match=prefix + "*", count=500):
        name = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        raw = await client.get(name)
        try:
            state: Any = json.loads(raw) if raw is not None else None
        except ValueError:
            state = None
        if isinstance(state, dict):
            async with sessions() as session, session.begin():
                result = await session.execute(
                    update(customers)
                    .where(
                        customers.c.key == name[len(prefix) :],
                        customers.c.conversation.is_(None),
                    )
                    .values(conversation=state)
                )
                moved += int(getattr(result, "rowcount", 0))
        await client.delete(name)
    await client.set(MOVED, "1")
    if moved:
        log.info("moved %d conversations from Redis into the database", moved)
    return moved
