"""What every Telegram handler needs, built once per channel and passed to handlers."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup, Message, ReplyParameters

from bot.desk import Desk
from bot.errors import DeskError
from bot.participant import Actor, Participant, Role
from bot.policy import DeskPolicy
from bot.ports import LinkStore, RateLimiter
from bot.reply import Reply
from bot.tickets import TicketService
from handlers.telegram.delivery import TelegramNotifier
from handlers.telegram.inbound import AlbumCollector, ChatLocks
from handlers.telegram.render import CHANNEL, Renderer

log = logging.getLogger(__name__)

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})


@dataclass(frozen=True, slots=True)
class Tuning:
    """Channel knobs: album collection time, the per-user flood limit, caches."""

    album_wait: float = 1.0
    flood_limit: int = 20
    flood_window: float = 60.0
    membership_ttl: float = 60.0


@dataclass
class TelegramContext:
    bot: Bot
    desk: Desk
    tickets: TicketService
    policy: DeskPolicy
    renderer: Renderer
    links: LinkStore
    limiter: RateLimiter
    notifier: TelegramNotifier
    tuning: Tuning = field(default_factory=Tuning)
    albums: AlbumCollector = field(default_factory=AlbumCollector)
    locks: ChatLocks = field(default_factory=ChatLocks)
    _members: dict[tuple[int, int], tuple[float, str]] = field(default_factory=dict)

    # -- who is who -------------------------------------------------------------------------

    def team_chats(self) -> dict[int, list[str]]:
        """Team chat id -> the departments working there."""
        out: dict[int, list[str]] = {}
        for dept in self.policy.departments.values():
            ref = dept.team_channels.get(CHANNEL)
            if ref and ref.lstrip("-").isdigit():
                out.setdefault(int(ref), []).append(dept.key)
        return out

    async def member_status(self, chat_id: int, user_id: int) -> str:
        now = time.monotonic()
        cached = self._members.get((chat_id, user_id))
        if cached is not None and now - cached[0] < self.tuning.membership_ttl:
            return cached[1]
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
            status = str(getattr(member.status, "value", member.status))
        except TelegramAPIError as exc:
            log.warning("membership of %s in %s unknown: %s", user_id, chat_id, exc)
            status = "unknown"
        self._members[(chat_id, user_id)] = (now, status)
        return status

    async def agent(self, user_id: int, name: str) -> Actor:
        """The agent acting: departments whose team chat they belong to; leads serve all.
        The core authorises every action against this."""
        who = Participant(CHANNEL, str(user_id))
        departments: set[str] = set()
        for chat_id, keys in self.team_chats().items():
            if await self.member_status(chat_id, user_id) in MEMBER_STATUSES:
                departments.update(keys)
        return Actor(
            who, name, Role.AGENT, frozenset(departments), lead=who.key in self.policy.leads
        )

    async def moderator(self, chat_id: int, user_id: int, name: str) -> Actor | None:
        """A group administrator or a configured moderator; None for anyone else."""
        who = Participant(CHANNEL, str(user_id))
        if who.key in self.policy.moderators or who.key in self.policy.leads:
            return Actor(who, name, Role.MODERATOR)
        if await self.member_status(chat_id, user_id) in ADMIN_STATUSES:
            return Actor(who, name, Role.MODERATOR)
        return None

    # -- saying things ------------------------------------------------------------------------

    async def say(
        self,
        chat_id: int,
        replies: Sequence[Reply],
        lang: str,
        *,
        thread_id: int | None = None,
        reply_to: Message | None = None,
    ) -> list[Message]:
        sent: list[Message] = []
        for rendered in self.renderer.replies(replies, lang):
            await self.renderer.codec.save()
            for i, part in enumerate(rendered.parts):
                markup: InlineKeyboardMarkup | None = (
                    rendered.markup if i == len(rendered.parts) - 1 else None
                )
                await self.notifier.pacer.wait(chat_id)
                sent.append(
                    await self.bot.send_message(
                        chat_id,
                        part,
                        parse_mode="HTML",
                        reply_markup=markup,
                        message_thread_id=thread_id,
                        reply_parameters=ReplyParameters(
                            message_id=reply_to.message_id, allow_sending_without_reply=True
                        )
                        if reply_to
                        else None,
                    )
                )
        return sent

    def error_reply(self, exc: DeskError) -> Reply:
        return Reply(exc.key, {k: v for k, v in exc.params.items() if isinstance(v, str | int)})
