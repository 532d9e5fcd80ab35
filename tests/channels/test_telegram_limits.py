"""The limits README promises, measured where Telegram would count them (issue 12).

The fake Bot API records when each message reached a chat (an album: each of its
messages) and answers 429 to anything over the limits it is given; these tests give it
README's own promise for private chats (two at once, then one a second) and measure
the gaps the real bot, desk and relay leave.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest
from fake_telegram import ApiLimits
from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, filed_with_topic, tech_team, wait_card

from handlers.telegram.pacing import Limits

ALICE, BOB, AGENT = 501, 502, 700
# README: "one a second into a private chat after a burst of two"; groups are not what
# these tests measure.
PRIVATE = ApiLimits(per_chat=1.0, chat_burst=2, per_group=10_000, per_bot=1_000)
REAL = Limits(per_group_per_minute=10_000)


async def test_a_private_chat_gets_two_at_once_then_one_a_second_albums_and_429s_included(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, api_limits=PRIVATE, limits=REAL) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        alice = Person(fake, ALICE, "Alice")
        number, thread = await filed_with_topic(desk.app, fake, ALICE, "Printer prints nothing")
        # Telegram refuses the third message of the customer's chat: nothing may follow
        # it in a burst when the hold is over.
        fake.fail_next("sendMessage", 429, retry_after=1, passing=2, chat_id=ALICE)

        fake.push_reply(TECH_CHAT, eve, "Answer one " + "x" * 4200, thread_id=thread)  # 2 parts
        fake.push_album(
            TECH_CHAT, eve, "eve-album", [{"type": "photo"}] * 3, caption="Shots", thread_id=thread
        )
        for i in range(2):
            fake.push_reply(TECH_CHAT, eve, f"Short answer {i}", thread_id=thread)
        fake.push_message(ALICE, alice.user, "Thanks, looking")
        await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == ALICE and "Short answer 1" in c.params["text"],
            timeout=30,
        )
        await fake.wait_call("sendMediaGroup", lambda c: c.params["chat_id"] == ALICE, timeout=30)
        await fake.wait_idle(0.5)

        assert fake.refused == []  # never over two at once, then one a second
        # Two messages at most in any second, or an album bigger than that alone.
        for window in fake.windows(ALICE, 1.0):
            assert sum(window) <= 2 or window == [window[0]], window
        assert sum(count for _, count in fake.arrivals[ALICE]) >= 2 + 1 + 3 + 2
        [refused] = [c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == ALICE][2:3]
        after = [at for at, _ in fake.arrivals[ALICE] if at > refused.at]
        assert after[0] - refused.at >= 0.95  # its retry_after, exactly
        # After the hold: one a second, no burst; the album of three waits for a full
        # burst, and nothing follows it before it is paid for.
        assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(after))
        ticket = await desk.app.tickets.get(number)
        assert [e.text for e in ticket.entries if e.kind.value == "customer"] == [
            "Thanks, looking"
        ]


async def test_three_server_errors_hold_one_chat_for_seconds_and_no_other(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        fake.user(ALICE, "Alice")
        fake.user(BOB, "Bob")
        first = await file_directly(desk.app, ALICE, "bug", "Alice's printer")
        second = await file_directly(desk.app, BOB, "bug", "Bob's printer")
        await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT, count=2, timeout=10
        )
        threads = {
            int(topic["name"].split()[0][1:]): thread
            for thread, topic in fake.topics[TECH_CHAT].items()
        }
        mark = fake.mark()
        fake.fail_next("sendMessage", 500, times=3, chat_id=ALICE)
        fake.push_reply(TECH_CHAT, eve, "For Alice", thread_id=threads[first])
        [failed] = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE, after=mark
        )
        fake.push_reply(TECH_CHAT, eve, "For Bob", thread_id=threads[second])

        [bob] = await fake.wait_call(
            "sendMessage", lambda c: "For Bob" in c.params["text"], after=mark, timeout=5
        )
        tries = await fake.wait_call(
            "sendMessage",
            lambda c: "For Alice" in c.params["text"],
            after=mark,
            count=4,
            timeout=15,
        )
        # Another chat is never held back by this one's trouble.
        assert bob.at - failed.at < 2.0
        # Three retries within seconds (1, 2, 4 s at most, jittered), not minutes.
        assert tries[-1].at - tries[0].at < 8.0
        assert [c.params["text"] for c in fake.calls_of("sendMessage", after=mark)].count(
            tries[-1].params["text"]
        ) == 4


async def test_a_team_chat_held_by_429s_is_logged_as_behind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """README: the log says a team chat is behind, with how many messages wait, when
    Telegram asks the bot to slow down while a backlog builds."""
    caplog.set_level(logging.WARNING, logger="bot.relay")
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        tech_team(fake)
        # Telegram holds the group twice: the first ticket's topic waits 2 s, twice.
        fake.fail_next("createForumTopic", 429, retry_after=2, times=2, chat_id=TECH_CHAT)
        first = await file_directly(desk.app, ALICE, "bug", "Printer prints nothing")
        await fake.wait_call("createForumTopic")
        later = [
            await file_directly(desk.app, BOB, "bug", f"Invoice {i} is blank") for i in range(2)
        ]
        for number in (first, *later):
            await wait_card(fake, number)
        assert len(fake.calls_of("createForumTopic")) == 2 + 3
    behind = [r.getMessage() for r in caplog.records if "is behind" in r.getMessage()]
    assert behind, "no backlog was logged"
    waiting = [int(m.split("is behind: ")[1].split()[0]) for m in behind]
    assert all(m.startswith(f"telegram {TECH_CHAT} is behind") for m in behind)
    assert max(waiting) >= 3  # the three tickets' openings
    assert "retry after 2" in behind[-1]
