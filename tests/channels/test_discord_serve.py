"""``python -m bot`` with ``DISCORD_BOT_TOKEN`` serves Discord: the real process, its
settings from the environment, against the fake Discord; ``python -m bot discord panel``
posts the "Open a ticket" panel, whose button starts an intake."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from discord_app import ALICE, GUILD, world
from discord_people import components, last_with
from fake_discord import TOKEN, FakeDiscord

SUPPORT = 5009
ROOT = Path(__file__).resolve().parents[2]


async def _bot(env: dict[str, str], cwd: Path, *argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *argv,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_make_run_serves_discord_and_the_panel_opens_a_ticket(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        world(fake)
        fake.text_channel(GUILD, SUPPORT, "support")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))},
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
            "DISCORD_BOT_TOKEN": TOKEN,
            "DISCORD_API_URL": fake.api_url,
            "DISCORD_GUILD_IDS": str(GUILD),
        }
        env.pop("REDIS_URL", None)
        panel = await _bot(env, tmp_path, "discord", "panel", str(SUPPORT))
        _, err = await asyncio.wait_for(panel.communicate(), 60)
        assert panel.returncode == 0, err.decode()
        (message,) = fake.messages[SUPPORT]
        assert [c["custom_id"] for c in components(message)] == ["p:new"]
        assert "Open a ticket" in str(message["components"])

        served = await _bot(env, tmp_path)
        try:
            await fake.wait_connected(timeout=120)
            await fake.wait_for(lambda: fake.commands.get(GUILD), timeout=120)
            names = {c["name"] for c in fake.commands[GUILD]}
            assert {"ticket", "note", "quote", "Escalate to ticket"} <= names
            pressed = await fake.press(ALICE, message, "p:new")
            await fake.wait_for(lambda: pressed.followups, timeout=10)
            # The intake began, privately, in the member's language (Czech).
            menu = last_with(pressed, "s:")
            assert menu["flags"] & 64
            assert "Chyba" in str(menu["components"])
        finally:
            served.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(served.communicate(), 30)
        assert served.returncode == 0, err.decode()[-2000:]
