"""The routers' filters, as coroutines.

aiogram runs a plain function or a magic filter (``F.text``) in a worker thread
(``asyncio.to_thread``) for every update it checks; these checks are a few attribute
reads, so they are written as ``async def`` and run on the event loop instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, MessageReactionUpdated

from handlers.telegram.inbound import has_unsupported_media

GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


async def private_chat(message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE


async def private_query(query: CallbackQuery) -> bool:
    return query.message is not None and query.message.chat.type == ChatType.PRIVATE


async def private_reaction(reaction: MessageReactionUpdated) -> bool:
    return reaction.chat.type == ChatType.PRIVATE


async def group_chat(message: Message) -> bool:
    return message.chat.type in GROUP_TYPES


async def album_part(message: Message) -> bool:
    return message.media_group_id is not None


async def file_message(message: Message) -> bool:
    return bool(message.photo or message.document)


async def text_message(message: Message) -> bool:
    return message.text is not None


async def thread_content(message: Message) -> bool:
    """What a team member may write in a ticket's thread: text, a photo, a document."""
    return bool(message.text is not None or message.photo or message.document)


async def unsupported_media(message: Message) -> bool:
    return has_unsupported_media(message)


def data_prefix(*prefixes: str) -> Callable[[CallbackQuery], Awaitable[bool]]:
    """Callback queries whose data starts with one of ``prefixes``."""

    async def starts(query: CallbackQuery) -> bool:
        return query.data is not None and query.data.startswith(prefixes)

    return starts
