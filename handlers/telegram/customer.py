"""Customers in a private chat: commands, text, buttons, photos, documents, albums.

Every update becomes one desk input (``CommandGiven``, ``TextSent``,
``ChoicePicked``, ``FileSent``) with the update's identity for ``Desk.answer``; its
replies are rendered here. Order, de-duplication and flood control are the desk's.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import CallbackQuery, Message, MessageReactionUpdated, User

from bot.inputs import ChoicePicked, CommandGiven, FileSent, Input, TextSent, UpdateRef
from bot.participant import Participant
from bot.reply import Reply
from bot.worker import LAST_ATTEMPT
from handlers.telegram import filters
from handlers.telegram.context import TelegramContext
from handlers.telegram.delivery import KIND_RESOLUTION, ref
from handlers.telegram.inbound import (
    attachments_of,
    has_unsupported_media,
    new_emoji,
    screen_files,
)
from handlers.telegram.render import CHANNEL, CHOICE_PREFIX, TOKEN_PREFIX

log = logging.getLogger(__name__)


def participant(user: User) -> Participant:
    return Participant(CHANNEL, str(user.id))


async def _throttled(tg: TelegramContext, user: User, chat_id: int) -> bool:
    """For answers that never reach the desk (stickers, edits, refused files): the
    desk's flood control still applies; True when over it."""
    told = await tg.desk.throttle(participant(user))
    if told is None:
        return False
    if told:
        await tg.say(chat_id, told, await tg.customer_language(user))
    return True


async def handle_input(
    tg: TelegramContext,
    user: User,
    chat_id: int,
    event: Input,
    update: UpdateRef,
    prefix: list[Reply] | None = None,
    pressed: Message | None = None,
    written: Message | None = None,
) -> None:
    """``pressed``: the message whose button sent ``event`` (a page of a list there is
    shown in its place); ``written``: the customer's message that is ``event`` (marked
    as received when the desk has nothing to say about it)."""
    who = participant(user)
    in_place = False
    try:
        answer = await tg.desk.answer(
            who, event, name=user.full_name, locale=user.language_code, update=update
        )
        replies, lang, in_place = answer.replies, answer.locale, answer.in_place
        if answer.again:
            prefix = None  # said when the update first came
        if answer.acknowledged is not None and written is not None:
            await tg.mark_received(written)
    except Exception:
        if not LAST_ATTEMPT.get():
            raise  # the worker hands the update over again (nothing was committed)
        log.exception("desk failed on %s from %s", type(event).__name__, who.key)
        replies, lang = [Reply("telegram.apology")], user.language_code or "en"
    if (
        in_place
        and pressed is not None
        and not prefix
        and await tg.show_instead(pressed, replies, lang)
    ):
        return
    if replies or prefix:
        await tg.retire_keyboards(chat_id, pressed)
        await tg.say(chat_id, [*(prefix or []), *replies], lang)


async def on_command(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    length = command_length(message)
    name = message.text[1:length].split("@", 1)[0].lower()
    arg = message.text[length:]
    event = CommandGiven(name, arg.strip())
    await handle_input(tg, user, message.chat.id, event, tg.message_ref(message))


def command_length(message: Message) -> int:
    """The length of the bot command the message starts with; 0 when it is text (even
    text starting with "/", like a path): Telegram marks real commands."""
    for entity in message.entities or ():
        if entity.type == "bot_command" and entity.offset == 0:
            return entity.length
    return 0


async def is_command(message: Message) -> bool:
    return bool(message.text) and command_length(message) > 0


async def on_album_part(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None:
        return

    async def flush(parts: list[Message]) -> None:
        await _files(tg, user, message.chat.id, parts)

    tg.albums.add(message, flush)


async def on_file(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None:
        return
    await _files(tg, user, message.chat.id, [message])


async def _files(tg: TelegramContext, user: User, chat_id: int, messages: list[Message]) -> None:
    files = [att for m in messages for att in attachments_of(m)]
    caption = "\n".join(m.caption for m in messages if m.caption)
    kept, refusals = screen_files(files)
    if not kept and not caption:
        if not await _throttled(tg, user, chat_id):
            await tg.say(chat_id, refusals, await tg.customer_language(user))
        return
    event: Input = FileSent(tuple(kept), caption) if kept else TextSent(caption)
    # An album is one input: it is known by its first part.
    await handle_input(
        tg, user, chat_id, event, tg.message_ref(messages[0]), refusals, written=messages[0]
    )


async def on_text(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    event = TextSent(message.text)
    await handle_input(tg, user, message.chat.id, event, tg.message_ref(message), written=message)


async def on_other(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or not has_unsupported_media(message):
        return
    if await _throttled(tg, user, message.chat.id):
        return
    lang = await tg.customer_language(user)
    await tg.say(message.chat.id, [Reply("telegram.file.unsupported")], lang, reply_to=message)


async def on_edited(message: Message, tg: TelegramContext) -> None:
    """An edit changes nothing already sent on: say so, so the correction is resent."""
    user = message.from_user
    if user is None or await _throttled(tg, user, message.chat.id):
        return
    lang = await tg.customer_language(user)
    await tg.say(message.chat.id, [Reply("telegram.edit_not_forwarded")], lang, reply_to=message)


async def on_choice(query: CallbackQuery, tg: TelegramContext) -> None:
    value = await tg.renderer.codec.decode(query.data or "")
    if value is None or query.message is None:
        await on_foreign_button(query, tg)
        return
    await tg.answer_query(query)
    pressed = query.message if isinstance(query.message, Message) else None
    await handle_input(
        tg,
        query.from_user,
        query.message.chat.id,
        ChoicePicked(value),
        tg.query_ref(query),
        pressed=pressed,
    )


async def on_foreign_button(query: CallbackQuery, tg: TelegramContext) -> None:
    """Buttons we never made (forged or from an old version) change nothing."""
    lang = await tg.customer_language(query.from_user)
    await tg.answer_query(
        query, tg.renderer.label("telegram.button_expired", lang), show_alert=True
    )


async def on_reaction(reaction: MessageReactionUpdated, tg: TelegramContext) -> None:
    """A customer's reaction: on the message announcing a resolution it may confirm it
    (the desk decides which emoji do); the resolution's buttons then go."""
    user, emoji = reaction.user, new_emoji(reaction)
    if user is None or not emoji:
        return
    chat_id = reaction.chat.id
    key = ref(chat_id, reaction.message_id)
    number = await tg.links.get(CHANNEL, KIND_RESOLUTION, key)
    if number is None or not number.isdigit():
        return  # a reaction to anything else is the customer's own business
    answer = await tg.desk.react(
        participant(user),
        int(number),
        emoji,
        name=user.full_name,
        locale=user.language_code,
        update=tg.reaction_ref(reaction, emoji),
    )
    if answer.replies and not answer.again:
        await tg.take_buttons_off(chat_id, reaction.message_id)
        await tg.say(chat_id, answer.replies, answer.locale)


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-customer")
    router.message.filter(filters.private_chat)
    router.callback_query.filter(filters.private_query)
    router.edited_message.filter(filters.private_chat)
    router.message.register(on_command, is_command)
    router.message.register(on_album_part, filters.album_part)
    router.message.register(on_file, filters.file_message)
    router.message.register(on_text, filters.text_message)
    router.message.register(on_other)
    router.edited_message.register(on_edited)
    router.callback_query.register(on_choice, filters.data_prefix(CHOICE_PREFIX, TOKEN_PREFIX))
    router.callback_query.register(on_foreign_button)
    router.message_reaction.filter(filters.private_reaction)
    router.message_reaction.register(on_reaction)
    return router
