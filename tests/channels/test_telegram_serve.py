"""Serving Telegram for real: webhook mode behind a secret, and ``python -m bot`` as a
process against the fake Bot API, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from fake_telegram import FakeTelegram
from telegram_app import TECH_CHAT, policy_data, running_desk
from telegram_people import Person

from bot.policy import EXAMPLE_POLICY
from handlers.telegram.channel import WEBHOOK_PATH

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_takes_updates_only_with_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", base)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_HOST", "127.0.0.1")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_PORT", str(port))
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret-Token_1")
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        alice = fake.user(501, "Alice")
        await fake.wait_call("setWebhook")
        assert fake.webhook is not None
        assert fake.webhook["url"] == base + WEBHOOK_PATH
        assert fake.webhook["secret_token"] == "s3cret-Token_1"
        assert not fake.calls_of("getUpdates")

        async with aiohttp.ClientSession() as http:
            for headers in ({}, {SECRET_HEADER: "wrong"}):
                update = fake.message_update(501, alice, "/help")
                async with http.post(base + WEBHOOK_PATH, json=update, headers=headers) as resp:
                    assert resp.status == 401
            mark = fake.mark()
            update = fake.message_update(501, alice, "/start")
            headers = {SECRET_HEADER: "s3cret-Token_1"}
            async with http.post(base + WEBHOOK_PATH, json=update, headers=headers) as resp:
                assert resp.status == 200
            welcome = await fake.wait_call(
                "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
            )
        assert "Hello Alice!" in welcome[0].params["text"]
        # Only the update with the secret was answered.
        assert len([c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == 501]) == 1


def telegram_policy(tmp_path: Path) -> Path:
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    for department in ("technical", "consultation", "sales"):
        old = f'team_channels = {{ console = "{department}" }}'
        assert old in text
        text = text.replace(
            old, f'team_channels = {{ console = "{department}", telegram = "{TECH_CHAT}" }}'
        )
    path = tmp_path / "desk.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_python_m_bot_serves_telegram_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        alice = fake.user(501, "Alice")
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.url,
            "TELEGRAM_MODE": "polling",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
            "DESK_POLICY_FILE": str(telegram_policy(tmp_path)),
            "REDIS_URL": "",
            "LOG_LEVEL": "INFO",
        }
        log = tmp_path / "bot.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=env,
                cwd=tmp_path,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            # Start-up (imports, migrations) on a loaded CI machine can take a while.
            await fake.wait_call("getUpdates", timeout=120)
            mark = fake.mark()
            fake.push_message(501, alice, "/start")
            welcome = await fake.wait_call(
                "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
            )
            assert "Hello Alice!" in welcome[0].params["text"]
            mark = fake.mark()
            fake.push_message(501, alice, "/new")
            menu = await fake.wait_call(
                "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
            )
            buttons = [
                b["callback_data"]
                for row in menu[0].params["reply_markup"]["inline_keyboard"]
                for b in row
            ]
            assert "c:bug" in buttons and "c:bug_critical" in buttons
            assert ("all_private_chats", "") in fake.commands

            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()
        output = log.read_text(encoding="utf-8", errors="replace")
        assert code == 0, output
        assert "Traceback" not in output, output
        assert fake.token not in output  # the token is never logged


async def menus_registered(fake: FakeTelegram) -> None:
    """Wait until the bot has set its command menus (the group chats' Russian one is
    the last it sets)."""
    deadline = time.monotonic() + 15
    while ("all_group_chats", "ru") not in fake.commands:
        assert time.monotonic() < deadline, sorted(fake.commands)
        await asyncio.sleep(0.02)


async def test_command_menus_are_registered_per_language_and_chat_kind(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        await menus_registered(desk.fake)
        private_cs = desk.fake.commands[("all_private_chats", "cs")]
        groups_ru = desk.fake.commands[("all_group_chats", "ru")]
    assert [c["command"] for c in private_cs][:3] == ["start", "new", "tickets"]
    assert "training" in [c["command"] for c in private_cs]
    assert (
        private_cs[1]["description"]
        != desk.fake.commands[("all_private_chats", "en")][1]["description"]
    )
    assert [c["command"] for c in groups_ru] == ["queue", "quote", "note", "escalate"]


async def test_training_is_in_the_menu_only_where_the_policy_offers_it(tmp_path: Path) -> None:
    policy = policy_data()
    del policy["onboarding"]  # no plans (and no trial users) to train
    async with running_desk(tmp_path, policy=policy) as desk:
        await menus_registered(desk.fake)
        private_en = desk.fake.commands[("all_private_chats", "en")]
        alice = Person(desk.fake, 501, "Alice")
        helped = await alice.says("/help")
        refused = await alice.says("/training")
    assert "training" not in [c["command"] for c in private_en]
    assert "/training" not in helped
    assert "I don't know the command /training." in refused
