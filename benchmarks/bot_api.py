"""The Telegram Bot API inside this process: an aiogram session with no network.

``MemoryBotAPI`` is a ``BaseSession``: a real ``aiogram.Bot`` built on it serialises
every call the way its HTTP session would (``prepare_value`` on every field), gets
a JSON answer and parses it with aiogram's own ``check_response``; only the socket
and Telegram's servers are missing. It answers the methods the desk uses with
plausible objects and remembers, per chat, the newest messages the bot sent, so a
driver can read their texts and press their inline buttons.

With ``limits`` (``FloodLimits``; off unless given) it enforces Telegram's flood
limits as Telegram does: a call over one is answered 429 "Too Many Requests: retry
after N" with ``parameters.retry_after``, which aiogram turns into a real
``TelegramRetryAfter``; refused calls are kept in ``throttled`` and use no budget, the
accepted ones in ``limited`` (when, which chat, which method).

``UpdateMaker`` builds the updates a user would cause (text, command, photo, button
press) as the Bot API's JSON objects, and ``parse`` validates one into an
``aiogram.types.Update`` the way polling does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

TOKEN = "123456:BENCH-in-memory"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Supportbot", "username": "bench_bot"}
# Fields the Bot API takes as JSON (everything else is a plain form value).
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "media",
        "reply_parameters",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "entities",
        "caption_entities",
    }
)
_NO_GIFTS = dict.fromkeys(
    ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
) | {"gifts_from_channels": False}

Params = dict[str, Any]
Answer = Callable[[Params], Any]


# Calls that put something into a chat, which Telegram counts against its flood limits.
LIMITED_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "createForumTopic",
        "editForumTopic",
        "closeForumTopic",
        "reopenForumTopic",
    }
)
_LIMITED_NAMES = frozenset(name.lower() for name in LIMITED_METHODS)  # any spelling


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Telegram's flood limits: per bot ``per_bot`` calls in any second; per group
    (a negative chat id) ``per_group`` in any ``minute``; per private chat a bucket
    of ``chat_burst`` refilled at ``per_chat`` a second."""

    per_bot: int = 30
    per_group: int = 20
    minute: float = 60.0
    per_chat: float = 1.0
    chat_burst: float = 3.0


@dataclass(frozen=True, slots=True)
class LimitedCall:
    """A call Telegram counts (or refused): when (``time.monotonic``), where, what."""

    at: float
    chat_id: int
    method: str
    retry_after: int = 0  # the seconds given with a 429; 0 for an accepted call


class FloodGate:
    """Which limited call may pass now, as Telegram decides it."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._bot: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._chats: dict[int, tuple[float, float]] = {}  # tokens, at

    def wait_for(self, chat_id: int, now: float) -> float:
        """0 when a call into ``chat_id`` passes now (and is counted); else the seconds
        until it would (nothing is counted)."""
        limits = self.limits
        waits = [_window_wait(self._bot, limits.per_bot, 1.0, now)]
        tokens = 0.0
        if chat_id < 0:
            group = self._groups.setdefault(chat_id, deque())
            waits.append(_window_wait(group, limits.per_group, limits.minute, now))
        else:
            tokens, at = self._chats.get(chat_id, (limits.chat_burst, now))
            tokens = min(limits.chat_burst, tokens + (now - at) * limits.per_chat)
            waits.append(0.0 if tokens >= 1 else (1 - tokens) / limits.per_chat)
        wait = max(waits)
        if wait > 0:
            return wait
        self._bot.append(now)
        if chat_id < 0:
            self._groups[chat_id].append(now)
        else:
            self._chats[chat_id] = (tokens - 1, now)
        return 0.0


def _window_wait(times: deque[float], count: int, window: float, now: float) -> float:
    while times and times[0] <= now - window:
        times.popleft()
    return 0.0 if len(times) < count else times[0] + window - now


def most_in_window(times: list[float], window: float) -> int:
    """The most of these (sorted) times that fall in any ``window`` seconds."""
    most = start = 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


class ApiError(Exception):
    """A method the fake does not answer (or a call it refuses), as Telegram's 400."""


# What a chat log shows for a message whose keyboard was taken away.
EDITED_KEYBOARD = "(edited)"


@dataclass
class Sent:
    """A message the bot sent (or edited) in one chat."""

    message_id: int
    text: str
    buttons: tuple[tuple[str, str], ...]  # (label, callback_data) of its inline keyboard
    message: dict[str, Any]  # the Message object as Telegram returned it
    at: float = field(default_factory=time.perf_counter)


@dataclass
class ChatLog:
    """The newest messages the bot sent to a chat (bounded: memory is measured)."""

    sent: deque[Sent] = field(default_factory=lambda: deque(maxlen=12))
    count: int = 0
    # Set when the bot sends the chat a message; a driver waiting for one creates it.
    arrived: asyncio.Event | None = None

    def add(self, sent: Sent) -> None:
        self.count += 1
        self.sent.append(sent)
        if self.arrived is not None:
            self.arrived.set()

    async def next_message(self) -> None:
        """Until the bot sends this chat another message."""
        if self.arrived is None:
            self.arrived = asyncio.Event()
        self.arrived.clear()
        await self.arrived.wait()


class MemoryBotAPI(BaseSession):
    """Answers Bot API methods in memory; ``calls`` counts them by method name (every
    call made, refused ones too). With ``limits``, Telegram's flood limits are enforced
    (see the module's docstring); without them nothing is ever refused for flooding."""

    def __init__(
        self,
        team_chats: dict[int, bool] | None = None,
        *,
        limits: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        # Group chats the bot is in: chat id -> whether it is a forum (topics).
        self.team_chats = dict(team_chats or {})
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.flood_limits = limits
        self._flood = FloodGate(limits) if limits is not None else None
        self._clock = clock
        # With limits: the limited calls accepted, and those refused with a 429.
        self.limited: list[LimitedCall] = []
        self.throttled: list[LimitedCall] = []
        self.chats: dict[int, ChatLog] = {}
        self._message_ids = itertools.count(10_000)
        self._thread_ids = itertools.count(500)
        self._answers: dict[str, Answer] = {
            "getMe": lambda p: BOT_USER,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": lambda p: self._message(p, text=EDITED_KEYBOARD),
            "answerCallbackQuery": lambda p: True,
            "setMessageReaction": lambda p: True,
            "readBusinessMessage": lambda p: True,
            "getChatMember": self._chat_member,
            "getChat": self._chat,
            "setMyCommands": lambda p: True,
            "deleteMyCommands": lambda p: True,
            "deleteWebhook": lambda p: True,
            "sendChatAction": lambda p: True,
            "deleteMessage": lambda p: True,
            "createForumTopic": self._create_topic,
            "editForumTopic": lambda p: True,
            "closeForumTopic": lambda p: True,
            "reopenForumTopic": lambda p: True,
            "sendPhoto": lambda p: self._message(p, photo=_photo_sizes(str(p["photo"]))),
            "sendDocument": lambda p: self._message(p, document=_document(str(p["document"]))),
            "sendMediaGroup": self._send_media_group,
            "copyMessage": lambda p: {"message_id": next(self._message_ids)},
            "forwardMessage": lambda p: self._message(p, text="(forwarded)"),
            # A customer's screenshot, downloaded by the desk to keep its own copy
            # (``stream_content`` below serves its bytes).
            "getFile": lambda p: {
                "file_id": str(p["file_id"]),
                "file_unique_id": f"u{p['file_id']}",
                "file_size": 1024,
                "file_path": f"photos/{p['file_id']}.png",
            },
        }

    # -- aiogram's session interface ------------------------------------------------------

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        status, body = self.answer(method.__api_method__, self._form(bot, method))
        response = self.check_response(bot, method, status, self.json_dumps(body))
        return response.result  # type: ignore[return-value]

    def answer(self, name: str, params: Params) -> tuple[int, dict[str, Any]]:
        """Telegram's HTTP status and JSON body for method ``name``."""
        self.calls[name] += 1
        if self._flood is not None and name.lower() in _LIMITED_NAMES:
            chat_id = _chat_of(params)
            now = self._clock()
            wait = self._flood.wait_for(chat_id, now)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                self.throttled.append(LimitedCall(now, chat_id, name, seconds))
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {seconds}",
                    "parameters": {"retry_after": seconds},
                }
            self.limited.append(LimitedCall(now, chat_id, name))
        answer = self._answers.get(name)
        try:
            if answer is None:
                raise ApiError(f"Bad Request: method {name} is not answered in memory")
            return 200, {"ok": True, "result": answer(params)}
        except ApiError as exc:
            self.refused[name] += 1
            return 400, {"ok": False, "error_code": 400, "description": str(exc)}

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b"\x89PNG" + b"\0" * 1020

    async def close(self) -> None:
        return None

    def _form(self, bot: Bot, method: TelegramMethod[TelegramType]) -> Params:
        """The form fields as the HTTP session would post them, decoded as the Bot API
        server decodes them."""
        files: dict[str, Any] = {}
        fields = {
            key: self.prepare_value(value, bot=bot, files=files)
            for key, value in method.model_dump(warnings=False).items()
        }
        return decode_form({key: value for key, value in fields.items() if value})

    # -- what the driver reads ------------------------------------------------------------

    def log(self, chat_id: int) -> ChatLog:
        return self.chats.setdefault(chat_id, ChatLog())

    # -- answers ----------------------------------------------------------------------------

    def _message(self, p: Params, **content: Any) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        chat: dict[str, Any] = (
            {"id": chat_id, "type": "supergroup", "title": f"Team {chat_id}"}
            if chat_id < 0
            else {"id": chat_id, "type": "private", "first_name": "Customer"}
        )
        if self.team_chats.get(chat_id):
            chat["is_forum"] = True
        message: dict[str, Any] = {
            "message_id": int(p.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            **content,
        }
        if thread := p.get("message_thread_id"):
            message["message_thread_id"] = int(thread)
            message["is_topic_message"] = True
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self.log(chat_id).add(
            Sent(message["message_id"], str(content.get("text", "")), _buttons(markup), message)
        )
        return message

    def _send_message(self, p: Params) -> dict[str, Any]:
        if not str(p.get("text", "")).strip():
            raise ApiError("Bad Request: message text is empty")
        if len(p["text"]) > 4096:
            raise ApiError("Bad Request: message is too long")
        return self._message(p, text=p["text"])

    def _edit_message_text(self, p: Params) -> dict[str, Any]:
        return self._message(p, text=p["text"], edit_date=int(time.time()))

    def _send_media_group(self, p: Params) -> list[dict[str, Any]]:
        out = []
        for item in p["media"]:
            ref = str(item["media"])
            kind = item.get("type", "photo")
            content = (
                {"photo": _photo_sizes(ref)} if kind == "photo" else {"document": _document(ref)}
            )
            out.append(self._message({**p, "reply_markup": None}, **content))
        return out

    def _create_topic(self, p: Params) -> dict[str, Any]:
        return {"message_thread_id": next(self._thread_ids), "name": p["name"], "icon_color": 0}

    def _chat_member(self, p: Params) -> dict[str, Any]:
        user = {"id": int(p["user_id"]), "is_bot": False, "first_name": "Agent"}
        if int(p["chat_id"]) in self.team_chats:
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    def _chat(self, p: Params) -> dict[str, Any]:
        chat_id = int(p["chat_id"])
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": "Customer"}
        if chat_id < 0:
            chat = {"id": chat_id, "type": "supergroup", "title": f"Team {chat_id}"}
            if self.team_chats.get(chat_id):
                chat["is_forum"] = True
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": _NO_GIFTS,
        }


def decode_form(fields: dict[str, str]) -> Params:
    """Posted form fields as the Bot API reads them: JSON where it takes JSON."""
    params: Params = {
        key: json.loads(value) if key in _JSON_FIELDS else value for key, value in fields.items()
    }
    chat_id = params.get("chat_id")
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        params["chat_id"] = int(chat_id)
    return params


def _chat_of(params: Params) -> int:
    try:
        return int(params.get("chat_id", 0))
    except (TypeError, ValueError):
        return 0


def _buttons(markup: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(markup, dict):
        return ()
    return tuple(
        (str(b.get("text", "")), str(b["callback_data"]))
        for row in markup.get("inline_keyboard", ())
        for b in row
        if "callback_data" in b
    )


def _photo_sizes(file_id: str) -> list[dict[str, Any]]:
    return [
        {"file_id": file_id, "file_unique_id": f"u{file_id[-8:]}", "width": 1280, "height": 720}
    ]


def _document(file_id: str) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": f"u{file_id[-8:]}", "file_name": "file.bin"}


def make_bot(session: MemoryBotAPI) -> Bot:
    """A real aiogram Bot on the in-memory session, with the desk's defaults (HTML)."""
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))


RawUpdate = dict[str, Any]


class UpdateMaker:
    """Updates from users in private chats, as the Bot API's JSON (``parse`` makes one
    the ``Update`` polling would hand over). Update ids count from ``first_id``: a
    fresh range per run, as a store that has seen an update id (the inbox, the
    receiver's Redis) refuses it the second time."""

    def __init__(self, bot: Bot, first_id: int = 1) -> None:
        self.bot = bot
        self._update_ids = itertools.count(first_id)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

    @staticmethod
    def user(user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"Customer {user_id}",
            "language_code": "en",
        }

    def parse(self, raw: RawUpdate) -> Update:
        """``raw`` validated as polling validates what getUpdates returns."""
        return Update.model_validate(raw, context={"bot": self.bot})

    def _update(self, **content: Any) -> RawUpdate:
        return {"update_id": next(self._update_ids), **content}

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"Customer {user_id}"},
            "from": self.user(user_id),
            **content,
        }

    def text(self, user_id: int, text: str) -> RawUpdate:
        """A message; one starting with ``/`` is a command (Telegram marks it so)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._update(message=self._message(user_id, **content))

    def photo(self, user_id: int, caption: str | None = None) -> RawUpdate:
        n = next(self._file_ids)
        sizes = [
            {"file_id": f"AgACsmall{n:08d}", "file_unique_id": f"s{n}", "width": 90,
             "height": 51, "file_size": 2_000},
            {"file_id": f"AgACbig{n:08d}", "file_unique_id": f"b{n}", "width": 1280,
             "height": 720, "file_size": 150_000},
        ]  # fmt: skip
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(user_id, **content))

    def press(self, user_id: int, message: dict[str, Any], data: str) -> RawUpdate:
        """The user presses the button ``data`` under ``message`` (a bot message)."""
        query = {
            "id": f"q{next(self._update_ids)}",
            "from": self.user(user_id),
            "chat_instance": f"ci{user_id}",
            "message": message,
            "data": data,
        }
        return self._update(callback_query=query)
