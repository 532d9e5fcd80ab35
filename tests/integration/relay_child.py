"""A relay process for ``test_relay_kill.py``, to be killed with SIGKILL mid-batch.

Run as ``python relay_child.py CONFIG.json``. It builds the desk (``build_app``) on the
given database and runs its relay with a notifier for the "chat" channel that appends
the id of every notification it delivered to a file (flushed and fsynced per line),
except for one chosen notification: for that one it writes a "sending" marker and then
never finishes, as a send to a platform that has not answered yet. A team chat's run
goes out two notifications a call (one line per call, its ids), each call told to the
relay's progress first, as a joining notifier does.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app import build_app
from bot.clock import ManualClock
from bot.notification import Notification
from bot.policy import EXAMPLE_POLICY, DeskPolicy, parse_policy
from bot.ports import RunProgress
from bot.settings import Settings


class MovingClock(ManualClock):
    """A manual clock that moves a microsecond per reading, like a real one."""

    def now(self) -> datetime:
        return self.advance(microseconds=1)


def desk_policy() -> DeskPolicy:
    """The shipped policy with the technical team working in the "chat" channel."""
    with EXAMPLE_POLICY.open("rb") as fh:
        raw: dict[str, Any] = tomllib.load(fh)
    raw["departments"]["technical"]["team_channels"] = {"chat": "team-tech"}
    return parse_policy(raw)


def append_line(path: Path, line: str) -> None:
    """One line, on disk before this returns: a SIGKILL right after cannot lose it."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# Notifications a platform call carries in a team chat's run.
PER_CALL = 2


class FileNotifier:
    channel = "chat"

    def __init__(self, delivered: Path, marker: Path, hang_on: str) -> None:
        self.delivered = delivered
        self.marker = marker
        self.hang_on = hang_on

    async def deliver(self, notification: Notification) -> None:
        await self._call([notification])

    def leading(self, notifications: Sequence[Notification]) -> str:
        return notifications[0].id  # sent in the order given

    async def deliver_run(
        self, notifications: Sequence[Notification], progress: RunProgress | None = None
    ) -> None:
        for start in range(0, len(notifications), PER_CALL):
            part = notifications[start : start + PER_CALL]
            if progress is not None:
                await progress.sending([n.id for n in part])
            await self._call(part)
            for n in part:
                if progress is not None:
                    progress.delivered(n.id)

    async def _call(self, part: Sequence[Notification]) -> None:
        ids = " ".join(n.id for n in part)
        if any(n.id == self.hang_on for n in part):
            append_line(self.marker, f"sending {ids}")
            await asyncio.sleep(3600)  # the platform never answers: killed meanwhile
        append_line(self.delivered, ids)


async def main(config: dict[str, str]) -> None:
    settings = Settings(database_url=config["database_url"], _env_file=None)  # type: ignore[call-arg]
    clock = MovingClock(datetime.fromisoformat(config["now"]))
    app = await build_app(settings, policy=desk_policy(), clock=clock)
    app.relay.register(
        FileNotifier(Path(config["delivered"]), Path(config["marker"]), config["hang_on"])
    )
    try:
        await app.relay.run(asyncio.Event(), interval=0.05)
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
