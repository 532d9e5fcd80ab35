"""The relay killed with SIGKILL in the middle of a team chat's run, through the real
Telegram notifier and the real aiogram bot (issue 7).

A relay process (``telegram_relay_child.py``) delivers a forum group's run: three new
tickets, each with two messages from its customer. The fake Bot API holds the call
that carries the second ticket's messages unanswered, and the relay is killed there.
After the restart only those two messages are in doubt: each is announced in the
ticket's topic with a Send it again button, which the agent presses, while the third
ticket, never tried, goes out in its turn. Nothing is lost, nothing arrives twice, and
no topic or card is made a second time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fake_telegram import FakeTelegram
from telegram_app import FAST, TECH_CHAT, MovingClock, policy_data
from telegram_people import Person, file_directly, press_in_team

from bot.account import Account
from bot.app import App, build_app
from bot.notification import DeliveryStatus, OutboxItem
from bot.policy import parse_policy
from bot.settings import Settings
from handlers.telegram import TelegramChannel
from handlers.telegram.context import Tuning

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD = HERE / "telegram_relay_child.py"
AGENT = 700
CUSTOMERS = (501, 502, 503)
# A Monday morning in Prague: the technical team is in.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LEASE = 120.0  # build_app's relay: the default lease
PATIENCE = 30.0  # seconds the test waits for a state before failing
DOUBT = "may not have arrived"


def note(customer: int, n: int) -> str:
    return f"note {n} from customer {customer}"


async def until(what: str, condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def team_texts(fake: FakeTelegram) -> list[str]:
    """What the team group shows (calls the fake carried out), in order."""
    return [
        str(m.get("text", ""))
        for m in fake.messages.values()
        if m["chat"]["id"] == TECH_CHAT and "text" in m
    ]


async def outbox(app: App) -> list[OutboxItem]:
    return await app.relay.outbox.items(limit=1000)


async def test_a_relay_killed_mid_run_leaves_only_the_call_in_flight_to_be_sent_again(
    tmp_path: Path,
) -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
    eve = fake.user(AGENT, "Eve")
    people = [Person(fake, c, f"Customer {c}") for c in CUSTOMERS]
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}",
        telegram_bot_token=fake.token,  # type: ignore[arg-type]
        telegram_api_url=fake.url,
        flood_limit=200,
        _env_file=None,  # type: ignore[call-arg]
    )
    clock = MovingClock(MONDAY)
    app = await build_app(settings, policy=parse_policy(policy_data()), clock=clock)
    stop = asyncio.Event()
    child: asyncio.subprocess.Process | None = None
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with app.uow() as uow:
            await uow.accounts.put(
                Account("SN-1001", ("shop.example.cz",), "premium", valid_until=date(2099, 1, 1))
            )
            await uow.commit()
        channel = TelegramChannel.from_app(app, tuning=Tuning(album_wait=0.3), limits=FAST)
        tasks.append(asyncio.create_task(channel.run(stop)))  # the bot, not its relay yet
        for person in people:
            await file_directly(app, person.id, "bug", f"Problem of {person.id}")
        for n in range(2):
            for person in people:
                fake.push_message(person.id, person.user, note(person.id, n))

        async def queued() -> bool:
            keys = [i.notification.key for i in await outbox(app)]
            return keys.count("team.customer_wrote") == 2 * len(people)

        await until("the customers' messages were queued for the team", queued)
        rows = {i.notification.id: i.notification for i in await outbox(app)}
        team = [i for i, n in rows.items() if n.recipient == str(TECH_CHAT)]
        assert len(team) == 3 + 6  # one run: three openings, six messages

        def of(customer: int) -> set[str]:
            number = next(
                n.ticket_number
                for n in rows.values()
                if n.key == "team.customer_wrote" and f"from customer {customer}" in str(n.params)
            )
            return {i for i in team if rows[i].ticket_number == number}

        second = {i for i in of(502) if rows[i].key == "team.customer_wrote"}
        # The call carrying the second ticket's two messages (joined) is never answered.
        held = fake.hold(
            "sendMessage",
            lambda p: p.get("chat_id") == TECH_CHAT and note(502, 0) in str(p.get("text")),
        )
        config = tmp_path / "child.json"
        config.write_text(
            json.dumps(
                {
                    "database_url": settings.database_url,
                    "token": fake.token,
                    "api_url": fake.url,
                    "now": clock.now().isoformat(),
                }
            ),
            encoding="utf-8",
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
        log = tmp_path / "child.log"
        with log.open("wb") as out:
            child = await asyncio.create_subprocess_exec(
                sys.executable, str(CHILD), str(config), env=env, stdout=out, stderr=out
            )
        await asyncio.wait_for(held.reached.wait(), PATIENCE)

        async def others_settled() -> bool:
            status = {i.notification.id: i.status for i in await outbox(app)}
            return all(
                s is DeliveryStatus.DELIVERED for i, s in status.items() if i not in team
            ) and all(status[i] is DeliveryStatus.DELIVERED for i in of(501))

        await until("the first ticket and the customers' messages were marked", others_settled)
        status = {i.notification.id: i.status for i in await outbox(app)}
        sending = {i for i in team if status[i] is DeliveryStatus.SENDING}
        assert sending == second | of(503)  # the second's opening went out on its card
        child.send_signal(signal.SIGKILL)
        await child.wait()
        held.dropped.set()
        assert child.returncode == -signal.SIGKILL, log.read_bytes().decode(errors="replace")

        clock.advance(seconds=LEASE + 5)  # the dead relay's lease ran out
        tasks.append(asyncio.create_task(app.relay.run(stop, 0.05)))

        async def told() -> bool:
            return sum(DOUBT in t for t in team_texts(fake)) == 2

        await until("the two messages in doubt were announced", told)
        notices = [
            m
            for m in fake.messages.values()
            if m["chat"]["id"] == TECH_CHAT and DOUBT in str(m.get("text", ""))
        ]
        for notice in notices:
            [button] = notice["reply_markup"]["inline_keyboard"][0]
            assert button["text"] == "Send it again"
            assert "will be sent again" in await press_in_team(
                fake, eve, notice, button["callback_data"]
            )

        async def all_delivered() -> bool:
            status = {i.notification.id: i.status for i in await outbox(app)}
            return all(s is DeliveryStatus.DELIVERED for s in status.values())

        await until("everything was delivered", all_delivered)
    finally:
        stop.set()
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        await app.close()
        await fake.close()

    shown = [t for t in team_texts(fake) if DOUBT not in t]
    for customer in CUSTOMERS:
        for n in range(2):
            assert sum(note(customer, n) in t for t in shown) == 1, (customer, n)
    assert len(fake.topics[TECH_CHAT]) == 3  # no second topic for the ticket in doubt
    cards = [t for t in shown if "Problem of" in t and "Status" in t]
    assert len(cards) == 3
    # The third ticket, never tried before the kill, went out after it, in order.
    third = [t for t in shown if "503" in t]
    assert note(503, 0) in third[-1] and "Problem of 503" in third[0]
