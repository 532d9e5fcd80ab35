"""A topic per ticket in the customer's own chat with the bot (issue 12, Bot API 9.3).

When the bot has topics in private chats, each ticket gets one in the customer's chat,
the counterpart of its topic in the team group: its answers arrive there, and what
the customer writes there joins that ticket, so two open tickets never mix. A chat
where a topic cannot be made stays a plain chat, chosen per chat as the bot runs.
"""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import Person, file_directly, file_ticket, tech_team

ALICE, BOB, AGENT = 501, 502, 700


def team_threads(fake: object) -> dict[int, int]:
    """Ticket number -> its topic in the team group."""
    topics = fake.topics[TECH_CHAT]  # type: ignore[attr-defined]
    return {int(t["name"].split()[0][1:]): thread for thread, t in topics.items()}


async def test_each_ticket_lives_in_its_own_topic_of_the_customers_chat(tmp_path: Path) -> None:
    async with running_desk(tmp_path, private_topics=True) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        alice = Person(fake, ALICE, "Alice")

        # Filed in the main chat: the ticket gets its topic there at once.
        mark = fake.mark()
        await file_ticket(alice, "Printer prints nothing")
        [made] = [
            c
            for c in fake.calls_of("createForumTopic", after=mark)
            if c.params["chat_id"] == ALICE
        ]
        assert made.params["name"] == "#1 Printer prints nothing"
        first = next(t for t, info in fake.topics[ALICE].items() if info["name"].startswith("#1"))
        intro = await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == ALICE and c.params.get("message_thread_id") == first,
        )
        assert "#1" in intro[0].params["text"]

        # A second request: its own topic, made when its first news comes.
        second = await file_directly(desk.app, ALICE, "bug", "Invoices are empty")
        await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT, count=2, timeout=10
        )
        threads = team_threads(fake)
        mark = fake.mark()
        fake.push_reply(
            TECH_CHAT, eve, "About the printer: update the driver", thread_id=threads[1]
        )
        fake.push_reply(
            TECH_CHAT, eve, "About the invoices: which month?", thread_id=threads[second]
        )
        answers = await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == ALICE and "About the" in c.params["text"],
            after=mark,
            count=2,
        )
        where = {
            c.params["text"].split("About the ")[1][:5]: c.params.get("message_thread_id")
            for c in answers
        }
        other = next(
            t for t, info in fake.topics[ALICE].items() if info["name"].startswith(f"#{second}")
        )
        assert where == {"print": first, "invoi": other}

        # Written in the first ticket's topic: it joins that one, though the second is
        # the one the customer looked at last; the answer comes back in that topic.
        mark = fake.mark()
        fake.push_message(ALICE, alice.user, "Driver updated, still blank", thread_id=first)
        [said] = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE, after=mark
        )
        assert said.params["message_thread_id"] == first
        assert "#1" in said.params["text"]
        await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == TECH_CHAT
                and "still blank" in c.params["text"]
                and c.params.get("message_thread_id") == threads[1]
            ),
            after=mark,
        )
        one, two = [await desk.app.tickets.get(n) for n in (1, second)]
        assert [e.text for e in one.entries if e.kind.value == "customer"] == [
            "Driver updated, still blank"
        ]
        assert [e.text for e in two.entries if e.kind.value == "customer"] == []


async def test_a_chat_that_refuses_a_topic_stays_a_plain_chat(tmp_path: Path) -> None:
    async with running_desk(tmp_path, private_topics=True) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        fake.user(BOB, "Bob")
        fake.no_topics.add(BOB)
        numbers = [await file_directly(desk.app, BOB, "bug", f"Problem {i}") for i in range(2)]
        await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT, count=2, timeout=10
        )
        threads = team_threads(fake)
        mark = fake.mark()
        for number in numbers:
            fake.push_reply(TECH_CHAT, eve, f"Answer on #{number}", thread_id=threads[number])
        answers = await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == BOB and "Answer on" in c.params["text"],
            after=mark,
            count=2,
        )
        assert [c.params.get("message_thread_id") for c in answers] == [None, None]
        # Tried once for the chat, then remembered: no call wasted on every message.
        tries = [c for c in fake.calls_of("createForumTopic") if c.params["chat_id"] == BOB]
        assert len(tries) == 1
