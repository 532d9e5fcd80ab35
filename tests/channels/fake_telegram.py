"""A fake Telegram Bot API server for channel tests.

It speaks the Bot API over loopback HTTP (aiohttp), so the real ``aiogram.Bot`` and
``Dispatcher`` run unchanged against it: ``TelegramAPIServer.from_base(fake.url)``.
Tests push updates (``push_message``, ``push_photo``, ``push_album``,
``push_callback``, ``push_reply``), inject failures (``fail_next``, ``block_user``,
``network_error_next``) and assert on every recorded call (``calls``, ``wait_call``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from aiohttp.web_request import FileField

TOKEN = "123456:TEST-fake-token"
MAX_DOWNLOAD = 20 * 1024 * 1024

# How aiogram encodes form fields: strings as they are, everything else as JSON.
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
        "reaction",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "icon_color",
        "max_connections",
        "cache_time",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "show_alert",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "only_if_banned",
    }
)
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)


# The emoji a bot may react with (Bot API ReactionTypeEmoji); ✅ is not among them.
REACTION_EMOJI = frozenset(
    (  # noqa: SIM905 - Telegram's list as the docs give it
        "❤ 👍 👎 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 🌭 💯 "
        "🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 "
        "🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷\u200d♂ 🤷 🤷\u200d♀ 😡"
    ).split()
)


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class Call:
    """One request the bot made: method name as sent and its decoded params."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.method.lower()


# Calls that put something into a chat, which Telegram counts against its limits.
LIMITED = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendmediagroup",
        "copymessage",
        "forwardmessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "createforumtopic",
        "editforumtopic",
        "closeforumtopic",
        "reopenforumtopic",
    }
)


@dataclass(frozen=True)
class ApiLimits:
    """Telegram's flood limits, enforced with a 429 and ``retry_after`` as Telegram
    does: per bot ``per_bot`` calls in any second, per group ``per_group`` in any
    ``minute`` (tests shorten the minute), per private chat a bucket of ``chat_burst``
    refilled at ``per_chat`` a second."""

    per_bot: int = 30
    per_group: int = 20
    minute: float = 60.0
    per_chat: float = 1.0
    chat_burst: float = 3.0


class _Limiter:
    """Which limited call may pass now; refused ones are recorded by the fake."""

    def __init__(self, limits: ApiLimits) -> None:
        self.limits = limits
        self._bot: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._chats: dict[int, tuple[float, float]] = {}  # tokens, at

    def wait_for(self, chat_id: int, now: float, count: int = 1) -> float:
        """0 when a call putting ``count`` messages (an album: its size) into
        ``chat_id`` passes now (and is counted); else the seconds until it would."""
        limits = self.limits
        waits = [_window_wait(self._bot, limits.per_bot, 1.0, now, count)]
        if chat_id < 0:
            group = self._groups.setdefault(chat_id, deque())
            waits.append(_window_wait(group, limits.per_group, limits.minute, now, count))
        else:
            tokens, at = self._chats.get(chat_id, (limits.chat_burst, now))
            tokens = min(limits.chat_burst, tokens + (now - at) * limits.per_chat)
            # An album bigger than the burst passes on a full bucket, leaving a debt.
            wanted = min(float(count), limits.chat_burst)
            waits.append(0.0 if tokens >= wanted else (wanted - tokens) / limits.per_chat)
        wait = max(waits)
        if wait > 0:
            return wait
        self._bot.extend([now] * count)
        if chat_id < 0:
            self._groups[chat_id].extend([now] * count)
        else:
            self._chats[chat_id] = (tokens - count, now)
        return 0.0


def _window_wait(
    times: deque[float], limit: int, window: float, now: float, count: int = 1
) -> float:
    while times and times[0] <= now - window:
        times.popleft()
    room = limit - min(count, limit)
    return 0.0 if len(times) <= room else times[len(times) - room - 1] + window - now


@dataclass
class Held:
    """A call the fake holds unanswered (``FakeTelegram.hold``)."""

    method: str
    when: Callable[[dict[str, Any]], bool]
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    call: Call | None = None


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None = None
    network: bool = False


class _HtmlCheck(HTMLParser):
    """Rejects what Telegram's HTML parse mode rejects: unknown or unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = f'Unmatched end tag "{tag}"'
            return
        self.stack.pop()


def check_html(text: str) -> str | None:
    """The error Telegram would give for this HTML text, or None."""
    parser = _HtmlCheck()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    # A bare "<" or "&" that is not markup is an error for Telegram as well.
    if parser.error is None and _bare_lt(text):
        parser.error = "Unexpected end of name token"
    if parser.error is None and _BARE_AMP.search(text):
        parser.error = "Character entity expected"
    return parser.error


_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


def _bare_lt(text: str) -> bool:
    for i, ch in enumerate(text):
        if ch == "<":
            nxt = text[i + 1 : i + 2]
            if not (nxt.isalpha() or nxt == "/"):
                return True
    return False


class FakeTelegram:
    """The fake Bot API. ``await start()`` it, point a Bot at ``url``, ``await close()``."""

    def __init__(
        self,
        token: str = TOKEN,
        bot_id: int = 123456,
        username: str = "supportbot_test",
        limits: ApiLimits | None = None,
        private_topics: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        # Flood limits (none unless given): calls over them get a 429, kept here. They
        # count seconds on ``clock`` (a test of the limits themselves moves its own).
        self._limiter = _Limiter(limits) if limits is not None else None
        self._clock = clock
        # Set by whoever runs the bot against the fake: True while the bot still has
        # updates to work off (``wait_idle`` does not take a quiet moment for done then).
        self.busy: Callable[[], Awaitable[bool]] | None = None
        self.refused: list[Call] = []
        # Calls the fake's methods refused (400s, 403s...), with Telegram's description.
        self.errors: list[tuple[Call, str]] = []
        # Per chat, when each call that put messages into it arrived, and how many.
        self.arrivals: dict[int, list[tuple[float, int]]] = {}
        self.me: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Supportbot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
            # Bot API 9.3: topics in the bot's private chats (BotFather's threaded mode).
            "has_topics_enabled": private_topics,
            "allows_users_to_create_topics": False,
            "can_connect_to_business": True,
        }
        # Private chats where creating a topic fails (topics chosen per chat at run time).
        self.no_topics: set[int] = set()
        # Business connections by id (Telegram Business), and the people who wrote only to
        # a business account: the bot cannot start a chat with them itself.
        self.business: dict[str, dict[str, Any]] = {}
        self.not_started: set[int] = set()
        self.calls: list[Call] = []
        self.chats: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[int, str]] = {}
        self.topics: dict[int, dict[int, dict[str, Any]]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self.users: dict[int, dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        self._offset = 0
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        # Per method, what its next calls meet: a failure, or None to pass.
        self._failures: dict[str, list[_Failure | None]] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.delay = 0.0
        self._holds: list[Held] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> str:
        # The Bot API takes uploads up to 50 MB (a multipart body a little larger).
        app = web.Application(client_max_size=51 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._on_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._on_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- state set-up ------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        if last_name:
            user["last_name"] = last_name
        self.users[user_id] = user
        self.chats.setdefault(
            user_id,
            {"id": user_id, "type": "private", "first_name": first_name},
        )
        return user

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        forum: bool = False,
        members: dict[int, str] | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """A (super)group; ``members`` maps user id -> status (member, administrator...)."""
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": title}
        if forum:
            chat["is_forum"] = True
        if username:
            chat["username"] = username
        self.chats[chat_id] = chat
        self.members[chat_id] = dict(members or {})
        self.topics.setdefault(chat_id, {})
        return chat

    def set_member(self, chat_id: int, user_id: int, status: str = "member") -> None:
        self.members.setdefault(chat_id, {})[user_id] = status

    def block_user(self, chat_id: int) -> None:
        """Every send to this private chat now fails with 403 (bot was blocked)."""
        self.blocked.add(chat_id)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int | None = 1,
        description: str | None = None,
        times: int = 1,
        passing: int = 0,
        chat_id: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (into ``chat_id`` only, when given)
        fail with this status (after letting ``passing`` calls of it through)."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else f"Error {status}"
            )
        failure = _Failure(status, description, retry_after if status == 429 else None)
        key = method.lower() if chat_id is None else f"{method.lower()}@{chat_id}"
        queued = self._failures.setdefault(key, [])
        queued.extend([None] * passing + [failure] * times)

    def hold(self, method: str, when: Callable[[dict[str, Any]], bool]) -> Held:
        """The next call of ``method`` whose parameters ``when`` accepts gets no answer
        and is not carried out: ``reached`` is set once it came, and its connection is
        dropped when ``dropped`` is (the test's sender is killed meanwhile)."""
        held = Held(method.lower(), when)
        self._holds.append(held)
        return held

    def network_error_next(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get their connection dropped."""
        failure = _Failure(0, "connection reset", network=True)
        self._failures.setdefault(method.lower(), []).extend([failure] * times)

    def add_file(
        self,
        *,
        size: int,
        content: bytes | None = None,
        kind: str = "documents",
        name: str = "file.bin",
    ) -> str:
        n = next(self._file_ids)
        file_id = f"FILE{n:05d}"
        self.files[file_id] = {
            "file_id": file_id,
            "file_unique_id": f"U{n:05d}",
            "file_size": size,
            "file_path": f"{kind}/file_{n}_{name}",
            "content": content,
        }
        return file_id

    # -- pushing updates -------------------------------------------------------------------

    def _chat(self, chat: int | dict[str, Any]) -> dict[str, Any]:
        if isinstance(chat, dict):
            return chat
        return self.chats.get(chat) or {"id": chat, "type": "private", "first_name": "User"}

    def _new_message(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any] | None,
        *,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        chat_obj = self._chat(chat)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat_obj,
        }
        if user is not None:
            message["from"] = user
        if thread_id is not None and self._has_topics(chat_obj):
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_to is None:
                # In a topic, a plain message replies to the topic's service message.
                reply_to = self.messages.get((chat_obj["id"], thread_id))
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(reply_to)
        message.update({k: v for k, v in content.items() if v is not None})
        self.messages[(chat_obj["id"], message["message_id"])] = message
        return message

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def push_message(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        entities = command_entities(text)
        message = self._new_message(
            chat, user, thread_id=thread_id, reply_to=reply_to, text=text, entities=entities
        )
        self.push_update({"message": message})
        return message

    def message_update(
        self, chat: int | dict[str, Any], user: dict[str, Any], text: str
    ) -> dict[str, Any]:
        """An Update with a new text message, not queued for getUpdates: for posting it
        to a webhook as Telegram would."""
        message = self._new_message(chat, user, text=text, entities=command_entities(text))
        return {"update_id": next(self._update_ids), "message": message}

    def push_reply(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message in a forum topic (``thread_id``) and/or replying to ``reply_to``."""
        return self.push_message(chat, user, text, thread_id=thread_id, reply_to=reply_to)

    def photo_content(
        self, *, size: int = 50_000, width: int = 1280, height: int = 720
    ) -> list[dict[str, Any]]:
        small = self.add_file(size=min(size, 2_000), kind="photos", name="s.jpg")
        big = self.add_file(size=size, kind="photos", name="b.jpg")
        return [
            {
                "file_id": small,
                "file_unique_id": self.files[small]["file_unique_id"],
                "width": 90,
                "height": 51,
                "file_size": self.files[small]["file_size"],
            },
            {
                "file_id": big,
                "file_unique_id": self.files[big]["file_unique_id"],
                "width": width,
                "height": height,
                "file_size": size,
            },
        ]

    def document_content(
        self, file_name: str, mime_type: str, size: int, content: bytes | None = None
    ) -> dict[str, Any]:
        file_id = self.add_file(size=size, content=content, name=file_name)
        return {
            "file_id": file_id,
            "file_unique_id": self.files[file_id]["file_unique_id"],
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": size,
        }

    def push_photo(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        *,
        caption: str | None = None,
        size: int = 50_000,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        message = self._new_message(
            chat,
            user,
            thread_id=thread_id,
            reply_to=reply_to,
            photo=self.photo_content(size=size),
            caption=caption,
            media_group_id=media_group_id,
        )
        self.push_update({"message": message})
        return message

    def push_document(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        *,
        file_name: str = "log.txt",
        mime_type: str = "text/plain",
        size: int = 1_000,
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        message = self._new_message(
            chat,
            user,
            thread_id=thread_id,
            reply_to=reply_to,
            document=self.document_content(file_name, mime_type, size),
            caption=caption,
            media_group_id=media_group_id,
        )
        self.push_update({"message": message})
        return message

    def push_album(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        media_group_id: str,
        items: Iterable[dict[str, Any]],
        *,
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Several updates sharing ``media_group_id``; each item is
        ``{"type": "photo", "size": ...}`` or ``{"type": "document", "file_name": ...}``.
        The caption rides on the first one, as Telegram does."""
        out = []
        for i, item in enumerate(items):
            item = {"thread_id": thread_id, **item}
            kind = item.pop("type", "photo")
            first_caption = caption if i == 0 else None
            if kind == "photo":
                out.append(
                    self.push_photo(
                        chat, user, caption=first_caption, media_group_id=media_group_id, **item
                    )
                )
            else:
                out.append(
                    self.push_document(
                        chat, user, caption=first_caption, media_group_id=media_group_id, **item
                    )
                )
        return out

    def push_content(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        *,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """A message with any other content: ``voice={...}``, ``location={...}``..."""
        message = self._new_message(chat, user, thread_id=thread_id, reply_to=reply_to, **content)
        self.push_update({"message": message})
        return message

    def push_edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits an earlier message of theirs to ``text``."""
        edited = {**message, "text": text, "edit_date": int(time.time())}
        self.messages[(message["chat"]["id"], message["message_id"])] = edited
        self.push_update({"edited_message": edited})
        return edited

    def push_member_change(self, chat_id: int, user_id: int, status: str) -> dict[str, Any]:
        """``user_id``'s membership of ``chat_id`` changes to ``status`` (a chat_member
        update, as Telegram sends to an administrator bot)."""
        old = self._member(chat_id, user_id)
        self.set_member(chat_id, user_id, status)
        change = {
            "chat": self.chats[chat_id],
            "from": self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "?"},
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": self._member(chat_id, user_id),
        }
        return self.push_update({"chat_member": change})

    def push_reaction(
        self,
        chat: int | dict[str, Any],
        user: dict[str, Any],
        message: dict[str, Any] | int,
        *emoji: str,
        old: Iterable[str] = (),
    ) -> dict[str, Any]:
        """``user`` changes their reaction on a message to ``emoji`` (from ``old``)."""
        message_id = message if isinstance(message, int) else message["message_id"]
        change = {
            "chat": self._chat(chat),
            "message_id": message_id,
            "user": user,
            "date": int(time.time()),
            "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
            "new_reaction": [{"type": "emoji", "emoji": e} for e in emoji],
        }
        return self.push_update({"message_reaction": change})

    def connect_business(
        self,
        connection_id: str,
        owner: dict[str, Any],
        *,
        enabled: bool = True,
        can_reply: bool = True,
    ) -> dict[str, Any]:
        """The company's account ``owner`` connects the bot (Telegram Business), or
        changes or ends the connection: a business_connection update."""
        connection = {
            "id": connection_id,
            "user": owner,
            "user_chat_id": owner["id"],
            "date": int(time.time()),
            "is_enabled": enabled,
            "rights": {"can_reply": can_reply, "can_read_messages": can_reply},
        }
        self.business[connection_id] = connection
        return self.push_update({"business_connection": connection})

    def business_customer(self, user_id: int, first_name: str, **kw: Any) -> dict[str, Any]:
        """Someone who writes to the company's account, never to the bot itself."""
        user = self.user(user_id, first_name, **kw)
        self.not_started.add(user_id)
        return user

    def push_business_message(
        self,
        connection_id: str,
        customer: dict[str, Any],
        text: str,
        *,
        sender: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A message in the chat of the company's account with ``customer`` (written by
        ``sender``, the customer unless given): a business_message update."""
        message = self._new_message(
            customer["id"], sender or customer, text=text, entities=command_entities(text)
        )
        message["business_connection_id"] = connection_id
        self.push_update({"business_message": message})
        return message

    def push_callback(
        self, user: dict[str, Any], message: dict[str, Any], data: str
    ) -> dict[str, Any]:
        query = {
            "id": str(next(self._callback_ids)),
            "from": user,
            "chat_instance": f"ci{message['chat']['id']}",
            "message": message,
            "data": data,
        }
        return self.push_update({"callback_query": query})

    # -- assertions ----------------------------------------------------------------------

    def calls_of(self, *methods: str, after: int = 0) -> list[Call]:
        wanted = {m.lower() for m in methods}
        return [c for c in self.calls[after:] if c.name in wanted]

    def windows(self, chat_id: int, seconds: float) -> list[list[int]]:
        """For each call that put messages into ``chat_id``: how many messages each call
        arriving within ``seconds`` from it (itself first) put there (an album: its size)."""
        arrivals = self.arrivals.get(chat_id, [])
        return [
            [count for at, count in arrivals[i:] if at - start < seconds]
            for i, (start, _) in enumerate(arrivals)
        ]

    def gaps(self, chat_id: int) -> list[float]:
        """Seconds between the calls that put messages into ``chat_id``, in order."""
        times = [at for at, _ in self.arrivals.get(chat_id, [])]
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    def mark(self) -> int:
        """An index into ``calls``: pass it as ``after`` to see only later calls."""
        return len(self.calls)

    def sent_texts(self, chat_id: int, after: int = 0) -> list[str]:
        return [
            str(c.params.get("text", c.params.get("caption", "")))
            for c in self.calls_of("sendMessage", "sendPhoto", "sendDocument", after=after)
            if c.params.get("chat_id") == chat_id
        ]

    async def wait_call(
        self,
        method: str,
        where: Callable[[Call], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - a test helper's deadline
        count: int = 1,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` (matching ``where``) were made."""

        def found() -> list[Call]:
            return [c for c in self.calls_of(method, after=after) if where is None or where(c)]

        async def wait() -> list[Call]:
            async with self._changed:
                while len(found()) < count:
                    await self._changed.wait()
            return found()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            seen = [(c.method, c.params) for c in self.calls[after:]]
            raise AssertionError(f"no {count}x {method} within {timeout}s; saw {seen}") from None

    async def wait_idle(
        self,
        quiet: float = 0.3,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline
    ) -> None:
        """Wait until pending updates are consumed (and, with ``busy``, worked off) and no
        call came for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.calls[-1].at if self.calls else 0.0
            consumed = not self._updates or self._confirmed_all
            quiet_now = consumed and time.monotonic() - last >= quiet
            if quiet_now and (self.busy is None or not await self.busy()):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the bot did not go idle")

    @property
    def _confirmed_all(self) -> bool:
        return all(u["update_id"] < self._offset for u in self._updates)

    # -- HTTP ------------------------------------------------------------------------------

    async def _on_method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        self.calls.append(call)
        await self._notify()
        for held in self._holds:
            if held.call is None and held.method == call.name and held.when(params):
                held.call = call
                held.reached.set()
                await held.dropped.wait()
                # Never answered: as a request in flight when its sender died.
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
        if self.delay:
            await asyncio.sleep(self.delay)
        count = len(params.get("media") or ()) if call.name == "sendmediagroup" else 1
        now = self._clock()
        if self._limiter is not None and call.name in LIMITED:
            wait = self._limiter.wait_for(_chat_of(params), now, max(1, count))
            if wait > 0:
                self.refused.append(call)
                seconds = max(1, math.ceil(wait))
                return _error(ApiError(429, f"Too Many Requests: retry after {seconds}", seconds))
        failures = self._failures.get(f"{call.name}@{_chat_of(params)}") or self._failures.get(
            call.name
        )
        failure = failures.pop(0) if failures else None
        if failure is not None:
            if failure.network:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            return _error(ApiError(failure.status, failure.description, failure.retry_after))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(ApiError(404, "Not Found: method not found"))
        try:
            result = await handler(params, files)
        except ApiError as exc:
            self.errors.append((call, exc.description))
            return _error(exc)
        if call.name in LIMITED:
            self.arrivals.setdefault(_chat_of(params), []).append((now, max(1, count)))
        return web.json_response({"ok": True, "result": result})

    async def _on_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            raise web.HTTPUnauthorized()
        path = request.match_info["path"]
        self.calls.append(Call("file", {"path": path}))
        for info in self.files.values():
            if info["file_path"] == path:
                content = info["content"]
                if content is None:
                    content = b"\x89PNG" + b"\0" * max(0, min(info["file_size"], 65536) - 4)
                return web.Response(body=content)
        raise web.HTTPNotFound()

    # -- methods ---------------------------------------------------------------------------

    async def _m_getme(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return self.me

    async def _m_logout(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_close(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_getupdates(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset:
            self._offset = max(self._offset, offset)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout

        def pending() -> list[dict[str, Any]]:
            return [u for u in self._updates if u["update_id"] >= self._offset]

        async with self._changed:
            while not pending() and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
        return pending()[:limit]

    def _check_chat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = p.get("chat_id")
        if isinstance(chat_id, str):
            for chat in self.chats.values():
                if chat.get("username") == chat_id.lstrip("@"):
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.not_started and not p.get("business_connection_id"):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat_id not in self.chats:
            if chat_id is not None and chat_id > 0:
                raise ApiError(400, "Bad Request: chat not found")
            raise ApiError(400, "Bad Request: chat not found")
        return self.chats[chat_id]

    def _has_topics(self, chat: dict[str, Any]) -> bool:
        """A forum supergroup, or a private chat of a bot with topics enabled there."""
        if chat.get("type") == "private":
            return bool(self.me["has_topics_enabled"]) and chat["id"] not in self.no_topics
        return bool(chat.get("is_forum"))

    def _check_thread(self, chat: dict[str, Any], p: dict[str, Any]) -> int | None:
        thread_id = p.get("message_thread_id")
        if thread_id is None or not self._has_topics(chat):
            return None
        topic = self.topics.get(chat["id"], {}).get(thread_id)
        if topic is None:
            raise ApiError(400, "Bad Request: message thread not found")
        if topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_CLOSED")
        return int(thread_id)

    def _bot_message(
        self, chat: dict[str, Any], p: dict[str, Any], **content: Any
    ) -> dict[str, Any]:
        thread_id = self._check_thread(chat, p)
        markup = p.get("reply_markup")
        if markup is not None:
            _check_markup(markup)
        reply_to = None
        reply_parameters = p.get("reply_parameters") or {}
        reply_id = reply_parameters.get("message_id") or p.get("reply_to_message_id")
        if reply_id:
            reply_to = self.messages.get((chat["id"], reply_id))
            if reply_to is None:
                raise ApiError(400, "Bad Request: message to be replied not found")
        sender = self._bot_user()
        connection = p.get("business_connection_id")
        if connection:
            # Sent on behalf of the business account: it is the company that speaks.
            sender = self._business_sender(connection, chat)
        message = self._new_message(
            chat, sender, thread_id=thread_id, reply_to=reply_to, **content
        )
        if connection:
            message["business_connection_id"] = connection
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _business_sender(self, connection_id: str, chat: dict[str, Any]) -> dict[str, Any]:
        connection = self.business.get(str(connection_id))
        if connection is None:
            raise ApiError(400, "Bad Request: BUSINESS_CONNECTION_INVALID")
        if not connection["is_enabled"] or not connection["rights"].get("can_reply"):
            raise ApiError(400, "Bad Request: BUSINESS_CONNECTION_NOT_ALLOWED")
        if chat.get("type") != "private":
            raise ApiError(400, "Bad Request: BUSINESS_PEER_INVALID")
        return dict(connection["user"])

    def _bot_user(self) -> dict[str, Any]:
        return {k: self.me[k] for k in ("id", "is_bot", "first_name", "username")}

    def _text(self, p: dict[str, Any], key: str, limit: int) -> str | None:
        text = p.get(key)
        if text is None:
            return None
        text = str(text)
        if p.get("parse_mode", "").upper() == "HTML":
            error = check_html(text)
            if error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}")
        if len(text) > limit:
            raise ApiError(
                400,
                "Bad Request: message is too long"
                if key == "text"
                else "Bad Request: message caption is too long",
            )
        return text

    async def _m_sendmessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        text = self._text(p, "text", 4096)
        if not text or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._bot_message(chat, p, text=text)

    def _stored(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._check_chat(p)
        message = self.messages.get((chat["id"], p.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("business_connection_id") != p.get("business_connection_id"):
            # A message sent on behalf of a business account is edited through it.
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    async def _m_editmessagetext(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._stored(p)
        text = self._text(p, "text", 4096)
        markup = p.get("reply_markup")
        if markup is not None:
            _check_markup(markup)
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    async def _m_editmessagereplymarkup(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        message = self._stored(p)
        markup = p.get("reply_markup")
        if markup is not None:
            _check_markup(markup)
        if message.get("reply_markup") == markup:
            raise ApiError(400, "Bad Request: message is not modified")
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    async def _m_deletemessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        if self.messages.pop((chat["id"], p.get("message_id") or 0), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _m_answercallbackquery(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return True

    async def _m_setmessagereaction(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        message = self.messages.get((chat["id"], p.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to react not found")
        reaction = p.get("reaction") or []
        for item in reaction:
            if item.get("type") != "emoji" or item.get("emoji") not in REACTION_EMOJI:
                raise ApiError(400, "Bad Request: REACTION_INVALID")
        if len(reaction) > 1:
            raise ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        message["bot_reaction"] = reaction
        return True

    async def _m_readbusinessmessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        self._business_sender(str(p.get("business_connection_id")), chat)
        message = self.messages.get((chat["id"], p.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message not found")
        message["read"] = True
        return True

    async def _m_getbusinessconnection(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        connection = self.business.get(str(p.get("business_connection_id")))
        if connection is None:
            raise ApiError(400, "Bad Request: BUSINESS_CONNECTION_INVALID")
        return connection

    async def _m_sendchataction(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self._check_chat(p)
        return True

    def _input_file(self, value: Any, files: dict[str, bytes], kind: str, name: str) -> str:
        """A file_id for what was sent: an existing id, or a new one for an upload."""
        value = str(value)
        if value.startswith("attach://"):
            content = files.get(value.removeprefix("attach://"), b"")
            return self.add_file(size=len(content), content=content, kind=kind, name=name)
        if value not in self.files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if kind == "photos" and not self.files[value]["file_path"].startswith("photos/"):
            # A file received as a document cannot go out as a photo (even a PNG).
            raise ApiError(400, "Bad Request: type of file mismatch")
        return value

    def _photo_sizes(self, file_id: str) -> list[dict[str, Any]]:
        info = self.files[file_id]
        return [
            {
                "file_id": file_id,
                "file_unique_id": info["file_unique_id"],
                "width": 1280,
                "height": 720,
                "file_size": info["file_size"],
            }
        ]

    def _document(self, file_id: str, name: str = "file.bin") -> dict[str, Any]:
        info = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": info["file_unique_id"],
            "file_name": info.get("file_name", name),
            "file_size": info["file_size"],
        }

    async def _m_sendphoto(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        caption = self._text(p, "caption", 1024)
        file_id = self._input_file(p.get("photo"), f, "photos", "photo.jpg")
        return self._bot_message(chat, p, photo=self._photo_sizes(file_id), caption=caption)

    async def _m_senddocument(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        caption = self._text(p, "caption", 1024)
        file_id = self._input_file(p.get("document"), f, "documents", "document")
        return self._bot_message(chat, p, document=self._document(file_id), caption=caption)

    async def _m_sendmediagroup(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        media = p.get("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the album")
        group_id = f"mg{next(self._file_ids)}"
        out = []
        for item in media:
            kind = item.get("type")
            caption = self._text(item, "caption", 1024)
            if kind == "photo":
                file_id = self._input_file(item.get("media"), f, "photos", "photo.jpg")
                content: dict[str, Any] = {"photo": self._photo_sizes(file_id)}
            elif kind == "document":
                file_id = self._input_file(item.get("media"), f, "documents", "document")
                content = {"document": self._document(file_id)}
            else:
                raise ApiError(400, f"Bad Request: unsupported media type {kind}")
            out.append(
                self._bot_message(chat, p, caption=caption, media_group_id=group_id, **content)
            )
        return out

    async def _m_copymessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        source = self.messages.get((p.get("from_chat_id") or 0, p.get("message_id") or 0))
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        content = {k: source[k] for k in ("text", "photo", "document", "caption") if k in source}
        if "caption" in p:
            content["caption"] = self._text(p, "caption", 1024)
        message = self._bot_message(chat, p, **content)
        return {"message_id": message["message_id"]}

    async def _m_forwardmessage(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        source = self.messages.get((p.get("from_chat_id") or 0, p.get("message_id") or 0))
        if source is None:
            raise ApiError(400, "Bad Request: message to forward not found")
        content = {k: source[k] for k in ("text", "photo", "document", "caption") if k in source}
        origin = {"type": "user", "date": source["date"], "sender_user": source.get("from")}
        return self._bot_message(chat, p, forward_origin=origin, **content)

    def _forum(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._check_chat(p)
        if not self._has_topics(chat):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        self.topics.setdefault(chat["id"], {})
        return chat

    def _topic(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._forum(p)
        topic = self.topics[chat["id"]].get(p.get("message_thread_id") or 0)
        if topic is None:
            raise ApiError(400, "Bad Request: TOPIC_ID_INVALID")
        return topic

    async def _m_createforumtopic(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._forum(p)
        name = str(p.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        icon_color = p.get("icon_color") or 7322096
        service = self._new_message(
            chat,
            self._bot_user(),
            forum_topic_created={"name": name, "icon_color": icon_color},
        )
        thread_id = service["message_id"]
        service["message_thread_id"] = thread_id
        service["is_topic_message"] = True
        self.topics[chat["id"]][thread_id] = {
            "message_thread_id": thread_id,
            "name": name,
            "icon_color": icon_color,
            "closed": False,
        }
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    async def _m_editforumtopic(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        topic = self._topic(p)
        name = p.get("name")
        if name is not None:
            if topic["name"] == name:
                raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic["name"] = str(name)
        return True

    async def _m_closeforumtopic(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        topic = self._topic(p)
        if topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = True
        return True

    async def _m_reopenforumtopic(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        topic = self._topic(p)
        if not topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = False
        return True

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        status = self.members.get(chat_id, {}).get(user_id, "left")
        user = self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "?"}
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    key: key not in ("is_anonymous", "can_be_edited")
                    for key in (
                        "can_be_edited",
                        "is_anonymous",
                        "can_manage_chat",
                        "can_delete_messages",
                        "can_manage_video_chats",
                        "can_restrict_members",
                        "can_promote_members",
                        "can_change_info",
                        "can_invite_users",
                        "can_post_stories",
                        "can_edit_stories",
                        "can_delete_stories",
                        "can_send_welcome_messages",
                    )
                }
            )
        elif status in ("restricted", "restricted_out"):
            # "restricted_out": restricted, but no longer in the chat (is_member false).
            member["status"] = "restricted"
            member.update(
                {
                    "is_member": status == "restricted",
                    "until_date": 0,
                    **dict.fromkeys(
                        (
                            "can_send_messages",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_manage_topics",
                            "can_edit_tag",
                            "can_react_to_messages",
                        ),
                        False,
                    ),
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _m_getchatmember(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        return self._member(chat["id"], int(p.get("user_id") or 0))

    async def _m_getchatadministrators(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        return [
            self._member(chat["id"], user_id)
            for user_id, status in self.members.get(chat["id"], {}).items()
            if status in ("creator", "administrator")
        ]

    async def _m_getchat(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        chat = self._check_chat(p)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _m_setmycommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        scope = (p.get("scope") or {}).get("type", "default")
        self.commands[(scope, str(p.get("language_code") or ""))] = list(p.get("commands") or [])
        return True

    async def _m_deletemycommands(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        scope = (p.get("scope") or {}).get("type", "default")
        self.commands.pop((scope, str(p.get("language_code") or "")), None)
        return True

    async def _m_setwebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self.webhook = dict(p)
        return True

    async def _m_deletewebhook(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getwebhookinfo(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _m_getfile(self, p: dict[str, Any], f: dict[str, bytes]) -> Any:
        info = self.files.get(str(p.get("file_id")))
        if info is None:
            raise ApiError(
                400, "Bad Request: wrong file_id or the file is temporarily unavailable"
            )
        if info["file_size"] > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {k: v for k, v in info.items() if k != "content"}


_BOT_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")


def command_entities(text: str) -> list[dict[str, Any]] | None:
    """Telegram marks "/name" or "/name@bot" as a command only when a space or the end
    follows: "/var/log/x" is text."""
    match = _BOT_COMMAND.match(text)
    if match is None:
        return None
    return [{"type": "bot_command", "offset": 0, "length": match.end()}]


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _check_markup(markup: Any) -> None:
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )


def _coerce(key: str, value: str) -> Any:
    if key in _JSON_FIELDS:
        return json.loads(value)
    if key in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    if key in _BOOL_FIELDS:
        return value.lower() == "true"
    return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        return dict(body), files
    if request.method == "GET":
        for key, value in request.query.items():
            params[key] = _coerce(key, value)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, FileField):
            files[key] = value.file.read()
        else:
            params[key] = _coerce(key, str(value))
    return params, files


def make_bot(fake: FakeTelegram) -> Bot:
    """A real aiogram Bot talking to ``fake`` over loopback HTTP."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.url))
    return Bot(fake.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def _chat_of(params: dict[str, Any]) -> int:
    try:
        return int(params.get("chat_id", 0))
    except (TypeError, ValueError):
        return 0


def _error(exc: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
    if exc.retry_after is not None:
        body["parameters"] = {"retry_after": exc.retry_after}
    return web.json_response(body, status=exc.status)
