"""A whole desk (SQLite in a temp dir) with the real Telegram channel on the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fake_telegram import ApiLimits, FakeTelegram
from sqlalchemy import text

from bot.account import Account
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.ports import Clock
from bot.settings import Settings
from handlers.telegram import TelegramChannel
from handlers.telegram.context import Tuning
from handlers.telegram.pacing import Limits
from store.db import create_engine

TECH_CHAT = -1001000
SALES_CHAT = -1002000
COMMUNITY = -1003000
LEAD = 900
FAST = Limits(per_chat_per_second=100, chat_burst=100, per_group_per_minute=60000)
# Wednesday 09:00 in Prague: the technical team is in, outside its peak hours.
WEDNESDAY_MORNING = datetime(2024, 5, 15, 7, 0, tzinfo=UTC)


class MovingClock(ManualClock):
    """A manual clock that moves a microsecond per reading, like a real one: what is
    written keeps the order it happened in."""

    def now(self) -> datetime:
        return self.advance(microseconds=1)


@dataclass
class Desk:
    fake: FakeTelegram
    app: App
    channel: TelegramChannel


def policy_data() -> dict[str, Any]:
    with EXAMPLE_POLICY.open("rb") as fh:
        data = tomllib.load(fh)
    data["departments"]["technical"]["team_channels"] = {"telegram": str(TECH_CHAT)}
    data["departments"]["consultation"]["team_channels"] = {"telegram": str(TECH_CHAT)}
    data["departments"]["sales"]["team_channels"] = {"telegram": str(SALES_CHAT)}
    data["desk"]["leads"] = [f"telegram:{LEAD}"]
    data["desk"]["escalation_department"] = "technical"
    # No help centre unless a test asks for one (help_policy): its articles would step
    # into every intake.
    data.pop("help", None)
    return data


def help_policy() -> dict[str, Any]:
    """The test policy with the example's help articles."""
    data = policy_data()
    data["help"] = {"folder": str(EXAMPLE_POLICY.parent / "help")}
    return data


@contextlib.asynccontextmanager
async def running_desk(
    tmp_path: Path,
    tuning: Tuning | None = None,
    *,
    policy: dict[str, Any] | None = None,
    clock: Clock | None = None,
    api_limits: ApiLimits | None = None,
    limits: Limits = FAST,
    private_topics: bool = False,
    **settings_: Any,
) -> AsyncIterator[Desk]:
    """The desk on a fresh database with the channel serving and the relay running.
    ``api_limits``: the fake Bot API enforces them (429s), ``limits``: the channel's
    pacing; ``private_topics``: the bot has topics in private chats (Bot API 9.3);
    ``settings_`` are more ``Settings`` fields (e.g. the webhook mode)."""
    fake = FakeTelegram(limits=api_limits, private_topics=private_topics)
    await fake.start()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
        telegram_bot_token=fake.token,  # type: ignore[arg-type]
        telegram_api_url=fake.url,
        _env_file=None,  # type: ignore[call-arg]
        **{"flood_limit": 200, **settings_},
    )
    app = await build_app(
        settings,
        policy=parse_policy(policy or policy_data()),
        clock=clock,
        platforms=("telegram",),  # as bot.cli serving Telegram
    )
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-1001", ("shop.example.cz",), "premium", valid_until=date(2099, 1, 1))
        )
        await uow.commit()
    channel = TelegramChannel.from_app(app, tuning=tuning or Tuning(album_wait=0.3), limits=limits)
    # The fake is not idle while updates wait in the queue: a stall of the machine
    # longer than a test's quiet moment is not the bot having finished.
    watcher = create_engine(settings.database_url)

    async def busy() -> bool:
        async with watcher.connect() as connection:
            waiting = await connection.scalar(text("SELECT count(*) FROM pending_updates"))
        return bool(waiting)

    fake.busy = busy
    stop = asyncio.Event()
    serving = asyncio.create_task(channel.run(stop))
    relaying = asyncio.create_task(app.relay.run(stop, 0.05))
    try:
        yield Desk(fake, app, channel)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(serving, relaying, return_exceptions=True), 15)
        await app.close()
        await watcher.dispose()
        await fake.close()
