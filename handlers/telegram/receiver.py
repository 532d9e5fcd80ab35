"""Receiving Telegram updates: the one poller of a bot (or its webhook endpoint), which
writes every update to the durable queue and only then lets Telegram forget it.

Telegram forgets the updates of a getUpdates answer when the next getUpdates carries
an offset past them; so the next call is made only after the whole batch is queued.
Whatever fails in between (Telegram, the network, the queue's database or Redis) is
retried with backoff, and the updates that were not confirmed come again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramUnauthorizedError
from aiogram.methods.base import TelegramMethod
from aiohttp import web

from bot.ports import QueuedUpdate, UpdateQueue
from bot.worker import Backoff, pause, unless_stopped

log = logging.getLogger(__name__)

T = TypeVar("T")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLLING_TIMEOUT = 10


def update_key(raw: dict[str, Any]) -> str:
    """The ordering key of a raw update: the id of its chat (a callback query's: the
    chat of its message), else of its sender (a private chat has its user's id), else
    the update's kind."""
    for kind, event in raw.items():
        if kind == "update_id" or not isinstance(event, dict):
            continue
        chat = event.get("chat")
        message = event.get("message")
        if chat is None and isinstance(message, dict):
            chat = message.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return str(chat["id"])
        for field in ("from", "user", "voter_chat"):
            person = event.get(field)
            if isinstance(person, dict) and "id" in person:
                return str(person["id"])
        return kind
    return ""


def queued(raw: dict[str, Any]) -> QueuedUpdate:
    """A raw Bot API update (JSON object) as the queue takes it."""
    return QueuedUpdate(update_id=str(raw["update_id"]), key=update_key(raw), payload=raw)


class RawGetUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates answered with the updates as Telegram sent them: the receiver only
    queues them, and the worker that takes one parses it. Parsing each into aiogram's
    models here and dumping it back cost the one receiver of a fleet more than all its
    other work together. Errors are aiogram's as for any call (``TelegramRetryAfter``...)."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


def _updates(answer: list[dict[str, Any]]) -> tuple[list[QueuedUpdate], int | None]:
    """What of a getUpdates answer is queued, and the offset that confirms it all."""
    queue: list[QueuedUpdate] = []
    newest: int | None = None
    for raw in answer:
        update_id = raw.get("update_id")
        if not isinstance(update_id, int):
            log.warning("an update without an update_id was dropped: %.200s", raw)
            continue
        newest = update_id if newest is None else max(newest, update_id)
        queue.append(queued(raw))
    return queue, None if newest is None else newest + 1


class PollingReceiver:
    """The getUpdates loop of one bot (Telegram allows one). Each batch goes to the
    queue before the offset that confirms it is sent."""

    def __init__(
        self,
        bot: Bot,
        queue: UpdateQueue,
        *,
        allowed_updates: list[str] | None = None,
        timeout: int = POLLING_TIMEOUT,
        backoff: Backoff | None = None,
    ) -> None:
        self.bot = bot
        self.queue = queue
        self.allowed_updates = allowed_updates
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Receive until ``stop`` is set; a wrong token ends it with the error."""
        webhook_deleted = False
        while not stop.is_set():
            try:
                if not webhook_deleted:
                    await self.bot.delete_webhook()
                    webhook_deleted = True
                if not await self.receive_once(stop):
                    break
                self.backoff.reset()
            except TelegramUnauthorizedError:
                raise
            except Exception as exc:
                wait = (
                    float(exc.retry_after)
                    if isinstance(exc, TelegramRetryAfter)
                    else self.backoff.next()
                )
                log.warning("receiving Telegram updates failed, again in %.1fs: %s", wait, exc)
                await pause(wait, stop)
        await self._confirm()

    async def receive_once(self, stop: asyncio.Event) -> bool:
        """One getUpdates and the queueing of what it brought; False when stopped."""
        request_timeout = None
        if self.bot.session.timeout:
            # The long poll itself lasts up to ``timeout``: the request may take longer.
            request_timeout = int(self.bot.session.timeout + self.timeout)
        poll = RawGetUpdates(
            offset=self.offset, timeout=self.timeout, allowed_updates=self.allowed_updates
        )
        call: Awaitable[list[dict[str, Any]]] = self.bot(poll, request_timeout=request_timeout)
        done, answer = await unless_stopped(call, stop)
        if not done:
            return False
        updates, offset = _updates(answer or [])
        if updates:
            # Stopped while queueing: not confirmed, so Telegram sends them again.
            stored, _ = await unless_stopped(self.queue.put(updates), stop)
            if not stored:
                return False
        if offset is not None:
            self.offset = offset
        return True

    async def _confirm(self) -> None:
        """On a clean stop, tell Telegram what is already queued (else it comes again
        at the next start, and may be handled twice if it has left the queue)."""
        if self.offset is None:
            return
        try:
            await asyncio.wait_for(
                self.bot.get_updates(offset=self.offset, limit=1, timeout=0), timeout=5
            )
        except Exception as exc:
            log.info("last Telegram offset not confirmed: %s", exc)


class WebhookReceiver:
    """Telegram's webhook endpoint: an update is answered 200 only once it is queued;
    an error answer makes Telegram send it again later."""

    def __init__(self, queue: UpdateQueue, secret: str | None = None) -> None:
        self.queue = queue
        self.secret = secret

    def register(self, app: web.Application, path: str) -> None:
        app.router.add_post(path, self.on_update)

    async def on_update(self, request: web.Request) -> web.Response:
        if self.secret and not secrets.compare_digest(
            request.headers.get(SECRET_HEADER, "").encode(), self.secret.encode()
        ):
            return web.Response(status=401, text="Unauthorized")
        try:
            raw = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            await self.queue.put([queued(raw)])
        except Exception:
            log.exception("update %s not queued; Telegram will send it again", raw["update_id"])
            return web.Response(status=503, text="try again")
        return web.Response(status=200)
