"""Feeding queued Telegram updates to the aiogram dispatcher (``bot.worker.Worker``
claims them, keeps each chat's order and marks them done); an album's updates are
fed together and the album handled before they are done (``album_grouping``)."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from pydantic import ValidationError

from bot.ports import QueuedUpdate
from bot.worker import Grouping, Handle
from handlers.telegram.inbound import AlbumCollector

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


# The updates whose message can be a part of an album.
_ALBUM_KINDS = ("message", "business_message")


def album_of(item: QueuedUpdate) -> str | None:
    """The album a queued update is a part of ("chat:media group"), if any."""
    for kind in _ALBUM_KINDS:
        message = item.payload.get(kind)
        if isinstance(message, dict):
            group = message.get("media_group_id")
            chat = message.get("chat")
            if group and isinstance(chat, dict):
                return f"{chat.get('id')}:{group}"
            return None
    return None


def album_grouping(
    dispatcher: Dispatcher, bot: Bot, albums: AlbumCollector, wait: float
) -> Grouping:
    """An album's parts fed one after another (the handlers hand them to ``albums``),
    then the album handled at once, inside the worker's turn for the chat."""
    feed = feeder(dispatcher, bot)

    async def handle(items: list[QueuedUpdate]) -> None:
        for item in items:
            await feed(item)
        found = album_of(items[0])
        if found is not None:
            chat, _, group = found.partition(":")
            await albums.flush_now(int(chat), group)

    return Grouping(album_of, handle, wait)
