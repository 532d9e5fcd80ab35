"""The Redis client every part of a worker shares.

redis-py's default pool takes a connection inside an ``asyncio.Lock`` and checks it
there with an await: under a hundred concurrent updates, each command queued at that
lock and was let through one event-loop turn after the one before it (up to 17 of a
worker's tasks waiting there on average in the workers benchmark). Its
``BlockingConnectionPool`` takes an idle connection under its lock with no await and
checks it outside; when all ``MAX_CONNECTIONS`` are in use a command waits for one
(up to ``WAIT_SECONDS``) rather than opening more.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

# A worker holds up to a batch of 100 updates at a time, each with a command or two
# under way at most, besides the relay, the clock and the pacer.
MAX_CONNECTIONS = 128
WAIT_SECONDS = 20.0


def redis_client(url: str) -> Redis:
    """A client for ``url`` on a ``BlockingConnectionPool``."""
    pool = BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=WAIT_SECONDS
    )
    return Redis.from_pool(pool)  # the client closes the pool with it
