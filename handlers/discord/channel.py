"""Starting the Discord channel: client, commands, notifier, gateway.

``DiscordChannel.from_app(app)`` builds everything from ``app.settings``
(``DISCORD_BOT_TOKEN``, ``DISCORD_APPLICATION_ID``, ``DISCORD_GUILD_IDS``,
``DISCORD_API_URL``) and registers the notifier with the outbox relay;
``await channel.run(stop)`` logs in, registers the commands in the configured guilds
(every guild when none is named) and serves the gateway until ``stop`` is set.
``deliver_only`` logs in for REST alone: a worker process delivers Discord's
notifications without a gateway connection of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.choice_codec import CHOICE_PREFIX
from bot.reply import Reply
from bot.stats import PERIODS
from bot.ticket import Ticket
from bot.transcript import FORMATS
from bot.views import card, service_lines
from handlers.discord import community, customer, team
from handlers.discord.client import intents, point_at
from handlers.discord.context import DiscordContext, interaction_data
from handlers.discord.delivery import DiscordNotifier
from handlers.discord.render import (
    AGENT_PREFIX,
    CHANNEL,
    FORM_PREFIX,
    CustomIdCodec,
    Renderer,
    static_view,
)

if TYPE_CHECKING:
    from bot.app import App
    from bot.i18n import Translator

log = logging.getLogger(__name__)

# The panel's button: starts an intake like /ticket new.
PANEL_ID = "p:new"
# Discord's locales for the desk's languages (English is the commands' own).
DISCORD_LOCALES = {
    discord.Locale.czech: "cs",
    discord.Locale.polish: "pl",
    discord.Locale.russian: "ru",
}


class CatalogTranslator(app_commands.Translator):
    """Command names' descriptions in the members' languages, from the catalogs: each
    string's ``key`` extra names its catalog key."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        lang = DISCORD_LOCALES.get(locale)
        if key is None or lang is None:
            return None
        return self.translator.text(key, lang)[:100]


def text(translator: Translator, key: str) -> app_commands.locale_str:
    """A command's or option's description: English here, the rest by the translator."""
    return app_commands.locale_str(translator.text(key, "en")[:100], key=key)


class DiscordChannel:
    def __init__(
        self,
        app: App,
        token: str,
        *,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        self.app = app
        self.token = token
        settings = app.settings
        point_at(settings.discord_api_url)
        options: dict[str, Any] = {}
        if settings.discord_application_id is not None:
            options["application_id"] = settings.discord_application_id
        self.client = discord.AutoShardedClient(
            intents=intents(),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,
            # Longer waits come back to the relay as a retry_after instead.
            max_ratelimit_timeout=30.0,
            **options,
        )
        self.tree = app_commands.CommandTree(self.client)
        renderer = Renderer(app.translator, CustomIdCodec(app.links))
        self.notifier = DiscordNotifier(
            self.client,
            renderer,
            app.delivery_links,
            app.tickets.get,
            team_language=app.policy.default_language,
            card_lines=self.card_lines,
            channel_departments=lambda channel_id: self.context.team_channels().get(
                channel_id, ()
            ),
            files=app.files.get,
            file_link=app.files.link,
            limits=app.policy.files,
        )
        self.context = DiscordContext(
            client=self.client,
            desk=app.desk,
            tickets=app.tickets,
            policy=app.policy,
            renderer=renderer,
            links=app.links,
            notifier=self.notifier,
            files=app.files,
            incidents=app.incidents,
            stats=app.stats,
        )
        app.relay.register(self.notifier)
        self._commands()
        self.client.event(self.on_interaction)
        self.client.event(self.on_message)

    @classmethod
    def from_app(cls, app: App, **options: Any) -> DiscordChannel:
        token = app.settings.discord_bot_token
        if token is None or not token.get_secret_value():
            raise ValueError("DISCORD_BOT_TOKEN is not set")
        return cls(app, token.get_secret_value(), **options)

    def card_lines(self, ticket: Ticket) -> list[Reply]:
        """A ticket's card with its SLA and quote lines, as of the desk's clock now;
        times in the department's zone."""
        schedule = self.app.tickets.schedule
        clock = schedule.clock(ticket, self.app.clock.now())
        tz = schedule.timezone(ticket.department)
        currency = self.app.policy.quote_currency
        return [card(ticket, tz), *service_lines(ticket, clock, tz, currency)]

    # -- commands ---------------------------------------------------------------------------

    def _commands(self) -> None:
        ctx = self.context
        t = self.app.translator
        group = app_commands.Group(name="ticket", description=text(t, "discord.command.ticket"))

        @group.command(name="new", description=text(t, "discord.command.ticket_new"))
        async def ticket_new(interaction: discord.Interaction) -> None:
            await customer.on_ticket_new(ctx, interaction)

        @group.command(name="list", description=text(t, "discord.command.ticket_list"))
        @app_commands.describe(
            which=text(t, "discord.option.which"), page=text(t, "discord.option.page")
        )
        @app_commands.choices(
            which=[
                app_commands.Choice(name=text(t, f"discord.filter.{name}"), value=name)
                for name in customer.LIST_FILTERS
            ]
        )
        async def ticket_list(
            interaction: discord.Interaction, which: str = "all", page: int = 1
        ) -> None:
            await customer.on_ticket_list(ctx, interaction, which, page)

        @group.command(name="show", description=text(t, "discord.command.ticket_show"))
        @app_commands.describe(number=text(t, "discord.option.number"))
        async def ticket_show(interaction: discord.Interaction, number: int) -> None:
            await customer.on_ticket_show(ctx, interaction, number)

        self.tree.add_command(group)

        @self.tree.command(name="link", description=text(t, "discord.command.link"))
        @app_commands.describe(code=text(t, "discord.option.code"))
        async def link(interaction: discord.Interaction, code: str = "") -> None:
            await customer.on_link(ctx, interaction, code)

        @self.tree.command(name="note", description=text(t, "discord.command.note"))
        @app_commands.describe(note=text(t, "discord.option.note"))
        @app_commands.guild_only()
        async def note(interaction: discord.Interaction, note: str) -> None:
            await team.on_note(ctx, interaction, note)

        @self.tree.command(name="quote", description=text(t, "discord.command.quote"))
        @app_commands.guild_only()
        async def quote(interaction: discord.Interaction) -> None:
            await team.on_quote(ctx, interaction)

        @self.tree.command(name="help", description=text(t, "discord.command.help"))
        @app_commands.describe(words=text(t, "discord.option.words"))
        async def help_(interaction: discord.Interaction, words: str = "") -> None:
            await customer.on_help(ctx, interaction, words)

        @self.tree.command(name="transcript", description=text(t, "discord.command.transcript"))
        @app_commands.rename(fmt="format")
        @app_commands.describe(fmt=text(t, "discord.option.format"))
        @app_commands.choices(fmt=[app_commands.Choice(name=name, value=name) for name in FORMATS])
        @app_commands.guild_only()
        async def transcript(interaction: discord.Interaction, fmt: str = "html") -> None:
            await team.on_transcript(ctx, interaction, fmt)

        @self.tree.command(name="find", description=text(t, "discord.command.find"))
        @app_commands.describe(words=text(t, "discord.option.words"))
        @app_commands.guild_only()
        async def find(interaction: discord.Interaction, words: str) -> None:
            await team.on_find(ctx, interaction, words)

        @self.tree.command(name="stats", description=text(t, "discord.command.stats"))
        @app_commands.describe(period=text(t, "discord.option.period"))
        @app_commands.choices(
            period=[app_commands.Choice(name=name, value=name) for name in PERIODS]
        )
        @app_commands.guild_only()
        async def stats(interaction: discord.Interaction, period: str = "7d") -> None:
            await team.on_stats(ctx, interaction, period)

        self.tree.add_command(self._incident_commands())

        @self.tree.context_menu(name="Escalate to ticket")
        @app_commands.guild_only()
        async def escalate(interaction: discord.Interaction, message: discord.Message) -> None:
            await community.on_escalate(ctx, interaction, message)

    def _incident_commands(self) -> app_commands.Group:
        """``/incident new|add|update|resolve|list``: the words of the terminal's and
        Telegram's ``/incident`` (``bot.incidents``)."""
        ctx = self.context
        t = self.app.translator
        group = app_commands.Group(
            name="incident",
            description=text(t, "discord.command.incident"),
            guild_only=True,
        )

        @group.command(name="new", description=text(t, "discord.command.incident_new"))
        @app_commands.describe(title=text(t, "discord.option.incident_title"))
        async def new(interaction: discord.Interaction, title: str) -> None:
            await team.on_incident(ctx, interaction, f"new {title}")

        @group.command(name="add", description=text(t, "discord.command.incident_add"))
        @app_commands.describe(numbers=text(t, "discord.option.numbers"))
        async def add(interaction: discord.Interaction, numbers: str) -> None:
            await team.on_incident(ctx, interaction, f"add {numbers}")

        @group.command(name="update", description=text(t, "discord.command.incident_update"))
        @app_commands.describe(update=text(t, "discord.option.incident_text"))
        async def update(interaction: discord.Interaction, update: str) -> None:
            await team.on_incident(ctx, interaction, f"update {update}")

        @group.command(name="resolve", description=text(t, "discord.command.incident_resolve"))
        @app_commands.describe(update=text(t, "discord.option.incident_text"))
        async def resolve(interaction: discord.Interaction, update: str = "") -> None:
            await team.on_incident(ctx, interaction, f"resolve {update}")

        @group.command(name="list", description=text(t, "discord.command.incident_list"))
        async def listed(interaction: discord.Interaction) -> None:
            await team.on_incident(ctx, interaction, "list")

        return group

    async def register_commands(self) -> None:
        """The commands in each configured guild (at once), or globally (Discord takes
        up to an hour to show global ones)."""
        await self.tree.set_translator(CatalogTranslator(self.app.translator))
        guilds = self.app.settings.discord_guilds
        if not guilds:
            await self.tree.sync()
            return
        for guild_id in guilds:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    # -- events -----------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Buttons, menus and forms (commands go through the command tree)."""
        ctx = self.context
        data: dict[str, Any] = interaction_data(interaction)
        custom_id = str(data.get("custom_id", ""))
        try:
            if interaction.type is discord.InteractionType.component:
                if custom_id.startswith(AGENT_PREFIX):
                    await team.on_card_button(ctx, interaction)
                elif custom_id == PANEL_ID:
                    await customer.on_ticket_new(ctx, interaction)
                elif custom_id.startswith(FORM_PREFIX):
                    await customer.on_form_button(ctx, interaction)
                elif custom_id.startswith(CHOICE_PREFIX + "resend:"):
                    await team.on_resend(ctx, interaction, custom_id[len(CHOICE_PREFIX) :])
                elif customer.is_choice(custom_id):
                    await customer.on_choice(ctx, interaction)
            elif interaction.type is discord.InteractionType.modal_submit:
                if custom_id.startswith(("agent.ask:", "agent.quote:")):
                    await team.on_agent_form(ctx, interaction)
                else:
                    await customer.on_form(ctx, interaction)
        except Exception:
            log.exception("interaction %s (%s) failed", interaction.id, custom_id)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None:
            return
        try:
            if message.guild is None:
                await customer.on_direct_message(self.context, message)
            elif team.in_team_channel(self.context, message.channel) or isinstance(
                message.channel, discord.PartialMessageable
            ):
                await team.on_thread_message(self.context, message)
        except Exception:
            log.exception("message %s in %s failed", message.id, message.channel.id)

    # -- running ----------------------------------------------------------------------------

    async def login(self) -> None:
        await self.client.login(self.token)

    async def run(self, stop: asyncio.Event, *, register: bool = True) -> None:
        """Serve the gateway until ``stop`` is set; a gateway that gives up by itself (a
        wrong token, intents not enabled) ends it with its error."""
        connection: asyncio.Task[None] | None = None
        stopping = asyncio.create_task(stop.wait())
        try:
            await self.login()
            if register:
                await self.register_commands()
            connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
            await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connection.done():
                connection.result()
        finally:
            stopping.cancel()
            await self.close()
            if connection is not None:
                # Closing the client ends the gateway loop; what it raised was said above.
                await asyncio.gather(connection, return_exceptions=True)

    async def deliver_only(self, stop: asyncio.Event) -> None:
        """Log in for REST alone and keep the notifier working until ``stop``."""
        try:
            await self.login()
            await stop.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if not self.client.is_closed():
            await self.client.close()

    async def send_panel(self, channel_id: int) -> int:
        """The "Open a ticket" panel message in a support channel; its id."""
        lang = self.app.policy.default_language
        renderer = self.context.renderer
        view = static_view(
            discord.ui.Button(
                label=renderer.label("discord.panel.button", lang),
                style=discord.ButtonStyle.primary,
                custom_id=PANEL_ID,
            )
        )
        channel = await self.client.fetch_channel(channel_id)
        message = await channel.send(renderer.text("discord.panel.text", lang), view=view)  # type: ignore[union-attr]
        return message.id


async def run_discord(app: App, stop: asyncio.Event) -> None:
    """Start the Discord channel on ``app`` and serve until ``stop`` is set."""
    await DiscordChannel.from_app(app).run(stop)


__all__ = ["CHANNEL", "DiscordChannel", "run_discord"]
