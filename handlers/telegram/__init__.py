"""The Telegram channel (aiogram 3): customers in private chats, agents in team chats,
moderators in the community group, and the notifier the outbox relay delivers through.

``bot.app``/``bot.cli`` start it with ``run_telegram(app, stop)`` or, for more control,
``TelegramChannel.from_app(app)`` then ``await channel.run(stop)``.
"""

from handlers.telegram.channel import TelegramChannel, run_telegram
from handlers.telegram.delivery import TelegramNotifier

__all__ = ["TelegramChannel", "TelegramNotifier", "run_telegram"]
