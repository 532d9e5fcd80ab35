"""Fewer, better messages (issue 12): used buttons go away, the customer is thanked
once and later messages are marked rather than answered, and "Ask customer" takes the
agent's question the way agents type it."""

from __future__ import annotations

from pathlib import Path

from telegram_app import TECH_CHAT, running_desk
from telegram_people import (
    Person,
    card_message,
    file_ticket,
    filed_with_topic,
    press_in_team,
    tech_team,
)

from bot.commands import DeclineTicket
from bot.participant import Actor, Participant, Role
from bot.ticket import DeclineReason, Status

ALICE, AGENT, PETR = 501, 700, 502


def live_keyboards(fake: object, chat_id: int) -> list[str]:
    """Texts of the messages in ``chat_id`` whose buttons can still be pressed."""
    return [
        str(m.get("text", ""))
        for m in fake.messages.values()  # type: ignore[attr-defined]
        if m["chat"]["id"] == chat_id and m.get("reply_markup", {}).get("inline_keyboard")
    ]


async def test_used_buttons_go_and_later_messages_are_marked_not_answered(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        alice = Person(fake, ALICE, "Alice")
        mark = fake.mark()
        filed = await file_ticket(alice)
        # One thanks for the filing, not one per note that follows it.
        thanked = [t for t in fake.sent_texts(ALICE, after=mark) if "Thank you" in t]
        assert len(thanked) == 1 and "#1" in filed
        # Every step's buttons were taken off once the conversation moved on.
        assert live_keyboards(fake, ALICE) == []

        first = await alice.says("It also fails on the invoice page")
        assert "Added to request #1" in first and "only marked as received" in first
        mark = fake.mark()
        later = [fake.push_message(ALICE, alice.user, f"and detail {i}") for i in range(2)]
        await fake.wait_call("setMessageReaction", after=mark, count=2)
        await fake.wait_idle(0.3)
        assert fake.sent_texts(ALICE, after=mark) == []  # marked, not answered
        reacted = {c.params["message_id"] for c in fake.calls_of("setMessageReaction")}
        assert reacted == {m["message_id"] for m in later}
        assert all(
            c.params["reaction"] == [{"type": "emoji", "emoji": "👌"}]
            for c in fake.calls_of("setMessageReaction")
        )
        ticket = await desk.app.tickets.get(1)
        assert [e.text for e in ticket.entries if e.kind.value == "customer"] == [
            "It also fails on the invoice page",
            "and detail 0",
            "and detail 1",
        ]

        # The resolution's buttons go once one of them is used.
        await fake.wait_call("sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT)
        await press_in_team(fake, eve, card_message(fake, 1), "a:resolve:1")
        await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE and "reply_markup" in c.params
        )
        assert len(live_keyboards(fake, ALICE)) == 1
        await alice.presses("c:confirm:1")
        # Only the satisfaction stars the confirmation brought are left to press.
        [stars] = live_keyboards(fake, ALICE)
        assert "Rate it from 1 to 5 stars" in stars
        assert (await desk.app.tickets.get(1)).status is Status.CLOSED


async def test_ask_customer_takes_the_agents_next_message_in_the_topic(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        fake.user(ALICE, "Alice")
        number, thread = await filed_with_topic(desk.app, fake, ALICE, "Printer prints nothing")

        mark = fake.mark()
        await press_in_team(fake, eve, card_message(fake, number), f"a:ask:{number}")
        [prompt] = [
            c for c in fake.calls_of("sendMessage", after=mark) if c.params["chat_id"] == TECH_CHAT
        ]
        # The agent's app opens a reply to the prompt: only for the agent named in it.
        assert prompt.params["reply_markup"] == {"force_reply": True, "selective": True}
        assert f'href="tg://user?id={AGENT}"' in prompt.params["text"]
        assert prompt.params["message_thread_id"] == thread

        # Agents type into the topic without replying: that is the question all the same.
        fake.push_reply(TECH_CHAT, eve, "Which printer model is it?", thread_id=thread)
        [question] = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE, after=mark
        )
        assert "Which printer model is it?" in question.params["text"]
        ticket = await desk.app.tickets.get(number)
        assert ticket.status is Status.WAITING

        # Asked once: the agent's next message is an answer again.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, eve, "Meanwhile, try another browser.", thread_id=thread)
        await fake.wait_call("sendMessage", lambda c: c.params["chat_id"] == ALICE, after=mark)
        ticket = await desk.app.tickets.get(number)
        history = [change.new for change in ticket.history]
        assert history.count(Status.WAITING) == 1


def live_menus(fake: object, chat_id: int, number: int) -> list[str]:
    """Texts of the team chat's messages that still offer buttons about ``number``."""
    return [
        str(m.get("text", ""))
        for m in fake.messages.values()  # type: ignore[attr-defined]
        if m["chat"]["id"] == chat_id
        and any(
            str(b.get("callback_data", "")).startswith(("a:", "c:"))
            and str(b.get("callback_data", "")).split(":")[2:3] == [str(number)]
            for row in m.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        )
    ]


async def test_a_tickets_old_team_menus_go_when_another_opens_or_it_closes(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        fake.user(ALICE, "Alice")
        first, _ = await filed_with_topic(desk.app, fake, ALICE, "Printer prints nothing")
        card = card_message(fake, first)
        assert "Done" in await press_in_team(fake, eve, card, f"a:claim:{first}")
        await press_in_team(fake, eve, card, f"a:transfer:{first}")
        [transfer] = live_menus(fake, TECH_CHAT, first)[1:]
        assert "Which department should take request #1?" in transfer
        # Opening Decline takes the Transfer menu's buttons away: one menu at a time.
        await press_in_team(fake, eve, card, f"a:decline:{first}")
        menus = live_menus(fake, TECH_CHAT, first)
        assert len(menus) == 2 and "Why is request #1 declined" in menus[1]
        reasons = next(m for m in fake.messages.values() if f"a:dr:{first}:out_of_scope" in str(m))
        assert "Done" in await press_in_team(fake, eve, reasons, f"a:dr:{first}:out_of_scope")
        assert (await desk.app.tickets.get(first)).status is Status.DECLINED
        # Nothing of the closed ticket can be pressed in the team chat any more.
        assert live_menus(fake, TECH_CHAT, first) == []

        # Closed elsewhere (an agent on another channel): the open menu goes all the same.
        second, _ = await filed_with_topic(desk.app, fake, ALICE, "Invoice page is blank")
        await press_in_team(fake, eve, card_message(fake, second), f"a:transfer:{second}")
        assert len(live_menus(fake, TECH_CHAT, second)) == 2
        agent = await desk.app.tickets.get(second)
        eve_actor = Actor(
            Participant("telegram", str(AGENT)), "Eve", Role.AGENT, frozenset({agent.department})
        )
        await desk.app.tickets.execute(
            eve_actor, DeclineTicket(number=second, reason=DeclineReason.OUT_OF_SCOPE)
        )
        await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == TECH_CHAT
                and "#2" in c.params["text"]
                and "Declined" in c.params["text"]
            ),
            timeout=10,
        )
        await fake.wait_idle(0.3)
        assert live_menus(fake, TECH_CHAT, second) == []


async def test_a_czech_customer_is_thanked_once_and_told_once_in_czech(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        tech_team(fake)
        petr = Person(fake, PETR, "Petr", language="cs")
        translator = desk.app.translator
        mark = fake.mark()
        await file_ticket(petr)
        thanks = translator.text("intake.filed", "cs", {"number": 1})
        said = fake.sent_texts(PETR, after=mark)
        assert len([t for t in said if thanks in t]) == 1  # once, in Czech
        assert len([t for t in said if "Děkujeme" in t]) == 1
        assert not [t for t in said if "Thank you" in t or "Added to" in t]

        added = await petr.says("Na stránce faktury to padá taky")
        title = (await desk.app.tickets.get(1)).title
        assert added == translator.text(
            "desk.added_to_ticket", "cs", {"number": 1, "title": title}
        )
        mark = fake.mark()
        fake.push_message(PETR, petr.user, "a ještě jedna věc")
        await fake.wait_call("setMessageReaction", after=mark)
        await fake.wait_idle(0.3)
        assert fake.sent_texts(PETR, after=mark) == []  # marked, not answered again
