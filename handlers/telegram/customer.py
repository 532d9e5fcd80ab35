"""Customers in a private chat: commands, text, buttons, photos, documents, albums.

Every update becomes one desk input (``CommandGiven``, ``TextSent``,
``ChoicePicked``, ``FileSent``) for ``Desk.handle``; its replies are rendered here.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, User

from bot.inputs import ChoicePicked, CommandGiven, FileSent, Input, TextSent
from bot.participant import Participant
from bot.reply import Reply
from handlers.telegram.context import TelegramContext
from handlers.telegram.inbound import attachments_of, has_unsupported_media, screen_files
from handlers.telegram.render import CHANNEL, CHOICE_PREFIX, TOKEN_PREFIX

log = logging.getLogger(__name__)


def participant(user: User) -> Participant:
    return Participant(CHANNEL, str(user.id))


async def _flooding(tg: TelegramContext, user: User, chat_id: int) -> bool:
    """True when the user is over the flood limit; they are told once per window."""
    key = f"telegram:flood:{user.id}"
    if await tg.limiter.hit(key, tg.tuning.flood_limit, tg.tuning.flood_window):
        return False
    if await tg.limiter.hit(key + ":told", 1, tg.tuning.flood_window):
        lang = await tg.customer_language(user)
        await tg.say(chat_id, [Reply("telegram.flood")], lang)
    return True


async def handle_input(
    tg: TelegramContext, user: User, chat_id: int, event: Input, prefix: list[Reply] | None = None
) -> None:
    who = participant(user)
    async with tg.locks(chat_id):
        try:
            replies = await tg.desk.handle(
                who, event, name=user.full_name, locale=user.language_code
            )
            lang = await tg.customer_language(user)
        except Exception:
            log.exception("desk failed on %s from %s", type(event).__name__, who.key)
            replies, lang = [Reply("telegram.apology")], user.language_code or "en"
        await tg.say(chat_id, [*(prefix or []), *replies], lang)


async def on_command(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    if await _flooding(tg, user, message.chat.id):
        return
    length = command_length(message)
    name = message.text[1:length].split("@", 1)[0].lower()
    arg = message.text[length:]
    await handle_input(tg, user, message.chat.id, CommandGiven(name, arg.strip()))


def command_length(message: Message) -> int:
    """The length of the bot command the message starts with; 0 when it is text (even
    text starting with "/", like a path): Telegram marks real commands."""
    for entity in message.entities or ():
        if entity.type == "bot_command" and entity.offset == 0:
            return entity.length
    return 0


def is_command(message: Message) -> bool:
    return bool(message.text) and command_length(message) > 0


async def on_album_part(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None:
        return

    async def flush(parts: list[Message]) -> None:
        if not await _flooding(tg, user, message.chat.id):
            await _files(tg, user, message.chat.id, parts)

    tg.albums.add(message, flush)


async def on_file(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or await _flooding(tg, user, message.chat.id):
        return
    await _files(tg, user, message.chat.id, [message])


async def _files(tg: TelegramContext, user: User, chat_id: int, messages: list[Message]) -> None:
    files = [att for m in messages for att in attachments_of(m)]
    caption = "\n".join(m.caption for m in messages if m.caption)
    kept, refusals = screen_files(files)
    if not kept and not caption:
        lang = await tg.customer_language(user)
        await tg.say(chat_id, refusals, lang)
        return
    event: Input = FileSent(tuple(kept), caption) if kept else TextSent(caption)
    await handle_input(tg, user, chat_id, event, refusals)


async def on_text(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    if await _flooding(tg, user, message.chat.id):
        return
    await handle_input(tg, user, message.chat.id, TextSent(message.text))


async def on_other(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or not has_unsupported_media(message):
        return
    if await _flooding(tg, user, message.chat.id):
        return
    lang = await tg.customer_language(user)
    await tg.say(message.chat.id, [Reply("telegram.file.unsupported")], lang, reply_to=message)


async def on_edited(message: Message, tg: TelegramContext) -> None:
    """An edit changes nothing already sent on: say so, so the correction is resent."""
    user = message.from_user
    if user is None or await _flooding(tg, user, message.chat.id):
        return
    lang = await tg.customer_language(user)
    await tg.say(message.chat.id, [Reply("telegram.edit_not_forwarded")], lang, reply_to=message)


async def on_choice(query: CallbackQuery, tg: TelegramContext) -> None:
    value = await tg.renderer.codec.decode(query.data or "")
    if value is None or query.message is None:
        await on_foreign_button(query, tg)
        return
    await query.answer()
    if await _flooding(tg, query.from_user, query.message.chat.id):
        return
    await handle_input(tg, query.from_user, query.message.chat.id, ChoicePicked(value))


async def on_foreign_button(query: CallbackQuery, tg: TelegramContext) -> None:
    """Buttons we never made (forged or from an old version) change nothing."""
    lang = await tg.customer_language(query.from_user)
    await query.answer(tg.renderer.label("telegram.button_expired", lang), show_alert=True)


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-customer")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(on_command, is_command)
    router.message.register(on_album_part, F.media_group_id)
    router.message.register(on_file, F.photo | F.document)
    router.message.register(on_text, F.text)
    router.message.register(on_other)
    router.edited_message.register(on_edited)
    router.callback_query.register(
        on_choice, F.data.startswith(CHOICE_PREFIX) | F.data.startswith(TOKEN_PREFIX)
    )
    router.callback_query.register(on_foreign_button)
    return router
