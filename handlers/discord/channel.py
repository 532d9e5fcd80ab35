"""Starting the Discord channel: client, commands, notifier, gateway.

``DiscordChannel.from_app(app)`` builds everything from ``app.settings``
(``DISCORD_BOT_TOKEN``, ``DISCORD_APPLICATION_ID``, ``DISCORD_GUILD_IDS``,
``DISCORD_API_URL``) and registers the notifier with the outbox relay;
``await channel.run(stop)`` logs in, registers the commands in the configured guilds
(every guild when none is named) and serves the gateway until ``stop`` is set. In a
fleet the receiver (``run(stop, work=False)``) acknowledges interactions and queues
the events (``handlers.discord.receiver``), and each worker (``run(stop,
receive=False)``) logs in for REST alone, handles them (``handlers.discord.worker``)
and delivers Discord's notifications.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.choice_codec import CHOICE_PREFIX
from bot.ports import UpdateQueue
from bot.reply import Reply
from bot.stats import PERIODS
from bot.ticket import Ticket
from bot.transcript import FORMATS
from bot.views import card, service_lines
from bot.worker import Worker
from handlers.discord import community, customer, team
from handlers.discord.cards import Action, AgentButton
from handlers.discord.client import intents, point_at
from handlers.discord.context import DiscordContext, interaction_data
from handlers.discord.delivery import DiscordNotifier
from handlers.discord.receiver import GatewayReceiver
from handlers.discord.render import (
    AGENT_PREFIX,
    CHANNEL,
    FORM_PREFIX,
    CustomIdCodec,
    Renderer,
    static_view,
)
from handlers.discord.worker import feeder

if TYPE_CHECKING:
    from bot.app import App
    from bot.i18n import Translator

log = logging.getLogger(__name__)

# The panel's button: starts an intake like /ticket new.
PANEL_ID = "p:new"
# The moderators' message command, and the type of a message command's data.
ESCALATE = "Escalate to ticket"
MESSAGE_COMMAND = 3
# A sub-command and a sub-command group among a command's options.
SUB_COMMANDS = (1, 2)
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


def command_of(data: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A slash command's path (``("ticket", "list")``) and its options by name, from
    the interaction's data."""
    path = [str(data.get("name", ""))]
    options: list[dict[str, Any]] = list(data.get("options") or [])
    while options and options[0].get("type") in SUB_COMMANDS:
        path.append(str(options[0].get("name", "")))
        options = list(options[0].get("options") or [])
    return tuple(path), {str(o.get("name")): o.get("value") for o in options}


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
        # A fleet's receiver: events go to the update queue, not to the handlers.
        self.receiving_only = False
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

        @self.tree.context_menu(name=ESCALATE)
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
        try:
            await self.route_interaction(interaction)
        except Exception:
            custom_id = interaction_data(interaction).get("custom_id", "")
            log.exception("interaction %s (%s) failed", interaction.id, custom_id)

    async def route_interaction(self, interaction: discord.Interaction) -> None:
        """A button, menu or form to its handler; what fails is raised."""
        ctx = self.context
        data: dict[str, Any] = interaction_data(interaction)
        custom_id = str(data.get("custom_id", ""))
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
        elif interaction.type is discord.InteractionType.application_command:
            await self.route_command(interaction)

    async def route_command(self, interaction: discord.Interaction) -> None:
        """A slash or message command to its handler, read from the interaction's own
        data (a worker has no command tree running; the gateway's tree calls the same
        handlers)."""
        ctx = self.context
        data = interaction_data(interaction)
        if data.get("type") == MESSAGE_COMMAND:
            if data.get("name") == ESCALATE:
                message = self.target_message(interaction, data)
                if message is not None:
                    await community.on_escalate(ctx, interaction, message)
            return
        path, options = command_of(data)

        def option(name: str, default: str = "") -> str:
            return str(options.get(name, default))

        match path:
            case ("ticket", "new"):
                await customer.on_ticket_new(ctx, interaction)
            case ("ticket", "list"):
                page = options.get("page", 1)
                await customer.on_ticket_list(
                    ctx, interaction, option("which", "all"), page if isinstance(page, int) else 1
                )
            case ("ticket", "show"):
                number = options.get("number", 0)
                await customer.on_ticket_show(
                    ctx, interaction, number if isinstance(number, int) else 0
                )
            case ("link",):
                await customer.on_link(ctx, interaction, option("code"))
            case ("help",):
                await customer.on_help(ctx, interaction, option("words"))
            case ("note",):
                await team.on_note(ctx, interaction, option("note"))
            case ("quote",):
                await team.on_quote(ctx, interaction)
            case ("transcript",):
                await team.on_transcript(ctx, interaction, option("format", "html"))
            case ("find",):
                await team.on_find(ctx, interaction, option("words"))
            case ("stats",):
                await team.on_stats(ctx, interaction, option("period", "7d"))
            case ("incident", "new"):
                await team.on_incident(ctx, interaction, f"new {option('title')}")
            case ("incident", "add"):
                await team.on_incident(ctx, interaction, f"add {option('numbers')}")
            case ("incident", "update"):
                await team.on_incident(ctx, interaction, f"update {option('update')}")
            case ("incident", "resolve"):
                await team.on_incident(ctx, interaction, f"resolve {option('update')}")
            case ("incident", "list"):
                await team.on_incident(ctx, interaction, "list")
            case _:
                log.warning("unknown command %s", " ".join(path))

    def target_message(
        self, interaction: discord.Interaction, data: dict[str, Any]
    ) -> discord.Message | None:
        """The message a message command was used on, from the interaction's resolved
        data (as discord.py's command tree builds it)."""
        target = str(data.get("target_id", ""))
        raw = (data.get("resolved") or {}).get("messages", {}).get(target)
        if not isinstance(raw, dict):
            return None
        where = self.client.get_partial_messageable(
            int(raw["channel_id"]), guild_id=interaction.guild_id
        )
        message = discord.Message(state=self.client._connection, channel=where, data=raw)  # type: ignore[arg-type]
        message.guild = interaction.guild
        return message

    async def on_message(self, message: discord.Message) -> None:
        if self.receiving_only:
            return  # the receiver queued it for a worker
        try:
            await self.route_message(message, in_guild=message.guild is not None)
        except Exception:
            log.exception("message %s in %s failed", message.id, message.channel.id)

    async def route_message(self, message: discord.Message, *, in_guild: bool) -> None:
        """A customer's DM or a message in a team channel's thread to its handler."""
        if message.author.bot or message.webhook_id is not None:
            return
        if not in_guild:
            await customer.on_direct_message(self.context, message)
        elif team.in_team_channel(self.context, message.channel) or isinstance(
            message.channel, discord.PartialMessageable
        ):
            await team.on_thread_message(self.context, message)

    # -- the receiver's first answer ------------------------------------------------------------

    async def acknowledge(self, interaction: discord.Interaction) -> bool:
        """The first answer to an interaction, in the process holding the gateway (Discord
        allows three seconds): the deferral its handler would make, so that a worker can
        follow up; True when a worker is to handle it. A form that must be the first
        answer (a button or ``/quote`` opening a modal) is shown here, and that is all
        the interaction needs (False)."""
        ctx = self.context
        data = interaction_data(interaction)
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is discord.InteractionType.application_command:
            if data.get("type") == MESSAGE_COMMAND:
                await ctx.defer(interaction)
                return True
            path, options = command_of(data)
            public = False
            if path == ("quote",):
                await team.on_quote(ctx, interaction)
                return False
            if path == ("transcript",):
                fmt = str(options.get("format", "html"))
                public = not isinstance(await team.transcript_for(ctx, interaction, fmt), Reply)
            elif path == ("stats",):
                period = str(options.get("period", "7d"))
                public = team.stats_for(ctx, interaction, period) is not None
            elif path[:1] == ("incident",):
                public = team.here(ctx, interaction.user, interaction.channel) is not None
            await ctx.defer(interaction, public=public)
            return True
        if interaction.type is discord.InteractionType.component:
            if custom_id.startswith(AGENT_PREFIX):
                picked = (data.get("values") or [""])[0]
                button = AgentButton.parse(custom_id, str(picked))
                if button is not None and button.action in (Action.ASK, Action.QUOTE):
                    await team.on_card_button(ctx, interaction)
                    return False
                menu = button is not None and button.action in (Action.DECLINE, Action.TRANSFER)
                await ctx.defer(interaction, update=not menu)
                return True
            if custom_id.startswith(FORM_PREFIX):
                await customer.on_form_button(ctx, interaction)
                return False
            if custom_id == PANEL_ID:
                await ctx.defer(interaction)
                return True
            if custom_id.startswith(CHOICE_PREFIX + "resend:") or customer.is_choice(custom_id):
                await ctx.defer(interaction, update=True)
                return True
            return False
        if interaction.type is discord.InteractionType.modal_submit:
            agents = custom_id.startswith(("agent.ask:", "agent.quote:"))
            await ctx.defer(interaction, update=not agents and interaction.message is not None)
            return True
        return False

    # -- running ----------------------------------------------------------------------------

    async def login(self) -> None:
        await self.client.login(self.token)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        register: bool = True,
        receive: bool = True,
        work: bool = True,
    ) -> None:
        """Serve until ``stop`` is set. Both (one process, ``make run``): the gateway, its
        events handled here. ``receive`` alone (a fleet's receiver): the gateway, its
        events acknowledged and queued (``handlers.discord.receiver``). ``work`` alone (a
        fleet's worker): REST only, the queued events handled (``handlers.discord.worker``)
        and the relay's notifications delivered. A gateway that gives up by itself (a
        wrong token, intents not enabled) ends it with its error."""
        connection: asyncio.Task[None] | None = None
        receiver: GatewayReceiver | None = None
        stopping = asyncio.create_task(stop.wait())
        try:
            await self.login()
            if not receive:
                await self._work(stop)
                return
            if not work:
                receiver = GatewayReceiver(self, self.update_queue())
                receiver.install()
                self.receiving_only = True
            if register:
                await self.register_commands()
            connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
            await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if connection.done():
                connection.result()
        finally:
            stopping.cancel()
            if receiver is not None:
                await receiver.drain()
            await self.close()
            if connection is not None:
                # Closing the client ends the gateway loop; what it raised was said above.
                await asyncio.gather(connection, return_exceptions=True)

    def update_queue(self) -> UpdateQueue:
        """This bot's queue between its receiver and workers (after ``login``)."""
        return self.app.update_queue(CHANNEL, self.context.bot_id)

    async def _work(self, stop: asyncio.Event) -> None:
        settings = self.app.settings
        worker = Worker(
            self.update_queue(),
            feeder(self),
            batch_size=settings.update_batch_size,
            poll=settings.update_poll_seconds,
            lease=settings.update_lease_seconds,
            max_attempts=settings.update_max_attempts,
        )
        await worker.run(stop)

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
