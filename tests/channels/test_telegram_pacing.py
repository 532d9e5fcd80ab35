"""The send pacer's arithmetic (issue 8): a group never gets more than its minute
allows in any window, routine sends leave the reserve to direct answers, and a 429's
hold comes before everything."""

from __future__ import annotations

import asyncio

import pytest

from handlers.telegram.pacing import Limits, SendPacer, SlidingWindow, TokenBucket

GROUP, CHAT = -100, 501


def answered(cell: list[float] | None, at: float) -> None:
    assert cell is not None
    SlidingWindow.answered(cell, at)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_lets_its_count_through_then_waits_for_the_oldest_to_leave() -> None:
    clock = Clock()
    window = SlidingWindow(20, 60.0, clock)
    for _ in range(20):
        assert window.delay() == 0
        answered(window.take(), clock.now)
        clock.now += 1
    # 20 sent in 20 s: the next waits until the first is 60 s old.
    assert window.delay() == pytest.approx(40.0)
    assert window.delay(keep=3) == pytest.approx(43.0)  # the 4th oldest must leave
    clock.now += 40
    assert window.delay() == 0


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, 2, clock)
    for _ in range(2):
        assert bucket.delay() == 0
        bucket.take()
    assert bucket.delay() == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.delay() == pytest.approx(0.5)


def test_an_album_counts_its_messages_and_one_bigger_than_the_burst_leaves_a_debt() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, 2, clock)
    bucket.take()
    assert bucket.delay(count=2) == pytest.approx(1.0)  # two photos wait for two tokens
    clock.now += 1.0
    assert bucket.delay(count=10) == 0  # ten at once on a full bucket...
    bucket.take(10)
    assert bucket.delay() == pytest.approx(9.0)  # ...then paid for, one a second
    window = SlidingWindow(20, 60.0, clock)
    for _ in range(15):
        answered(window.take(), clock.now)
    assert window.delay(count=5) == 0
    assert window.delay(count=6) == pytest.approx(60.0)  # a group's minute has 20


def test_after_a_429_a_private_chat_gets_one_then_one_a_second_not_a_burst() -> None:
    clock = Clock()
    pacer = SendPacer(Limits(per_chat_per_second=1.0, chat_burst=2, margin=0.0), clock=clock)
    bucket = pacer._chat_limit(CHAT)
    pacer.hold(CHAT, 5.0)
    clock.now += 5.0
    assert pacer.held_for(CHAT) == 0 and bucket.delay() == 0
    bucket.take()
    assert bucket.delay() == pytest.approx(1.0)  # its burst was spent by the 429


async def test_no_window_of_a_group_ever_holds_more_than_its_minute() -> None:
    limits = Limits(per_group_per_minute=5, minute=0.2, margin=0.0, group_reserve=0)
    pacer, loop = SendPacer(limits), asyncio.get_running_loop()
    sent: list[float] = []
    for _ in range(12):
        await pacer.wait(GROUP)
        pacer.sent()  # answered at once
        sent.append(loop.time())
    for i in range(len(sent) - 5):
        assert sent[i + 5] - sent[i] >= 0.2 - 0.005  # the 6th is a whole window later
    assert sent[-1] - sent[0] >= 0.4 - 0.01


async def test_routine_sends_leave_the_reserve_to_direct_answers() -> None:
    limits = Limits(per_group_per_minute=5, minute=30.0, group_reserve=2)
    pacer = SendPacer(limits)
    with pacer.routine():
        for _ in range(3):
            await asyncio.wait_for(pacer.wait(GROUP), 1)
        waiting = asyncio.create_task(pacer.wait(GROUP))  # the minute's routine part is used
    # An agent's answer is not queued behind it: the reserve is free now.
    await asyncio.wait_for(pacer.wait(GROUP), 1)
    await asyncio.wait_for(pacer.wait(GROUP), 1)
    assert not waiting.done()
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)


async def test_routine_belongs_to_its_task_and_ends_with_its_block() -> None:
    pacer = SendPacer(Limits(per_group_per_minute=4, minute=30.0, group_reserve=3))
    gate = asyncio.Event()

    async def direct() -> None:
        await gate.wait()
        await pacer.wait(GROUP)

    answers = [asyncio.create_task(direct()) for _ in range(2)]  # tasks of their own
    with pacer.routine():
        await asyncio.wait_for(pacer.wait(GROUP), 1)  # routine: one of the four
        blocked = asyncio.create_task(pacer.wait(GROUP))
        gate.set()
        await asyncio.wait_for(asyncio.gather(*answers), 1)
        assert not blocked.done()
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)
    await asyncio.wait_for(pacer.wait(GROUP), 1)  # after the block: direct again, the 4th


async def test_a_hold_after_429_delays_only_its_chat() -> None:
    pacer, loop = (
        SendPacer(Limits(per_chat_per_second=100, chat_burst=100)),
        asyncio.get_running_loop(),
    )
    pacer.hold(CHAT, 0.2)
    start = loop.time()
    await pacer.wait(CHAT + 1)
    assert loop.time() - start < 0.1
    await pacer.wait(CHAT)
    assert loop.time() - start >= 0.19


async def test_the_bot_wide_limit_spans_every_chat() -> None:
    limits = Limits(per_bot_per_second=10, margin=0.0, per_chat_per_second=100, chat_burst=100)
    pacer, loop = SendPacer(limits), asyncio.get_running_loop()
    start = loop.time()
    for chat in range(15):
        await pacer.wait(CHAT + chat)
        pacer.sent()
    # 10 in the first second, the 11th only once the first is a second old.
    assert loop.time() - start >= 1.0 - 0.01


async def test_a_send_counts_in_its_window_until_its_answer_comes() -> None:
    """Regression (issue 12, 100 tickets into two groups): a call let go under load
    reached the Bot API 0.9 s later; counted from when it was let go, it had left the
    bot's window while still on its way, and the window's next send made 101."""
    clock = Clock()
    window = SlidingWindow(2, 1.0, clock)
    early = window.take()
    window.take()
    assert early is not None
    clock.now += 5.0  # both still unanswered: still in the window
    assert 0 < window.delay() < 0.1  # looked at again soon, not let through
    SlidingWindow.answered(early, clock.now)
    assert window.delay() == pytest.approx(1.0)  # counted from its answer
    clock.now += 20.0  # a call that never went holds no slot for ever
    assert window.delay() == 0


def test_every_window_is_five_percent_longer_than_telegrams() -> None:
    """README: "each send counts from Telegram's answer, with a 5 % margin on every
    window" (the default limits): a private chat's next message after its burst, a
    group's 21st and the bot's 31st each wait 5 % longer than Telegram asks."""
    clock = Clock()
    pacer = SendPacer(clock=clock)
    chat = pacer._chat_limit(CHAT)
    chat.take(2)  # the burst of two
    assert chat.delay() == pytest.approx(1.05)
    group = pacer._chat_limit(GROUP)
    for _ in range(20):
        answered(group.take(), clock.now)
    assert group.delay() == pytest.approx(63.0)
    for _ in range(30):
        answered(pacer._bot.take(), clock.now)
    assert pacer._bot.delay() == pytest.approx(1.05)
