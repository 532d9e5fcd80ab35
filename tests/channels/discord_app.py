"""A whole desk (SQLite in a temp dir) with the real Discord channel on the fake Discord,
and optionally the real Telegram channel beside it on the fake Bot API (one queue)."""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fake_discord import APPLICATION_ID, TOKEN, FakeDiscord
from fake_telegram import FakeTelegram

from bot.account import Account
from bot.app import App, build_app
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.settings import Settings
from bot.ticket import Priority, Status, Ticket
from handlers.discord import DiscordChannel
from handlers.telegram import TelegramChannel
from handlers.telegram.pacing import Limits

GUILD = 5000
TECH = 5001  # a text channel: technical and consultation (a private thread per ticket)
SALES = 5002  # a forum: sales (a post per ticket, tagged)
COMMUNITY = 5003
AGENT_ROLE = 5100  # technical and consultation agents
SALES_ROLE = 5101
LEAD_ROLE = 5102
MOD_ROLE = 5103
ALICE = 61  # a customer, Czech
BOB = 62  # a community member
AGENT = 71  # Tereza, technical agent
SELLER = 72
OUTSIDER = 73  # a member without a role
MOD = 74
TG_TECH = -1001000  # the technical team's Telegram group (one-queue tests)
FAST = Limits(per_chat_per_second=100, chat_burst=100, per_group_per_minute=60000)
PNG = b"\x89PNG\r\n\x1a\n-a-screenshot"


@dataclass
class Desk:
    fake: FakeDiscord
    app: App
    channel: DiscordChannel
    telegram: FakeTelegram | None = None
    telegram_channel: TelegramChannel | None = None

    async def relay(self) -> None:
        """Deliver what is due, as the running relay does, and let the fake settle."""
        await self.app.relay.drain()
        await self.fake.wait_idle()

    async def wait_ticket(self, number: int, done: Callable[[Ticket], bool]) -> Ticket:
        """The ticket once ``done`` holds for it (a message handled by the channel has no
        answer to wait for on the fake)."""
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            ticket = await self.app.tickets.get(number)
            if done(ticket):
                return ticket
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"#{number} never got there: {ticket.status}")
            await asyncio.sleep(0.05)


def policy_data(*, telegram_team: bool = False) -> dict[str, Any]:
    with EXAMPLE_POLICY.open("rb") as fh:
        data = tomllib.load(fh)
    technical: dict[str, str] = {"discord": str(TECH)}
    if telegram_team:
        technical["telegram"] = str(TG_TECH)
    data["departments"]["technical"]["team_channels"] = technical
    data["departments"]["consultation"]["team_channels"] = {"discord": str(TECH)}
    data["departments"]["sales"]["team_channels"] = {"discord": str(SALES)}
    data["departments"]["technical"]["agent_roles"] = {"discord": [str(AGENT_ROLE)]}
    data["departments"]["consultation"]["agent_roles"] = {"discord": [str(AGENT_ROLE)]}
    data["departments"]["sales"]["agent_roles"] = {"discord": [str(SALES_ROLE)]}
    data["desk"]["lead_roles"] = {"discord": [str(LEAD_ROLE)]}
    data["desk"]["moderator_roles"] = {"discord": [str(MOD_ROLE)]}
    data["desk"]["escalation_department"] = "technical"
    return data


def help_policy() -> dict[str, Any]:
    """The test policy with the example's help articles."""
    data = policy_data()
    data["help"] = {"folder": str(EXAMPLE_POLICY.parent / "help")}
    return data


def world(fake: FakeDiscord) -> None:
    fake.guild(GUILD, "Shop support")
    for role, name in (
        (AGENT_ROLE, "agents"),
        (SALES_ROLE, "sales"),
        (LEAD_ROLE, "leads"),
        (MOD_ROLE, "moderators"),
    ):
        fake.role(GUILD, role, name)
    fake.text_channel(GUILD, TECH, "tech-team")
    statuses = [s.value for s in Status]
    fake.forum(
        GUILD,
        SALES,
        "sales-team",
        tags=(
            *(f"status-{s}" for s in statuses),
            *(f"priority-{p.name.lower()}" for p in Priority),
        ),
    )
    fake.text_channel(GUILD, COMMUNITY, "community")
    people = (
        (ALICE, "alice", (), "cs"),
        (BOB, "bob", (), "en-US"),
        (AGENT, "tereza", (AGENT_ROLE,), "cs"),
        (SELLER, "sam", (SALES_ROLE,), "en-US"),
        (OUTSIDER, "mallory", (), "en-US"),
        (MOD, "mod", (MOD_ROLE,), "en-US"),
    )
    for user_id, name, roles, locale in people:
        fake.user(user_id, name, locale=locale)
        fake.member(GUILD, user_id, roles)
    fake.member(GUILD, 4401)


@contextlib.asynccontextmanager
async def running_desk(
    tmp_path: Path,
    *,
    policy: dict[str, Any] | None = None,
    telegram: bool = False,
    settings: dict[str, Any] | None = None,
    boosts: int = 0,
) -> AsyncIterator[Desk]:
    """The desk on a fresh database with the Discord channel serving (and Telegram, with
    ``telegram``); the relay is driven by ``Desk.relay``; ``settings`` adds to the
    desk's settings (the file store's); ``boosts`` is the server's boost level."""
    fake = FakeDiscord()
    await fake.start()
    world(fake)
    fake.guilds[GUILD]["premium_tier"] = boosts
    tg: FakeTelegram | None = None
    extra: dict[str, Any] = dict(settings or {})
    if telegram:
        tg = FakeTelegram()
        await tg.start()
        extra.update(telegram_bot_token=tg.token, telegram_api_url=tg.url)
    desk_settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
        discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_api_url=fake.api_url,
        discord_application_id=APPLICATION_ID,
        discord_guild_ids=str(GUILD),
        flood_limit=200,
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )
    data = policy or policy_data(telegram_team=telegram)
    app = await build_app(desk_settings, policy=parse_policy(data))
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-1001", ("shop.example.cz",), "premium", valid_until=date(2099, 1, 1))
        )
        await uow.commit()
    channel = DiscordChannel(app, TOKEN, guild_ready_timeout=0.05)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(channel.run(stop))]
    telegram_channel = None
    if tg is not None:
        telegram_channel = TelegramChannel.from_app(app, limits=FAST)
        tasks.append(asyncio.create_task(telegram_channel.run(stop)))
    try:
        ready = asyncio.create_task(channel.client.wait_until_ready())
        await asyncio.wait([ready, tasks[0]], timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0].done():
            tasks[0].result()  # the channel stopped before it was ready: why
        assert ready.done(), "the Discord channel never got ready"
        yield Desk(fake, app, channel, tg, telegram_channel)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        await app.close()
        await fake.close()
        if tg is not None:
            await tg.close()
