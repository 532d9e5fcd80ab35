"""Customers in a private chat: commands, text, buttons, photos, documents, albums.

Every update becomes one desk input (``CommandGiven``, ``TextSent``,
``ChoicePicked``, ``FileSent``) with the update's identity for ``Desk.answer``; its
replies are rendered here. Order, de-duplication and flood control are the desk's.

The same handlers serve a customer in the bot's own private chat, in a ticket's topic
of that chat (Bot API 9.3 private-chat topics: the message is about that ticket), and
in the chat of a company's own account the bot is connected to (Telegram Business:
``business_message`` updates, answered through the business connection, so that the
company speaks).
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import (
    BusinessConnection,
    CallbackQuery,
    Message,
    MessageReactionUpdated,
    User,
)

from bot.choice_codec import CHOICE_PREFIX, TOKEN_PREFIX
from bot.desk import Answer
from bot.inputs import ChoicePicked, CommandGiven, FileSent, Input, TextSent, UpdateRef
from bot.participant import Participant
from bot.reply import Reply
from bot.worker import LAST_ATTEMPT
from handlers.telegram import filters
from handlers.telegram.context import TelegramContext, Where, where_of
from handlers.telegram.delivery import KIND_RESOLUTION, ref
from handlers.telegram.inbound import (
    attachments_of,
    has_unsupported_media,
    new_emoji,
    screen_files,
)
from handlers.telegram.render import CHANNEL

log = logging.getLogger(__name__)


def participant(user: User) -> Participant:
    return Participant(CHANNEL, str(user.id))


async def _throttled(tg: TelegramContext, user: User, where: Where) -> bool:
    """For answers that never reach the desk (stickers, edits, refused files): the
    desk's flood control still applies; True when over it."""
    told = await tg.desk.throttle(participant(user))
    if told is None:
        return False
    if told:
        await tg.say_at(where, told, await tg.customer_language(user))
    return True


async def handle_input(
    tg: TelegramContext,
    user: User,
    where: Where,
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
    answer: Answer | None = None
    await tg.remember_route(where)
    try:
        answer = await tg.desk.answer(
            who, event, name=user.full_name, locale=user.language_code, update=update
        )
        replies, lang, in_place = answer.replies, answer.locale, answer.in_place
        if answer.again:
            prefix = None  # said when the update first came
        if answer.acknowledged is not None and written is not None:
            await tg.mark_received(written, where)
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
        await tg.retire_keyboards(where, pressed)
        await tg.say_at(where, [*(prefix or []), *replies], lang)
    if answer is not None and answer.opened and not answer.again:
        await tg.open_ticket_topics(where, answer.opened, lang)


async def on_command(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    length = command_length(message)
    name = message.text[1:length].split("@", 1)[0].lower()
    arg = message.text[length:]
    event = CommandGiven(name, arg.strip())
    await handle_input(tg, user, where_of(message), event, tg.message_ref(message))


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
        await _files(tg, user, where_of(message), parts)

    tg.albums.add(message, flush)


async def on_file(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None:
        return
    await _files(tg, user, where_of(message), [message])


async def _files(tg: TelegramContext, user: User, where: Where, messages: list[Message]) -> None:
    files = [att for m in messages for att in attachments_of(m)]
    caption = "\n".join(m.caption for m in messages if m.caption)
    kept, refusals = screen_files(files, tg.policy.files)
    kept = await tg.keep(kept)
    if not kept and not caption:
        if not await _throttled(tg, user, where):
            await tg.say_at(where, refusals, await tg.customer_language(user))
        return
    ticket = await tg.topic_ticket(where)
    event: Input = (
        FileSent(tuple(kept), caption, ticket=ticket) if kept else TextSent(caption, ticket=ticket)
    )
    # An album is one input: it is known by its first part.
    await handle_input(
        tg, user, where, event, tg.message_ref(messages[0]), refusals, written=messages[0]
    )


async def on_text(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or message.text is None:
        return
    where = where_of(message)
    event = TextSent(message.text, ticket=await tg.topic_ticket(where))
    await handle_input(tg, user, where, event, tg.message_ref(message), written=message)


async def on_other(message: Message, tg: TelegramContext) -> None:
    user = message.from_user
    if user is None or not has_unsupported_media(message):
        return
    where = where_of(message)
    if await _throttled(tg, user, where):
        return
    lang = await tg.customer_language(user)
    await tg.say_at(where, [Reply("telegram.file.unsupported")], lang, reply_to=message)


async def on_edited(message: Message, tg: TelegramContext) -> None:
    """An edit changes nothing already sent on: say so, so the correction is resent."""
    user = message.from_user
    where = where_of(message)
    if user is None or await _throttled(tg, user, where):
        return
    lang = await tg.customer_language(user)
    await tg.say_at(where, [Reply("telegram.edit_not_forwarded")], lang, reply_to=message)


async def on_choice(query: CallbackQuery, tg: TelegramContext) -> None:
    value = await tg.renderer.codec.decode(query.data or "")
    if value is None or query.message is None:
        await on_foreign_button(query, tg)
        return
    await tg.answer_query(query)
    pressed = query.message if isinstance(query.message, Message) else None
    where = where_of(pressed) if pressed is not None else Where(query.message.chat.id)
    await handle_input(
        tg,
        query.from_user,
        where,
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
    number = await tg.notifier.links.get(CHANNEL, KIND_RESOLUTION, key)
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
        where = Where(chat_id, business=await tg.notifier.route(chat_id))
        await tg.take_buttons_off(where, reaction.message_id)
        await tg.say_at(where, answer.replies, answer.locale)


async def from_customer(message: Message, tg: TelegramContext) -> bool:
    """A business chat's message from the customer, not from the company's own people
    (who write there in the Telegram app themselves: that is theirs, not the desk's)."""
    user = message.from_user
    connection = message.business_connection_id
    if user is None or connection is None:
        return False
    owner = await tg.business_owner(connection)
    return owner is not None and user.id != owner


async def on_business_connection(update: BusinessConnection, tg: TelegramContext) -> None:
    """The company connected the bot to its account, changed what it may do, or ended
    the connection: remembered, so customers' messages there reach the desk and the
    answers go out through it."""
    await tg.connect_business(update)


def make_router() -> Router:
    """A fresh router (a router belongs to one dispatcher)."""
    router = Router(name="telegram-customer")
    router.message.filter(filters.private_chat)
    router.callback_query.filter(filters.private_query)
    router.edited_message.filter(filters.private_chat)
    # The company's own account (Telegram Business): the same handlers, customers only.
    router.business_message.filter(from_customer)
    router.edited_business_message.filter(from_customer)
    for observer in (router.message, router.business_message):
        observer.register(on_command, is_command)
        observer.register(on_album_part, filters.album_part)
        observer.register(on_file, filters.file_message)
        observer.register(on_text, filters.text_message)
        observer.register(on_other)
    router.edited_message.register(on_edited)
    router.edited_business_message.register(on_edited)
    router.callback_query.register(on_choice, filters.data_prefix(CHOICE_PREFIX, TOKEN_PREFIX))
    router.callback_query.register(on_foreign_button)
    router.message_reaction.filter(filters.private_reaction)
    router.message_reaction.register(on_reaction)
    router.business_connection.register(on_business_connection)
    return router
