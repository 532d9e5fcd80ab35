"""A ticket's topic and card in a team chat, made once even when a send fails part way
through the notification that makes them: the notifier's links are kept with the
relay's record of the failure, so its retry finds them."""

from __future__ import annotations

from pathlib import Path

from fake_telegram import FakeTelegram
from telegram_app import TECH_CHAT, running_desk
from telegram_people import file_directly, wait_card


def to_team(fake: FakeTelegram, method: str) -> list[dict[str, object]]:
    return [c.params for c in fake.calls_of(method) if c.params["chat_id"] == TECH_CHAT]


async def test_a_429_after_the_topic_was_made_retries_into_the_same_topic(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.user(501, "Alice")
        # The team's first message of the ticket (its card, right after its topic) is
        # refused once.
        fake.fail_next("sendMessage", 429, retry_after=1)
        await file_directly(desk.app, 501, "bug", "Broken")
        await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == TECH_CHAT and "a:claim:1" in str(c.params),
            count=2,
        )
        await fake.wait_idle(0.3)
        card = await wait_card(fake, 1)
        topics = to_team(fake, "createForumTopic")
        assert len(topics) == 1
        cards = to_team(fake, "sendMessage")
        # Tried twice (refused, then sent), both times into the one topic.
        assert len(cards) >= 2
        assert cards[0]["text"] == cards[1]["text"]
        threads = {c["message_thread_id"] for c in cards}
        assert threads == {card["message_thread_id"]}
