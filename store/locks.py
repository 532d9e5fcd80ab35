"""Locks shared by every worker: Redis when configured, PostgreSQL advisory locks."""

from __future__ import annotations

import abc
import contextlib
import hashlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.gate import MemoryLocks

# Longest an update may hold its participant's lock before Redis lets it go (a
# worker that died holding it must not block that customer for ever).
LOCK_TIMEOUT_SECONDS = 60.0
# Longest an update waits for the lock before it fails (and is delivered again).
LOCK_WAIT_SECONDS = 30.0


class _FleetLocks(abc.ABC):
    """``bot.ports.Locks`` shared by the fleet (``_shared``), with this process's waiters
    queued in front of it (``MemoryLocks``, first come first served): a shared lock goes
    to whichever waiter asks first after a release, so one worker keeps its updates'
    arrival order only this way."""

    def __init__(self) -> None:
        self._local = MemoryLocks()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._local.hold(key), self._shared(key):
            yield

    @abc.abstractmethod
    def _shared(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The fleet-wide part of the lock (Redis, an advisory lock)."""


class RedisLocks(_FleetLocks):
    """Locks on Redis (redis-py's ``Lock``: a token under the key, released only by its
    owner, expiring after ``timeout`` seconds)."""

    def __init__(
        self,
        client: Redis,
        prefix: str = "supportbot:lock:",
        timeout: float = LOCK_TIMEOUT_SECONDS,
        wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        super().__init__()
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        self._wait = wait

    @contextlib.asynccontextmanager
    async def _shared(self, key: str) -> AsyncIterator[None]:
        lock = self._client.lock(
            self._prefix + key,
            timeout=self._timeout,
            sleep=0.005,
            blocking_timeout=self._wait,
        )
        if not await lock.acquire():
            raise TimeoutError(f"lock {key!r} not free after {self._wait}s")
        try:
            yield
        finally:
            # Expired meanwhile (an update longer than the timeout): nothing to release.
            with contextlib.suppress(Exception):
                await lock.release()


class AdvisoryLocks(_FleetLocks):
    """Locks on PostgreSQL session advisory locks, for a fleet that shares
    PostgreSQL without Redis. Each held lock keeps one connection of ``engine``, which
    must not be the units of work's (a lock holder waits for a unit's connection; with
    one pool, holders could take every connection and wait for ever)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self._engine = engine

    @contextlib.asynccontextmanager
    async def _shared(self, key: str) -> AsyncIterator[None]:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "big", signed=True)
        async with self._engine.connect() as connection:
            # Session locks outlive transactions: no transaction is held open meanwhile.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # Bounded like the Redis lock's wait: the update fails and comes again.
            await connection.execute(text(f"SET lock_timeout = '{int(LOCK_WAIT_SECONDS)}s'"))
            await connection.execute(select(func.pg_advisory_lock(number)))
            try:
                yield
            finally:
                await connection.execute(select(func.pg_advisory_unlock(number)))
