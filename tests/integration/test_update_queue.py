"""The update queue between the receiver and the workers, on SQLite, PostgreSQL and
Redis: durable, each update handled once, one chat's updates in order, a dead worker's
updates taken over after its lease."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bot.ports import ClaimedUpdate, QueuedUpdate, UpdateQueue
from bot.worker import Grouping, Worker
from store.db import create_engine, migrate, session_factory
from store.updates import RedisUpdateQueue, SqlUpdateQueue

ROOT = Path(__file__).resolve().parents[2]
# Short, for the tests of what happens once a lease runs out; a whole process stalled
# for longer (a busy CI machine) lets another worker take over updates still being
# handled, which is the point of a lease. Where a test asserts that nobody else gets
# updates while they are held, the lease leaves room for a stall of a second or more.
LEASE = 1.0
# The SIGKILL test's child renews from another process: a stall of either one counts.
KILL_LEASE = 2.0
# For tests of workers that stay alive, where a stall running past the lease would
# hand updates still being handled to a second worker (the desk's inbox then knows
# them): the CI run at the ninth session's stop saw 5 of 60 handled twice with a
# 0.6 s lease.
STEADY_LEASE = 30.0
KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


@dataclass
class Shared:
    """One queue's storage; every ``queue()`` is another process's view of it."""

    kind: str
    url: str
    prefix: str = ""
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def queue(self, lease: float = LEASE, partitions: int = 4) -> UpdateQueue:
        if self.kind == "redis":
            client = Redis.from_url(self.url)
            self.closers.append(client.aclose)
            return RedisUpdateQueue(
                client,
                "telegram",
                "42",
                partitions=partitions,
                lease_seconds=lease,
                prefix=self.prefix,
            )
        engine = create_engine(self.url)
        self.closers.append(engine.dispose)
        return SqlUpdateQueue(session_factory(engine), "telegram", "42", lease_seconds=lease)


@pytest.fixture(params=KINDS)
def queue_kind(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    # Sync on purpose, as in conftest: the session-wide reset must not run in a test loop.
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("pg_url")
    if request.param == "redis":
        return "redis", request.getfixturevalue("redis_url")
    return "sqlite", f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
async def shared(queue_kind: tuple[str, str]) -> AsyncIterator[Shared]:
    async with storage(*queue_kind) as store:
        yield store


@pytest.fixture
async def redis_shared(redis_url: str) -> AsyncIterator[Shared]:
    async with storage("redis", redis_url) as store:
        yield store


@contextlib.asynccontextmanager
async def storage(kind: str, url: str) -> AsyncIterator[Shared]:
    """A queue's storage, empty, and emptied again after."""
    prefix = f"supportbot-test:{uuid.uuid4().hex}:"
    if kind != "redis":
        engine = create_engine(url)
        try:
            if kind == "sqlite":
                await migrate(engine)
            else:
                async with engine.begin() as connection:
                    await connection.execute(text("TRUNCATE pending_updates RESTART IDENTITY"))
        finally:
            await engine.dispose()
    store = Shared(kind, url, prefix)
    try:
        yield store
    finally:
        for close in reversed(store.closers):
            await close()
        if kind == "redis":
            client = Redis.from_url(url)
            try:
                keys = [key async for key in client.scan_iter(match=prefix + "*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


def update(n: int, key: str) -> QueuedUpdate:
    return QueuedUpdate(str(n), key, {"update_id": n, "chat": key, "n": n})


async def claim_all(
    queue: UpdateQueue,
    worker: str,
    count: int,
    timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline
) -> list[ClaimedUpdate]:
    """Claim until ``count`` updates are held (or fail after ``timeout``)."""
    got: list[ClaimedUpdate] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} claimed"
        got += await queue.claim(worker, count - len(got), 0.05)
    return got


def numbers(claimed: list[ClaimedUpdate], key: str | None = None) -> list[int]:
    return [int(c.update.update_id) for c in claimed if key is None or c.update.key == key]


class Recorder:
    """A handler that notes what it handled, checking that no chat's updates overlap."""

    def __init__(self, pause: float = 0.0) -> None:
        self.handled: list[tuple[str, int]] = []
        self.active: set[str] = set()
        self.overlaps: list[str] = []
        self.pause = pause
        self.changed = asyncio.Event()

    async def __call__(self, item: QueuedUpdate) -> None:
        if item.key in self.active:
            self.overlaps.append(item.key)
        self.active.add(item.key)
        try:
            n = int(item.update_id)
            await asyncio.sleep(self.pause * (n % 3))
            self.handled.append((item.key, n))
        finally:
            self.active.discard(item.key)
        self.changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while len(self.handled) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.handled)} of {count} handled: {self.handled}"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def of(self, key: str) -> list[int]:
        return [n for k, n in self.handled if k == key]


def worker(
    queue: UpdateQueue,
    handle: Callable[[QueuedUpdate], Awaitable[None]],
    lease: float = LEASE,
) -> Worker:
    return Worker(queue, handle, batch_size=20, poll=0.02, lease=lease, retry_pause=0.01)


async def test_put_then_claim_gives_each_update_once_in_order_of_its_chat(
    shared: Shared,
) -> None:
    queue = shared.queue()
    await queue.put([update(1, "a"), update(2, "b"), update(3, "a")])
    # Telegram sent them again (the receiver died before confirming): not stored twice.
    await queue.put([update(1, "a"), update(2, "b"), update(4, "c")])

    claimed = await claim_all(queue, "w1", 4)

    assert sorted(numbers(claimed)) == [1, 2, 3, 4]
    assert numbers(claimed, "a") == [1, 3]
    assert all(c.attempts == 1 for c in claimed)
    by_number = {int(c.update.update_id): c for c in claimed}
    assert by_number[3].update.payload == {"update_id": 3, "chat": "a", "n": 3}
    for c in claimed:
        await queue.done("w1", c)
    assert await queue.claim("w1", 10, 0.05) == []
    # Another process (a restart) finds nothing left either.
    assert await shared.queue().claim("w2", 10, 0.05) == []


async def test_a_chat_is_held_by_one_worker_at_a_time(shared: Shared) -> None:
    first, second = shared.queue(STEADY_LEASE), shared.queue(STEADY_LEASE)
    rng = random.Random(7)
    keys = ["a", "b", "c", "d", "e"]
    sent = [update(n, rng.choice(keys)) for n in range(1, 81)]
    await first.put(sent[:40])
    held: dict[str, dict[str, list[ClaimedUpdate]]] = {"w1": {}, "w2": {}}
    queues = {"w1": first, "w2": second}
    handled: list[ClaimedUpdate] = []
    more = True
    deadline = time.monotonic() + 20
    while len(handled) < len(sent):
        assert time.monotonic() < deadline, f"{len(handled)} of {len(sent)} handled"
        if more and len(handled) > 20:
            await first.put(sent[40:])  # more arrive while they work
            more = False
        name = rng.choice(["w1", "w2"])
        other = "w2" if name == "w1" else "w1"
        for c in await queues[name].claim(name, rng.randint(1, 4), 0.01):
            # Never a chat the other worker holds, and nothing twice.
            assert not held[other].get(c.update.key), (c, held[other])
            held[name].setdefault(c.update.key, []).append(c)
        # Finish some of what this worker holds, each chat's oldest first.
        for chain in held[name].values():
            for _ in range(rng.randint(0, len(chain))):
                c = chain.pop(0)
                await queues[name].done(name, c)
                handled.append(c)
        for name_ in ("w1", "w2"):
            await queues[name_].renew(name_)
    assert sorted(numbers(handled)) == list(range(1, 81))
    for key in keys:
        assert numbers(handled, key) == [int(u.update_id) for u in sent if u.key == key]


async def test_claims_at_the_same_moment_never_split_a_chat(shared: Shared) -> None:
    queues = {"w1": shared.queue(STEADY_LEASE), "w2": shared.queue(STEADY_LEASE)}
    for round_ in range(10):
        await queues["w1"].put([update(round_ * 10 + i, f"k{i % 3}") for i in range(10)])
        one, two = await asyncio.gather(
            queues["w1"].claim("w1", 10, 0), queues["w2"].claim("w2", 10, 0)
        )
        assert not {c.update.key for c in one} & {c.update.key for c in two}
        # Finish the round: whatever is left goes to one of them once the other is done.
        held = {"w1": one, "w2": two}
        for _ in range(100):
            for name, queue in queues.items():
                for c in held[name]:
                    await queue.done(name, c)
                held[name] = await queue.claim(name, 10, 0)
            if not held["w1"] and not held["w2"]:
                break
        assert await queues["w1"].claim("w1", 10, 0) == []


async def test_a_dead_workers_updates_go_to_another_after_the_lease(shared: Shared) -> None:
    lease = 2.0
    dead, alive = shared.queue(lease), shared.queue(lease)
    await dead.put([update(1, "a"), update(2, "a"), update(3, "b")])
    # It took the updates and died.
    claiming = time.monotonic()
    claimed = await dead.claim("dead", 12, 0.05)
    await dead.put([update(4, "a")])  # arrives after the worker died
    # Until its lease runs out, the others get nothing of its chats.
    await asyncio.sleep(claiming + lease / 2 - time.monotonic())
    assert await alive.claim("alive", 10, 0) == []

    again = await claim_all(alive, "alive", 4, timeout=lease * 10)

    assert time.monotonic() - claiming >= lease
    assert sorted(numbers(claimed)) == [1, 2, 3]
    assert sorted(numbers(again)) == [1, 2, 3, 4]
    # The chat's order holds across the take-over: first what the dead worker held.
    assert numbers(again, "a") == [1, 2, 4]
    assert {int(c.update.update_id): c.attempts for c in again} == {1: 2, 2: 2, 3: 2, 4: 1}


async def test_renewed_leases_keep_updates_with_their_worker(shared: Shared) -> None:
    lease = 2.0
    slow, other = shared.queue(lease), shared.queue(lease)
    await slow.put([update(1, "a")])
    [claimed] = await claim_all(slow, "slow", 1)
    deadline = time.monotonic() + lease * 2
    while time.monotonic() < deadline:
        await slow.renew("slow")
        assert await other.claim("other", 10, lease / 8) == []
    await slow.done("slow", claimed)


async def test_a_restarted_bot_handles_the_ten_updates_waiting(shared: Shared) -> None:
    sent = [update(n, f"chat{n % 3}") for n in range(1, 11)]
    await shared.queue().put(sent)  # the receiver queued them, then the bot stopped

    recorder = Recorder()
    stop = asyncio.Event()
    running = asyncio.create_task(worker(shared.queue(), recorder).run(stop))
    try:
        await recorder.wait_for(10)
    finally:
        stop.set()
        await running

    assert sorted(n for _, n in recorder.handled) == list(range(1, 11))
    for key in ("chat0", "chat1", "chat2"):
        assert recorder.of(key) == [n for n in range(1, 11) if f"chat{n % 3}" == key]
    assert await shared.queue().claim("later", 10, 0.05) == []


async def test_two_workers_handle_each_update_once_and_a_chats_in_order(
    shared: Shared,
) -> None:
    receiver = shared.queue()
    recorder = Recorder(pause=0.002)
    by_worker: dict[int, int] = {1: 0, 2: 0}

    def counted(n: int) -> Callable[[QueuedUpdate], Awaitable[None]]:
        async def handle(item: QueuedUpdate) -> None:
            by_worker[n] += 1
            await recorder(item)

        return handle

    stop = asyncio.Event()
    workers = [worker(shared.queue(STEADY_LEASE), counted(n), STEADY_LEASE) for n in (1, 2)]
    running = [asyncio.create_task(w.run(stop)) for w in workers]
    keys = [f"chat{i}" for i in range(6)]
    try:
        n = 0
        for _ in range(6):
            batch = []
            for _ in range(10):
                n += 1
                batch.append(update(n, keys[(n * 7) % len(keys)]))
            await receiver.put(batch)
            await asyncio.sleep(0.02)
        await recorder.wait_for(60)
    finally:
        stop.set()
        await asyncio.gather(*running)

    assert sorted(n for _, n in recorder.handled) == list(range(1, 61))
    assert recorder.overlaps == []
    for key in keys:
        mine = recorder.of(key)
        assert mine == sorted(mine)
    assert sum(by_worker.values()) == 60


async def test_a_claim_for_one_more_finds_it_whichever_chat_it_waits_in(
    shared: Shared,
) -> None:
    """A worker with room for one more update (its batch nearly full) gets one at once,
    wherever it waits. Redis used to read one partition per short claim, in turn, and
    came back empty-handed (or waited there) while the update sat in another."""
    queue = shared.queue(STEADY_LEASE)
    keys = [f"chat{i}" for i in range(100)]
    if isinstance(queue, RedisUpdateQueue):
        # All in the partition a worker reads last.
        keys = [k for k in keys if queue.partition(k) == queue.partitions - 1]
    await queue.put([update(n, keys[n]) for n in range(1, 4)])
    got = [numbers(await queue.claim("w1", 1, 0.0)) for _ in range(3)]
    assert got == [[1], [2], [3]]


@pytest.mark.redis
async def test_redis_claims_at_most_the_limit_from_every_partition(
    redis_shared: Shared,
) -> None:
    queue = redis_shared.queue(partitions=8)
    assert isinstance(queue, RedisUpdateQueue)
    keys: dict[int, str] = {}
    for i in range(200):
        keys.setdefault(queue.partition(f"chat{i}"), f"chat{i}")
    assert len(keys) == 8
    await queue.put([update(n, keys[n % 8]) for n in range(24)])  # three in each
    sizes = [len(await queue.claim("w1", 5, 0.0)) for _ in range(5)]
    assert sizes == [5, 5, 5, 5, 4]
    assert await queue.claim("w1", 5, 0.0) == []


@pytest.mark.redis
async def test_a_redis_claim_takes_a_busy_partitions_surplus_after_every_share(
    redis_shared: Shared,
) -> None:
    """Each partition's share first (one read of them all), then what a busy one holds
    beyond it, in its order, while the limit leaves room; nothing is read twice."""
    queue = redis_shared.queue(partitions=8)
    assert isinstance(queue, RedisUpdateQueue)
    keys: dict[int, str] = {}
    for i in range(200):
        keys.setdefault(queue.partition(f"chat{i}"), f"chat{i}")
    busy = keys[3]
    quiet = [keys[p] for p in range(8) if p != 3]
    await queue.put([update(n, busy) for n in range(1, 11)])  # ten in one partition
    await queue.put([update(100 + n, key) for n, key in enumerate(quiet)])  # one elsewhere
    first = numbers(await queue.claim("w1", 16, 0.0))  # a share of 2 each
    assert len(first) == 16
    assert sorted(n for n in first if n >= 100) == list(range(100, 107))
    assert [n for n in first if n < 100] == list(range(1, 10))
    assert numbers(await queue.claim("w1", 16, 0.0)) == [10]
    assert await queue.claim("w1", 16, 0.0) == []


@pytest.mark.redis
async def test_a_waiting_redis_claim_returns_when_an_update_arrives(
    redis_shared: Shared,
) -> None:
    """It waits for any of its partitions, and reads nothing while it waits."""
    # A long lease: a claim waits at most a quarter of it.
    worker, receiver = redis_shared.queue(lease=60.0), redis_shared.queue(lease=60.0)
    assert await worker.claim("w1", 10, 0.0) == []  # its partitions taken
    waiting = asyncio.create_task(worker.claim("w1", 10, 30.0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await receiver.put([update(1, "chat1"), update(2, "chat2")])
    first = await asyncio.wait_for(waiting, 10.0)
    rest = await worker.claim("w1", 10, 0.0)
    assert sorted(numbers(first + rest)) == [1, 2]


@pytest.mark.redis
async def test_redis_partitions_are_shared_out_among_the_live_workers(
    redis_url: str,
) -> None:
    shared = Shared("redis", redis_url, f"supportbot-test:{uuid.uuid4().hex}:")
    try:
        # Long leases: a stall must not hand one worker's partitions to the other;
        # they are shared out by the rebalancing (every second) alone.
        first, second = shared.queue(STEADY_LEASE), shared.queue(STEADY_LEASE)
        assert isinstance(first, RedisUpdateQueue)
        # One chat in each of the four partitions.
        keys: dict[int, str] = {}
        for i in range(100):
            keys.setdefault(first.partition(f"chat{i}"), f"chat{i}")
        assert sorted(keys) == [0, 1, 2, 3]
        got: dict[str, set[int]] = {"w1": set(), "w2": set()}
        n = 0
        deadline = time.monotonic() + 10
        while not (got["w1"] and got["w2"]):
            assert time.monotonic() < deadline, got
            for key in keys.values():
                n += 1
                await first.put([update(n, key)])
            for name, queue in (("w1", first), ("w2", second)):
                for c in await queue.claim(name, 10, 0.02):
                    got[name].add(int(c.ref.split("/")[0]))
                    await queue.done(name, c)
        # Settled (a few renewals): two live workers, four partitions, two each.
        for _ in range(4):
            await first.renew("w1")
            await second.renew("w2")
            await asyncio.sleep(0.35)
        for name, queue in (("w1", first), ("w2", second)):
            got[name] = set()
            for _ in range(3):
                for key in keys.values():
                    n += 1
                    await first.put([update(n, key)])
                for c in await queue.claim(name, 10, 0.02):
                    got[name].add(int(c.ref.split("/")[0]))
                    await queue.done(name, c)
        assert not got["w1"] & got["w2"]
        assert len(got["w1"]) == len(got["w2"]) == 2
    finally:
        for close in reversed(shared.closers):
            await close()
        client = Redis.from_url(redis_url)
        try:
            found = [key async for key in client.scan_iter(match=shared.prefix + "*")]
            if found:
                await client.delete(*found)
        finally:
            await client.aclose()


async def test_a_worker_cancelled_holding_claims_is_taken_over_after_the_lease(
    shared: Shared,
) -> None:
    receiver = shared.queue()
    stuck = asyncio.Event()

    async def hang(item: QueuedUpdate) -> None:
        stuck.set()
        await asyncio.Event().wait()  # the worker dies while handling

    stop = asyncio.Event()
    doomed = asyncio.create_task(worker(shared.queue(), hang).run(stop))
    await receiver.put([update(1, "a"), update(2, "a"), update(3, "b")])
    await asyncio.wait_for(stuck.wait(), 5)
    doomed.cancel()  # no clean stop: its claims stay until their lease runs out
    with pytest.raises(asyncio.CancelledError):
        await doomed

    recorder = Recorder()
    survivor = asyncio.create_task(worker(shared.queue(), recorder).run(stop))
    try:
        await recorder.wait_for(3, timeout=LEASE * 15)
    finally:
        stop.set()
        await survivor
    assert sorted(n for _, n in recorder.handled) == [1, 2, 3]
    assert recorder.of("a") == [1, 2]


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from redis.asyncio import Redis
    from store.db import create_engine, session_factory
    from store.updates import RedisUpdateQueue, SqlUpdateQueue

    async def main(kind, url, prefix, lease, count):
        if kind == "redis":
            queue = RedisUpdateQueue(
                Redis.from_url(url), "telegram", "42", partitions=4,
                lease_seconds=lease, prefix=prefix,
            )
        else:
            queue = SqlUpdateQueue(
                session_factory(create_engine(url)), "telegram", "42", lease_seconds=lease
            )
        held = []
        while len(held) < count:
            held += await queue.claim("child", count - len(held), 0.05)
        print("claimed", " ".join(c.update.update_id for c in held), flush=True)
        while True:  # holding them, renewing, until killed
            await queue.renew("child")
            await asyncio.sleep(lease / 4)

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])))
    """
)


async def test_a_worker_killed_with_sigkill_loses_nothing(shared: Shared) -> None:
    sent = [update(n, "a" if n % 2 else "b") for n in range(1, 6)]
    await shared.queue().put(sent)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        shared.kind,
        shared.url,
        shared.prefix,
        str(KILL_LEASE),
        "5",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 20)
        assert sorted(int(n) for n in line.decode().split()[1:]) == [1, 2, 3, 4, 5]
        # It holds and renews them; nobody else gets them meanwhile.
        other = shared.queue(KILL_LEASE)
        assert await other.claim("other", 10, KILL_LEASE / 2) == []
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    recorder = Recorder()
    stop = asyncio.Event()
    survivor = asyncio.create_task(worker(shared.queue(KILL_LEASE), recorder).run(stop))
    try:
        await recorder.wait_for(5, timeout=KILL_LEASE * 15)
    finally:
        stop.set()
        await survivor
    assert sorted(n for _, n in recorder.handled) == [1, 2, 3, 4, 5]
    assert recorder.of("a") == [1, 3, 5]
    assert recorder.of("b") == [2, 4]


async def test_a_failing_handler_is_tried_again_then_given_up(shared: Shared) -> None:
    queue = shared.queue()
    tries: list[int] = []

    async def flaky(item: QueuedUpdate) -> None:
        n = int(item.update_id)
        tries.append(n)
        if n == 1 and tries.count(1) < 3:
            raise ConnectionError("database went away")
        if n == 2:
            raise RuntimeError("a bug")

    await queue.put([update(1, "a"), update(2, "a"), update(3, "a")])
    stop = asyncio.Event()
    w = Worker(queue, flaky, poll=0.02, lease=LEASE, max_attempts=3, retry_pause=0.01)
    running = asyncio.create_task(w.run(stop))
    try:
        for _ in range(500):
            if 3 in tries and w.held == 0:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running
    # 1 succeeded on its third try, 2 was given up after three, 3 came after both.
    assert tries == [1, 1, 1, 2, 2, 2, 3]
    assert await queue.claim("w", 10, 0.05) == []


def part(n: int, key: str, group: str | None) -> QueuedUpdate:
    return QueuedUpdate(str(n), key, {"update_id": n, "chat": key, "n": n, "group": group})


class Albums:
    """A grouping by the payload's "group": what was handled, alone or together."""

    def __init__(self, hang: asyncio.Event | None = None) -> None:
        self.handled: list[tuple[int, ...]] = []
        self.started = asyncio.Event()
        self.hang = hang

    async def one(self, item: QueuedUpdate) -> None:
        self.handled.append((int(item.update_id),))

    async def together(self, items: list[QueuedUpdate]) -> None:
        self.started.set()
        if self.hang is not None:
            await self.hang.wait()
        self.handled.append(tuple(int(i.update_id) for i in items))

    def worker(self, queue: UpdateQueue, wait: float = 0.3) -> Worker:
        grouping = Grouping(lambda item: item.payload["group"], self.together, wait)
        return Worker(
            queue,
            self.one,
            batch_size=20,
            poll=0.02,
            lease=LEASE,
            retry_pause=0.01,
            grouping=grouping,
        )


async def test_an_albums_parts_are_handled_together_before_what_follows(
    shared: Shared,
) -> None:
    receiver = shared.queue()
    albums = Albums()
    stop = asyncio.Event()
    # The album's wait (a second) well above the moments between its parts here, so
    # a machine busy with other work does not split them.
    running = asyncio.create_task(albums.worker(shared.queue(), wait=1.0).run(stop))
    try:
        # Two parts, then the third a moment later (Telegram sends them apart), then a
        # text right after the album, and an album that is all the chat sent.
        await receiver.put([part(1, "a", "g1"), part(2, "a", "g1")])
        await asyncio.sleep(0.1)
        await receiver.put([part(3, "a", "g1"), part(4, "a", None), part(5, "b", "g2")])
        await asyncio.sleep(0.05)
        await receiver.put([part(6, "b", "g2")])
        deadline = time.monotonic() + 10
        while len(albums.handled) < 3:
            assert time.monotonic() < deadline, albums.handled
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await running
    assert sorted(albums.handled) == [(1, 2, 3), (4,), (5, 6)]
    assert albums.handled.index((1, 2, 3)) < albums.handled.index((4,))


async def test_an_album_cut_short_by_a_dead_worker_is_handled_whole_by_another(
    shared: Shared,
) -> None:
    receiver = shared.queue()
    doomed_albums = Albums(hang=asyncio.Event())  # dies while handling the album
    stop = asyncio.Event()
    doomed = asyncio.create_task(doomed_albums.worker(shared.queue()).run(stop))
    await receiver.put([part(1, "a", "g1"), part(2, "a", "g1"), part(3, "a", None)])
    await asyncio.wait_for(doomed_albums.started.wait(), 5)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed

    albums = Albums()
    survivor = asyncio.create_task(albums.worker(shared.queue()).run(stop))
    try:
        deadline = time.monotonic() + LEASE * 15
        while len(albums.handled) < 2:
            assert time.monotonic() < deadline, albums.handled
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await survivor
    # Nothing of the album was marked done before it was handled: all of it again.
    assert albums.handled == [(1, 2), (3,)]
