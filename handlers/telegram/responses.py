"""Keeping aiogram's parsed-answer types alive.

aiogram parses every Bot API answer as ``Response[T]`` (``T`` the method's result
type), a pydantic generic model that pydantic caches only weakly: once the garbage
collector frees the class, the next call of that method builds it again, schema and
validator included (about 5 ms). Profiled through the dispatcher: 108 rebuilds in
1,100 customer updates, a third of the desk's time per update on SQLite. Holding each
type the bot has used (a few dozen at most) stops that.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

# Result type -> Response[result type], for as long as the process lives.
_KEPT: dict[Any, type[Any]] = {}


class KeepResponseTypes(BaseRequestMiddleware):
    """A session middleware: pins ``Response[T]`` before each call parses its answer."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        returning = method.__returning__
        if returning not in _KEPT:
            _KEPT[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)


def keep_response_types(bot: Bot) -> None:
    """Install ``KeepResponseTypes`` on ``bot``'s session (once)."""
    if not any(isinstance(m, KeepResponseTypes) for m in bot.session.middleware):
        bot.session.middleware(KeepResponseTypes())
