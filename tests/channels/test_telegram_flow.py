"""End to end: the real aiogram bot, desk and relay against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram_app import (
    COMMUNITY,
    SALES_CHAT,
    TECH_CHAT,
    WEDNESDAY_MORNING,
    MovingClock,
    policy_data,
    running_desk,
)
from telegram_people import Person, card_message, file_directly, file_ticket, press_in_team

from bot.errors import TicketNotFound
from bot.inputs import CommandGiven
from bot.participant import Participant


async def test_intake_claim_question_answer_resolution_confirmation(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        agent = fake.user(700, "Eve")
        alice = Person(fake, 501, "Alice")

        assert "#1" in await file_ticket(alice)
        await fake.wait_call("sendDocument", lambda c: c.params["chat_id"] == TECH_CHAT)
        topic = fake.calls_of("createForumTopic")[0]
        assert topic.params["name"] == "#1 Printer module prints nothing"
        thread = next(iter(fake.topics[TECH_CHAT]))
        opened = [c for c in fake.calls_of("sendMessage") if c.params["chat_id"] == TECH_CHAT]
        # One message, the card, says it all (escaped); the files follow.
        assert len(opened) == 1
        assert "blank &lt;b&gt;&amp;&lt;/b&gt; nothing" in opened[0].params["text"]
        album = fake.calls_of("sendMediaGroup")[0]
        assert [m["type"] for m in album.params["media"]] == ["photo", "photo"]
        assert album.params["message_thread_id"] == thread

        card = card_message(fake, 1)
        mark = fake.mark()
        assert "Done" in await press_in_team(fake, agent, card, "a:claim:1")
        await fake.wait_call("editMessageText", after=mark)
        edited = fake.calls_of("editMessageText", after=mark)[-1].params
        assert "Eve" in edited["text"]
        # Claimed: the button says what pressing it now does.
        labels = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
        assert "Take over" in labels and "Claim" not in labels
        assert any("Eve" in t for t in fake.sent_texts(501, after=mark))

        # Ask: the prompt, then the agent's reply to it in the topic is the question.
        mark = fake.mark()
        await press_in_team(fake, agent, card, "a:ask:1")
        prompt = fake.messages[(TECH_CHAT, max(m for c, m in fake.messages if c == TECH_CHAT))]
        fake.push_reply(
            TECH_CHAT, agent, "Which browser <exactly>?", thread_id=thread, reply_to=prompt
        )
        question = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
        )
        assert "Which browser &lt;exactly&gt;?" in question[0].params["text"]

        # The customer's answer joins the ticket and is mirrored into the topic.
        mark = fake.mark()
        await alice.says("Firefox 126")
        await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == TECH_CHAT and "Firefox 126" in c.params["text"],
            after=mark,
        )

        # A note stays internal; an answer with a photo reaches the customer.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/note customer uses an old plugin", thread_id=thread)
        await fake.wait_call(
            "sendMessage", lambda c: "note" in c.params["text"].lower(), after=mark
        )
        fake.push_photo(TECH_CHAT, agent, caption="Fixed, see the screenshot", thread_id=thread)
        await fake.wait_call("sendPhoto", lambda c: c.params["chat_id"] == 501, after=mark)
        texts = fake.sent_texts(501, after=mark)
        assert any("Fixed, see the screenshot" in t for t in texts)
        assert not any("old plugin" in t for t in texts)

        # Resolution: the customer gets buttons, confirms, the topic closes.
        mark = fake.mark()
        await press_in_team(fake, agent, card, "a:resolve:1")
        await fake.wait_call(
            "sendMessage",
            lambda c: c.params["chat_id"] == 501 and "reply_markup" in c.params,
            after=mark,
        )
        assert [b["callback_data"] for b in alice.last_buttons()] == ["c:confirm:1", "c:dispute:1"]
        await alice.presses("c:confirm:1")
        await fake.wait_call("closeForumTopic", after=mark)
        ticket = await desk.app.tickets.get(1)
        assert ticket.status.value == "closed"
        assert len(ticket.attachments) >= 4


async def test_outsiders_and_forged_buttons_change_nothing(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = Person(fake, 501, "Alice")
        await file_ticket(alice)
        await fake.wait_call("sendDocument", lambda c: c.params["chat_id"] == TECH_CHAT)
        card = card_message(fake, 1)
        stranger = fake.user(666, "Mallory")  # not a member of the team chat

        assert "Nothing was changed" in await press_in_team(fake, stranger, card, "a:claim:1")
        assert "Nothing was changed" in await press_in_team(fake, stranger, card, "a:resolve:1")
        assert "Nothing was changed" in await press_in_team(fake, stranger, card, "a:ask:1")
        thread = next(iter(fake.topics[TECH_CHAT]))
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, stranger, "pay me in bitcoin", thread_id=thread)
        await fake.wait_call(
            "sendMessage", lambda c: "Nothing was changed" in c.params["text"], after=mark
        )
        assert not fake.sent_texts(501, after=mark)

        # Whatever a button's data holds, even a 60-digit ticket number, it is only old.
        sixty = "a:claim:" + "9" * 60
        for forged in ("a:claim:99x", "a:dr:1:because", "a:nuke:1", "zz:1", "k:nothing", sixty):
            assert "no longer valid" in await press_in_team(fake, stranger, card, forged)
        # A customer pressing forged choice data gets nothing done either.
        mark = fake.mark()
        private = fake.push_message(501, alice.user, "x")  # any private message to attach to
        await fake.wait_idle(0.3)
        fake.push_callback(alice.user, private, "k:forged-token")
        answer = await fake.wait_call("answerCallbackQuery", after=mark)
        assert answer[0].params.get("show_alert") is True
        # A choice naming a 60-digit request is an old button too, not a database error.
        mark = fake.mark()
        fake.push_callback(alice.user, private, "c:confirm:" + "9" * 60)
        [said] = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
        )
        assert "already ended" in said.params["text"]

        ticket = await desk.app.tickets.get(1)
        assert ticket.status.value == "new" and ticket.assignee is None
        assert [e.text for e in ticket.entries if e.kind.value == "agent"] == []

        # A configured lead may act without being a member.
        lead = fake.user(900, "Lena")
        assert "Done" in await press_in_team(fake, lead, card, "a:claim:1")


async def test_escalation_by_moderator_and_refusal_of_others(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={701: "member"})
        community = fake.add_group(
            COMMUNITY,
            "Users",
            username="shop_users",
            members={800: "administrator", 801: "member", 600: "member"},
        )
        bob = fake.user(600, "Bob")
        moderator = fake.user(800, "Mod")
        member = fake.user(801, "Nosy")
        post = fake.push_photo(community["id"], bob, caption="Checkout crashes with error 500")

        mark = fake.mark()
        fake.push_message(COMMUNITY, member, "/escalate", reply_to=post)
        refusal = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == COMMUNITY, after=mark
        )
        assert "Only moderators" in refusal[0].params["text"]

        mark = fake.mark()
        fake.push_message(COMMUNITY, moderator, "/escalate technical", reply_to=post)
        group_reply = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == COMMUNITY, after=mark
        )
        params = group_reply[0].params
        assert "#1" in params["text"]
        # Bob has no support contract: the free plan files with sales only, and the
        # moderator reads where the post went and why.
        assert "(Sales department): the author's support does not cover" in params["text"]
        assert params["reply_parameters"]["message_id"] == post["message_id"]
        url = params["reply_markup"]["inline_keyboard"][0][0]["url"]
        assert url == "https://t.me/supportbot_test?start=t1"
        await fake.wait_call("sendPhoto", lambda c: c.params["chat_id"] == SALES_CHAT, after=mark)
        ticket = await desk.app.tickets.get(1)
        assert ticket.origin.post_link == f"https://t.me/shop_users/{post['message_id']}"
        assert ticket.customer.external_id == "600"
        assert len(ticket.attachments) == 1

        # The same post cannot become a second ticket.
        mark = fake.mark()
        fake.push_message(COMMUNITY, moderator, "/escalate", reply_to=post)
        again = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == COMMUNITY, after=mark
        )
        assert "already become request #1" in again[0].params["text"]
        with pytest.raises(TicketNotFound):
            await desk.app.tickets.get(2)

        # The author continues privately through the deep link.
        bob_chat = Person(fake, 600, "Bob")
        shown = await bob_chat.says("/start t1")
        assert "#1" in shown


async def test_a_flood_from_one_user_is_cut_off(tmp_path: Path) -> None:
    async with running_desk(tmp_path, flood_limit=3, flood_window_seconds=60) as desk:
        fake = desk.fake
        alice = fake.user(501, "Alice")
        mark = fake.mark()
        for i in range(12):
            fake.push_message(501, alice, f"/help {i}")
        await fake.wait_idle(0.5)
        texts = fake.sent_texts(501, after=mark)
        assert len(texts) == 4  # three answers, one notice, then silence
        [notice] = [t for t in texts if "more than 3 messages in 1 min" in t]
        assert "Commands and buttons are not carried out" in notice


async def test_a_flood_drops_no_message_the_rest_joins_the_ticket_once_it_is_over(
    tmp_path: Path,
) -> None:
    # The desk's clock, not the wall's: however slow the machine, the twelve lines
    # arrive within the flood's minute, and the minute is over when the test says so.
    clock = MovingClock(WEDNESDAY_MORNING)
    async with running_desk(tmp_path, clock=clock, flood_limit=3, flood_window_seconds=60) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        alice = fake.user(501, "Alice", language_code="cs")
        number = await file_directly(desk.app, 501, "bug", "Printer prints nothing", locale="cs")
        mark = fake.mark()
        for i in range(12):
            fake.push_message(501, alice, f"line {i}")
        await fake.wait_idle(0.5)
        texts = fake.sent_texts(501, after=mark)
        # In the customer's language, once: what happens to what they send.
        [notice] = [t for t in texts if "Posíláte víc než 3 zprávy za 1 min" in t]
        assert "Nic se neztratí" in notice
        assert len(fake.calls_of("setMessageReaction", after=mark)) == 2  # lines 1 and 2

        clock.advance(seconds=61)  # the flood's window is over; nobody writes
        await desk.app.ticker.tick()
        [told] = await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == 501
                and "9 zpráv odeslaných rychle za sebou" in c.params["text"]
            ),
        )
        assert f"#{number}" in told.params["text"]
        await fake.wait_call(
            "sendMessage",
            lambda c: (
                c.params["chat_id"] == TECH_CHAT
                and "9 zpráv" not in c.params["text"]
                and "9 messages sent in quick succession" in c.params["text"]
            ),
        )
        ticket = await desk.app.tickets.get(number)
        written = [e.text for e in ticket.entries if e.kind.value == "customer"]
        assert written == [
            "line 0",
            "line 1",
            "line 2",
            "\n\n".join(f"line {i}" for i in range(3, 12)),
        ]


async def test_a_429_from_the_api_is_retried_after_retry_after(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.fail_next("createForumTopic", 429, retry_after=1)
        alice = Person(fake, 501, "Alice")
        await file_ticket(alice)
        calls = await fake.wait_call("createForumTopic", count=2, timeout=8)
        assert calls[1].at - calls[0].at >= 0.9
        await fake.wait_call("sendDocument", lambda c: c.params["chat_id"] == TECH_CHAT)
        assert len(fake.topics[TECH_CHAT]) == 1


async def test_files_over_20_mb_are_refused_clearly(tmp_path: Path) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        alice = Person(fake, 501, "Alice")
        mark = fake.mark()
        fake.push_document(
            501,
            alice.user,
            file_name="dump.zip",
            mime_type="application/zip",
            size=25 * 1024 * 1024,
        )
        refusal = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == 501, after=mark
        )
        assert "«dump.zip» is larger than 20 MB" in refusal[0].params["text"]
        # Nothing was downloaded or filed.
        assert fake.calls_of("getFile") == []
        replies = await desk.app.desk.handle(
            Participant("telegram", "501"), CommandGiven("tickets", "all")
        )
        assert [r.key for r in replies] == ["desk.no_tickets"]


async def test_a_customers_long_list_turns_its_pages_in_place(tmp_path: Path) -> None:
    from telegram_people import file_directly

    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        alice = Person(fake, 501, "Alice")
        for i in range(12):
            await file_directly(desk.app, 501, "bug", f"Problem number {i}")
        listed = await alice.says("/tickets all")
        assert "Page 1 of 2" in listed and listed.count("Problem number") == 10
        message = next(
            m
            for m in reversed(list(fake.messages.values()))
            if m["chat"]["id"] == 501 and "tickets:all:2" in str(m.get("reply_markup", ""))
        )
        mark = fake.mark()
        fake.push_callback(alice.user, message, "c:tickets:all:2")
        [edited] = await fake.wait_call("editMessageText", after=mark)
        await fake.wait_idle(0.2)
        assert edited.params["message_id"] == message["message_id"]
        assert "Page 2 of 2" in edited.params["text"]
        assert edited.params["text"].count("Problem number") == 2
        buttons = [
            b["callback_data"] for r in edited.params["reply_markup"]["inline_keyboard"] for b in r
        ]
        assert buttons[-1] == "c:tickets:all:1"
        # Shown in place: nothing new was sent to the customer.
        assert [
            c for c in fake.calls_of("sendMessage", after=mark) if c.params["chat_id"] == 501
        ] == []


async def test_the_terminal_team_channels_of_a_policy_stay_quiet_on_telegram(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The example policy names terminal team channels beside Telegram's: a desk serving
    Telegram writes nothing for them, and logs no "no notifier for channel console"."""
    data = policy_data()
    for department, chat in (("technical", TECH_CHAT), ("sales", SALES_CHAT)):
        data["departments"][department]["team_channels"] = {
            "console": department,
            "telegram": str(chat),
        }
    async with running_desk(tmp_path, policy=data) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={700: "member"})
        fake.user(501, "Alice")
        number = await file_directly(desk.app, 501, "bug", "Printer prints nothing")
        await fake.wait_call("sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT)
        await fake.wait_idle(0.3)
        channels = {i.notification.channel for i in await desk.app.relay.outbox.items()}
    assert channels == {"telegram"}
    assert number == 1
    assert "no notifier" not in caplog.text
