"""Receiving Discord's gateway events into the durable update queue, when a fleet of
workers handles them (``python -m bot --workers N``, ``python -m bot receiver``).

The process holding the gateway connection (one per bot) gives every interaction its
first answer at once, as the handler would (``DiscordChannel.acknowledge``: a deferral,
or the form a button opens, which is all that press needs), and then puts the raw
payload of what the desk handles on ``app.update_queue("discord", bot)``: interactions
after their deferral, customers' DMs and messages in team channels' threads. A worker
(``handlers.discord.worker``) handles them and answers through REST (followups on the
interaction's token, channel messages).

Order: each payload is keyed by its channel, and a channel's payloads are put in the
order the gateway brought them (a later one waits for the earlier ones' puts), so the
workers keep a chat's order. Discord sends an event once (a RESUME replays only what
one session missed): a payload the queue refuses is put again with backoff until it is
stored or the receiver stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.ports import QueuedUpdate, UpdateQueue
from bot.worker import Backoff
from handlers.discord import team

if TYPE_CHECKING:
    from handlers.discord.channel import DiscordChannel

log = logging.getLogger(__name__)

INTERACTION = "INTERACTION_CREATE"
MESSAGE = "MESSAGE_CREATE"


def channel_key(data: dict[str, Any]) -> str:
    """The ordering key of a payload: its channel (a DM, a thread, a channel)."""
    channel = data.get("channel_id") or (data.get("channel") or {}).get("id")
    if channel:
        return str(channel)
    user = data.get("user") or (data.get("member") or {}).get("user") or {}
    return f"user:{user.get('id', '')}"


def queued(event: str, data: dict[str, Any]) -> QueuedUpdate:
    """A gateway event's payload as the queue takes it; its id is the message's or the
    interaction's snowflake (the desk's inbox knows it when it comes again)."""
    return QueuedUpdate(
        update_id=str(data["id"]), key=channel_key(data), payload={"t": event, "d": data}
    )


class GatewayReceiver:
    """Takes over the client's handling of ``INTERACTION_CREATE`` (acknowledged here,
    handled by a worker) and follows ``MESSAGE_CREATE`` (the client keeps its cache; a
    DM or a team channel's message is queued)."""

    def __init__(
        self, channel: DiscordChannel, queue: UpdateQueue, backoff: Backoff | None = None
    ) -> None:
        self.channel = channel
        self.queue = queue
        self.backoff_most = (backoff or Backoff()).most
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def install(self) -> None:
        """Route the two events here (before the gateway connects)."""
        state = self.channel.client._connection
        parsers: dict[str, Callable[[Any], None]] = state.parsers
        parse_message = parsers[MESSAGE]

        def on_interaction(data: dict[str, Any]) -> None:
            interaction = discord.Interaction(data=data, state=state)  # type: ignore[arg-type]
            self._add(channel_key(data), self._acknowledged(interaction, data))

        def on_message(data: dict[str, Any]) -> None:
            try:
                if self._wanted(data):
                    self._add(channel_key(data), _ready(queued(MESSAGE, data)))
            finally:
                parse_message(data)  # the client's cache and event, as without a fleet

        parsers[INTERACTION] = on_interaction
        parsers[MESSAGE] = on_message

    def _wanted(self, data: dict[str, Any]) -> bool:
        """A member's DM, or a message in a team channel or a thread the gateway has not
        told of (the worker looks it up among the tickets' threads)."""
        author = data.get("author") or {}
        if author.get("bot") or data.get("webhook_id") is not None:
            return False
        if data.get("guild_id") is None:
            return True
        found = self.channel.client.get_channel(int(data["channel_id"]))
        return found is None or team.in_team_channel(self.channel.context, found)

    async def _acknowledged(
        self, interaction: discord.Interaction, data: dict[str, Any]
    ) -> QueuedUpdate | None:
        try:
            if not await self.channel.acknowledge(interaction):
                return None
        except Exception:
            log.exception("interaction %s not acknowledged; not queued", interaction.id)
            return None
        return queued(INTERACTION, data)

    def _add(self, key: str, ready: Awaitable[QueuedUpdate | None]) -> None:
        previous = self._tails.get(key)
        task = asyncio.create_task(self._put(previous, ready), name=f"discord-queue-{key}")
        self._tails[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(key) is done:
                del self._tails[key]

        task.add_done_callback(forget)

    async def _put(
        self, previous: asyncio.Task[None] | None, ready: Awaitable[QueuedUpdate | None]
    ) -> None:
        item = await ready
        if previous is not None:
            # The channel's earlier payloads go first (their acknowledgement may be slower).
            await asyncio.wait([previous])
        if item is None:
            return
        backoff = Backoff(0.5, self.backoff_most)
        while True:
            try:
                await self.queue.put([item])
                return
            except Exception as exc:
                if self._stopping:
                    log.error("Discord update %s lost: not queued (%s)", item.update_id, exc)
                    return
                wait = backoff.next()
                log.warning(
                    "Discord update %s not queued, again in %.1fs: %s", item.update_id, wait, exc
                )
                await asyncio.sleep(wait)

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait (up to ``seconds``) for what is being acknowledged or put; then give up
        retrying."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._tails and loop.time() < deadline:
            await asyncio.wait(list(self._tails.values()), timeout=deadline - loop.time())
        self._stopping = True
        for task in list(self._tails.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _ready(item: QueuedUpdate) -> QueuedUpdate:
    return item
