"""The discord.py client the Discord channel runs on, and where it connects.

``DISCORD_API_URL`` points the bot at another REST base (a proxy, or the loopback fake
in tests): discord.py reads every REST and interaction route from ``Route.BASE``, and
an ``AutoShardedClient`` takes its gateway URL from ``GET /gateway/bot`` under it.
"""

from __future__ import annotations

import discord
from discord.http import Route

DISCORD_API = "https://discord.com/api/v10"


def point_at(api_url: str | None) -> None:
    """Make discord.py talk to ``api_url`` (Discord's own when None). Process-wide:
    discord.py keeps the base on a class."""
    Route.BASE = (api_url or DISCORD_API).rstrip("/")


def intents() -> discord.Intents:
    """What the desk needs from the gateway: guilds (channels, threads, roles), guild
    and DM messages and their content (a customer's DM, an agent's answer in a ticket
    thread). Members stay off: roles come with each interaction and message."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted
