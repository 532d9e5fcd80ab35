"""The desk under test: the real app (``bot.app.build_app``) and the real Telegram
channel on a real ``aiogram.Bot`` whose session is the in-memory Bot API.

Only the public seams are used (``build_app``, ``TelegramChannel``, the unit of work
for accounts as ``python -m bot accounts import`` adds them, ``relay.run_once``), so
the same benchmark runs on older trees (e.g. ``76640c5``) whose schema differs.
"""

from __future__ import annotations

import contextlib
import json
import re
import tomllib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.bot_api import TOKEN, MemoryBotAPI, make_bot
from benchmarks.customers import account
from bot.app import App, build_app
from bot.cli import parse_account_row
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.settings import Settings
from handlers.telegram.channel import TelegramChannel
from handlers.telegram.pacing import Limits

TECH_CHAT = -1001000  # a forum supergroup: one topic per ticket
SALES_CHAT = -1002000
TEAM_CHATS = {TECH_CHAT: True, SALES_CHAT: True}  # both forums
# Telegram's pacing (30 messages a second per bot, one a second per chat) would make
# every figure the pacer's; the benchmark measures the code, so the limits are off.
UNPACED = Limits(
    per_bot_per_second=1e9,
    per_chat_per_second=1e9,
    chat_burst=1e9,
    per_group_per_minute=1e9,
)


@dataclass
class Desk:
    app: App
    api: MemoryBotAPI
    channel: TelegramChannel


def team_chat(department: str) -> int:
    return SALES_CHAT if department == "sales" else TECH_CHAT


def policy_data() -> dict[str, Any]:
    """The shipped example policy with its departments' team chats on Telegram and its
    help centre."""
    with EXAMPLE_POLICY.open("rb") as fh:
        data = tomllib.load(fh)
    for key, department in data["departments"].items():
        department["team_channels"] = {"telegram": str(team_chat(key))}
    # Its help centre, whose folder is relative to the policy file's: the intake
    # searches its articles after the description, as a desk run on the example does.
    data["help"]["folder"] = str(EXAMPLE_POLICY.resolve().parent / data["help"]["folder"])
    return data


def policy_file(folder: Path) -> Path:
    """``policy_data`` as a file, for a bot in another process (``DESK_POLICY_FILE``)."""
    text, rewritten = re.subn(
        r'team_channels = \{ console = "(\w+)" \}',
        lambda m: f'team_channels = {{ telegram = "{team_chat(str(m.group(1)))}" }}',
        EXAMPLE_POLICY.read_text(encoding="utf-8"),
    )
    data = policy_data()
    if rewritten != len(data["departments"]):
        raise RuntimeError(f"{EXAMPLE_POLICY} changed shape: its team chats were not found")
    text, moved = re.subn(
        r'^folder = "[^"]*"$', f"folder = {json.dumps(data['help']['folder'])}", text, flags=re.M
    )
    if moved != 1:
        raise RuntimeError(f"{EXAMPLE_POLICY} changed shape: its help folder was not found")
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def seed_accounts(app: App, count: int) -> None:
    """Accounts for customers 0..count-1, as ``python -m bot accounts import`` adds them."""
    async with app.uow() as uow:
        for i in range(count):
            await uow.accounts.put(parse_account_row(account(i), app.policy.plans))
        await uow.commit()


@contextlib.asynccontextmanager
async def scratch_database(base_url: str | None, folder: str) -> AsyncIterator[str]:
    """A fresh, empty database for one run: a SQLite file in ``folder`` when
    ``base_url`` is None, else a new database on ``base_url``'s PostgreSQL server,
    dropped afterwards."""
    if base_url is None:
        yield f"sqlite+aiosqlite:///{folder}/bench.db"
        return
    url = make_url(base_url)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def settings(database_url: str, redis_url: str | None) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        telegram_bot_token=TOKEN,
        _env_file=None,
    )


@contextlib.asynccontextmanager
async def prepared_database(
    database_url: str | None, redis_url: str | None, folder: str, accounts: int
) -> AsyncIterator[str]:
    """A scratch database, migrated and with ``accounts`` accounts, for a bot in another
    process; its URL."""
    async with scratch_database(database_url, folder) as url:
        app = await build_app(settings(url, redis_url), policy=parse_policy(policy_data()))
        try:
            await seed_accounts(app, accounts)
        finally:
            await app.close()
        yield url


@contextlib.asynccontextmanager
async def running_desk(
    database_url: str, redis_url: str | None, customers: int
) -> AsyncIterator[Desk]:
    """The app on ``database_url`` (migrated, with an account for each customer) and
    the Telegram channel on the in-memory Bot API; nothing runs in the background."""
    app = await build_app(settings(database_url, redis_url), policy=parse_policy(policy_data()))
    api = MemoryBotAPI(team_chats=TEAM_CHATS)
    try:
        await seed_accounts(app, customers)
        channel = TelegramChannel(app, make_bot(api), limits=UNPACED)
        try:
            # The start-up calls polling makes first (getMe, the command menus).
            await channel.bot.me()
            await channel.set_commands()
            yield Desk(app, api, channel)
        finally:
            await channel.close()
    finally:
        await app.close()
