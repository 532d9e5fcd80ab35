"""People in the Telegram tests: a customer in a private chat, agents pressing card
buttons, and the whole intake typed and clicked through the real bot."""

from __future__ import annotations

from typing import Any

from fake_telegram import Call, FakeTelegram
from telegram_app import TECH_CHAT

from bot.app import App
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.participant import Participant


class Person:
    """A Telegram user in a private chat with the bot: says things, presses buttons."""

    def __init__(self, fake: FakeTelegram, user_id: int, name: str, language: str = "en") -> None:
        self.fake = fake
        self.user = fake.user(user_id, name, language_code=language)
        self.id = user_id

    async def hears(self, fragment: str, after: int = 0, timeout: float = 5.0) -> str:  # noqa: ASYNC109
        """Wait for a message to this chat containing ``fragment``; its text."""
        calls = await self.fake.wait_call(
            "sendMessage",
            lambda c: self._mine(c) and fragment in c.params["text"],
            after=after,
            timeout=timeout,
        )
        return str(calls[0].params["text"])

    def _mine(self, call: Call) -> bool:
        return call.params.get("chat_id") == self.id

    async def _answer(self, mark: int, count: int = 1) -> list[Call]:
        return await self.fake.wait_call("sendMessage", self._mine, after=mark, count=count)

    async def says(self, text: str, count: int = 1) -> str:
        mark = self.fake.mark()
        self.fake.push_message(self.id, self.user, text)
        await self._answer(mark, count)
        await self.fake.wait_idle(0.2)
        return "\n".join(
            c.params["text"]
            for c in self.fake.calls_of("sendMessage", after=mark)
            if self._mine(c)
        )

    async def sends_photo(self, **kw: Any) -> str:
        mark = self.fake.mark()
        self.fake.push_photo(self.id, self.user, **kw)
        await self._answer(mark)
        await self.fake.wait_idle(0.2)
        return self._texts(mark)

    async def sends_album(self, group: str, items: list[dict[str, Any]], **kw: Any) -> str:
        mark = self.fake.mark()
        self.fake.push_album(self.id, self.user, group, items, **kw)
        await self._answer(mark)
        await self.fake.wait_idle(0.5)
        return self._texts(mark)

    def _texts(self, mark: int) -> str:
        return "\n".join(
            c.params["text"]
            for c in self.fake.calls_of("sendMessage", after=mark)
            if self._mine(c)
        )

    def last_buttons(self) -> list[dict[str, Any]]:
        for call in reversed(self.fake.calls_of("sendMessage")):
            if self._mine(call) and "reply_markup" in call.params:
                return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
        return []

    async def presses(self, data: str) -> str:
        message = next(
            m
            for m in reversed(list(self.fake.messages.values()))
            if m["chat"]["id"] == self.id and data in str(m.get("reply_markup", ""))
        )
        mark = self.fake.mark()
        self.fake.push_callback(self.user, message, data)
        await self._answer(mark)
        await self.fake.wait_idle(0.2)
        return "\n".join(
            c.params["text"]
            for c in self.fake.calls_of("sendMessage", after=mark)
            if self._mine(c)
        )


async def file_ticket(alice: Person, title: str = "Printer module prints nothing") -> str:
    """The whole intake, with a photo and an album (one file of which is refused)."""
    await alice.says("/new")
    await alice.presses("c:bug")
    await alice.says("SN-1001")
    await alice.says(title)
    await alice.says("When I click print on an order, the page stays blank <b>&</b> nothing.")
    await alice.says("1. open order 2. click print")
    got = await alice.sends_photo(caption="the blank page")
    assert "1" in got
    got = await alice.sends_album(
        "alb1",
        [
            {"type": "photo"},
            {"type": "document", "file_name": "console.log", "mime_type": "text/plain"},
            {"type": "document", "file_name": "x.exe", "mime_type": "application/x-msdownload"},
        ],
    )
    assert "x.exe" in got and "3" in got  # refused clearly, the other two attached
    await alice.presses("c:done")
    await alice.says("+420 777 123 456")
    return await alice.presses("c:confirm")


def card_message(fake: FakeTelegram, number: int, chat_id: int = TECH_CHAT) -> dict[str, Any]:
    return next(
        m
        for m in fake.messages.values()
        if m["chat"]["id"] == chat_id and f"a:claim:{number}" in str(m.get("reply_markup", ""))
    )


async def wait_card(fake: FakeTelegram, number: int, chat_id: int = TECH_CHAT) -> dict[str, Any]:
    """The ticket's card in a team chat, once the relay has sent it."""
    await fake.wait_call(
        "sendMessage",
        lambda c: (
            c.params["chat_id"] == chat_id
            and f"a:claim:{number}" in str(c.params.get("reply_markup", ""))
        ),
    )
    return card_message(fake, number, chat_id)


async def in_team_chat(
    fake: FakeTelegram,
    chat_id: int,
    fragment: str,
    after: int,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> str:
    """Wait for the bot to say something containing ``fragment`` in a team chat."""
    calls = await fake.wait_call(
        "sendMessage",
        lambda c: c.params["chat_id"] == chat_id and fragment in c.params["text"],
        after=after,
        timeout=timeout,
    )
    return str(calls[0].params["text"])


async def card_edit(fake: FakeTelegram, chat_id: int, fragment: str, after: int) -> str:
    """Wait for the card in ``chat_id`` to be edited to contain ``fragment``."""
    calls = await fake.wait_call(
        "editMessageText",
        lambda c: c.params["chat_id"] == chat_id and fragment in c.params["text"],
        after=after,
    )
    return str(calls[0].params["text"])


async def file_directly(
    app: App,
    customer_id: int,
    category: str,
    title: str,
    *,
    locale: str = "en",
    support_number: str = "SN-1001",
) -> int:
    """A ticket filed through the desk as if intake had finished (set-up for agent tests;
    the intake itself is driven through the bot in the flow and service-level tests)."""
    customer = Customer(
        Participant("telegram", str(customer_id)),
        name=f"Customer {customer_id}",
        locale=locale,
        support_number=support_number,
        domain="shop.example.cz",
    )
    async with app.uow() as uow:
        await uow.customers.put(customer)
        await uow.commit()
    draft = TicketDraft(
        category=category,
        title=title,
        description=f"{title}: please have a look.",
        support_number=support_number,
        domain="shop.example.cz",
    )
    [ticket] = await app.tickets.open_tickets(customer, (draft,), "telegram")
    assert ticket.number is not None
    return ticket.number


async def press_in_team(
    fake: FakeTelegram, agent: dict[str, Any], message: dict[str, Any], data: str
) -> str:
    mark = fake.mark()
    fake.push_callback(agent, message, data)
    answer = await fake.wait_call("answerCallbackQuery", after=mark)
    await fake.wait_idle(0.3)
    return str(answer[0].params.get("text", ""))


def tech_team(fake: FakeTelegram, agent: int = 700, name: str = "Eve") -> dict[str, Any]:
    """The technical team's forum group with one agent in it; the agent."""
    fake.add_group(TECH_CHAT, "Tech", forum=True, members={agent: "member"})
    return fake.user(agent, name)


async def filed_with_topic(
    app: App, fake: FakeTelegram, customer: int, title: str
) -> tuple[int, int]:
    """A ticket filed for ``customer``, once its card is in the team group: its number
    and its topic there."""
    number = await file_directly(app, customer, "bug", title)
    card = await wait_card(fake, number)
    return number, int(card["message_thread_id"])
