"""The fake Bot API itself: a real aiogram Bot talks to it over loopback HTTP."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from fake_telegram import ApiLimits, FakeTelegram, make_bot

from handlers.telegram.pacing import Limits, PacerFeedback, SendPacer


async def test_get_me_send_and_receive(fake_telegram: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "supportbot_test"

    alice = fake_telegram.user(501, "Alice")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="c:yes")]]
    )
    sent = await bot.send_message(alice["id"], "<b>Hi</b> &amp; welcome", reply_markup=markup)
    assert sent.chat.id == 501
    assert sent.reply_markup is not None
    call = fake_telegram.calls_of("sendMessage")[-1]
    assert call.params["chat_id"] == 501
    assert call.params["parse_mode"] == "HTML"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "c:yes"

    fake_telegram.push_message(501, alice, "/start hello")
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates if u.message] == ["/start hello"]
    # Confirming the offset drops them; a long poll then waits and returns nothing.
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []


async def test_long_poll_wakes_on_push(fake_telegram: FakeTelegram, bot: Bot) -> None:
    alice = fake_telegram.user(501, "Alice")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    fake_telegram.push_message(501, alice, "late")
    updates = await asyncio.wait_for(poll, 2)
    assert updates[0].message is not None and updates[0].message.text == "late"


async def test_bad_html_is_refused_like_telegram(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.user(501, "Alice")
    with pytest.raises(TelegramBadRequest, match="parse entities"):
        await bot.send_message(501, "a <script> b")
    with pytest.raises(TelegramBadRequest, match="parse entities"):
        await bot.send_message(501, "Tom & Jerry")
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.send_message(501, "x" * 4097)


async def test_injected_failures(fake_telegram: FakeTelegram, bot: Bot) -> None:
    fake_telegram.user(501, "Alice")
    fake_telegram.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as retry:
        await bot.send_message(501, "one")
    assert retry.value.retry_after == 3
    await bot.send_message(501, "two")

    fake_telegram.block_user(501)
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(501, "three")

    fake_telegram.user(502, "Bob")
    fake_telegram.network_error_next("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(502, "four")
    await bot.send_message(502, "five")


async def test_forum_topics_files_and_members(fake_telegram: FakeTelegram, bot: Bot) -> None:
    team = fake_telegram.add_group(-1001, "Team", forum=True, members={7: "member", 8: "creator"})
    fake_telegram.user(7, "Agent")
    topic = await bot.create_forum_topic(team["id"], "#12 Printer")
    msg = await bot.send_message(team["id"], "card", message_thread_id=topic.message_thread_id)
    assert msg.message_thread_id == topic.message_thread_id
    edited = await bot.edit_message_text("card v2", chat_id=team["id"], message_id=msg.message_id)
    assert not isinstance(edited, bool) and edited.text == "card v2"
    await bot.close_forum_topic(team["id"], topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="TOPIC_CLOSED"):
        await bot.send_message(team["id"], "late", message_thread_id=topic.message_thread_id)

    member = await bot.get_chat_member(team["id"], 7)
    assert member.status == "member"
    assert (await bot.get_chat_member(team["id"], 99)).status == "left"
    admins = await bot.get_chat_administrators(team["id"])
    assert [a.user.id for a in admins] == [8]
    chat = await bot.get_chat(team["id"])
    assert chat.is_forum

    photo = await bot.send_photo(
        team["id"], BufferedInputFile(b"\x89PNG-data", "shot.png"), caption="<i>x</i>"
    )
    assert photo.photo is not None
    file = await bot.get_file(photo.photo[-1].file_id)
    assert file.file_path is not None
    data = await bot.download_file(file.file_path)
    assert data is not None and data.read() == b"\x89PNG-data"

    big = fake_telegram.add_file(size=25 * 1024 * 1024)
    with pytest.raises(TelegramBadRequest, match="too big"):
        await bot.get_file(big)


async def test_the_fake_enforces_the_group_private_and_bot_limits_with_429() -> None:
    limits = ApiLimits(per_bot=8, per_group=3, minute=0.5, per_chat=2.0, chat_burst=2)
    # The limits' seconds go by when the test says: a busy machine changes nothing.
    seconds = [1000.0]
    async with FakeTelegram(limits=limits, clock=lambda: seconds[0]) as fake:
        bot = make_bot(fake)
        try:
            fake.add_group(-100, "Team")
            fake.user(501, "Alice")
            for _ in range(3):
                await bot.send_message(-100, "ok")
            with pytest.raises(TelegramRetryAfter) as refused:
                await bot.send_message(-100, "one too many in the group's minute")
            assert refused.value.retry_after >= 1
            for _ in range(2):
                await bot.send_message(501, "burst")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(501, "faster than the chat's rate")
            for chat in range(502, 505):
                fake.user(chat, "Other")
                await bot.send_message(chat, "ok")
            fake.user(505, "Last")
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(505, "the bot's ninth call in a second")
            assert [c.params["text"] for c in fake.refused] == [
                "one too many in the group's minute",
                "faster than the chat's rate",
                "the bot's ninth call in a second",
            ]
            seconds[0] += 1.05  # the group's minute and the bot's second are over
            await bot.send_message(-100, "the minute is over")
        finally:
            await bot.session.close()


async def test_the_pacer_keeps_a_bot_under_the_fakes_limits() -> None:
    """The same limits on both sides, and the bot never hears a 429: the pacer counts
    each send from its answer (a first request waits for its connection: counted from
    when it was let go, the next window would open too early)."""
    api = ApiLimits(per_bot=30, per_group=5, minute=0.4, per_chat=20.0, chat_burst=3)
    ours = Limits(
        per_bot_per_second=30,
        per_group_per_minute=5,
        minute=0.4,
        per_chat_per_second=20,
    )
    async with FakeTelegram(limits=api) as fake:
        bot = make_bot(fake)
        pacer = SendPacer(ours)
        bot.session.middleware(PacerFeedback(pacer))
        try:
            fake.add_group(-100, "Team")
            for chat in (501, 502):
                fake.user(chat, "Customer")

            async def send(chat_id: int, count: int) -> None:
                for i in range(count):
                    await pacer.wait(chat_id)
                    await bot.send_message(chat_id, f"{chat_id}-{i}")

            await asyncio.gather(send(-100, 12), send(501, 15), send(502, 15))
            assert fake.refused == []
            assert len(fake.calls_of("sendMessage")) == 42
        finally:
            await bot.session.close()
