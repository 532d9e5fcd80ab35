"""Delivering outbox notifications on Discord (the channel's ``Notifier``).

Customers get the rendered message in their DM, with buttons where an answer is
expected, and any files an agent attached. A department's team channel gets a thread
per ticket: a private thread in a text channel, a post in a forum channel (tagged with
the ticket's status and priority when the forum has such tags), named ``#12 Title``
and opened by the ticket card, an embed with the agents' buttons that is edited on
every change. The thread is archived and locked when the ticket closes (or moves to a
department working elsewhere). References (thread, card) live in the ``LinkStore``.

Discord's answers map onto the relay's vocabulary: a 429 beyond what discord.py waits
out itself -> ``DeliveryError`` with ``retry_after``; server and network errors ->
``DeliveryError``; a user whose DMs are closed to the bot (50007), an unknown user or
channel -> ``RecipientUnreachable``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from typing import Any

import aiohttp
import discord

from bot.errors import TicketNotFound
from bot.files import DEFAULT_LIMITS, FileLimits, too_large
from bot.notification import Audience, Notification
from bot.ports import DeliveryError, LinkStore, RecipientUnreachable
from bot.reply import Reply, decode_params
from bot.ticket import Attachment, EntryKind, Status, Ticket
from bot.views import card, card_opening
from handlers.discord.cards import card_view
from handlers.discord.render import CHANNEL, EMBED_LIMIT, Renderer, split_text

log = logging.getLogger(__name__)

TicketReader = Callable[[int], Awaitable[Ticket]]
CardLines = Callable[[Ticket], list[Reply]]
# The departments working in a team channel (a card elsewhere keeps no buttons).
ChannelDepartments = Callable[[int], Collection[str]]
# The desk's copy of a file (``bot.ports.FileStore.get``), None if unknown.
FileReader = Callable[[str], Awaitable[bytes | None]]
# A download link to the desk's copy (``bot.ports.FileStore.link``), None if none.
FileLinker = Callable[[str, str], Awaitable[str | None]]

# LinkStore kinds (stable: stored in the database).
KIND_THREAD = "thread"  # key "<number>:<channel>" -> "<thread id>"
KIND_CARD = "card"  # key "<number>:<channel>" -> "<thread>:<message>#<fingerprint>"
KIND_SENT = "sent"  # key notification id -> parts already delivered

THREAD_NAME_LIMIT = 100
OPENING = "team.ticket_opened"
# Discord error codes.
CANNOT_DM = 50007
UNKNOWN_CHANNEL = 10003
UNKNOWN_USER = 10013
_UNREACHABLE = frozenset({CANNOT_DM, UNKNOWN_CHANNEL, UNKNOWN_USER})
_FILES_FROM = {"notice.answer": EntryKind.AGENT, "team.customer_wrote": EntryKind.CUSTOMER}
# Forum tags the notifier keeps on a post, by name (a forum without them gets none).
STATUS_TAGS = {status: f"status-{status.value}" for status in Status}
PRIORITY_TAG = "priority-{name}"


def thread_name(ticket: Ticket) -> str:
    return ticket.label[:THREAD_NAME_LIMIT]


def ticket_key(number: int, channel_id: int) -> str:
    return f"{number}:{channel_id}"


def _fingerprint(embed: discord.Embed, view: discord.ui.View | None) -> str:
    shown = repr(embed.to_dict()) + repr(view.to_components() if view else None)
    return hashlib.blake2b(shown.encode(), digest_size=8).hexdigest()


class DiscordNotifier:
    """``bot.ports.Notifier`` for channel ``discord``."""

    channel = CHANNEL

    def __init__(
        self,
        client: discord.Client,
        renderer: Renderer,
        links: LinkStore,
        tickets: TicketReader,
        *,
        team_language: str = "en",
        card_lines: CardLines | None = None,
        channel_departments: ChannelDepartments | None = None,
        files: FileReader | None = None,
        file_link: FileLinker | None = None,
        limits: FileLimits = DEFAULT_LIMITS,
    ) -> None:
        self.client = client
        self.file_link = file_link
        self.limits = limits
        self.renderer = renderer
        self.links = links
        self.tickets = tickets
        self.team_language = team_language
        self.card_lines = card_lines
        self.channel_departments = channel_departments
        self.files = files

    # -- entry point --------------------------------------------------------------------

    async def deliver(self, notification: Notification) -> None:
        with as_delivery():
            if notification.audience is Audience.COMMUNITY:
                await self._to_community(notification)
            elif notification.audience is Audience.TEAM and notification.ticket_number:
                await self._to_team(notification, _snowflake(notification.recipient))
            else:
                await self._to_customer(notification, _snowflake(notification.recipient))

    # -- customers ------------------------------------------------------------------------

    async def dm(self, user_id: int) -> discord.DMChannel:
        return await self.client.create_dm(discord.Object(user_id))

    async def _to_customer(self, n: Notification, user_id: int) -> None:
        channel = await self.dm(user_id)
        reply = Reply(n.key, decode_params(n.params), n.choices)
        rendered = self.renderer.reply(reply, n.locale)
        await self.renderer.codec.save()
        done = await self._progress(n)
        for i, part in enumerate(rendered.parts):
            if i < done:
                continue
            last = i == len(rendered.parts) - 1
            view = rendered.view if last and rendered.view else discord.utils.MISSING
            await channel.send(part, view=view)
            await self._advance(n, i + 1)
        step = len(rendered.parts) + 1
        files = await self._entry_files(n)
        if files and step > done:
            await self.send_files(channel, files, n.locale)
            await self._advance(n, step)

    # -- community ------------------------------------------------------------------------

    async def _to_community(self, n: Notification) -> None:
        channel_id, _, message_id = n.recipient.partition(":")
        if not (channel_id.isdigit() and message_id.isdigit()):
            raise RecipientUnreachable(f"not a Discord message reference: {n.recipient!r}")
        if await self._progress(n):
            return
        channel = await self._channel(int(channel_id))
        text = self.renderer.reply(Reply(n.key, decode_params(n.params)), n.locale).parts[0]
        reference = discord.MessageReference(
            message_id=int(message_id), channel_id=int(channel_id), fail_if_not_exists=False
        )
        await channel.send(text, reference=reference)
        await self._advance(n, 1)

    # -- teams --------------------------------------------------------------------------------

    async def _to_team(self, n: Notification, channel_id: int) -> None:
        assert n.ticket_number is not None
        try:
            ticket: Ticket | None = await self.tickets(n.ticket_number)
        except TicketNotFound:
            ticket = None
        done = await self._progress(n)
        thread: discord.Thread | None = None
        opening_on_card = False
        if ticket is not None:
            thread, opening_on_card = await self.thread(channel_id, ticket)
        if thread is None:
            return  # no ticket: nothing to say it in
        rendered = self.renderer.reply(Reply(n.key, decode_params(n.params), n.choices), n.locale)
        parts = rendered.parts
        if n.key == OPENING and opening_on_card:
            parts = ()  # the card just sent says all of it
        files = await self._files_of(n, ticket)
        if (thread.archived or thread.locked) and (len(parts) > done or files):
            # News after the ticket closed (or moved away): said in its thread, which
            # is closed again below.
            thread = await thread.edit(archived=False, locked=False)
        for i, part in enumerate(parts):
            if i < done:
                continue
            last = i == len(parts) - 1
            view = rendered.view if last and rendered.view else discord.utils.MISSING
            await self.renderer.codec.save()
            await self._send_in(thread, part, view)
            await self._advance(n, i + 1)
        if files and len(parts) + 1 > done:
            await self.send_files(thread, files, n.locale)
            await self._advance(n, len(parts) + 1)
        if ticket is not None and not self._active_here(channel_id, ticket):
            await self.close_thread(thread)

    async def thread(self, channel_id: int, ticket: Ticket) -> tuple[discord.Thread, bool]:
        """The ticket's thread in a team channel (made, with its card, the first time),
        its card brought up to date; and whether the card was just sent with the whole
        opening on it."""
        assert ticket.number is not None
        key = ticket_key(ticket.number, channel_id)
        found = await self.links.get(CHANNEL, KIND_THREAD, key)
        if found is not None and found.isdigit():
            thread = await self._channel(int(found))
            assert isinstance(thread, discord.Thread)
            await self.refresh_card(channel_id, ticket, thread)
            return thread, False
        parent = await self._channel(channel_id)
        embed, with_opening = self._card_embed(ticket)
        view = self._card_view(channel_id, ticket)
        name = thread_name(ticket)
        if isinstance(parent, discord.ForumChannel):
            created = await parent.create_thread(
                name=name,
                embed=embed,
                view=view or discord.utils.MISSING,
                applied_tags=self._tags(parent, ticket),
            )
            thread, message = created.thread, created.message
        elif isinstance(parent, discord.TextChannel):
            thread = await parent.create_thread(
                name=name, type=discord.ChannelType.private_thread, invitable=False
            )
            message = await thread.send(embed=embed, view=view or discord.utils.MISSING)
        else:
            raise RecipientUnreachable(f"channel {channel_id} is no text or forum channel")
        await self.links.set(CHANNEL, KIND_THREAD, key, str(thread.id))
        await self.links.set(
            CHANNEL, KIND_CARD, key, f"{thread.id}:{message.id}#{_fingerprint(embed, view)}"
        )
        return thread, with_opening

    async def refresh_card(
        self, channel_id: int, ticket: Ticket, thread: discord.Thread | None = None
    ) -> None:
        """Edit the ticket's card (and a forum post's tags) to what the ticket is now,
        if that changed; nothing when the ticket has no card in this channel."""
        assert ticket.number is not None
        key = ticket_key(ticket.number, channel_id)
        found = await self.links.get(CHANNEL, KIND_CARD, key)
        if found is None:
            return
        where, _, shown = found.partition("#")
        thread_id, _, message_id = where.partition(":")
        embed, _ = self._card_embed(ticket, keep_opening=True)
        view = self._card_view(channel_id, ticket)
        fingerprint = _fingerprint(embed, view)
        if fingerprint == shown:
            return
        if thread is None:
            channel = await self._channel(int(thread_id))
            assert isinstance(channel, discord.Thread)
            thread = channel
        message = thread.get_partial_message(int(message_id))
        if thread.archived and not thread.locked:
            await thread.edit(archived=False)
        await message.edit(embed=embed, view=view)
        parent = thread.parent
        if isinstance(parent, discord.ForumChannel):
            tags = self._tags(parent, ticket)
            if {t.id for t in tags} != {t.id for t in thread.applied_tags}:
                await thread.edit(applied_tags=tags)
        await self.links.set(CHANNEL, KIND_CARD, key, f"{where}#{fingerprint}")

    async def close_thread(self, thread: discord.Thread) -> None:
        """Closed (or moved away): nobody acts here any more."""
        if not (thread.archived and thread.locked):
            await thread.edit(archived=True, locked=True)

    def _card_embed(
        self, ticket: Ticket, keep_opening: bool = False
    ) -> tuple[discord.Embed, bool]:
        """The card as an embed: the ticket and its service levels, then what the
        customer wrote when it all fits (and whether it did)."""
        lang = self.team_language
        # The channel's card (times in the department's zone), or a bare one.
        lines = self.card_lines(ticket) if self.card_lines else [card(ticket)]
        text = "\n".join(self.renderer.reply(line, lang).parts[0] for line in lines)
        opening = "\n".join(self.renderer.reply(card_opening(ticket), lang).parts)
        with_opening = len(text) + 2 + len(opening) <= EMBED_LIMIT
        if with_opening:
            text = f"{text}\n\n{opening}"
        colour = discord.Colour.green() if ticket.is_open else discord.Colour.dark_grey()
        embed = discord.Embed(title=ticket.label[:256], description=text[:EMBED_LIMIT])
        embed.colour = discord.Colour.red() if ticket.critical else colour
        return embed, with_opening

    def _card_view(self, channel_id: int, ticket: Ticket) -> discord.ui.View | None:
        if not self._works_here(channel_id, ticket):
            return None  # transferred away: this channel no longer works on it
        return card_view(self.renderer, ticket, self.team_language)

    def _tags(self, forum: discord.ForumChannel, ticket: Ticket) -> list[discord.ForumTag]:
        wanted = {
            STATUS_TAGS[ticket.status],
            PRIORITY_TAG.format(name=ticket.priority.name.lower()),
        }
        return [tag for tag in forum.available_tags if tag.name in wanted][:5]

    def _works_here(self, channel_id: int, ticket: Ticket) -> bool:
        return not self.channel_departments or ticket.department in self.channel_departments(
            channel_id
        )

    def _active_here(self, channel_id: int, ticket: Ticket) -> bool:
        return ticket.is_open and self._works_here(channel_id, ticket)

    async def _send_in(
        self, thread: discord.Thread, text: str | None, view: Any
    ) -> discord.Message:
        return await thread.send(text, view=view)

    # -- files ------------------------------------------------------------------------------

    def upload_limit(self, channel: Any) -> int:
        """What the bot may upload here: a server's own limit (more with boosts), the
        policy's for DMs."""
        guild = getattr(channel, "guild", None)
        limit = self.limits.sendable(CHANNEL)
        return max(limit, guild.filesize_limit) if guild is not None else limit

    async def send_files(
        self, channel: discord.abc.Messageable, files: list[Attachment], lang: str
    ) -> None:
        """The files, ten to a message; one over the upload limit here is said instead
        (with a download link when the store makes links)."""
        uploads, notices = await self._uploads(files, self.upload_limit(channel), lang)
        for notice in notices:
            await channel.send(notice)
        for start in range(0, len(uploads), 10):
            await channel.send(files=uploads[start : start + 10])

    async def _uploads(
        self, files: list[Attachment], limit: int, lang: str
    ) -> tuple[list[discord.File], list[str]]:
        out: list[discord.File] = []
        notices: list[str] = []
        for attachment in files:
            if attachment.size > limit and attachment.stored:
                notices += await self._too_large(attachment, attachment.size, limit, lang)
                continue
            data = await self.read(attachment)
            if data is None:
                log.warning("file %s has no copy to send on Discord", attachment.file_name)
            elif len(data) > limit:
                notices += await self._too_large(attachment, len(data), limit, lang)
            else:
                out.append(discord.File(io.BytesIO(data), attachment.file_name or "file"))
        return out, notices

    async def _too_large(
        self, attachment: Attachment, size: int, limit: int, lang: str
    ) -> list[str]:
        link = None
        if attachment.stored and self.file_link is not None:
            link = await self.file_link(attachment.stored, attachment.file_name)
        return list(self.renderer.reply(too_large(attachment, size, limit, link), lang).parts)

    async def read(self, attachment: Attachment) -> bytes | None:
        """A file's bytes: the desk's copy, else Discord's CDN for a Discord file."""
        if attachment.stored and self.files is not None:
            data = await self.files(attachment.stored)
            if data is not None:
                return data
        if attachment.platform == CHANNEL and attachment.file_ref.startswith("http"):
            return await download(attachment.file_ref, self.limits.store)
        return None

    async def _files_of(self, n: Notification, ticket: Ticket | None) -> list[Attachment]:
        if ticket is not None and n.key == OPENING:
            return list(ticket.attachments)
        return await self._entry_files(n, ticket)

    async def _entry_files(
        self, n: Notification, ticket: Ticket | None = None
    ) -> list[Attachment]:
        """The files of the thread entry this notification announces."""
        kind = _FILES_FROM.get(n.key)
        if kind is None or not n.params.get("files") or n.ticket_number is None:
            return []
        if ticket is None:
            try:
                ticket = await self.tickets(n.ticket_number)
            except TicketNotFound:
                return []
        index = n.params.get("entry")
        if isinstance(index, int | str) and str(index).isdigit():
            at = int(index)
            if at < len(ticket.entries) and ticket.entries[at].kind is kind:
                return list(ticket.entries[at].attachments)
        return []

    # -- bookkeeping --------------------------------------------------------------------------

    async def _channel(self, channel_id: int) -> Any:
        found = self.client.get_channel(channel_id)
        return found if found is not None else await self.client.fetch_channel(channel_id)

    async def _progress(self, n: Notification) -> int:
        value = await self.links.get(CHANNEL, KIND_SENT, n.id)
        return int(value) if value and value.isdigit() else 0

    async def _advance(self, n: Notification, parts: int) -> None:
        await self.links.set(CHANNEL, KIND_SENT, n.id, str(parts))


async def download(url: str, limit: int) -> bytes | None:
    """A file from Discord's CDN (at most ``limit`` bytes); None when it is gone."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if response.status != 200:
            log.warning("file %s not downloaded: HTTP %s", url, response.status)
            return None
        # ``read(n)`` returns what has arrived, up to n: read to the end.
        data = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            data += chunk
            if len(data) > limit:
                log.warning("file %s not downloaded: over %s bytes", url, limit)
                return None
        return bytes(data)


@contextlib.contextmanager
def as_delivery() -> Iterator[None]:
    """Discord's errors in the relay's vocabulary."""
    try:
        yield
    except discord.RateLimited as exc:
        raise DeliveryError(str(exc), retry_after=exc.retry_after) from exc
    except discord.HTTPException as exc:
        if exc.code in _UNREACHABLE:
            raise RecipientUnreachable(str(exc)) from exc
        raise DeliveryError(str(exc)) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise DeliveryError(str(exc)) from exc


def _snowflake(recipient: str) -> int:
    value = recipient.rpartition(":")[2]
    if not value.isdigit():
        raise RecipientUnreachable(f"not a Discord id: {recipient!r}")
    return int(value)


__all__ = ["DiscordNotifier", "split_text"]
