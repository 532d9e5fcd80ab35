"""A fake Discord (gateway websocket and REST API) for channel tests.

It speaks Discord's wire protocol over loopback (aiohttp), so the real ``discord.py``
client runs unchanged against it: REST under ``fake.api_url`` (the value of
``DISCORD_API_URL``), the gateway at the URL ``GET /gateway/bot`` names.

Gateway: HELLO, IDENTIFY -> READY (+ GUILD_CREATE per guild), HEARTBEAT -> ACK,
RESUME -> the missed dispatches and RESUMED, ``drop_connection`` to make the client
resume. Tests push dispatches as people do things (``command``, ``press``,
``pick``, ``submit``, ``context_menu``, ``dm``, ``post``) and assert on every recorded
REST call (``calls``, ``wait_call``) and on the messages channels hold.

REST: what discord.py calls for a bot like ours: users/@me, oauth2 application,
gateway/bot, bulk overwrite of guild commands, interaction callbacks (answered within
three seconds and once, as Discord insists) with followups and @original edits,
channel messages with attachments (multipart), DMs, private threads and forum posts
with tags, thread edits (archive, lock, rename, tags). ``rate_limit_next`` answers a
route 429 with ``retry_after``; ``close_dms`` makes a user's DMs refuse messages
(error 50007).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

TOKEN = "fake.discord.token"
APPLICATION_ID = 4400
BOT_ID = 4401
INTERACTION_WINDOW = 3.0  # seconds to send the first response to an interaction

# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = (
    0,
    1,
    2,
    6,
    7,
    9,
    10,
    11,
)

# Channel types.
GUILD_TEXT, DM, PUBLIC_THREAD, PRIVATE_THREAD, GUILD_FORUM = 0, 1, 11, 12, 15

# Interaction types and callback types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL = (
    4,
    5,
    6,
    7,
    9,
)
EPHEMERAL = 1 << 6


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, **extra}


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    body: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    status: int = 200

    @property
    def route(self) -> str:
        """The path with ids replaced by ``{id}``: what ``rate_limit_next`` matches."""
        return re.sub(r"/\d+", "/{id}", self.path.split("?")[0])


@dataclass
class Interaction:
    """An interaction the fake dispatched, and how the bot answered it."""

    id: int
    token: str
    payload: dict[str, Any]
    created: float
    response: dict[str, Any] | None = None
    responded_at: float | None = None
    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    edited: bool = False  # @original was edited (a deferred answer filled in)

    @property
    def answered(self) -> bool:
        """Whether the user sees an answer: one given at once (a message, an updated
        message, a modal), or a deferred one that was followed up or filled in."""
        if self.response_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE, MODAL):
            return True
        return bool(self.followups) or self.edited

    @property
    def response_type(self) -> int | None:
        return None if self.response is None else int(self.response["type"])

    @property
    def messages(self) -> list[dict[str, Any]]:
        """What the user was shown: the first response's message (or @original), then
        the followups."""
        shown = [self.original] if self.original is not None else []
        return shown + self.followups

    @property
    def texts(self) -> list[str]:
        return [m.get("content") or "" for m in self.messages]

    def component_ids(self) -> list[str]:
        return [c["custom_id"] for m in self.messages for c in _components(m) if "custom_id" in c]


def _components(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every interactive component of a message (inside action rows and labels)."""
    out: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "components" in item:
                walk(item["components"])
            elif "component" in item:
                walk([item["component"]])
            else:
                out.append(item)

    walk(message.get("components") or [])
    return out


class FakeDiscord:
    """The fake: start it, point the client at ``api_url``, act as people."""

    def __init__(self, *, heartbeat_interval: float = 5.0) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.calls: list[Call] = []
        self.faults: list[Exception] = []
        self.users: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int, list[dict[str, Any]]] = {}
        self.files: dict[str, bytes] = {}
        self.closed_dms: set[int] = set()
        self.attachment_size_limit = 10 * 1024 * 1024
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self._ids = itertools.count(1_000_000)
        self._limits: list[tuple[str, str, float]] = []
        self._seq = 0
        self._sent: list[dict[str, Any]] = []  # dispatches, for RESUME
        self._session = "fake-session"
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.user(BOT_ID, "supportbot", bot=True)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.url + "/api/v10"

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._on_gateway)
        app.router.add_get("/attachments/{name:.+}", self._on_file)
        app.router.add_route("*", "/api/v10/{path:.+}", self._on_rest)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def close(self) -> None:
        """Stop; raises the first error the fake itself made while serving."""
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.faults:
            raise self.faults[0]

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the world ---------------------------------------------------------------------

    def snowflake(self) -> int:
        return next(self._ids)

    def user(
        self, user_id: int, name: str, *, bot: bool = False, locale: str = "en-US"
    ) -> dict[str, Any]:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "locale": locale,
        }
        self.users[user_id] = user
        return user

    def guild(self, guild_id: int, name: str = "Support", premium_tier: int = 0) -> dict[str, Any]:
        """A server; ``premium_tier`` (boosts) raises what may be uploaded in it."""
        guild = {
            "id": str(guild_id),
            "name": name,
            "premium_tier": premium_tier,
            "owner_id": "1",
            "roles": [_role(guild_id, "@everyone")],
            "members": {},
            "channels": [],
        }
        self.guilds[guild_id] = guild
        return guild

    def role(self, guild_id: int, role_id: int, name: str) -> None:
        self.guilds[guild_id]["roles"].append(_role(role_id, name))

    def member(self, guild_id: int, user_id: int, roles: tuple[int, ...] = ()) -> None:
        self.guilds[guild_id]["members"][user_id] = [str(r) for r in roles]

    def text_channel(self, guild_id: int, channel_id: int, name: str) -> dict[str, Any]:
        return self._channel(
            {"id": str(channel_id), "type": GUILD_TEXT, "guild_id": str(guild_id), "name": name}
        )

    def forum(
        self, guild_id: int, channel_id: int, name: str, tags: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        return self._channel(
            {
                "id": str(channel_id),
                "type": GUILD_FORUM,
                "guild_id": str(guild_id),
                "name": name,
                "available_tags": [
                    {
                        "id": str(self.snowflake()),
                        "name": t,
                        "moderated": False,
                        "emoji_id": None,
                        "emoji_name": None,
                    }
                    for t in tags
                ],
            }
        )

    def _channel(self, channel: dict[str, Any]) -> dict[str, Any]:
        channel.setdefault("position", 0)
        channel.setdefault("permission_overwrites", [])
        channel.setdefault("flags", 0)
        channel_id = int(channel["id"])
        self.channels[channel_id] = channel
        self.messages.setdefault(channel_id, [])
        guild_id = channel.get("guild_id")
        if guild_id is not None and channel["type"] in (GUILD_TEXT, GUILD_FORUM):
            self.guilds[int(guild_id)]["channels"].append(channel)
        return channel

    def close_dms(self, user_id: int) -> None:
        """The user turned off DMs from server members: sends to them fail with 50007."""
        self.closed_dms.add(user_id)

    def rate_limit_next(self, method: str, route: str, retry_after: float = 0.2) -> None:
        """Answer the next ``method route`` (ids as ``{id}``) with 429 and retry_after."""
        self._limits.append((method, route, retry_after))

    def upload_limit(self, channel_id: int) -> int:
        """What a bot may upload in a channel: 10 MB (DMs, servers with fewer than 7
        boosts), 50 MB at boost level 2, 100 MB at 3."""
        guild_id = self.channels[channel_id].get("guild_id")
        tier = self.guilds[int(guild_id)]["premium_tier"] if guild_id is not None else 0
        return {2: 50, 3: 100}.get(tier, 10) * 1024 * 1024

    def add_file(self, name: str, data: bytes, content_type: str = "image/png") -> dict[str, Any]:
        """An attachment as Discord's CDN serves it (what a user uploads)."""
        attachment_id = self.snowflake()
        path = f"{attachment_id}/{name}"
        self.files[path] = data
        return {
            "id": str(attachment_id),
            "filename": name,
            "size": len(data),
            "content_type": content_type,
            "url": f"{self.url}/attachments/{path}",
            "proxy_url": f"{self.url}/attachments/{path}",
        }

    def dm_channel_of(self, user_id: int) -> int | None:
        for channel_id, channel in self.channels.items():
            if channel["type"] == DM and channel["recipients"][0]["id"] == str(user_id):
                return channel_id
        return None

    def threads_of(self, parent_id: int) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c.get("parent_id") == str(parent_id)]

    def texts(self, channel_id: int | None) -> list[str]:
        """What a channel shows: message contents, embed descriptions included."""
        out: list[str] = []
        for m in self.messages.get(channel_id or 0, []):
            parts = [m.get("content") or ""]
            parts += [
                "\n".join(filter(None, [e.get("title"), e.get("description")]))
                for e in m.get("embeds") or []
            ]
            out.append("\n".join(p for p in parts if p))
        return out

    def dm_texts(self, user_id: int) -> list[str]:
        return self.texts(self.dm_channel_of(user_id))

    # -- people doing things: gateway dispatches ---------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event; while the client is away (after its first READY) it is kept for
        the client's RESUME, as Discord does."""
        if not self._ever_connected:
            await self._connected.wait()
        self._seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self._seq, "d": data}
        self._sent.append(frame)
        if self._connected.is_set() and self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_str(json.dumps(frame))

    def _member(self, guild_id: int, user_id: int) -> dict[str, Any]:
        roles = self.guilds[guild_id]["members"].get(user_id, [])
        return {
            "user": self.users[user_id],
            "roles": roles,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2248473465835073",
        }

    def _where(self, user_id: int, channel_id: int | None) -> dict[str, Any]:
        """The place fields of an interaction or message: a guild channel or the DM."""
        if channel_id is None:
            channel_id = self._dm(user_id)
        channel = self.channels[channel_id]
        out: dict[str, Any] = {"channel_id": str(channel_id), "channel": channel}
        guild_id = channel.get("guild_id")
        if guild_id is not None:
            out["guild_id"] = guild_id
            out["member"] = self._member(int(guild_id), user_id)
        else:
            out["user"] = self.users[user_id]
        return out

    async def interact(
        self,
        user_id: int,
        kind: int,
        data: dict[str, Any],
        channel_id: int | None = None,
        message: dict[str, Any] | None = None,
        *,
        wait: bool = True,
    ) -> Interaction:
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        payload = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": self.users[user_id].get("locale", "en-US"),
            "app_permissions": "2248473465835073",
            "attachment_size_limit": self.attachment_size_limit,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if channel_id is not None else 1,
            **self._where(user_id, channel_id),
        }
        if "guild_id" in payload:
            payload["guild_locale"] = "en-US"
        if message is not None:
            payload["message"] = message
        found = Interaction(interaction_id, token, payload, time.monotonic())
        self.interactions[interaction_id] = found
        await self.dispatch("INTERACTION_CREATE", payload)
        if wait:
            await self.settled(found)
        return found

    async def settled(
        self,
        interaction: Interaction,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline
    ) -> Interaction:
        """Wait until the bot answered the interaction (a deferred answer: until it was
        followed up) and then sent nothing more for a moment."""
        await asyncio.wait_for(interaction.done.wait(), timeout)
        await self.wait_for(lambda: interaction.answered, timeout)
        await self.wait_idle()
        return interaction

    async def command(
        self,
        user_id: int,
        name: str,
        sub: str | None = None,
        channel_id: int | None = None,
        *,
        wait: bool = True,
        **options: Any,
    ) -> Interaction:
        """A slash command: ``/name [sub] option:value ...``."""
        opts = [{"name": k, "type": _option_type(v), "value": v} for k, v in options.items()]
        if sub is not None:
            opts = [{"name": sub, "type": 1, "options": opts}]
        data = {"id": str(self._command_id(name)), "name": name, "type": 1, "options": opts}
        if channel_id is not None:
            data["guild_id"] = self.channels[channel_id].get("guild_id")
        return await self.interact(user_id, APPLICATION_COMMAND, data, channel_id, wait=wait)

    def _command_id(self, name: str) -> int:
        for commands in self.commands.values():
            for command in commands:
                if command["name"] == name:
                    return int(command["id"])
        return 0

    async def context_menu(
        self, user_id: int, name: str, message: dict[str, Any], *, wait: bool = True
    ) -> Interaction:
        """A message command (right click on a message -> Apps -> ``name``)."""
        channel_id = int(message["channel_id"])
        data = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 3,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
            "guild_id": self.channels[channel_id].get("guild_id"),
        }
        return await self.interact(user_id, APPLICATION_COMMAND, data, channel_id, wait=wait)

    async def press(
        self, user_id: int, message: dict[str, Any], custom_id: str, *, wait: bool = True
    ) -> Interaction:
        """A button press on ``message``."""
        if custom_id not in [c.get("custom_id") for c in _components(message)]:
            raise AssertionError(f"no button {custom_id!r} on {message.get('content')!r}")
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.interact(
            user_id, MESSAGE_COMPONENT, data, _channel_of(message), message, wait=wait
        )

    async def pick(
        self, user_id: int, message: dict[str, Any], custom_id: str, *values: str
    ) -> Interaction:
        """A choice in a select menu of ``message``."""
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        return await self.interact(user_id, MESSAGE_COMPONENT, data, _channel_of(message), message)

    async def submit(
        self,
        user_id: int,
        modal: Interaction,
        values: dict[str, str],
        files: dict[str, list[dict[str, Any]]] | None = None,
    ) -> Interaction:
        """Fill in and submit the modal the bot answered ``modal`` with."""
        response = modal.response
        assert response is not None and response["type"] == MODAL, "no modal shown"
        shown = response["data"]
        components: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for item in _components({"components": shown["components"]}):
            if item["type"] == 4:
                components.append(
                    {
                        "type": 18,
                        "component": {
                            "type": 4,
                            "custom_id": item["custom_id"],
                            "value": values.get(item["custom_id"], ""),
                        },
                    }
                )
            elif item["type"] == 19:
                uploaded = (files or {}).get(item["custom_id"], [])
                for a in uploaded:
                    resolved.setdefault("attachments", {})[a["id"]] = a
                components.append(
                    {
                        "type": 18,
                        "component": {
                            "type": 19,
                            "custom_id": item["custom_id"],
                            "values": [a["id"] for a in uploaded],
                        },
                    }
                )
        data: dict[str, Any] = {"custom_id": shown["custom_id"], "components": components}
        if resolved:
            data["resolved"] = resolved
        where = modal.payload["channel_id"]
        channel = int(where) if self.channels[int(where)].get("guild_id") else None
        return await self.interact(
            user_id, MODAL_SUBMIT, data, channel, modal.payload.get("message")
        )

    async def dm(
        self, user_id: int, content: str, attachments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The user writes to the bot in their DM and waits for its answer there."""
        channel_id = self._dm(user_id)
        message = await self.post(user_id, channel_id, content, attachments, wait=False)
        bot = str(BOT_ID)
        await self.wait_for(
            lambda: any(
                m["author"]["id"] == bot and int(m["id"]) > int(message["id"])
                for m in self.messages[channel_id]
            )
        )
        await self.wait_idle()
        return message

    async def post(
        self,
        user_id: int,
        channel_id: int,
        content: str,
        attachments: list[dict[str, Any]] | None = None,
        *,
        wait: bool = True,
    ) -> dict[str, Any]:
        """The user writes a message in a channel or thread."""
        message = self._message(channel_id, self.users[user_id], content, attachments or [])
        channel = self.channels[channel_id]
        if channel.get("guild_id") is not None:
            member = self._member(int(channel["guild_id"]), user_id)
            message["member"] = {k: v for k, v in member.items() if k != "user"}
            message["guild_id"] = channel["guild_id"]
        mark = len(self.calls)
        await self.dispatch("MESSAGE_CREATE", message)
        if wait:
            await self.wait_idle(after=mark)
        return message

    def _dm(self, user_id: int) -> int:
        found = self.dm_channel_of(user_id)
        if found is not None:
            return found
        channel_id = self.snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": DM,
            "recipients": [self.users[user_id]],
            "last_message_id": None,
        }
        self.messages[channel_id] = []
        return channel_id

    def _message(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        attachments: list[dict[str, Any]],
        **extra: Any,
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": "2024-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            **extra,
        }
        self.messages.setdefault(channel_id, []).append(message)
        self._changed.set()
        return message

    async def drop_connection(self) -> None:
        """Close the gateway socket the way a network blip does: the client resumes."""
        self._connected.clear()
        if self._ws is not None:
            await self._ws.close(code=4000, message=b"blip")

    # -- waiting and asserting -------------------------------------------------------------

    def calls_of(self, method: str, pattern: str, after: int = 0) -> list[Call]:
        return [c for c in self.calls[after:] if c.method == method and re.search(pattern, c.path)]

    def mark(self) -> int:
        return len(self.calls)

    async def wait_for(
        self,
        found: Callable[[], Any],
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline
    ) -> Any:
        """Wait until ``found()`` is truthy (checked whenever the bot calls the API)."""
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the bot never did what was expected")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))

    async def wait_idle(
        self,
        quiet: float = 0.3,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline
    ) -> None:
        """Wait until the bot made no call for ``quiet`` seconds."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            last = self.calls[-1].at if len(self.calls) > after else started
            if time.monotonic() - max(last, started) >= quiet:
                return
            await asyncio.sleep(quiet / 3)

    async def wait_connected(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - a test helper's deadline
    ) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    # -- gateway -----------------------------------------------------------------------------

    async def _on_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(
            json.dumps({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval * 1000}})
        )
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, data = frame.get("op"), frame.get("d")
            if op == HEARTBEAT:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": HEARTBEAT_ACK}))
            elif op == IDENTIFY:
                if data.get("token") != TOKEN:
                    await ws.close(code=4004, message=b"Authentication failed")
                    break
                self.identifies += 1
                await self._ready(ws, data.get("shard"))
            elif op == RESUME:
                if data.get("session_id") != self._session or data.get("token") != TOKEN:
                    await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False}))
                    continue
                self.resumes += 1
                seq = data.get("seq") or 0
                for frame_ in self._sent:
                    if frame_["s"] > seq:
                        await ws.send_str(json.dumps(frame_))
                self._seq += 1
                await ws.send_str(
                    json.dumps({"op": DISPATCH, "t": "RESUMED", "s": self._seq, "d": {}})
                )
                self._connected.set()
        if self._ws is ws:
            self._connected.clear()
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard: list[int] | None) -> None:
        self._seq += 1
        ready = {
            "v": 10,
            "user": self.users[BOT_ID],
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": self._session,
            "resume_gateway_url": self.url + "/gateway",
            "application": {"id": str(APPLICATION_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if shard is not None:
            ready["shard"] = shard
        frame = {"op": DISPATCH, "t": "READY", "s": self._seq, "d": ready}
        await ws.send_str(json.dumps(frame))
        for guild_id, guild in self.guilds.items():
            self._seq += 1
            data = {
                "id": str(guild_id),
                "name": guild["name"],
                "premium_tier": guild["premium_tier"],
                "owner_id": guild["owner_id"],
                "roles": guild["roles"],
                "channels": guild["channels"],
                "threads": [],
                "members": [self._member(guild_id, BOT_ID)] if BOT_ID in guild["members"] else [],
                "member_count": len(guild["members"]),
                "emojis": [],
                "stickers": [],
                "features": [],
                "unavailable": False,
                "large": False,
                "voice_states": [],
                "presences": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
            frame = {"op": DISPATCH, "t": "GUILD_CREATE", "s": self._seq, "d": data}
            await ws.send_str(json.dumps(frame))
        self._connected.set()
        self._ever_connected = True

    # -- REST --------------------------------------------------------------------------------

    async def _on_file(self, request: web.Request) -> web.StreamResponse:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data)

    async def _on_rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body, files = await _read_body(request)
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        self._changed.set()
        # Interaction callbacks and webhooks are authorised by their token in the path.
        by_token = "/interactions/" in path or "/webhooks/" in path
        if request.headers.get("Authorization") != f"Bot {TOKEN}" and not by_token:
            call.status = 401
            return _error(401, 0, "401: Unauthorized")
        for i, (method, route, retry_after) in enumerate(self._limits):
            if method == request.method and route == call.route:
                del self._limits[i]
                call.status = 429
                return _json(
                    {
                        "message": "You are being rate limited.",
                        "retry_after": retry_after,
                        "global": False,
                    },
                    status=429,
                    headers={
                        "Via": "1.1 google",
                        "Retry-After": str(retry_after),
                        "X-RateLimit-Scope": "user",
                    },
                )
        try:
            result = self._route(request.method, path, body, files, request.query)
        except ApiError as exc:
            call.status = exc.status
            return _json(exc.body, status=exc.status)
        except Exception as exc:
            # A bug of the fake: the test fails on it (``faults``), not on its effects.
            self.faults.append(exc)
            call.status = 400
            return _json({"code": 0, "message": f"fake failed: {exc!r}"}, status=400)
        if result is None:
            call.status = 204
            return web.Response(status=204)
        return _json(result)

    def _route(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes]],
        query: Any,
    ) -> Any:
        parts = path.strip("/").split("/")
        match method, parts:
            case "GET", ["users", "@me"]:
                return self.users[BOT_ID]
            case "GET", ["oauth2", "applications", "@me"]:
                return {
                    "id": str(APPLICATION_ID),
                    "name": "Supportbot",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "00",
                    "flags": 0,
                    "owner": self.users[BOT_ID],
                }
            case "GET", ["users", user_id] if user_id.isdigit():
                if int(user_id) not in self.users:
                    raise ApiError(404, 10013, "Unknown User")
                return self.users[int(user_id)]
            case "GET", ["gateway", "bot"]:
                return {
                    "url": self.url.replace("http", "ws", 1) + "/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            case "PUT", ["applications", _, "guilds", guild, "commands"]:
                return self._overwrite_commands(int(guild), body.get("_list", []))
            case "PUT", ["applications", _, "commands"]:
                return self._overwrite_commands(0, body.get("_list", []))
            case "POST", ["interactions", interaction_id, token, "callback"]:
                return self._callback(int(interaction_id), token, body, files)
            case "PATCH", ["webhooks", _, token, "messages", "@original"]:
                return self._edit_original(token, body, files)
            case "GET", ["webhooks", _, token, "messages", "@original"]:
                found = self._interaction(token)
                if found.original is None:
                    raise ApiError(404, 10008, "Unknown Message")
                return found.original
            case "POST", ["webhooks", _, token]:
                found = self._interaction(token)
                message = self._bot_message(int(found.payload["channel_id"]), body, files)
                found.followups.append(message)
                return message
            case "POST", ["users", "@me", "channels"]:
                return self.channels[self._dm(int(body["recipient_id"]))]
            case "GET", ["channels", channel_id]:
                return self._get_channel(int(channel_id))
            case "PATCH", ["channels", channel_id]:
                channel = self._get_channel(int(channel_id))
                return self._edit_channel(channel, body)
            case "POST", ["channels", channel_id, "messages"]:
                return self._send(int(channel_id), body, files)
            case "PATCH", ["channels", channel_id, "messages", message_id]:
                return self._edit_message(int(channel_id), int(message_id), body, files)
            case "GET", ["channels", channel_id, "messages", message_id]:
                return self._find_message(int(channel_id), int(message_id))
            case "POST", ["channels", channel_id, "threads"]:
                return self._thread(self._get_channel(int(channel_id)), body, files)
            case "PUT", ["channels", _, "thread-members", _]:
                return None
        raise ApiError(404, 0, f"404: Not Found ({method} {path})")

    def _overwrite_commands(self, guild: int, commands: list[dict[str, Any]]) -> Any:
        out = []
        for command in commands:
            out.append(
                {
                    "description": "",
                    "options": [],
                    "nsfw": False,
                    **command,
                    "id": str(self.snowflake()),
                    "application_id": str(APPLICATION_ID),
                    "version": "1",
                    "default_member_permissions": command.get("default_member_permissions"),
                    "type": command.get("type", 1),
                }
            )
        self.commands[guild] = out
        return out

    def _interaction(self, token: str) -> Interaction:
        for found in self.interactions.values():
            if found.token == token:
                return found
        raise ApiError(404, 10015, "Unknown Webhook")

    def _callback(
        self,
        interaction_id: int,
        token: str,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes]],
    ) -> Any:
        found = self.interactions.get(interaction_id)
        if found is None or found.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        if found.response is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - found.created > INTERACTION_WINDOW:
            raise ApiError(404, 10062, "Unknown interaction")
        found.response = body
        found.responded_at = time.monotonic()
        kind = int(body["type"])
        channel_id = int(found.payload["channel_id"])
        data = body.get("data") or {}
        if kind == CHANNEL_MESSAGE:
            found.original = self._bot_message(channel_id, data, files, interaction=found)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            found.original = self._bot_message(
                channel_id, {"content": "", "flags": data.get("flags", 0)}, {}, interaction=found
            )
            found.original["deferred"] = True
        elif kind == UPDATE_MESSAGE:
            message = found.payload.get("message")
            if message is not None:
                self._edit_message(channel_id, int(message["id"]), data, files)
        found.done.set()
        message = found.original
        return {
            "interaction": {
                "id": str(interaction_id),
                "type": found.payload["type"],
                "activity_instance_id": None,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            },
            "resource": {"type": kind, "message": message} if message else {"type": kind},
        }

    def _edit_original(
        self, token: str, body: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        found = self._interaction(token)
        if found.response is None:
            raise ApiError(404, 10008, "Unknown Message")
        found.edited = True
        if found.original is None:
            # A deferred update or component: @original is the message the button is on.
            message = found.payload.get("message")
            if message is None:
                raise ApiError(404, 10008, "Unknown Message")
            return self._edit_message(
                int(found.payload["channel_id"]), int(message["id"]), body, files
            )
        found.original.update(self._content(body, files))
        found.original.pop("deferred", None)
        self._changed.set()
        return found.original

    def _get_channel(self, channel_id: int) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _edit_channel(self, channel: dict[str, Any], body: dict[str, Any]) -> Any:
        for name in ("name", "applied_tags"):
            if name in body:
                channel[name] = body[name]
        meta = channel.get("thread_metadata")
        if meta is not None:
            for name in ("archived", "locked"):
                if name in body:
                    meta[name] = body[name]
        self._changed.set()
        return channel

    def _writable(self, channel_id: int) -> dict[str, Any]:
        channel = self._get_channel(channel_id)
        if channel["type"] == DM:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self.closed_dms:
                raise ApiError(403, 50007, "Cannot send messages to this user")
        meta = channel.get("thread_metadata")
        if meta is not None and meta.get("locked"):
            raise ApiError(403, 50083, "Thread is archived")
        if meta is not None and meta.get("archived"):
            meta["archived"] = False  # a message in an archived (unlocked) thread opens it
        return channel

    def _send(
        self, channel_id: int, body: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        self._writable(channel_id)
        return self._bot_message(channel_id, body, files)

    def _bot_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes]],
        *,
        interaction: Interaction | None = None,
    ) -> dict[str, Any]:
        limit = self.upload_limit(channel_id)
        if any(len(data) > limit for _, data in files.values()):
            raise ApiError(413, 40005, "Request entity too large")
        content = self._content(body, files)
        text = content.pop("content", "") or ""
        if len(text) > 2000:
            raise ApiError(400, 50035, "Invalid Form Body: content: Must be 2000 or fewer")
        attachments = content.pop("attachments", [])
        message = self._message(channel_id, self.users[BOT_ID], text, attachments, **content)
        if interaction is not None:
            payload = interaction.payload
            user = payload.get("user") or payload["member"]["user"]
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": payload["type"],
                "user": user,
                "authorizing_integration_owners": {},
            }
        return message

    def _content(
        self, body: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("content", "embeds", "components", "flags", "message_reference"):
            if name in body:
                out[name] = body[name]
        reference = out.get("message_reference")
        if isinstance(reference, dict):
            # Snowflakes come back as strings, whatever the bot sent.
            out["message_reference"] = {
                k: str(v) if k.endswith("_id") and v is not None else v
                for k, v in reference.items()
            }
        if files:
            attachments = []
            for key in sorted(files):
                filename, data = files[key]
                attachments.append(self.add_file(filename, data, "application/octet-stream"))
            out["attachments"] = attachments
        return out

    def _find_message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        for message in self.messages.get(channel_id, []):
            if message["id"] == str(message_id):
                return message
        raise ApiError(404, 10008, "Unknown Message")

    def _edit_message(
        self,
        channel_id: int,
        message_id: int,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes]],
    ) -> Any:
        message = self._find_message(channel_id, message_id)
        message.update(self._content(body, files))
        message["edited_timestamp"] = "2024-01-01T00:00:01+00:00"
        self._changed.set()
        return message

    def _thread(
        self, parent: dict[str, Any], body: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        thread_id = self.snowflake()
        forum = parent["type"] == GUILD_FORUM
        if forum and "message" not in body:
            raise ApiError(400, 50035, "Invalid Form Body: message: required for a forum post")
        if not forum and parent["type"] != GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        thread = {
            "id": str(thread_id),
            "type": PUBLIC_THREAD if forum else int(body.get("type", PRIVATE_THREAD)),
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "name": body["name"],
            "owner_id": str(BOT_ID),
            "applied_tags": body.get("applied_tags", []),
            "thread_metadata": {
                "archived": False,
                "locked": False,
                "auto_archive_duration": body.get("auto_archive_duration", 10080),
                "archive_timestamp": "2024-01-01T00:00:00+00:00",
                "invitable": body.get("invitable", False),
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        self.channels[thread_id] = thread
        self.messages[thread_id] = []
        if forum:
            starter = self._bot_message(thread_id, body["message"], files)
            return {**thread, "message": starter}
        return thread


def _role(role_id: int, name: str) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "position": 0,
        "permissions": "0",
        "managed": False,
        "mentionable": False,
    }


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


def _channel_of(message: dict[str, Any]) -> int | None:
    return int(message["channel_id"])


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON the way Discord sends it: discord.py parses only ``application/json`` as such."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"code": code, "message": message}, status=status)


async def _read_body(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """JSON, or multipart with ``payload_json`` and ``files[n]`` as discord.py sends them."""
    files: dict[str, tuple[str, bytes]] = {}
    if request.content_type.startswith("multipart/"):
        body: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            if part is None:
                break
            name = part.name or ""
            if name == "payload_json":
                body = json.loads(await part.text())  # type: ignore[union-attr]
            elif part.filename:  # type: ignore[union-attr]
                files[name] = (part.filename, bytes(await part.read()))  # type: ignore[union-attr]
        return body, files
    if not request.can_read_body:
        return {}, files
    raw = await request.text()
    if not raw:
        return {}, files
    data = json.loads(raw)
    return (data if isinstance(data, dict) else {"_list": data}), files
