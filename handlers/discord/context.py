"""What every Discord handler needs, built once per channel and passed to handlers:
who is who (participants, agents and moderators by their roles), what an update is,
and how to answer an interaction in time."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import discord

from bot.desk import Desk
from bot.errors import DeskError
from bot.i18n import pick_language
from bot.incidents import IncidentService
from bot.inputs import UpdateRef
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import FileStore, LinkStore
from bot.reply import Reply
from bot.stats import StatsService
from bot.ticket import Attachment
from bot.tickets import TicketService
from handlers.discord.delivery import DiscordNotifier, download
from handlers.discord.render import CHANNEL, Rendered, Renderer

log = logging.getLogger(__name__)

# ``Interaction.extras`` key: the receiver acknowledged it (a worker only follows up).
ACKNOWLEDGED = "acknowledged"


def participant(user: discord.abc.User) -> Participant:
    return Participant(CHANNEL, str(user.id))


def interaction_data(interaction: discord.Interaction) -> dict[str, Any]:
    """The interaction's raw ``data`` (custom id, values, submitted components)."""
    data: Any = interaction.data
    return dict(data) if isinstance(data, dict) else {}


def role_ids(user: discord.abc.User) -> frozenset[str]:
    """The ids of the roles a guild member has (none outside a guild): the ids the
    interaction or message carried (``member.roles``), not the guild's cache, which only
    a gateway connection fills (a worker has none)."""
    if not isinstance(user, discord.Member):
        return frozenset()
    return frozenset(str(role_id) for role_id in user._roles)


@dataclass
class DiscordContext:
    client: discord.Client
    desk: Desk
    tickets: TicketService
    policy: DeskPolicy
    renderer: Renderer
    links: LinkStore
    notifier: DiscordNotifier
    # The desk's file store: a copy of every file received, for the other channels
    # (and for Discord itself: its attachment links expire).
    files: FileStore | None = None
    # Agents' /incident and leads' /stats (None: not offered).
    incidents: IncidentService | None = None
    stats: StatsService | None = None

    # -- who is who -------------------------------------------------------------------------

    @property
    def bot_id(self) -> str:
        return str(self.client.application_id or (self.client.user and self.client.user.id))

    def team_channels(self) -> dict[int, list[str]]:
        """Team channel id -> the departments working there."""
        out: dict[int, list[str]] = {}
        for dept in self.policy.departments.values():
            for ref in dept.team_channels.get(CHANNEL, ()):
                if ref.isdigit():
                    out.setdefault(int(ref), []).append(dept.key)
        return out

    def agent(self, user: discord.abc.User) -> Actor:
        """The agent acting: departments whose agent role they have; a lead (by role
        or as a configured participant) serves all. The core authorises every action."""
        who = participant(user)
        roles = role_ids(user)
        departments = frozenset(
            dept.key
            for dept in self.policy.departments.values()
            if roles & dept.agent_roles.get(CHANNEL, frozenset())
        )
        lead = who.key in self.policy.leads or bool(
            roles & self.policy.lead_roles.get(CHANNEL, frozenset())
        )
        return Actor(who, user.display_name, Role.AGENT, departments, lead=lead)

    def moderator(self, user: discord.abc.User) -> Actor | None:
        """A member with a moderator (or lead) role, or a configured moderator or lead;
        None for anyone else."""
        who = participant(user)
        roles = role_ids(user)
        allowed = self.policy.moderator_roles.get(
            CHANNEL, frozenset()
        ) | self.policy.lead_roles.get(CHANNEL, frozenset())
        if who.key in self.policy.moderators or who.key in self.policy.leads or roles & allowed:
            return Actor(who, user.display_name, Role.MODERATOR)
        return None

    async def moderator_of(self, user: discord.abc.User) -> Actor | None:
        """``moderator``, or someone the policy lists as a moderator or lead on another
        platform whose participant they linked (``/link``)."""
        actor = self.moderator(user)
        if actor is None and await self.tickets.is_moderator(participant(user)):
            actor = Actor(participant(user), user.display_name, Role.MODERATOR)
        return actor

    def locale(self, interaction: discord.Interaction) -> str:
        """The member's Discord language as the desk knows it (en, cs, pl, ru)."""
        return pick_language(str(interaction.locale), self.policy.languages)

    async def keep(self, files: Sequence[Attachment]) -> list[Attachment]:
        """The files with the desk's copy of each (downloaded from Discord's CDN); one
        that cannot be fetched now stays a link to Discord."""
        if self.files is None:
            return list(files)
        out: list[Attachment] = []
        limit = self.policy.files.accepted(CHANNEL)
        for attachment in files:
            # One over the limit is refused by the desk (told by name and limit).
            data = await download(attachment.file_ref, limit) if attachment.size <= limit else None
            if data is None:
                out.append(attachment)
                continue
            out.append(replace(attachment, stored=await self.files.put(data)))
        return out

    # -- what an update is ---------------------------------------------------------------

    def interaction_ref(self, interaction: discord.Interaction, part: str = "") -> UpdateRef:
        """An interaction's identity (Discord gives each one its own id)."""
        return UpdateRef(CHANNEL, self.bot_id, f"i:{interaction.id}{part}")

    def message_ref(self, message: discord.Message) -> UpdateRef:
        return UpdateRef(CHANNEL, self.bot_id, f"m:{message.channel.id}:{message.id}")

    # -- answering ------------------------------------------------------------------------

    async def defer(
        self, interaction: discord.Interaction, *, update: bool = False, public: bool = False
    ) -> None:
        """Acknowledge at once (Discord allows three seconds for the first answer); the
        answer follows. ``update``: a press on a message, which may be edited in place;
        otherwise a "thinking" answer, private in a server unless ``public`` (what the
        whole team channel should see: a dashboard, a transcript). An interaction the
        receiver acknowledged already (a worker's) is left as it is."""
        if interaction.response.is_done() or interaction.extras.get(ACKNOWLEDGED):
            return
        if update:
            await interaction.response.defer()
        else:
            await interaction.response.defer(
                ephemeral=interaction.guild is not None and not public, thinking=True
            )

    async def send(
        self,
        interaction: discord.Interaction,
        replies: Sequence[Reply],
        lang: str,
        *,
        public: bool = False,
    ) -> None:
        """Replies to an interaction, after ``defer``: private in a server unless
        ``public``."""
        rendered = self.renderer.replies(replies, lang)
        await self.renderer.codec.save()
        await self.send_rendered(interaction, rendered, public=public)

    async def send_rendered(
        self,
        interaction: discord.Interaction,
        rendered: Sequence[Rendered],
        *,
        public: bool = False,
    ) -> None:
        private = interaction.guild is not None and not public
        for item in rendered:
            for i, part in enumerate(item.parts):
                last = i == len(item.parts) - 1
                view = item.view if last and item.view is not None else discord.utils.MISSING
                await interaction.followup.send(part, view=view, ephemeral=private)

    async def send_file(
        self, interaction: discord.Interaction, caption: str, data: bytes, name: str
    ) -> None:
        """A file (a chart, a transcript) with a caption, as a public answer in the
        channel the interaction came from (after ``defer(public=True)``)."""
        await interaction.followup.send(caption, file=discord.File(io.BytesIO(data), name))

    async def show_instead(
        self, interaction: discord.Interaction, replies: Sequence[Reply], lang: str
    ) -> bool:
        """Edit the message whose button was pressed to show ``replies`` (another page
        of a list); False when they do not fit one message."""
        rendered = self.renderer.replies(replies, lang)
        if len(rendered) != 1 or len(rendered[0].parts) != 1:
            return False
        await self.renderer.codec.save()
        await interaction.edit_original_response(
            content=rendered[0].parts[0], view=rendered[0].view
        )
        return True

    async def say(
        self, channel: discord.abc.Messageable, replies: Sequence[Reply], lang: str
    ) -> None:
        """Replies into a channel (a DM, a thread)."""
        for item in self.renderer.replies(replies, lang):
            await self.renderer.codec.save()
            for i, part in enumerate(item.parts):
                last = i == len(item.parts) - 1
                view = item.view if last and item.view is not None else discord.utils.MISSING
                await channel.send(part, view=view)

    def error_reply(self, exc: DeskError) -> Reply:
        return Reply(exc.key, {k: v for k, v in exc.params.items() if isinstance(v, str | int)})
