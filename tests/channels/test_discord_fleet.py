"""Discord in the worker fleet: the real discord.py client on the fake Discord, one
receiver (the gateway process: it acknowledges and queues) and workers (REST only: they
handle what is queued), on SQLite (the ``pending_updates`` table) and on PostgreSQL with
Redis streams (``DATABASE_TEST_URL`` and ``REDIS_TEST_URL``, e.g. through
``tools/services.sh``). ``python -m bot --workers 1`` with a Discord token runs them as
processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from discord import AppCommandOptionType, app_commands
from discord_app import (
    AGENT,
    ALICE,
    BOB,
    COMMUNITY,
    GUILD,
    MOD,
    OUTSIDER,
    TECH,
    Desk,
    policy_data,
    world,
)
from discord_people import card_of, components, file_directly, file_ticket, last_with
from fake_discord import (
    APPLICATION_ID,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    MODAL,
    TOKEN,
    FakeDiscord,
)
from redis.asyncio import Redis
from sqlalchemy import text

from bot.account import Account
from bot.app import App, build_app
from bot.participant import Participant
from bot.policy import parse_policy
from bot.settings import Settings
from bot.ticket import Status
from handlers.discord import DiscordChannel
from handlers.discord.channel import ESCALATE
from store.db import create_engine
from store.models import Base

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("DATABASE_TEST_URL", "")
REDIS_URL = os.environ.get("REDIS_TEST_URL", "")
KINDS = ["sqlite", pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis])]


@dataclass
class Fleet:
    fake: FakeDiscord
    settings: Settings
    receiver: DiscordChannel
    apps: list[App] = field(default_factory=list)
    workers: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=dict)

    @property
    def app(self) -> App:
        return self.apps[0]

    def desk(self) -> Desk:
        """The shared helpers' view (their relay: the first app's)."""
        return Desk(self.fake, self.app, self.receiver)

    async def start_worker(self, name: str) -> App:
        """A worker as ``python -m bot worker`` runs one: its own app, REST only."""
        app = await build_app(self.settings, policy=parse_policy(policy_data()))
        self.apps.append(app)
        channel = DiscordChannel(app, TOKEN)
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop, receive=False, work=True))
        self.workers[name] = (stop, task)
        return app

    async def kill(self, name: str) -> None:
        """The worker dies: what it holds stays claimed until its lease runs out."""
        _, task = self.workers.pop(name)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def relay(self) -> None:
        await self.app.relay.drain()
        await self.fake.wait_idle()


async def _fresh_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def _forget_discord_streams(url: str) -> None:
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="supportbot:updates:discord:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def running_fleet(kind: str, tmp_path: Path) -> AsyncIterator[Fleet]:
    """The fake Discord, a receiver serving its gateway (no worker yet) and a desk
    database holding the account SN-1001."""
    extra: dict[str, Any] = {}
    if kind == "sqlite":
        extra["database_url"] = f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    else:
        if not (PG_URL and REDIS_URL):
            pytest.skip("DATABASE_TEST_URL and REDIS_TEST_URL are not set")
        extra.update(database_url=PG_URL, redis_url=REDIS_URL)
        await _forget_discord_streams(REDIS_URL)
    fake = FakeDiscord()
    await fake.start()
    world(fake)
    settings = Settings(
        discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_api_url=fake.api_url,
        discord_application_id=APPLICATION_ID,
        discord_guild_ids=str(GUILD),
        flood_limit=200,
        update_lease_seconds=1.0,
        update_poll_seconds=0.05,
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )
    app = await build_app(settings, policy=parse_policy(policy_data()))
    if kind != "sqlite":
        await _fresh_postgres(PG_URL)
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-1001", ("shop.example.cz",), "premium", valid_until=date(2099, 1, 1))
        )
        await uow.commit()
    receiver = DiscordChannel(app, TOKEN, guild_ready_timeout=0.05)
    stop = asyncio.Event()
    serving = asyncio.create_task(receiver.run(stop, receive=True, work=False))
    fleet = Fleet(fake, settings, receiver, [app])
    try:
        ready = asyncio.create_task(receiver.client.wait_until_ready())
        await asyncio.wait([ready, serving], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()
        assert ready.done(), "the receiver never got ready"
        yield fleet
    finally:
        for name in list(fleet.workers):
            worker_stop, task = fleet.workers.pop(name)
            worker_stop.set()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20)
        stop.set()
        await asyncio.wait_for(asyncio.gather(serving, return_exceptions=True), 20)
        for opened in fleet.apps:
            await opened.close()
        await fake.close()
        if kind != "sqlite":
            await _forget_discord_streams(REDIS_URL)


def answers(fake: FakeDiscord, channel_id: int) -> list[str]:
    """What the bot wrote in a channel by itself (not as an interaction's answer)."""
    return [
        m.get("content") or ""
        for m in fake.messages.get(channel_id, [])
        if m["author"]["id"] != str(ALICE) and "interaction_metadata" not in m
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_dm_and_a_button_are_handled_by_a_worker_not_the_gateway(
    kind: str, tmp_path: Path
) -> None:
    async with running_fleet(kind, tmp_path) as fleet:
        fake = fleet.fake
        number = await file_directly(fleet.app, ALICE, "Checkout is blank")
        # A DM while no worker runs: the receiver queues it and answers nothing.
        await fake.post(ALICE, fake._dm(ALICE), "The page is still blank", wait=False)
        # /ticket list: acknowledged at once by the receiver ("thinking"), not answered.
        listed = await fake.command(ALICE, "ticket", "list", wait=False)
        await fake.wait_for(lambda: listed.response is not None)
        assert listed.response_type == DEFERRED_CHANNEL_MESSAGE
        await asyncio.sleep(1.0)
        assert not listed.followups
        dm = fake.dm_channel_of(ALICE) or 0
        assert answers(fake, dm) == []
        assert [e.text for e in (await fleet.app.tickets.get(number)).entries][-1:] != [
            "The page is still blank"
        ]

        # A worker starts: it handles both, answering through REST.
        await fleet.start_worker("w1")
        await fake.settled(listed)
        assert any(f"#{number}" in t for t in listed.texts)
        await fake.wait_for(lambda: answers(fake, dm))
        ticket = await fleet.app.tickets.get(number)
        assert [e.text for e in ticket.entries].count("The page is still blank") == 1

        # The card's Claim: the receiver defers the press, the worker claims.
        await fleet.relay()
        card = card_of(fleet.desk(), TECH, number)
        pressed = await fake.press(AGENT, card, f"a:claim:{number}")
        assert pressed.response_type == DEFERRED_UPDATE
        assert any("#" in t for t in pressed.texts)
        claimed = await fleet.app.tickets.get(number)
        assert claimed.status is Status.ACCEPTED
        assert claimed.assignee == Participant("discord", str(AGENT))

        # A button that opens a form is answered by the receiver itself (the modal).
        ask = await fake.press(AGENT, card, f"a:ask:{number}")
        assert ask.response_type == MODAL


@pytest.mark.parametrize("kind", KINDS)
async def test_a_worker_killed_mid_way_leaves_the_dm_to_another_handled_once(
    kind: str, tmp_path: Path
) -> None:
    async with running_fleet(kind, tmp_path) as fleet:
        fake = fleet.fake
        number = await file_directly(fleet.app, ALICE, "Checkout is blank")
        dm = fake._dm(ALICE)
        await fleet.start_worker("a")
        # Worker a takes the DM into the ticket, then Discord holds its answer (429 for
        # 5 s): it dies there, after the desk's unit of work.
        fake.rate_limit_next("POST", "/channels/{id}/messages", retry_after=5.0)
        mark = fake.mark()
        await fake.post(ALICE, dm, "The page is still blank", wait=False)
        await fake.wait_for(
            lambda: [
                c
                for c in fake.calls_of("POST", r"^/channels/\d+/messages", mark)
                if c.status == 429
            ]
        )
        ticket = await fleet.app.tickets.get(number)
        assert [e.text for e in ticket.entries].count("The page is still blank") == 1
        await fleet.kill("a")

        # Worker b gets it once a's lease ran out: the desk knows the message, so the
        # ticket gets it once; the customer gets the answer.
        await fleet.start_worker("b")
        await fake.wait_for(lambda: answers(fake, dm), timeout=15)
        await fake.wait_idle()
        ticket = await fleet.app.tickets.get(number)
        assert [e.text for e in ticket.entries].count("The page is still blank") == 1
        assert len(answers(fake, dm)) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_two_workers_keep_a_channels_order(kind: str, tmp_path: Path) -> None:
    async with running_fleet(kind, tmp_path) as fleet:
        fake = fleet.fake
        number = await file_directly(fleet.app, ALICE, "Checkout is blank")
        dm = fake._dm(ALICE)
        await fleet.start_worker("a")
        await fleet.start_worker("b")
        parts = [f"part {i}" for i in range(1, 9)]
        for part in parts:
            await fake.post(ALICE, dm, part, wait=False)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            ticket = await fleet.app.tickets.get(number)
            texts = [e.text for e in ticket.entries if e.text.startswith("part ")]
            if len(texts) == len(parts) or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert texts == parts


async def test_python_m_bot_workers_serves_discord_through_a_worker_process(
    tmp_path: Path,
) -> None:
    async with FakeDiscord() as fake:
        world(fake)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))},
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_URL": fake.api_url,
            "DISCORD_GUILD_IDS": str(GUILD),
            "UPDATE_POLL_SECONDS": "0.1",
        }
        env.pop("REDIS_URL", None)
        log = tmp_path / "bot.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--workers",
                "1",
                env=env,
                cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            await fake.wait_connected(timeout=120)
            await fake.wait_for(lambda: fake.commands.get(GUILD), timeout=120)
            started = await fake.command(ALICE, "ticket", "new", wait=False)
            await fake.settled(started, timeout=120)
            assert started.response_type == DEFERRED_CHANNEL_MESSAGE
            menu = last_with(started, "s:")
            assert "Chyba" in str(components(menu))
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        output = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, output
        assert "serving Discord: receiver" in output, output
        assert "Traceback" not in output, output


async def test_an_intake_and_an_escalation_go_through_the_fleet(tmp_path: Path) -> None:
    async with running_fleet("sqlite", tmp_path) as fleet:
        fake = fleet.fake
        await fleet.start_worker("a")
        await fleet.start_worker("b")
        # The whole intake: its forms shown by the receiver, everything else (the
        # category menu, the submitted forms, the confirmation) handled by the workers.
        number = await file_ticket(fleet.desk(), ALICE)
        ticket = await fleet.app.tickets.get(number)
        assert ticket.customer == Participant("discord", str(ALICE))
        assert ticket.title == "Checkout is blank"
        assert [a.file_name for a in ticket.attachments] == ["checkout.png"]

        # A moderator's "Escalate to ticket" (a message command: the message comes in the
        # interaction's resolved data) from a worker; a member without the role refused.
        post = await fake.post(BOB, COMMUNITY, "Search finds nothing for words with umlauts.")
        refused = await fake.context_menu(OUTSIDER, ESCALATE, post)
        assert "Only moderators" in refused.texts[-1]
        done = await fake.context_menu(MOD, ESCALATE, post)
        escalated = int(done.texts[-1].split("#", 1)[1].split()[0].strip(".,:"))
        filed = await fleet.app.tickets.get(escalated)
        assert filed.customer == Participant("discord", str(BOB))
        assert filed.origin.post_link and f"/{GUILD}/{COMMUNITY}/{post['id']}" in (
            filed.origin.post_link
        )
        again = await fake.context_menu(MOD, ESCALATE, post)
        assert f"#{escalated}" in again.texts[-1]
        async with fleet.app.uow() as uow:
            assert len(await uow.tickets.recent()) == 2


async def test_every_command_of_the_tree_is_answered_through_the_fleet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker routes commands from the interaction's data (``route_command``), not
    through the command tree: every command the tree registers must have a route there
    (one added to the tree alone would stay "thinking")."""
    async with running_fleet("sqlite", tmp_path) as fleet:
        fake = fleet.fake
        await fleet.start_worker("a")
        values: dict[AppCommandOptionType, Any] = {
            AppCommandOptionType.integer: 1,
            AppCommandOptionType.string: "1",
        }
        tried: list[str] = []
        for command in fleet.receiver.tree.get_commands():
            if isinstance(command, app_commands.ContextMenu):
                continue  # the message command: escalated in its own test
            subs = command.commands if isinstance(command, app_commands.Group) else [command]
            for sub in subs:
                assert isinstance(sub, app_commands.Command)
                options = {p.name: values[p.type] for p in sub.parameters if p.required}
                name = None if sub is command else sub.name
                done = await fake.command(AGENT, command.name, name, TECH, **options)
                assert done.answered, sub.qualified_name
                tried.append(sub.qualified_name)
        assert len(tried) >= 15 and "ticket new" in tried and "incident resolve" in tried
        assert "unknown command" not in caplog.text
