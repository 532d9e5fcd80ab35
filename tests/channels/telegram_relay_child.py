"""The desk's relay with the real Telegram notifier in a process of its own, for
``test_telegram_relay_crash.py`` to kill with SIGKILL in the middle of a team chat's run.

Run as ``python telegram_relay_child.py CONFIG.json``: the desk (``build_app``) on the
given SQLite file, the Telegram channel pointed at the test's fake Bot API (its notifier
registered with the relay; no updates received here), the relay running until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from telegram_app import FAST, MovingClock, policy_data

from bot.app import build_app
from bot.policy import parse_policy
from bot.settings import Settings
from handlers.telegram import TelegramChannel


async def main(config: dict[str, str]) -> None:
    settings = Settings(
        database_url=config["database_url"],
        telegram_bot_token=config["token"],  # type: ignore[arg-type]
        telegram_api_url=config["api_url"],
        _env_file=None,  # type: ignore[call-arg]
    )
    clock = MovingClock(datetime.fromisoformat(config["now"]))
    app = await build_app(settings, policy=parse_policy(policy_data()), clock=clock)
    TelegramChannel.from_app(app, limits=FAST)
    try:
        await app.relay.run(asyncio.Event(), interval=0.05)
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
