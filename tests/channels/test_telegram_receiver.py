"""The Telegram receiver and workers against the fake Bot API: an update is confirmed to
Telegram only once it is in the durable queue, a restarted bot works off what waits
there, Redis may restart under a running bot, and ``python -m bot --workers N`` runs a
receiver with N worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiohttp import web
from fake_telegram import FakeTelegram
from redis.asyncio import Redis
from sqlalchemy import text
from telegram_app import FAST, policy_data

from bot.account import Account
from bot.app import build_app
from bot.policy import parse_policy
from bot.ports import ClaimedUpdate, QueuedUpdate, UpdateQueue
from bot.settings import Settings
from bot.worker import Backoff, Worker
from handlers.telegram import TelegramChannel
from handlers.telegram.context import Tuning
from handlers.telegram.receiver import (
    SECRET_HEADER,
    PollingReceiver,
    WebhookReceiver,
    update_key,
)
from store.db import create_engine, migrate, session_factory
from store.updates import RedisUpdateQueue, SqlUpdateQueue

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("DATABASE_TEST_URL", "")
REDIS_URL = os.environ.get("REDIS_TEST_URL", "")
PG_SKIP = (
    "DATABASE_TEST_URL is not set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5439/postgres)"
)
REDIS_SKIP = "REDIS_TEST_URL is not set (e.g. redis://127.0.0.1:6391/0)"
KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Storage:
    """Where the queue lives; ``queue()`` is one process's view of it."""

    kind: str
    url: str
    bot: str
    prefix: str = field(default_factory=lambda: f"supportbot-test:{uuid.uuid4().hex}:")
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def queue(self) -> UpdateQueue:
        if self.kind == "redis":
            client = Redis.from_url(self.url)
            self.closers.append(client.aclose)
            return RedisUpdateQueue(
                client, "telegram", self.bot, partitions=4, lease_seconds=1.0, prefix=self.prefix
            )
        engine = create_engine(self.url)
        self.closers.append(engine.dispose)
        return SqlUpdateQueue(session_factory(engine), "telegram", self.bot, lease_seconds=1.0)


@pytest.fixture(params=KINDS)
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, bot: Bot
) -> AsyncIterator[Storage]:
    kind = request.param
    if kind == "postgres" and not PG_URL:
        pytest.skip(PG_SKIP)
    if kind == "redis" and not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    url = {"sqlite": f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}", "postgres": PG_URL}.get(
        kind, REDIS_URL
    )
    if kind != "redis":
        engine = create_engine(url)
        try:
            await migrate(engine)
            if kind == "postgres":
                async with engine.begin() as connection:
                    await connection.execute(text("TRUNCATE pending_updates RESTART IDENTITY"))
        finally:
            await engine.dispose()
    store = Storage(kind, url, str(bot.id))
    try:
        yield store
    finally:
        for close in reversed(store.closers):
            await close()
        if kind == "redis":
            client = Redis.from_url(url)
            try:
                keys = [key async for key in client.scan_iter(match=store.prefix + "*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()


class GatedQueue:
    """A queue whose ``put`` can be held at a gate (the moment between getUpdates and
    the write) or made to fail; notes where in the Bot API calls each write finished."""

    def __init__(self, inner: UpdateQueue, fake: FakeTelegram, *, open_: bool = True) -> None:
        self.inner = inner
        self.fake = fake
        self.gate = asyncio.Event()
        if open_:
            self.gate.set()
        self.entered = asyncio.Event()
        self.failures = 0
        self.stored: list[tuple[list[str], int]] = []

    async def put(self, updates: Sequence[QueuedUpdate]) -> None:
        self.entered.set()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the queue's database went away")
        await self.gate.wait()
        await self.inner.put(updates)
        self.stored.append(([u.update_id for u in updates], self.fake.mark()))

    async def claim(self, worker: str, limit: int, wait: float) -> list[ClaimedUpdate]:
        return await self.inner.claim(worker, limit, wait)

    async def renew(self, worker: str) -> None:
        await self.inner.renew(worker)

    async def done(self, worker: str, claimed: ClaimedUpdate) -> None:
        await self.inner.done(worker, claimed)

    async def leave(self, worker: str) -> None:
        await self.inner.leave(worker)


async def claim_all(queue: UpdateQueue, count: int) -> list[ClaimedUpdate]:
    got: list[ClaimedUpdate] = []
    deadline = time.monotonic() + 5
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} of {count} queued"
        got += await queue.claim("check", count - len(got), 0.05)
    return got


def offsets(fake: FakeTelegram) -> list[int]:
    return [int(c.params.get("offset") or 0) for c in fake.calls_of("getUpdates")]


async def test_an_update_is_confirmed_to_telegram_only_once_it_is_queued(
    fake_telegram: FakeTelegram, bot: Bot, storage: Storage
) -> None:
    fake = fake_telegram
    alice = fake.user(501, "Alice")
    sent = fake.push_update(fake.message_update(501, alice, "/start"))
    uid = sent["update_id"]

    # The receiver got the update and is killed before it is written to the queue.
    held = GatedQueue(storage.queue(), fake, open_=False)
    stop = asyncio.Event()
    receiving = asyncio.create_task(PollingReceiver(bot, held, timeout=1).run(stop))
    await asyncio.wait_for(held.entered.wait(), 5)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert max(offsets(fake)) <= uid  # Telegram still has it

    # Started again, it gets the update again; the offset passes it only once queued.
    queue = GatedQueue(storage.queue(), fake)
    receiving = asyncio.create_task(PollingReceiver(bot, queue, timeout=1).run(stop))
    confirm = await fake.wait_call("getUpdates", lambda c: (c.params.get("offset") or 0) > uid)
    stop.set()
    await asyncio.wait_for(receiving, 5)

    assert queue.stored[0][0] == [str(uid)]
    assert fake.calls.index(confirm[0]) >= queue.stored[0][1]
    [claimed] = await claim_all(storage.queue(), 1)
    assert claimed.update.update_id == str(uid)
    assert claimed.update.key == "501"
    assert claimed.update.payload == sent


async def test_a_failed_queue_write_holds_the_offset_and_is_retried(
    fake_telegram: FakeTelegram, bot: Bot, storage: Storage
) -> None:
    fake = fake_telegram
    alice = fake.user(501, "Alice")
    queue = GatedQueue(storage.queue(), fake)
    queue.failures = 2
    first = fake.push_update(fake.message_update(501, alice, "one"))["update_id"]
    second = fake.push_update(fake.message_update(501, alice, "two"))["update_id"]
    stop = asyncio.Event()
    receiver = PollingReceiver(bot, queue, timeout=1, backoff=Backoff(0.01, 0.05))
    receiving = asyncio.create_task(receiver.run(stop))
    await fake.wait_call("getUpdates", lambda c: (c.params.get("offset") or 0) > second)
    stop.set()
    await asyncio.wait_for(receiving, 5)

    # Three fetches of the same two updates (two writes failed), then the confirmation.
    assert offsets(fake)[:3] == [0, 0, 0]
    assert offsets(fake)[3] == second + 1
    claimed = await claim_all(storage.queue(), 2)
    assert [c.update.update_id for c in claimed] == [str(first), str(second)]


async def test_the_webhook_answers_200_only_after_queueing(
    fake_telegram: FakeTelegram, storage: Storage
) -> None:
    fake = fake_telegram
    alice = fake.user(501, "Alice")
    queue = GatedQueue(storage.queue(), fake, open_=False)
    app = web.Application()
    WebhookReceiver(queue, "s3cret").register(app, "/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/hook"
    try:
        async with aiohttp.ClientSession() as http:
            update = fake.message_update(501, alice, "/start")
            async with http.post(url, json=update, headers={SECRET_HEADER: "wrong"}) as resp:
                assert resp.status == 401
            assert not queue.entered.is_set()

            headers = {SECRET_HEADER: "s3cret"}
            posting = asyncio.create_task(http.post(url, json=update, headers=headers))
            await asyncio.wait_for(queue.entered.wait(), 5)
            await asyncio.sleep(0.1)
            assert not posting.done()  # no answer while the write is not done
            queue.gate.set()
            async with await posting as resp:
                assert resp.status == 200
            assert queue.stored[0][0] == [str(update["update_id"])]

            queue.failures = 1
            failing = fake.message_update(501, alice, "/help")
            async with http.post(url, json=failing, headers=headers) as resp:
                assert resp.status == 503  # Telegram sends it again later
    finally:
        await runner.cleanup()
    claimed = await claim_all(storage.queue(), 1)
    assert [c.update.update_id for c in claimed] == [str(update["update_id"])]


@contextlib.asynccontextmanager
async def desk_channel(
    fake: FakeTelegram, database: Path, **settings_: Any
) -> AsyncIterator[TelegramChannel]:
    """The desk on ``database`` with the Telegram channel built (not yet running)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        telegram_bot_token=fake.token,  # type: ignore[arg-type]
        telegram_api_url=fake.url,
        update_poll_seconds=0.05,
        _env_file=None,  # type: ignore[call-arg]
        **settings_,
    )
    app = await build_app(settings, policy=parse_policy(policy_data()))
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-1001", ("shop.example.cz",), "premium", valid_until=date(2099, 1, 1))
        )
        await uow.commit()
    try:
        yield TelegramChannel.from_app(app, tuning=Tuning(album_wait=0.3), limits=FAST)
    finally:
        await app.close()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def test_a_restarted_bot_answers_the_ten_updates_waiting_in_the_queue(
    tmp_path: Path, backend: str
) -> None:
    if backend == "redis" and not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    # A bot of its own: its Redis streams are this test's alone.
    bot_id = random.randint(10**8, 10**9)
    extra = {"redis_url": REDIS_URL} if backend == "redis" else {}
    async with FakeTelegram(token=f"{bot_id}:TEST-fake-token", bot_id=bot_id) as fake:
        people = [fake.user(600 + i, f"User{i}") for i in range(10)]
        for person in people:
            fake.push_message(person["id"], person, "/start")
        # First run: the receiver alone queues them, then the bot is stopped.
        async with desk_channel(fake, tmp_path / "desk.db", **extra) as channel:
            stop = asyncio.Event()
            serving = asyncio.create_task(channel.run(stop, work=False))
            await fake.wait_call("getUpdates", lambda c: (c.params.get("offset") or 0) > 10)
            stop.set()
            await asyncio.wait_for(serving, 10)
        assert not fake.calls_of("sendMessage")

        # Restarted (a worker now): all ten are answered, nothing fetched again.
        mark = fake.mark()
        async with desk_channel(fake, tmp_path / "desk.db", **extra) as channel:
            stop = asyncio.Event()
            serving = asyncio.create_task(channel.run(stop, receive=False))
            try:
                for person in people:
                    [hello] = await fake.wait_call(
                        "sendMessage",
                        lambda c, p=person: c.params["chat_id"] == p["id"],
                        after=mark,
                    )
                    assert f"Hello {person['first_name']}!" in hello.params["text"]
            finally:
                stop.set()
                await asyncio.wait_for(serving, 15)
        assert not fake.calls_of("getUpdates", after=mark)
    if backend == "redis":
        client = Redis.from_url(REDIS_URL)
        try:
            pattern = f"supportbot:updates:telegram:{bot_id}:*"
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


class Recorder:
    def __init__(self) -> None:
        self.handled: list[tuple[str, str]] = []

    async def __call__(self, item: QueuedUpdate) -> None:
        self.handled.append((item.key, str(item.payload["message"]["text"])))

    async def wait_for(self, count: int, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while len(self.handled) < count:
            assert time.monotonic() < deadline, f"{len(self.handled)} of {count}: {self.handled}"
            await asyncio.sleep(0.02)


async def start_redis(port: int, folder: Path) -> asyncio.subprocess.Process:
    server = shutil.which("redis-server")
    assert server is not None
    proc = await asyncio.create_subprocess_exec(
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        stdout=asyncio.subprocess.DEVNULL,
    )
    probe = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        for _ in range(200):
            with contextlib.suppress(Exception):
                if await probe.ping():
                    return proc
            await asyncio.sleep(0.02)
    finally:
        await probe.aclose()
    raise AssertionError("redis-server did not start")


@pytest.mark.redis
async def test_redis_restarted_mid_run_the_receiver_and_worker_carry_on(
    fake_telegram: FakeTelegram, bot: Bot, tmp_path: Path
) -> None:
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (a private one is restarted)")
    fake = fake_telegram
    alice, bob = fake.user(501, "Alice"), fake.user(502, "Bob")
    port = free_port()
    server = await start_redis(port, tmp_path)
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    queue = RedisUpdateQueue(client, "telegram", str(bot.id), partitions=2, lease_seconds=1.0)
    recorder = Recorder()
    stop = asyncio.Event()
    receiver = PollingReceiver(bot, queue, timeout=1, backoff=Backoff(0.05, 0.2))
    worker = Worker(queue, recorder, poll=0.05, lease=1.0, retry_pause=0.01)
    tasks = [asyncio.create_task(receiver.run(stop)), asyncio.create_task(worker.run(stop))]
    try:
        for i in range(3):
            fake.push_message(501, alice, f"alice {i}")
            fake.push_message(502, bob, f"bob {i}")
        await recorder.wait_for(6)

        server.terminate()  # a clean shutdown: the append-only file is complete
        await server.wait()
        mark = fake.mark()
        first_new = fake.push_update(fake.message_update(501, alice, "alice 3"))["update_id"]
        fake.push_message(502, bob, "bob 3")
        fake.push_message(501, alice, "alice 4")
        # Fetched, but not written: Telegram is not told to forget them.
        await fake.wait_call("getUpdates", after=mark, count=3)
        assert max(offsets(fake)) <= first_new

        server = await start_redis(port, tmp_path)
        await recorder.wait_for(9)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()
        server.terminate()
        await server.wait()
    alice_said = [t for k, t in recorder.handled if k == "501"]
    bob_said = [t for k, t in recorder.handled if k == "502"]
    assert alice_said == [f"alice {i}" for i in range(5)]
    assert bob_said == [f"bob {i}" for i in range(4)]


def bot_env(fake: FakeTelegram, tmp_path: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.url,
        "TELEGRAM_MODE": "polling",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
        "REDIS_URL": "",
        "LOG_LEVEL": "INFO",
        "UPDATE_LEASE_SECONDS": "1.5",
        "UPDATE_POLL_SECONDS": "0.1",
        "RELAY_INTERVAL_SECONDS": "0.2",
        **more,
    }


async def test_python_m_bot_workers_runs_a_receiver_and_n_worker_processes(
    tmp_path: Path,
) -> None:
    async with FakeTelegram() as fake:
        log = tmp_path / "bot.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--workers",
                "2",
                env=bot_env(fake, tmp_path),
                cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

        def worker_pids() -> dict[int, int]:
            found = re.findall(r"worker (\d) started \(pid (\d+)\)", log.read_text())
            return {int(n): int(pid) for n, pid in found}

        async def greeted(first: int, count: int) -> None:
            mark = fake.mark()
            people = [fake.user(first + i, f"User{first + i}") for i in range(count)]
            for person in people:
                fake.push_message(person["id"], person, "/start")
            for person in people:
                [hello] = await fake.wait_call(
                    "sendMessage",
                    lambda c, p=person: c.params["chat_id"] == p["id"],
                    after=mark,
                    timeout=60,  # three processes start on a busy machine
                )
                assert f"Hello {person['first_name']}!" in hello.params["text"]

        pids: list[int] = []
        try:
            await fake.wait_call("getUpdates", timeout=60)
            await greeted(700, 6)
            started = worker_pids()
            assert sorted(started) == [1, 2]
            pids += started.values()
            # One worker dies: the others carry on, and it is started again.
            os.kill(started[1], signal.SIGKILL)
            await greeted(800, 6)
            for _ in range(300):
                if worker_pids().get(1, started[1]) != started[1]:
                    break
                await asyncio.sleep(0.05)
            pids.append(worker_pids()[1])
            assert pids[-1] != started[1]

            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, output
        assert "Traceback" not in output, output
        assert fake.token not in output
        assert f"worker 1 (pid {started[1]}) exited with -9" in output
        for pid in pids[1:]:  # the workers stopped with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


@pytest.mark.parametrize("argv", [["--workers", "2"], ["worker"], ["receiver"]])
async def test_the_terminal_channel_refuses_several_workers(
    tmp_path: Path, argv: list[str]
) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *argv,
        env=env,
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "needs a chat channel (TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN)" in err.decode()
    assert "python -m bot console" in err.decode()
    assert not (tmp_path / "x.db").exists()  # refused before connecting


def test_updates_are_ordered_by_their_chat_else_their_sender(fake_telegram: FakeTelegram) -> None:
    fake = fake_telegram
    alice = fake.user(501, "Alice")
    fake.add_group(-100777, "Team", members={501: "member"})
    private = fake.message_update(501, alice, "/start")
    in_team = fake.message_update(-100777, alice, "/queue")
    card = in_team["message"]
    assert update_key(private) == "501"
    assert update_key(in_team) == "-100777"
    # A button on a message belongs to that message's chat.
    assert (
        update_key({"update_id": 9, "callback_query": {"id": "1", "from": alice, "message": card}})
        == "-100777"
    )
    assert update_key({"update_id": 9, "edited_message": private["message"]}) == "501"
    # No chat at all (a button under an inline message, a poll answer): the person.
    assert update_key({"update_id": 9, "callback_query": {"id": "2", "from": alice}}) == "501"
    assert update_key({"update_id": 9, "poll_answer": {"poll_id": "p", "user": alice}}) == "501"
