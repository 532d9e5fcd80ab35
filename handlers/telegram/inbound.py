"""Turning Telegram messages into desk inputs: files and albums."""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import Message, MessageReactionUpdated, ReactionTypeEmoji

from bot.files import DEFAULT_LIMITS, TOO_BIG, FileLimits, check_attachment, megabytes
from bot.reply import Reply
from bot.ticket import Attachment
from handlers.telegram.delivery import KIND_DOCUMENT, KIND_PHOTO, PHOTO_MIME, PHOTO_NAME
from handlers.telegram.render import CHANNEL

# Content the desk cannot take: the sender is told so instead of meeting silence.
UNSUPPORTED = (
    "sticker",
    "voice",
    "video",
    "video_note",
    "audio",
    "animation",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "story",
    "game",
    "paid_media",
)


def attachments_of(message: Message) -> list[Attachment]:
    """The files a message carries, as desk attachments (largest photo size only)."""
    if message.photo:
        best = message.photo[-1]
        return [
            Attachment(
                file_ref=best.file_id,
                file_name=f"{PHOTO_NAME}{best.file_unique_id}.jpg",
                mime_type=PHOTO_MIME,
                size=best.file_size or 0,
                platform=CHANNEL,
                kind=KIND_PHOTO,
            )
        ]
    if message.document:
        doc = message.document
        return [
            Attachment(
                file_ref=doc.file_id,
                file_name=doc.file_name or doc.file_unique_id,
                mime_type=doc.mime_type or "application/octet-stream",
                size=doc.file_size or 0,
                platform=CHANNEL,
                kind=KIND_DOCUMENT,
            )
        ]
    return []


def screen_files(
    files: list[Attachment], limits: FileLimits = DEFAULT_LIMITS
) -> tuple[list[Attachment], list[Reply]]:
    """Split files into accepted ones and a refusal for each of the others (over what
    the desk can fetch from Telegram, ``limits.accepted``)."""
    kept: list[Attachment] = []
    refusals: list[Reply] = []
    for att in files:
        reason = check_attachment(att, limits)
        if reason is None:
            kept.append(att)
        elif reason == TOO_BIG:
            refusals.append(
                Reply(
                    "telegram.file.too_big",
                    {"name": att.file_name, "max_mb": megabytes(limits.accepted(att.platform))},
                )
            )
        else:
            refusals.append(
                Reply("telegram.file.bad_type", {"name": att.file_name, "type": att.mime_type})
            )
    return kept, refusals


def new_emoji(reaction: MessageReactionUpdated) -> list[str]:
    """The emoji a reaction update puts on the message (custom and paid ones aside)."""
    return [r.emoji for r in reaction.new_reaction if isinstance(r, ReactionTypeEmoji)]


def has_unsupported_media(message: Message) -> bool:
    return any(getattr(message, kind, None) for kind in UNSUPPORTED)


@dataclass
class _Album:
    messages: list[Message] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    handler: AlbumHandler | None = None


AlbumHandler = Callable[[list[Message]], Coroutine[Any, Any, None]]


class AlbumCollector:
    """A media group arrives as several updates: gather them for ``wait`` seconds after
    the last part, then hand them over as one album (in message order)."""

    def __init__(self, wait: float = 1.0) -> None:
        self.wait = wait
        self._albums: dict[tuple[int, str], _Album] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, message: Message, handler: AlbumHandler) -> None:
        assert message.media_group_id is not None
        key = (message.chat.id, message.media_group_id)
        album = self._albums.setdefault(key, _Album())
        album.messages.append(message)
        album.handler = handler
        if album.timer is not None:
            album.timer.cancel()
        loop = asyncio.get_running_loop()
        album.timer = loop.call_later(self.wait, self._flush, key, handler)

    def _flush(self, key: tuple[int, str], handler: AlbumHandler) -> None:
        album = self._albums.pop(key, None)
        if album is None:
            return
        messages = sorted(album.messages, key=lambda m: m.message_id)
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(handler(messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush_now(self, chat_id: int, group: str) -> None:
        """Handle the album of ``group`` in ``chat_id`` now, and return when it has
        been (the worker marks its updates done after that)."""
        album = self._albums.pop((chat_id, group), None)
        if album is None or album.handler is None:
            return
        if album.timer is not None:
            album.timer.cancel()
        await album.handler(sorted(album.messages, key=lambda m: m.message_id))

    async def close(self) -> None:
        for album in self._albums.values():
            if album.timer is not None:
                album.timer.cancel()
        self._albums.clear()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RecentAlbums:
    """The parts of recent media groups seen in a chat, so that a reply to one part can
    take the whole album (the reply names only the part it was made on)."""

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._albums: OrderedDict[tuple[int, str], list[Message]] = OrderedDict()

    def add(self, message: Message) -> None:
        if message.media_group_id is None:
            return
        key = (message.chat.id, message.media_group_id)
        parts = self._albums.setdefault(key, [])
        if all(m.message_id != message.message_id for m in parts):
            parts.append(message)
        self._albums.move_to_end(key)
        while len(self._albums) > self.limit:
            self._albums.popitem(last=False)

    def parts(self, message: Message) -> list[Message]:
        """The album ``message`` belongs to, in order (just ``message`` when unknown)."""
        if message.media_group_id is None:
            return [message]
        seen = self._albums.get((message.chat.id, message.media_group_id), [])
        found = {m.message_id: m for m in seen}
        found.setdefault(message.message_id, message)
        return [found[k] for k in sorted(found)]
