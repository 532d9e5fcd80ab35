"""Agents' tools in team chats, end to end through the real aiogram bot: the queue, quotes
the customer accepts with a button, the SLA on the card, the Transfer and Decline menus,
and a plain (non-forum) group as the team chat."""

from __future__ import annotations

from pathlib import Path

from telegram_app import SALES_CHAT, TECH_CHAT, WEDNESDAY_MORNING, running_desk
from telegram_people import (
    Person,
    card_edit,
    file_directly,
    in_team_chat,
    press_in_team,
    wait_card,
)

from bot.clock import ManualClock
from bot.ticket import DeclineReason, Status

AGENT = 700


async def test_queue_quote_accepted_by_the_customer_and_service_levels_on_the_card(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, clock=ManualClock(WEDNESDAY_MORNING)) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
        agent = fake.user(AGENT, "Eve")
        alice = Person(fake, 501, "Alice")
        fake.user(502, "Bob")
        assert await file_directly(desk.app, 501, "template", "New banner on the home page") == 1
        assert await file_directly(desk.app, 502, "bug_critical", "The shop is down") == 2
        card = await wait_card(fake, 1)
        await wait_card(fake, 2)
        # The card carries the plan's targets in the team's zone (premium: 3 business hours).
        assert "first response by May 15, 2024, 12:00\u202fPM (Prague) (on time)" in card["text"]
        assert "Quote:" not in card["text"]

        # /queue in the chat's general area: the critical one first.
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/queue@supportbot_test")
        queue = await in_team_chat(fake, TECH_CHAT, "2 open requests", mark)
        assert queue.index("#2 ") < queue.index("#1 ")
        assert "The shop is down" in queue and "New banner on the home page" in queue
        stranger = fake.user(666, "Mallory")
        mark = fake.mark()
        fake.push_message(TECH_CHAT, stranger, "/queue")
        await in_team_chat(fake, TECH_CHAT, "Nothing was changed", mark)

        # /quote in the ticket's topic: without a price only the usage comes back.
        thread = card["message_thread_id"]
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/quote", thread_id=thread)
        await in_team_chat(fake, TECH_CHAT, "Use: /quote PRICE", mark)
        fake.push_reply(TECH_CHAT, agent, "/frobnicate the customer", thread_id=thread)
        await in_team_chat(fake, TECH_CHAT, "/queue", mark)
        fake.push_reply(TECH_CHAT, agent, "/quote 1500 CZK | a new banner", thread_id=thread)
        offer = await alice.hears("CZK\u00a01,500.00", after=mark)
        assert "a new banner" in offer and "Work starts only after you accept" in offer
        assert [b["callback_data"] for b in alice.last_buttons()] == [
            "c:quote_yes:1",
            "c:quote_no:1",
        ]
        assert not any("frobnicate" in t for t in fake.sent_texts(501, after=mark))
        await in_team_chat(fake, TECH_CHAT, "Eve sent a quote of CZK\u00a01,500.00", mark)
        edited = await card_edit(fake, TECH_CHAT, "Quote: CZK\u00a01,500.00 (waiting", mark)
        assert "first response by May 15, 2024, 12:00\u202fPM (Prague) (met)" in edited
        # Waiting for the customer's approval: only Claim, Decline and Transfer are offered.
        assert "Status: Waiting for the customer's approval" in edited
        buttons = fake.messages[(TECH_CHAT, card["message_id"])]["reply_markup"]
        assert [b["callback_data"] for row in buttons["inline_keyboard"] for b in row] == [
            "a:claim:1",
            "a:decline:1",
            "a:transfer:1",
        ]

        # The work cannot be resolved before the customer says yes.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/resolve Done.", thread_id=thread)
        await in_team_chat(fake, TECH_CHAT, "quote the customer has not accepted", mark)

        # The customer accepts with the button; the team hears it and the card says so.
        offer_message = next(
            m
            for m in reversed(list(fake.messages.values()))
            if m["chat"]["id"] == 501 and "c:quote_no:1" in str(m.get("reply_markup", ""))
        )
        stale = dict(offer_message)  # as an app that has not caught up still shows it
        assert "the quote for request #1 is accepted" in await alice.presses("c:quote_yes:1")
        assert "reply_markup" not in fake.messages[(501, offer_message["message_id"])]
        await in_team_chat(
            fake, TECH_CHAT, "the customer accepted the quote (CZK\u00a01,500.00)", mark
        )
        await card_edit(fake, TECH_CHAT, "Quote: CZK\u00a01,500.00 (accepted)", mark)
        ticket = await desk.app.tickets.get(1)
        assert ticket.quote is not None and ticket.quote.state.value == "accepted"
        # The buttons went; an old copy of them pressed again changes nothing.
        mark = fake.mark()
        fake.push_callback(alice.user, stale, "c:quote_no:1")
        assert "#1" in (await alice.hears("#1", after=mark))
        assert (await desk.app.tickets.get(1)).quote == ticket.quote


async def test_transfer_and_decline_menus_tell_the_customer_in_their_language(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path, clock=ManualClock(WEDNESDAY_MORNING)) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
        fake.add_group(SALES_CHAT, "Sales", forum=True, members={701: "member"})
        agent = fake.user(AGENT, "Eve")
        alice = Person(fake, 501, "Alice")
        petr = Person(fake, 502, "Petr", language="cs")
        await file_directly(desk.app, 501, "bug", "Invoice PDF has no logo")
        await file_directly(desk.app, 502, "bug", "Filtr nefunguje", locale="cs")
        card = await wait_card(fake, 1)
        card2 = await wait_card(fake, 2)

        # Transfer: the menu lists the other departments; the pick moves the ticket.
        mark = fake.mark()
        await press_in_team(fake, agent, card, "a:transfer:1")
        prompt_call = await fake.wait_call(
            "sendMessage", lambda c: "Which department" in c.params["text"], after=mark
        )
        markup = prompt_call[0].params["reply_markup"]["inline_keyboard"]
        assert [row[0]["callback_data"] for row in markup] == [
            "a:tt:1:consultation",
            "a:tt:1:sales",
        ]
        prompt = next(m for m in fake.messages.values() if "a:tt:1:sales" in str(m))
        assert "Done" in await press_in_team(fake, agent, prompt, "a:tt:1:sales")
        await alice.hears("#1", after=mark)
        await wait_card(fake, 1, SALES_CHAT)
        assert (await desk.app.tickets.get(1)).department == "sales"
        assert "reply_markup" not in fake.messages[(TECH_CHAT, prompt["message_id"])]
        # The old card stays for the record, without buttons nobody here may use.
        old_card = fake.messages[(TECH_CHAT, card["message_id"])]
        assert "reply_markup" not in old_card
        assert fake.topics[SALES_CHAT]

        # Decline: a reason from the menu; the customer reads it in Czech.
        mark = fake.mark()
        await press_in_team(fake, agent, card2, "a:decline:2")
        await fake.wait_call(
            "sendMessage", lambda c: "Why is request #2 declined" in c.params["text"], after=mark
        )
        reasons = next(m for m in fake.messages.values() if "a:dr:2:cannot_reproduce" in str(m))
        assert "Done" in await press_in_team(fake, agent, reasons, "a:dr:2:cannot_reproduce")
        translator = desk.app.translator
        reason_cs = translator.text("decline.cannot_reproduce", "cs")
        assert reason_cs != translator.text("decline.cannot_reproduce", "en")
        declined = await petr.hears(reason_cs, after=mark)
        assert "#2" in declined
        await fake.wait_call("closeForumTopic", after=mark)
        ticket = await desk.app.tickets.get(2)
        assert ticket.status is Status.DECLINED
        assert ticket.decline_reason is DeclineReason.CANNOT_REPRODUCE


async def test_a_plain_group_as_the_team_chat(tmp_path: Path) -> None:
    async with running_desk(tmp_path, clock=ManualClock(WEDNESDAY_MORNING)) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=False, members={AGENT: "member"})
        agent = fake.user(AGENT, "Eve")
        alice = Person(fake, 501, "Alice")
        await file_directly(desk.app, 501, "template", "Change the footer text")
        card = await wait_card(fake, 1)
        assert "message_thread_id" not in card and not fake.calls_of("createForumTopic")
        # The ticket's details are on its card: a new ticket costs one message.
        assert "Change the footer text: please have a look." in card["text"]
        in_chat = [m for m in fake.messages.values() if m["chat"]["id"] == TECH_CHAT]
        assert [m["message_id"] for m in in_chat] == [card["message_id"]]

        # A reply to the card answers the customer.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "Which footer <exactly>?", reply_to=card)
        answer = await alice.hears("Which footer &lt;exactly&gt;?", after=mark)
        assert "Eve" in answer
        await card_edit(fake, TECH_CHAT, "Assignee: Eve", mark)

        # So does /quote, and the customer's button reaches the team as a reply to the card.
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, agent, "/quote 900 CZK", reply_to=card)
        await alice.hears("CZK\u00a0900.00", after=mark)
        await card_edit(fake, TECH_CHAT, "Status: Waiting for the customer's approval", mark)
        await alice.presses("c:quote_no:1")
        await in_team_chat(fake, TECH_CHAT, "refused the quote (CZK\u00a0900.00)", mark)
        refused = fake.calls_of("sendMessage", after=mark)[-1]
        assert refused.params["reply_parameters"]["message_id"] == card["message_id"]
        await card_edit(fake, TECH_CHAT, "Status: Declined", mark)
        assert "reply_markup" not in fake.messages[(TECH_CHAT, card["message_id"])]

        # The card's buttons work here too.
        await file_directly(desk.app, 501, "template", "Change the header text")
        card = await wait_card(fake, 2)
        mark = fake.mark()
        await press_in_team(fake, agent, card, "a:decline:2")
        reasons = next(m for m in fake.messages.values() if "a:dr:2:out_of_scope" in str(m))
        assert reasons["reply_markup"]
        # The customer's own reason is not an agent's pick.
        assert "quote_refused" not in str(reasons["reply_markup"])
        assert "Done" in await press_in_team(fake, agent, reasons, "a:dr:2:out_of_scope")
        declined = await alice.hears("declined", after=mark)
        assert desk.app.translator.text("decline.out_of_scope", "en") in declined
        assert "reply_markup" not in fake.messages[(TECH_CHAT, card["message_id"])]


async def test_a_long_queue_turns_its_pages_in_one_message(tmp_path: Path) -> None:
    async with running_desk(tmp_path, clock=ManualClock(WEDNESDAY_MORNING)) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
        agent = fake.user(AGENT, "Eve")
        for i in range(12):
            fake.user(600 + i, f"Customer {i}")
            await file_directly(desk.app, 600 + i, "bug", f"Problem number {i}")
        await wait_card(fake, 12)
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/queue")
        first = await in_team_chat(fake, TECH_CHAT, "12 open requests", mark)
        assert "Page 1 of 2" in first and "12 new · 0 accepted" in first
        assert first.count("Problem number") == 10
        queue = next(
            m
            for m in reversed(list(fake.messages.values()))
            if m["chat"]["id"] == TECH_CHAT and "qp:2" in str(m.get("reply_markup", ""))
        )
        # A stranger's press changes nothing.
        mark = fake.mark()
        refused = await press_in_team(fake, fake.user(666, "Mallory"), queue, "qp:2")
        assert "Nothing was changed" in refused
        assert fake.calls_of("editMessageText", after=mark) == []
        mark = fake.mark()
        await press_in_team(fake, agent, queue, "qp:2")
        [edited] = fake.calls_of("editMessageText", after=mark)
        assert edited.params["message_id"] == queue["message_id"]
        assert "Page 2 of 2" in edited.params["text"]
        assert edited.params["text"].count("Problem number") == 2
        buttons = edited.params["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in buttons] == ["qp:1"]
        # The same page asked for with the command.
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/queue 2")
        again = await in_team_chat(fake, TECH_CHAT, "Page 2 of 2", mark)
        assert again.count("Problem number") == 2


async def test_the_queue_says_when_the_team_chat_is_behind(tmp_path: Path) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.notification import Audience, Notification
    from store.models import OutboxRow

    async with running_desk(tmp_path, clock=ManualClock(WEDNESDAY_MORNING)) as desk:
        fake = desk.fake
        fake.add_group(TECH_CHAT, "Tech", forum=True, members={AGENT: "member"})
        agent = fake.user(AGENT, "Eve")
        fake.user(501, "Alice")
        await file_directly(desk.app, 501, "bug", "Checkout fails")
        await wait_card(fake, 1)
        # Four team messages waiting for this chat, the oldest for 7 minutes; due only
        # tomorrow, so the running relay leaves them where they are.
        waited = desk.app.clock.now() - timedelta(minutes=7)
        async with desk.app.uow() as uow:
            for i in range(4):
                await uow.outbox.add(
                    Notification(
                        id=f"waiting-{i}",
                        channel="telegram",
                        audience=Audience.TEAM,
                        recipient=str(TECH_CHAT),
                        key="team.customer_wrote",
                        created_at=waited + timedelta(seconds=i),
                        ticket_number=1,
                    )
                )
            await uow._outbox.flush()  # type: ignore[attr-defined]
            await uow._session.execute(  # type: ignore[attr-defined]
                update(OutboxRow)
                .where(OutboxRow.id.like("waiting-%"))
                .values(next_attempt_at=desk.app.clock.now() + timedelta(days=1))
            )
            await uow.commit()
        mark = fake.mark()
        fake.push_message(TECH_CHAT, agent, "/queue")
        queue = await in_team_chat(fake, TECH_CHAT, "1 open request,", mark)
        assert "This chat is behind: 4 messages" in queue and "for 7 min" in queue
