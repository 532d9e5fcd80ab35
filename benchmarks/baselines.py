"""The baselines, measured in a process of their own that loads aiogram but not the
desk: a bare aiogram echo bot (for intake) and a bare ``bot.send_message`` loop (for
delivery), both on the same in-memory Bot API as the desk."""

from __future__ import annotations

from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, Message

from benchmarks.bot_api import MemoryBotAPI, UpdateMaker, make_bot
from benchmarks.customers import Crowd, feeder
from benchmarks.probes import Stopwatch, peak_rss_mib, rss_mib
from benchmarks.runs import WARM_UP, Figures, Run, rate

TEAM_CHAT = -1001000
# About as long as a ticket card or the opening message of a ticket's topic.
TEAM_TEXT = "<b>#{n} Checkout fails</b>\n" + "Error: something does not work as it should. " * 8


def echo_dispatcher() -> Dispatcher:
    """One message handler that echoes, one callback handler that answers."""
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def on_message(message: Message) -> None:
        await message.answer(message.text or message.caption or "file")

    @dispatcher.callback_query(F.data)
    async def on_press(query: CallbackQuery) -> None:
        await query.answer()

    return dispatcher


async def measure_echo(bot: Bot, api: MemoryBotAPI, run: Run) -> Figures:
    """The echo bot fed the intake's kinds of updates in the same order."""
    updates = UpdateMaker(bot, run.first_id)
    feed = feeder(echo_dispatcher(), bot)
    warm_up = Crowd(api, updates, first_id=run.first_id, count=WARM_UP)
    await warm_up.run(feed, Stopwatch(), strict=False)
    crowd = Crowd(api, updates, first_id=run.first_id + WARM_UP, count=run.customers)
    rss_before = rss_mib()
    watch = Stopwatch()
    watch.start()
    fed = await crowd.run(feed, watch, strict=False)
    seconds = watch.stop()
    return {
        "updates": fed,
        "seconds": seconds,
        "updates_per_s": rate(fed, seconds),
        "p50_ms": watch.percentile(0.50) * 1000,
        "p99_ms": watch.percentile(0.99) * 1000,
        "peak_rss_mib": peak_rss_mib(),
        "rss_growth_mib": rss_mib() - rss_before,
    }


async def measure_send(bot: Bot, run: Run) -> Figures:
    """One ``send_message`` to a team chat per customer, one after another."""
    for n in range(WARM_UP):
        await bot.send_message(TEAM_CHAT, TEAM_TEXT.format(n=n))
    watch = Stopwatch()
    watch.start()
    for n in range(run.customers):
        with watch.lap():
            await bot.send_message(TEAM_CHAT, TEAM_TEXT.format(n=n))
    seconds = watch.stop()
    return {
        "sends": run.customers,
        "seconds": seconds,
        "sends_per_s": rate(run.customers, seconds),
        "ms_per_send": seconds / run.customers * 1000,
    }


async def measure(run: Run) -> Figures:
    """Both baselines in this process: the echo bot, then the send loop."""
    api = MemoryBotAPI(team_chats={TEAM_CHAT: True})
    bot = make_bot(api)
    try:
        echo = await measure_echo(bot, api, run)
        send = await measure_send(bot, run)
    finally:
        await bot.session.close()
    return {f"echo.{k}": v for k, v in echo.items()} | {f"send.{k}": v for k, v in send.items()}
