"""The in-memory Bot API served over loopback HTTP, for bots in other processes.

``python -m bot`` (and the worker fleet) talk to it as to Telegram through
``TELEGRAM_API_URL``: every method is answered by a ``MemoryBotAPI`` (whose chat logs
the driver reads), and ``getUpdates`` long-polls the updates the driver pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Any

from aiohttp import web

from benchmarks.bot_api import MemoryBotAPI, RawUpdate, decode_form

MAX_POLL_SECONDS = 50.0


class LoopbackBotAPI:
    def __init__(self, api: MemoryBotAPI) -> None:
        self.api = api
        self.url = ""
        self.polls = 0
        self._pending: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> LoopbackBotAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._on_method)
        # Files (a customer's screenshot the desk downloads to keep its copy).
        app.router.add_get("/file/bot{token}/{path:.+}", self._on_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def push(self, update: RawUpdate) -> None:
        """Queue ``update`` (the Bot API's JSON object) for ``getUpdates``."""
        self._pending.append(update)
        async with self._changed:
            self._changed.notify_all()

    async def polled(self, timeout: float) -> None:  # noqa: ASYNC109 - a deadline to report
        """Wait until the bot is polling (it has started up)."""
        deadline = time.monotonic() + timeout
        while self.polls == 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not poll for updates within {timeout:.0f} s")
            await asyncio.sleep(0.1)

    async def _on_file(self, request: web.Request) -> web.Response:
        url = str(request.url)
        body = b"".join([chunk async for chunk in self.api.stream_content(url)])
        return web.Response(body=body, content_type="application/octet-stream")

    async def _on_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        form = await request.post()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if method.lower() == "getupdates":
            return web.json_response({"ok": True, "result": await self._updates(fields)})
        status, body = self.api.answer(method, decode_form(fields))
        return web.json_response(body, status=status)

    async def _updates(self, fields: dict[str, str]) -> list[dict[str, Any]]:
        self.polls += 1
        offset = int(fields.get("offset") or 0)
        limit = int(fields.get("limit") or 100)
        timeout = min(float(fields.get("timeout") or 0), MAX_POLL_SECONDS)
        # An offset confirms every update before it: they are gone for good.
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        async with self._changed:
            if not self._pending and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)
        return self._pending[:limit]
