"""Starting the Telegram channel: bot, dispatcher, routers, notifier, polling or webhook.

``TelegramChannel.from_app(app)`` builds everything from ``app.settings``
(``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_URL``, ``TELEGRAM_MODE``, webhook settings)
and registers the notifier with the outbox relay; ``await channel.run(stop)``
serves updates until ``stop`` is set, then closes what it opened: the receiver
(``receiver.py``) writes them to the durable update queue, the worker (``worker.py``)
feeds them from there to the dispatcher; ``receive``/``work`` run one side only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from aiohttp import web

from bot.ports import UpdateQueue
from bot.reply import Reply
from bot.ticket import Ticket
from bot.views import card, service_lines
from bot.worker import Worker, run_together
from handlers.telegram import community, customer, team
from handlers.telegram.context import TelegramContext, Tuning
from handlers.telegram.delivery import TelegramNotifier
from handlers.telegram.inbound import AlbumCollector
from handlers.telegram.pacing import Limits, PacerFeedback, SendPacer
from handlers.telegram.receiver import PollingReceiver, WebhookReceiver
from handlers.telegram.render import CHANNEL, CallbackCodec, Renderer
from handlers.telegram.responses import keep_response_types
from handlers.telegram.worker import album_grouping, feeder

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

COMMANDS = ("start", "new", "tickets", "ticket", "cancel", "help", "language", "training", "link")
# Group chats: agents in team chats, moderators in the community.
GROUP_COMMANDS = ("queue", "quote", "note", "escalate")
WEBHOOK_PATH = "/telegram/webhook"


def make_bot(token: str, api_url: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else None
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def make_dispatcher(context: TelegramContext) -> Dispatcher:
    dp = Dispatcher()
    dp["tg"] = context
    # Team chats first: a team chat is a group too, but not a community.
    dp.include_routers(customer.make_router(), team.make_router(), community.make_router())
    return dp


class TelegramChannel:
    def __init__(
        self, app: App, bot: Bot, *, tuning: Tuning | None = None, limits: Limits | None = None
    ) -> None:
        self.app = app
        self.bot = bot
        keep_response_types(bot)
        tuning = tuning or Tuning()
        renderer = Renderer(app.translator, CallbackCodec(app.links))
        self.notifier = TelegramNotifier(
            bot,
            renderer,
            app.delivery_links,
            app.tickets.get,
            tickets_many=app.tickets.get_many,
            pacer=SendPacer(limits, shared=app.limiter if app.settings.redis_url else None),
            team_language=app.policy.default_language,
            card_lines=self.card_lines,
            chat_departments=lambda chat_id: self.context.team_chats().get(chat_id, ()),
            files=app.files.get,
            file_link=app.files.link,
            limits=app.policy.files,
        )
        self.context = TelegramContext(
            bot=bot,
            desk=app.desk,
            tickets=app.tickets,
            policy=app.policy,
            renderer=renderer,
            links=app.links,
            limiter=app.limiter,
            notifier=self.notifier,
            outbox=app.relay.outbox,
            incidents=app.incidents,
            stats=app.stats,
            tuning=tuning,
            albums=AlbumCollector(tuning.album_wait),
            files=app.files,
        )
        self.dispatcher = make_dispatcher(self.context)
        app.relay.register(self.notifier)
        bot.session.middleware(PacerFeedback(self.notifier.pacer))

    def card_lines(self, ticket: Ticket) -> list[Reply]:
        """A ticket's card with its SLA and quote lines, as of the desk's clock now;
        times in the department's zone."""
        schedule = self.app.tickets.schedule
        clock = schedule.clock(ticket, self.app.clock.now())
        tz = schedule.timezone(ticket.department)
        currency = self.app.policy.quote_currency
        return [card(ticket, tz), *service_lines(ticket, clock, tz, currency)]

    @classmethod
    def from_app(
        cls, app: App, *, tuning: Tuning | None = None, limits: Limits | None = None
    ) -> TelegramChannel:
        token = app.settings.telegram_bot_token
        if token is None or not token.get_secret_value():
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        bot = make_bot(token.get_secret_value(), app.settings.telegram_api_url)
        return cls(app, bot, tuning=tuning, limits=limits)

    async def set_commands(self) -> None:
        """The command menus of private and group chats, in every language of the desk."""
        renderer = self.context.renderer
        default = self.app.policy.default_language
        menus: tuple[
            tuple[BotCommandScopeAllPrivateChats | BotCommandScopeAllGroupChats, tuple[str, ...]],
            ...,
        ] = (
            (BotCommandScopeAllPrivateChats(), COMMANDS),
            (BotCommandScopeAllGroupChats(), GROUP_COMMANDS),
        )
        for scope, all_names in menus:
            # /training only where the desk offers a training.
            names = tuple(n for n in all_names if n != "training" or self.app.desk.offers(n))
            for lang in (None, *self.app.policy.languages):
                commands = [
                    BotCommand(
                        command=name,
                        description=renderer.label(f"telegram.command.{name}", lang or default),
                    )
                    for name in names
                ]
                await self.bot.set_my_commands(commands, scope=scope, language_code=lang)

    async def run(self, stop: asyncio.Event, *, receive: bool = True, work: bool = True) -> None:
        """Serve until ``stop`` is set: receive updates into the durable queue (polling
        or webhook, per settings; the bot's one receiver) and/or work them off through
        the dispatcher (one of its workers). Both in one process by default."""
        try:
            queue = self.app.update_queue(CHANNEL, str(self.bot.id))
            parts: list[Callable[[asyncio.Event], Awaitable[None]]] = []
            if receive:
                await self.set_commands()
                webhook = self.app.settings.telegram_mode == "webhook"
                parts.append(partial(self._run_webhook if webhook else self._run_polling, queue))
            if work:
                settings = self.app.settings
                worker = Worker(
                    queue,
                    feeder(self.dispatcher, self.bot),
                    grouping=album_grouping(
                        self.dispatcher,
                        self.bot,
                        self.context.albums,
                        self.context.tuning.album_wait,
                    ),
                    batch_size=settings.update_batch_size,
                    poll=settings.update_poll_seconds,
                    lease=settings.update_lease_seconds,
                    max_attempts=settings.update_max_attempts,
                )
                parts.append(worker.run)
            await run_together(stop, *parts)
        finally:
            await self.close()

    async def _run_polling(self, queue: UpdateQueue, stop: asyncio.Event) -> None:
        receiver = PollingReceiver(
            self.bot,
            queue,
            # What the routers handle (edits, membership changes), not the default.
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )
        await receiver.run(stop)

    async def _run_webhook(self, queue: UpdateQueue, stop: asyncio.Event) -> None:
        settings = self.app.settings
        if not settings.telegram_webhook_url:
            raise ValueError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL")
        secret = (
            settings.telegram_webhook_secret.get_secret_value()
            if settings.telegram_webhook_secret
            else None
        )
        web_app = web.Application()
        WebhookReceiver(queue, secret).register(web_app, WEBHOOK_PATH)
        runner = web.AppRunner(web_app, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(
                runner, settings.telegram_webhook_host, settings.telegram_webhook_port
            )
            await site.start()
            await self.bot.set_webhook(
                settings.telegram_webhook_url.rstrip("/") + WEBHOOK_PATH
                if not settings.telegram_webhook_url.endswith(WEBHOOK_PATH)
                else settings.telegram_webhook_url,
                secret_token=secret,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
            )
            await stop.wait()
        finally:
            await runner.cleanup()

    async def close(self) -> None:
        await self.context.albums.close()
        await self.context.close()
        await self.bot.session.close()


async def run_telegram(app: App, stop: asyncio.Event) -> None:
    """Start the Telegram channel on ``app`` and serve until ``stop`` is set."""
    await TelegramChannel.from_app(app).run(stop)
