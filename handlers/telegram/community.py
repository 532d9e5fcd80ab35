"""The community group: a moderator replies to a post with ``/escalate [department]``.

The desk opens a ticket for the post's author (text, media and a link to the post);
the group and the author hear about it through the outbox.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.commands import EscalatePost
from bot.errors import DeskError, NotAllowed
from bot.i18n import pick_language
from bot.reply import Reply
from handlers.telegram.context import TelegramContext
from handlers.telegram.inbound import attachments_of, screen_files
from handlers.telegram.render import CHANNEL
from handlers.telegram.team import GROUP_TYPES

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
    actor = await tg.moderator(message.chat.id, moderator.id, moderator.full_name)
    if actor is None:
        await tg.say(message.chat.id, [Reply("telegram.escalate.refused")], lang, reply_to=message)
        return
    if post is None or post.from_user is None or post.from_user.is_bot or post.forum_topic_created:
        await tg.say(message.chat.id, [Reply("telegram.escalate.usage")], lang, reply_to=message)
        return
    department = (command.args or "").strip().lower() or None
    if department is not None and department not in tg.policy.departments:
        known = ", ".join(tg.policy.departments)
        reply = Reply(
            "telegram.escalate.unknown_department",
            {"department": department, "departments": known},
        )
        await tg.say(message.chat.id, [reply], lang, reply_to=message)
        return
    author = post.from_user
    files, _ = screen_files(attachments_of(post))
    escalation = EscalatePost(
        author_platform=CHANNEL,
        author_id=str(author.id),
        author_name=author.full_name,
        post_ref=f"{post.chat.id}:{post.message_id}",
        post_link=post_link(post),
        text=post.text or post.caption or "",
        attachments=tuple(files),
        department=department,
        locale=pick_language(author.language_code, tg.policy.languages),
    )
    try:
        await tg.tickets.escalate(actor, escalation)
    except NotAllowed:
        await tg.say(message.chat.id, [Reply("telegram.escalate.refused")], lang, reply_to=message)
    except DeskError as exc:
        await tg.say(message.chat.id, [tg.error_reply(exc)], lang, reply_to=message)


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-community")
    router.message.filter(lambda message: message.chat.type in GROUP_TYPES)
    router.message.register(on_escalate, Command("escalate"))
    return router
