"""The community group: a moderator replies to a post with ``/escalate [department]``.

The desk opens a ticket for the post's author (text, media and a link to the post);
the group and the author hear about it through the outbox.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, MessageOriginUser

from bot.commands import EscalatePost
from bot.errors import DeskError, DuplicateUpdate, NotAllowed
from bot.i18n import pick_language
from bot.reply import Reply
from handlers.telegram import filters
from handlers.telegram.context import TelegramContext
from handlers.telegram.inbound import attachments_of, screen_files
from handlers.telegram.render import CHANNEL

log = logging.getLogger(__name__)


def post_link(message: Message) -> str:
    chat = message.chat
    if chat.username:
        return f"https://t.me/{chat.username}/{message.message_id}"
    internal = str(chat.id).removeprefix("-100")
    return f"https://t.me/c/{internal}/{message.message_id}"


async def on_escalate(message: Message, command: CommandObject, tg: TelegramContext) -> None:
    lang = tg.policy.default_language
    moderator = message.from_user
    post = message.reply_to_message
    if moderator is None:
        return

    async def tell(*replies: Reply) -> None:
        await tg.say(message.chat.id, list(replies), lang, reply_to=message)

    actor = await tg.moderator(message.chat.id, moderator.id, moderator.full_name)
    if actor is None:
        await tell(Reply("telegram.escalate.refused"))
        return
    if post is None or post.forum_topic_created:
        await tell(Reply("telegram.escalate.usage"))
        return
    if post.sender_chat is not None:
        # An anonymous admin or a channel: there is nobody to open a request for.
        await tell(Reply("telegram.escalate.anonymous"))
        return
    author = post.from_user
    origin = post.forward_origin
    if origin is not None:
        if not isinstance(origin, MessageOriginUser):
            # Forwarded from a hidden account, a chat or a channel: the author is unknown.
            await tell(Reply("telegram.escalate.forwarded_unknown"))
            return
        author = origin.sender_user  # the request is the original author's
    if author is None or author.is_bot:
        await tell(Reply("telegram.escalate.usage"))
        return
    department = (command.args or "").strip().lower() or None
    if department is not None and department not in tg.policy.departments:
        known = ", ".join(tg.policy.departments)
        await tell(
            Reply(
                "telegram.escalate.unknown_department",
                {"department": department, "departments": known},
            )
        )
        return
    parts = tg.posts.parts(post)  # an album: all of its files
    text = next((m.text or m.caption for m in parts if m.text or m.caption), "") or ""
    files, refusals = screen_files([a for m in parts for a in attachments_of(m)], tg.policy.files)
    files = await tg.keep(files)
    if not files and not text.strip():
        await tell(*refusals, Reply("telegram.escalate.nothing_to_file"))
        return
    escalation = EscalatePost(
        author_platform=CHANNEL,
        author_id=str(author.id),
        author_name=author.full_name,
        post_ref=f"{post.chat.id}:{post.message_id}",
        post_link=post_link(post),
        text=text,
        attachments=tuple(files),
        department=department,
        locale=pick_language(author.language_code, tg.policy.languages),
    )
    try:
        await tg.tickets.escalate(actor, escalation, update=tg.message_ref(message))
    except DuplicateUpdate:
        return  # this very /escalate was handled when it first came
    except NotAllowed:
        await tell(Reply("telegram.escalate.refused"))
        return
    except DeskError as exc:
        await tell(tg.error_reply(exc))
        return
    if refusals:
        await tell(*refusals)  # filed without them: the moderator knows which and why


async def on_album_post(message: Message, tg: TelegramContext) -> None:
    """Remember album parts: /escalate on one part files the whole album."""
    tg.posts.add(message)


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-community")
    router.message.filter(filters.group_chat)
    router.message.register(on_escalate, Command("escalate"))
    router.message.register(on_album_post, filters.album_part)
    return router
