"""Feeding queued Telegram updates to the aiogram dispatcher (``bot.worker.Worker``
claims them, keeps each chat's order and marks them done)."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from pydantic import ValidationError

from bot.ports import QueuedUpdate
from bot.worker import Handle

log = logging.getLogger(__name__)


def feeder(dispatcher: Dispatcher, bot: Bot) -> Handle:
    """A queued raw update -> ``dispatcher.feed_update``; an answer a handler returns
    as a Bot API method is sent. A payload that is not an Update is logged and
    dropped (handling it again would fail again)."""

    async def feed(item: QueuedUpdate) -> None:
        try:
            update = Update.model_validate(item.payload, context={"bot": bot})
        except ValidationError:
            log.exception("queued update %s is not a Telegram update; dropped", item.update_id)
            return
        result: Any = await dispatcher.feed_update(bot, update)
        if isinstance(result, TelegramMethod):
            await dispatcher.silent_call_request(bot, result)

    return feed
