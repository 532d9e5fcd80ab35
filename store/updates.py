"""The update queue (``bot.ports.UpdateQueue``): the durable hand-off from a channel's
one receiver to its workers, in the ``pending_updates`` table or in Redis streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ports import ClaimedUpdate, QueuedUpdate
from store.models import PendingUpdateRow

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0
# The first key of the two-key advisory lock that serialises claims on PostgreSQL (the
# two-key space does not overlap the one-key space of the participants' locks).
_CLAIM_LOCK_CLASS = 0x5570


def _now() -> datetime:
    return datetime.now(UTC)


def _unique(updates: Sequence[QueuedUpdate]) -> list[QueuedUpdate]:
    seen: set[str] = set()
    out = []
    for item in updates:
        if item.update_id not in seen:
            seen.add(item.update_id)
            out.append(item)
    return out


class SqlUpdateQueue:
    """``bot.ports.UpdateQueue`` in the ``pending_updates`` table (no Redis: embedded
    SQLite, or PostgreSQL alone).

    A row is inserted on receipt and deleted once handled. ``payload`` keeps the
    ordering key beside the update: ``{"key": ..., "update": {...}}``. A claim leases
    the oldest waiting rows of keys that have no row under a live lease, so a key is
    held by one worker at a time and its rows are handed out oldest first.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channel: str,
        bot: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._sessions = sessions
        self.channel = channel
        self.bot = bot
        self._lease = timedelta(seconds=lease_seconds)
        self._held: dict[str, set[int]] = {}
        # Wakes a waiting claim in this process as soon as the receiver here puts.
        self._arrived = asyncio.Event()
        lock = zlib.crc32(f"{channel}:{bot}".encode())
        self._lock_id = lock - 2**32 if lock >= 2**31 else lock

    def _ours(self) -> Any:
        return and_(PendingUpdateRow.channel == self.channel, PendingUpdateRow.bot == self.bot)

    async def put(self, updates: Sequence[QueuedUpdate]) -> None:
        items = _unique(updates)
        if not items:
            return
        now = _now()
        rows = [
            {
                "channel": self.channel,
                "bot": self.bot,
                "update_id": item.update_id,
                "payload": {"key": item.key, "update": item.payload},
                "received_at": now,
                "attempts": 0,
            }
            for item in items
        ]
        keys = ["channel", "bot", "update_id"]
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                pg = postgresql.insert(PendingUpdateRow).values(rows)
                await session.execute(pg.on_conflict_do_nothing(index_elements=keys))
            else:
                lite = sqlite.insert(PendingUpdateRow).values(rows)
                await session.execute(lite.on_conflict_do_nothing(index_elements=keys))
        self._arrived.set()

    async def claim(self, worker: str, limit: int, wait: float) -> list[ClaimedUpdate]:
        self._arrived.clear()
        claimed = await self._claim(worker, limit)
        if not claimed and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), wait)
        return claimed

    async def _claim(self, worker: str, limit: int) -> list[ClaimedUpdate]:
        if limit <= 0:
            return []
        now = _now()
        row = PendingUpdateRow
        key = row.payload["key"].as_string()
        # A chat whose updates another worker holds is left to it; one this worker
        # holds, it may claim more of (they wait behind the others in its chain, and
        # an album's later parts reach the worker gathering the album).
        mine = sorted(self._held.get(worker, ()))
        held = select(key).where(
            self._ours(), row.lease_until > now, *([row.id.not_in(mine)] if mine else [])
        )
        free = (
            select(row.id)
            .where(
                self._ours(),
                or_(row.lease_until.is_(None), row.lease_until <= now),
                key.not_in(held),
            )
            .order_by(row.id)
            .limit(limit)
        )
        async with self._sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # Claims take turns (for the few milliseconds of this statement), so
                # each one sees the leases of the one before. FOR UPDATE SKIP LOCKED
                # would let two claims split one key's rows between two workers, and
                # skip a row whose done() has not committed yet while taking the row
                # after it: either reorders a chat.
                await session.execute(
                    select(func.pg_advisory_xact_lock(_CLAIM_LOCK_CLASS, self._lock_id))
                )
            # One statement: on SQLite it holds the write lock from its first read.
            result = await session.scalars(
                update(row)
                .where(row.id.in_(free.scalar_subquery()))
                .values(lease_until=now + self._lease, attempts=row.attempts + 1)
                .returning(row)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
            rows = sorted(result.all(), key=lambda r: r.id)
        self._held.setdefault(worker, set()).update(r.id for r in rows)
        return [
            ClaimedUpdate(
                ref=str(r.id),
                update=QueuedUpdate(r.update_id, str(r.payload["key"]), r.payload["update"]),
                attempts=r.attempts,
            )
            for r in rows
        ]

    async def renew(self, worker: str) -> None:
        ids = sorted(self._held.get(worker, ()))
        if not ids:
            return
        # Rows whose lease ran out and that another worker claimed meanwhile get their
        # lease extended too: harmless, they are being handled either way.
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PendingUpdateRow)
                .where(PendingUpdateRow.id.in_(ids), PendingUpdateRow.lease_until.is_not(None))
                .values(lease_until=_now() + self._lease)
                .execution_options(synchronize_session=False)
            )

    async def done(self, worker: str, claimed: ClaimedUpdate) -> None:
        row_id = int(claimed.ref)
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(PendingUpdateRow)
                .where(PendingUpdateRow.id == row_id)
                .execution_options(synchronize_session=False)
            )
        self._held.get(worker, set()).discard(row_id)
        # The key's next rows, if any, may be claimed now: wake a claim waiting here.
        self._arrived.set()

    async def leave(self, worker: str) -> None:
        ids = sorted(self._held.pop(worker, ()))
        if not ids:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(PendingUpdateRow)
                .where(PendingUpdateRow.id.in_(ids))
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            )


# -- Redis -----------------------------------------------------------------------------

GROUP = "workers"
DEFAULT_PARTITIONS = 16
DEFAULT_MAXLEN = 100_000
# How often a worker says it is alive and looks at the others' share, at most: a worker
# that joins a running fleet gets its share within a few of these, not a third of a
# lease (10 s by default, longer than a burst of work). One script call each time.
DEFAULT_REBALANCE_SECONDS = 1.0
# While a worker holds less than its share, or gives partitions back: look this often.
_HANDOVER_SECONDS = 0.1
# How long a received update id is remembered, so that Telegram delivering it again
# (the receiver died before it could confirm) does not queue it twice. Telegram keeps
# undelivered updates for 24 hours.
SEEN_SECONDS = 86_400

# Per update: remember its id (unless seen before) and append it to its partition.
# KEYS: seen_1, stream_1, seen_2, stream_2, ...; ARGV: ttl, maxlen, then per update
# id, key, payload. Returns how many were new.
_PUT = """
local added = 0
for i = 1, #KEYS, 2 do
    local j = 2 + (i - 1) / 2 * 3
    if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
        redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', ARGV[2], '*',
            'id', ARGV[j + 1], 'key', ARGV[j + 2], 'payload', ARGV[j + 3])
        added = added + 1
    end
end
return added
"""
# A worker is alive until ARGV[2] ms from now (the server's clock); returns how many are.
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""
# Extend the partition leases still held by ARGV[1]; 1 or 0 per key.
_RENEW = """
local out = {}
for i, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        redis.call('PEXPIRE', key, ARGV[2])
        out[i] = 1
    else
        out[i] = 0
    end
end
return out
"""
# Read up to ARGV[3] new entries of the streams KEYS (in that order) for consumer ARGV[2]
# of group ARGV[1]: first each stream's even share, all in one XREADGROUP (of the first
# ARGV[3] streams when there are more), then, while there is room, from the streams that
# may have more (those that gave their whole share, and those not read). Returns {1,
# {{stream number, entries}, ...}}; or, when no stream had any, {0, {each stream's last
# generated id}} to wait from.
_CLAIM = """
local limit = tonumber(ARGV[3])
local first = math.min(#KEYS, limit)
local share = math.max(1, math.floor(limit / #KEYS))
local read = {'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', share, 'STREAMS'}
local number = {}
for i = 1, first do
    read[#read + 1] = KEYS[i]
    number[KEYS[i]] = i
end
for i = 1, first do
    read[#read + 1] = '>'
end
local out = {}
local got = 0
local full = {}
local reply = redis.call(unpack(read))
if reply then
    for _, stream in ipairs(reply) do
        local entries = stream[2]
        if #entries > 0 then
            local i = number[stream[1]]
            got = got + #entries
            out[#out + 1] = {i, entries}
            full[i] = #entries >= share
        end
    end
end
for i = 1, #KEYS do
    if got >= limit then
        break
    end
    if full[i] or i > first then
        local more = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT',
            limit - got, 'STREAMS', KEYS[i], '>')
        if more and #more[1][2] > 0 then
            got = got + #more[1][2]
            out[#out + 1] = {i, more[1][2]}
        end
    end
end
if got > 0 then
    return {1, out}
end
local last = {}
for i, key in ipairs(KEYS) do
    local info = redis.call('XINFO', 'STREAM', key)
    for j = 1, #info, 2 do
        if info[j] == 'last-generated-id' then
            last[i] = info[j + 1]
        end
    end
end
return {0, last}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class _Member:
    """What one worker holds: its partitions, and the entries it has not finished."""

    owned: set[int] = field(default_factory=set)
    # Partitions taken over whose previous owner's entries are not all claimed yet:
    # partition -> XAUTOCLAIM cursor.
    recovering: dict[int, str] = field(default_factory=dict)
    # More partitions than its share: not read any more, released once finished.
    draining: set[int] = field(default_factory=set)
    inflight: dict[int, set[str]] = field(default_factory=dict)
    maintained_at: float = -math.inf
    share: int = 0  # partitions it should hold, as of the last maintenance
    turn: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RedisUpdateQueue:
    """``bot.ports.UpdateQueue`` on Redis streams.

    Updates are spread over ``partitions`` streams by a hash of their key (the chat),
    each with one consumer group. A worker reads only the partitions it holds a lease
    on (a key renewed every ``rebalance_seconds``, at most a third of ``lease_seconds``),
    and the partitions are shared out evenly among the live workers (a worker that
    joins gets its share within a few ``rebalance_seconds``); so one chat's updates are
    read by one worker at a time, which hands them to its handler one after another. An
    entry is acknowledged (and deleted) once handled. A worker that takes a partition
    over first claims, with ``XAUTOCLAIM``, the entries its previous owner left
    unacknowledged once they have been idle for a lease, and reads no new entry of that
    partition before all of them are claimed; since a stream's entries are delivered in
    order, the oldest ones are the idlest, so what is claimed is always the oldest part
    and the chat's order holds.

    Entries are only as durable as Redis: run it with ``appendonly yes``. A stream is
    capped at about ``maxlen`` entries; beyond that (no worker for a long time) the
    oldest are dropped.
    """

    def __init__(
        self,
        client: Redis,
        channel: str,
        bot: str,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        maxlen: int = DEFAULT_MAXLEN,
        prefix: str = "supportbot:updates:",
        rebalance_seconds: float = DEFAULT_REBALANCE_SECONDS,
    ) -> None:
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        self._client = client
        self.channel = channel
        self.bot = bot
        self.partitions = partitions
        self._lease = lease_seconds
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._maintain_every = min(lease_seconds / 3, rebalance_seconds)
        self._maxlen = maxlen
        self._base = f"{prefix}{channel}:{bot}"
        self._put = client.register_script(_PUT)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._read = client.register_script(_CLAIM)
        self._members: dict[str, _Member] = {}

    # -- names ---------------------------------------------------------------------------

    def partition(self, key: str) -> int:
        """The partition of an ordering key (stable across processes and restarts)."""
        return zlib.crc32(key.encode()) % self.partitions

    def stream(self, partition: int) -> str:
        return f"{self._base}:{partition}"

    def _owner(self, partition: int) -> str:
        return f"{self._base}:{partition}:owner"

    def _registry(self) -> str:
        return f"{self._base}:workers"

    # -- receiver ------------------------------------------------------------------------

    async def put(self, updates: Sequence[QueuedUpdate]) -> None:
        items = _unique(updates)
        if not items:
            return
        keys: list[str] = []
        args: list[str | int] = [SEEN_SECONDS, self._maxlen]
        for item in items:
            keys += [f"{self._base}:seen:{item.update_id}", self.stream(self.partition(item.key))]
            args += [item.update_id, item.key, json.dumps(item.payload, separators=(",", ":"))]
        await self._put(keys=keys, args=args)

    # -- workers -------------------------------------------------------------------------

    def _member(self, worker: str) -> _Member:
        member = self._members.get(worker)
        if member is None:
            member = self._members[worker] = _Member()
        return member

    async def claim(self, worker: str, limit: int, wait: float) -> list[ClaimedUpdate]:
        member = self._member(worker)
        # A blocking read holds the member's lock; keep it well inside a lease.
        wait = max(0.0, min(wait, self._lease / 4))
        async with member.lock:
            if time.monotonic() - member.maintained_at >= self._maintain_interval(member):
                await self._maintain(worker, member)
            try:
                return await self._claim(worker, member, limit, wait)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                # Redis lost its data (restarted without persistence): start again.
                log.warning("update streams of %s were lost; recreating them", self._base)
                for partition in member.owned:
                    await self._ensure_group(partition)
                return []

    def _maintain_interval(self, member: _Member) -> float:
        if member.draining or len(member.owned) < member.share:
            return min(self._maintain_every, _HANDOVER_SECONDS)
        return self._maintain_every

    async def _claim(
        self, worker: str, member: _Member, limit: int, wait: float
    ) -> list[ClaimedUpdate]:
        if limit <= 0:
            return []
        out: list[ClaimedUpdate] = []
        for partition in sorted(member.recovering):
            if len(out) >= limit:
                break
            out += await self._recover(worker, member, partition, limit - len(out))
        if out:
            return out
        readable = sorted(member.owned - member.draining - set(member.recovering))
        if not readable:
            if wait > 0:
                # Not longer than until the next look for a partition to take.
                await asyncio.sleep(min(wait, self._maintain_interval(member)))
            return []
        # Every partition it reads, starting from another one each time (so that none
        # is always served last when ``limit`` is short): one script call, at most
        # ``limit`` entries. When all are empty, wait (without reading) for an entry
        # newer than each partition's last, then read again.
        start = member.turn % len(readable)
        member.turn += 1
        order = readable[start:] + readable[:start]
        streams = [self.stream(p) for p in order]
        found, result = await self._read(keys=streams, args=[GROUP, worker, limit])
        if not int(found) and wait > 0:
            newer = await self._client.xread(
                {s: _text(last) for s, last in zip(streams, result, strict=True)},
                count=1,
                block=max(1, int(wait * 1000)),
            )
            if not newer:
                return []
            found, result = await self._read(keys=streams, args=[GROUP, worker, limit])
        if not int(found):
            return []
        for number, entries in result:
            partition = order[int(number) - 1]
            inflight = member.inflight.setdefault(partition, set())
            for entry_id, flat in entries:
                fields = dict(zip(flat[::2], flat[1::2], strict=True))
                claimed = self._claimed(partition, _text(entry_id), fields, 1)
                inflight.add(_text(entry_id))
                out.append(claimed)
        return out

    def _claimed(
        self, partition: int, entry_id: str, fields: dict[Any, Any], attempts: int
    ) -> ClaimedUpdate:
        values = {_text(k): _text(v) for k, v in fields.items()}
        update_ = QueuedUpdate(values["id"], values["key"], json.loads(values["payload"]))
        return ClaimedUpdate(ref=f"{partition}/{entry_id}", update=update_, attempts=attempts)

    async def _recover(
        self, worker: str, member: _Member, partition: int, count: int
    ) -> list[ClaimedUpdate]:
        """Claim entries the partition's previous owners left, idle for a lease."""
        stream = self.stream(partition)
        cursor = member.recovering[partition]
        reply = await self._client.xautoclaim(
            stream, GROUP, worker, self._lease_ms, start_id=cursor, count=count
        )
        next_cursor, entries = _text(reply[0]), reply[1]
        trimmed = reply[2] if len(reply) > 2 else []
        if trimmed:
            log.warning(
                "%d updates in %s were dropped (stream cap) before they were handled",
                len(trimmed),
                stream,
            )
        mine = member.inflight.setdefault(partition, set())
        fresh = [(_text(i), f) for i, f in entries if f is not None and _text(i) not in mine]
        out: list[ClaimedUpdate] = []
        if fresh:
            pending = await self._client.xpending_range(
                stream, GROUP, min=fresh[0][0], max=fresh[-1][0], count=len(fresh) + len(mine)
            )
            delivered = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
            for entry_id, fields in fresh:
                mine.add(entry_id)
                out.append(self._claimed(partition, entry_id, fields, delivered.get(entry_id, 1)))
        if next_cursor != "0-0":
            member.recovering[partition] = next_cursor
            return out
        summary = await self._client.xpending(stream, GROUP)
        others = [c for c in summary.get("consumers") or () if _text(c["name"]) != worker]
        if any(int(c["pending"]) > 0 for c in others):
            member.recovering[partition] = "0-0"  # some are not idle enough yet
        else:
            del member.recovering[partition]
            for consumer in others:
                await self._client.xgroup_delconsumer(stream, GROUP, _text(consumer["name"]))
        return out

    async def _ensure_group(self, partition: int) -> None:
        try:
            # From the start: entries the receiver appended before any worker existed.
            await self._client.xgroup_create(self.stream(partition), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _maintain(self, worker: str, member: _Member) -> None:
        """Say this worker is alive, renew its partitions, take or give back some so
        that every live worker holds its share."""
        member.maintained_at = time.monotonic()
        live = int(await self._heartbeat(keys=[self._registry()], args=[worker, self._lease_ms]))
        if member.owned:
            owned = sorted(member.owned)
            kept = await self._renew(
                keys=[self._owner(p) for p in owned], args=[worker, self._lease_ms]
            )
            for partition, ok in zip(owned, kept, strict=True):
                if not int(ok):
                    log.warning("lease on %s lost", self.stream(partition))
                    self._drop(member, partition)
        share = member.share = math.ceil(self.partitions / max(1, live))
        active = sorted(member.owned - member.draining)
        while len(active) > share:
            member.draining.add(active.pop())
        while len(active) < share and member.draining:
            active.append(member.draining.pop())
        for partition in sorted(member.draining):
            if not member.inflight.get(partition) and partition not in member.recovering:
                await self._release(keys=[self._owner(partition)], args=[worker])
                self._drop(member, partition)
        if len(member.owned) >= share:
            return
        owners = await self._client.mget([self._owner(p) for p in range(self.partitions)])
        first = zlib.crc32(worker.encode()) % self.partitions
        for step in range(self.partitions):
            partition = (first + step) % self.partitions
            if owners[partition] is not None or partition in member.owned:
                continue
            if await self._client.set(self._owner(partition), worker, nx=True, px=self._lease_ms):
                await self._ensure_group(partition)
                member.owned.add(partition)
                member.recovering[partition] = "0-0"
                if len(member.owned) >= share:
                    return

    def _drop(self, member: _Member, partition: int) -> None:
        member.owned.discard(partition)
        member.draining.discard(partition)
        member.recovering.pop(partition, None)

    async def renew(self, worker: str) -> None:
        member = self._member(worker)
        async with member.lock:
            await self._maintain(worker, member)

    async def done(self, worker: str, claimed: ClaimedUpdate) -> None:
        partition_text, entry_id = claimed.ref.split("/", 1)
        partition = int(partition_text)
        stream = self.stream(partition)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()
        member = self._members.get(worker)
        if member is not None:
            member.inflight.get(partition, set()).discard(entry_id)

    async def leave(self, worker: str) -> None:
        member = self._members.pop(worker, None)
        if member is None:
            return
        async with member.lock:
            for partition in sorted(member.owned):
                await self._release(keys=[self._owner(partition)], args=[worker])
            await self._client.zrem(self._registry(), worker)
