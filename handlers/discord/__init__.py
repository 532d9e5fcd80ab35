"""The Discord channel (discord.py 2.7): customers by slash commands and DMs, agents in
their team channels' ticket threads, moderators escalating community messages, and the
notifier the outbox relay delivers through.

``bot.app`` starts it with ``DiscordChannel.from_app(app)`` then ``await channel.run(stop)``.
"""

from handlers.discord.channel import DiscordChannel, run_discord
from handlers.discord.delivery import DiscordNotifier

__all__ = ["DiscordChannel", "DiscordNotifier", "run_discord"]
