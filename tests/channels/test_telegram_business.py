"""Telegram Business (issue 12): the bot connected to the company's own Telegram account.

Customers who write to the company's account get the same intake and desk as in the
bot's chat, and whatever the desk or the agents say to them goes out through the
business connection, as the company; the company's own people writing in those chats
are not the desk's business.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fake_telegram import Call, FakeTelegram
from telegram_app import TECH_CHAT, running_desk
from telegram_people import card_message, filed_with_topic, in_team_chat, press_in_team, tech_team

from bot.participant import Participant
from bot.ticket import Status

CAROL, COMPANY, AGENT = 601, 800, 700
CONNECTION = "bc-shop-1"


class BusinessCustomer:
    """Someone writing to the company's account: never to the bot itself."""

    def __init__(self, fake: FakeTelegram, user_id: int, name: str) -> None:
        self.fake = fake
        self.user = fake.business_customer(user_id, name)
        self.id = user_id

    def _mine(self, call: Call) -> bool:
        return call.params.get("chat_id") == self.id

    async def _answer(self, mark: int) -> str:
        """What the company's account said to them after ``mark``."""
        await self.fake.wait_call("sendMessage", self._mine, after=mark)
        await self.fake.wait_idle(0.2)
        sent = self.fake.calls_of("sendMessage", after=mark)
        return "\n".join(c.params["text"] for c in sent if self._mine(c))

    async def says(self, text: str) -> str:
        mark = self.fake.mark()
        self.fake.push_business_message(CONNECTION, self.user, text)
        return await self._answer(mark)

    async def presses(self, data: str) -> str:
        message: dict[str, Any] = next(
            m
            for m in reversed(list(self.fake.messages.values()))
            if m["chat"]["id"] == self.id and data in str(m.get("reply_markup", ""))
        )
        mark = self.fake.mark()
        self.fake.push_callback(self.user, message, data)
        return await self._answer(mark)


async def test_a_customer_of_the_companys_account_files_and_is_answered_as_the_company(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        company = fake.user(COMPANY, "Shop s.r.o.")
        fake.connect_business(CONNECTION, company)
        await fake.wait_idle(0.3)
        carol = BusinessCustomer(fake, CAROL, "Carol")

        # The same intake as in the bot's own chat.
        await carol.says("/new")
        await carol.presses("c:bug")
        await carol.says("SN-1001")
        await carol.says("Checkout fails")
        await carol.says("The Pay button gives error 500 on every order.")
        await carol.says("1. add to cart 2. pay")
        await carol.presses("c:done")
        await carol.says("+420 777 123 456")
        filed = await carol.presses("c:confirm")
        assert "#1" in filed

        # An agent answers in the team's topic: it goes out as the company.
        await fake.wait_call("sendMessage", lambda c: c.params["chat_id"] == TECH_CHAT)
        thread = next(iter(fake.topics[TECH_CHAT]))
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, eve, "Which payment gateway do you use?", thread_id=thread)
        [answer] = await fake.wait_call(
            "sendMessage", lambda c: c.params["chat_id"] == CAROL, after=mark
        )
        assert "Which payment gateway" in answer.params["text"]
        sent = [
            c for c in fake.calls if c.params.get("chat_id") == CAROL and c.name.startswith("send")
        ]
        assert sent and all(c.params.get("business_connection_id") == CONNECTION for c in sent)
        shown = fake.messages[(CAROL, max(m for c, m in fake.messages if c == CAROL))]
        assert shown["from"]["id"] == COMPANY  # the customer sees the company write

        # The company's own people writing in the chat are not the desk's business.
        mark = fake.mark()
        fake.push_business_message(CONNECTION, carol.user, "We will call you.", sender=company)
        await fake.wait_idle(0.4)
        assert fake.calls_of("sendMessage", after=mark) == []

        # Carol's answer joins the ticket; the message is marked read, as the company.
        await carol.says("GoPay")
        ticket = await desk.app.tickets.get(1)
        assert [e.text for e in ticket.entries if e.kind.value == "customer"] == ["GoPay"]
        assert ticket.status is Status.ACCEPTED
        await press_resolve_and_confirm(fake, eve, carol)


async def press_resolve_and_confirm(
    fake: FakeTelegram, eve: dict[str, Any], carol: BusinessCustomer
) -> None:
    mark = fake.mark()
    later = fake.push_business_message(CONNECTION, carol.user, "It works now, thanks")
    [read] = await fake.wait_call("readBusinessMessage", after=mark)
    # Only marked read (a bot cannot react in a business chat), as the company.
    assert read.params["business_connection_id"] == CONNECTION
    assert read.params["message_id"] == later["message_id"]
    await fake.wait_idle(0.3)
    assert not [c for c in fake.calls_of("sendMessage", after=mark) if carol._mine(c)]
    mark = fake.mark()
    await press_in_team(fake, eve, card_message(fake, 1), "a:resolve:1")
    await fake.wait_call(
        "sendMessage", lambda c: c.params["chat_id"] == CAROL and "reply_markup" in c.params
    )
    closed = await carol.presses("c:confirm:1")
    assert "closed" in closed
    edits = fake.calls_of("editMessageReplyMarkup", after=mark)
    assert edits and all(c.params["business_connection_id"] == CONNECTION for c in edits)


async def test_a_connection_turned_off_makes_the_customer_unreachable_without_retries(
    tmp_path: Path,
) -> None:
    async with running_desk(tmp_path) as desk:
        fake = desk.fake
        eve = tech_team(fake)
        company = fake.user(COMPANY, "Shop s.r.o.")
        fake.connect_business(CONNECTION, company)
        await fake.wait_idle(0.3)
        carol = BusinessCustomer(fake, CAROL, "Carol")
        assert await carol.says("Hello")  # the desk answers her as the company
        number, thread = await filed_with_topic(desk.app, fake, CAROL, "Checkout fails")

        def to_carol(c: Call) -> bool:
            return c.params.get("chat_id") == CAROL and c.name.startswith("send")

        # The company ends the connection in its Telegram app and the bot has not heard
        # yet: Telegram refuses the answer, once; the team hears as of a blocked bot.
        fake.business[CONNECTION]["is_enabled"] = False
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, eve, "Which payment gateway do you use?", thread_id=thread)
        told = await in_team_chat(fake, TECH_CHAT, "cannot be delivered", mark, timeout=10)
        assert f"#{number}" in told
        await fake.wait_idle(0.5)
        assert len([c for c in fake.calls[mark:] if to_carol(c)]) == 1
        assert [e for c, e in fake.errors if to_carol(c)] == [
            "Bad Request: BUSINESS_CONNECTION_NOT_ALLOWED"
        ]
        async with desk.app.uow() as uow:
            customer = await uow.customers.get(Participant("telegram", str(CAROL)))
        assert customer is not None and customer.unreachable

        # Told by a business_connection update: the desk does not even try.
        fake.connect_business(CONNECTION, company, enabled=False)
        await fake.wait_idle(0.3)
        mark = fake.mark()
        fake.push_reply(TECH_CHAT, eve, "Are you still there?", thread_id=thread)
        for _ in range(100):  # until the relay is done with the answer
            backlog = await desk.app.relay.outbox.backlog("telegram", str(CAROL))
            answered = [e.text for e in (await desk.app.tickets.get(number)).entries]
            if "Are you still there?" in answered and backlog.count == 0:
                break
            await asyncio.sleep(0.05)
        assert backlog.count == 0 and "Are you still there?" in answered
        assert [c for c in fake.calls[mark:] if to_carol(c)] == []
