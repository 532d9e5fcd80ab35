"""Handling queued Discord payloads in a worker (``bot.worker.Worker`` claims them, keeps
each channel's order and marks them done): the raw gateway payload becomes the
discord.py object the handlers take, built on the worker's REST-only client (no
gateway, so no guild cache: a member's roles are the ids the payload carries), and
goes to the same routing as in the gateway process. The receiver acknowledged every
interaction already: the handlers' deferrals are skipped and they answer by followups
on the interaction's token (valid 15 minutes) and by channel messages.

A payload handled again (a worker died after the desk's unit of work) meets the desk's
inbox under the same id (the message's or interaction's snowflake): nothing is done
twice; at most an answer is said again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.ports import QueuedUpdate
from bot.worker import Handle
from handlers.discord.context import ACKNOWLEDGED
from handlers.discord.receiver import INTERACTION, MESSAGE

if TYPE_CHECKING:
    from handlers.discord.channel import DiscordChannel

log = logging.getLogger(__name__)


def interaction_of(client: discord.Client, data: dict[str, Any]) -> discord.Interaction:
    """A queued ``INTERACTION_CREATE`` payload as discord.py's interaction, marked as
    acknowledged."""
    interaction: discord.Interaction = discord.Interaction(data=data, state=client._connection)  # type: ignore[arg-type]
    interaction.extras[ACKNOWLEDGED] = True
    return interaction


def message_of(client: discord.Client, data: dict[str, Any]) -> discord.Message:
    """A queued ``MESSAGE_CREATE`` payload as discord.py's message, in a channel known by
    its id alone."""
    guild_id = data.get("guild_id")
    where = client.get_partial_messageable(
        int(data["channel_id"]), guild_id=int(guild_id) if guild_id else None
    )
    return discord.Message(state=client._connection, channel=where, data=data)  # type: ignore[arg-type]


def feeder(channel: DiscordChannel) -> Handle:
    """A queued payload -> the channel's routing. One that is not a Discord payload is
    logged and dropped (handling it again would fail again)."""
    client = channel.client

    async def feed(item: QueuedUpdate) -> None:
        event = item.payload.get("t")
        data = item.payload.get("d")
        try:
            if not isinstance(data, dict) or event not in (INTERACTION, MESSAGE):
                raise ValueError(f"not a Discord event: {event!r}")
            if event == INTERACTION:
                interaction = interaction_of(client, data)
            else:
                message = message_of(client, data)
        except (KeyError, TypeError, ValueError):
            log.exception("queued update %s is not a Discord payload; dropped", item.update_id)
            return
        if event == INTERACTION:
            await channel.route_interaction(interaction)
        else:
            await channel.route_message(message, in_guild=data.get("guild_id") is not None)

    return feed
