"""Customers filing requests through a Telegram bot, interleaved one step at a time.

Each customer does the whole structured intake that ``tests/channels`` drive:
``/new``, the category button, title, description, steps, a photo, *Done*, the
support number, the domain button, *Skip* for the phone, *Send the ticket*. A
button is pressed only when the bot really sent it: the step finds it in the
newest messages of the customer's chat, so a changed flow stops the run instead
of measuring something else.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from benchmarks.bot_api import EDITED_KEYBOARD, MemoryBotAPI, Sent, UpdateMaker
from benchmarks.probes import Stopwatch

Feed = Callable[[Update], Awaitable[object]]
REPLY_TIMEOUT = 120.0  # seconds a wave of updates may take to be answered
TICKET_FILED = re.compile(r"#(\d+)")


def feeder(dispatcher: Dispatcher, bot: Bot) -> Feed:
    """Updates into ``dispatcher`` as polling hands them over, one awaited at a time."""

    async def feed(update: Update) -> None:
        await dispatcher.feed_update(bot, update)

    return feed


class FlowChanged(RuntimeError):
    """The bot did not offer what the next step needs (the intake changed)."""


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Photo:
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Press:
    value: str  # the choice; its button's callback data is "c:<value>"

    @property
    def data(self) -> str:
        return f"c:{self.value}"


Step = Say | Photo | Press


def support_number(i: int) -> str:
    return f"SN-{100_000 + i}"


def account(i: int) -> dict[str, str]:
    """Customer ``i``'s account as a row of ``python -m bot accounts import``: two
    domains, so the intake asks which one; a plan without a monthly quota."""
    return {
        "support_number": support_number(i),
        "domain": f"shop-{i}.example.cz;eshop-{i}.example.cz",
        "plan": "all_in_one",
        "valid_until": "2099-12-31",
    }


def intake(i: int) -> tuple[Step, ...]:
    """Customer ``i``'s whole intake (their account is ``support_number(i)``)."""
    return (
        Say("/new"),
        Press("bug"),
        Say(support_number(i)),
        Press("domain.1"),  # the second of the account's two domains
        Say(f"Checkout fails for order {i}"),
        Say("After pressing Pay the checkout page shows error 500 and the order is lost."),
        Say("1. add a product to the cart 2. open the checkout 3. press Pay"),
        Photo("the error page"),
        Press("done"),
        Press("skip"),  # no phone number
        Press("confirm"),
    )


class Crowd:
    """``count`` customers in private chats (Telegram user ids from ``first_id``, the
    accounts of ``support_number(first_account)`` on), each taking one step in turn,
    round robin, until every intake is through."""

    def __init__(
        self,
        api: MemoryBotAPI,
        updates: UpdateMaker,
        *,
        first_id: int,
        count: int,
        first_account: int = 0,
    ) -> None:
        self.api = api
        self.updates = updates
        self.first_id = first_id
        self.count = count
        self.first_account = first_account
        self.tickets: set[int] = set()

    def steps_per_customer(self) -> int:
        return len(intake(0))

    async def run(self, feed: Feed, watch: Stopwatch, *, strict: bool = True) -> int:
        """Feed every step through ``feed`` (each timed on ``watch``); the number of
        updates fed. ``strict`` (the desk) follows the bot's buttons and requires a
        filed ticket at the end; the echo baseline only needs updates of the same kinds."""
        scripts = [intake(self.first_account + i) for i in range(self.count)]
        fed = 0
        for step_index in range(self.steps_per_customer()):
            for i, script in enumerate(scripts):
                user_id = self.first_id + i
                update = self._update(user_id, script[step_index], strict)
                with watch.lap():
                    await feed(update)
                fed += 1
        if strict:
            self._collect_tickets()
        return fed

    async def run_waves(self, push: Feed, watch: Stopwatch) -> int:
        """For a bot in another process: every customer's next step is pushed at once
        (``push`` queues it for ``getUpdates``), then every customer's reply awaited
        (its latency is the time to the first message back). The number pushed."""
        scripts = [intake(self.first_account + i) for i in range(self.count)]
        pushed = 0
        for step_index in range(self.steps_per_customer()):
            waiting: dict[int, tuple[float, int]] = {}  # user -> (pushed at, messages then)
            for i, script in enumerate(scripts):
                user_id = self.first_id + i
                update = self._update(user_id, script[step_index], True)
                waiting[user_id] = (time.perf_counter(), self.api.log(user_id).count)
                await push(update)
                pushed += 1
            await self._answered(waiting, watch)
        self._collect_tickets()
        return pushed

    async def _answered(self, waiting: dict[int, tuple[float, int]], watch: Stopwatch) -> None:
        deadline = time.monotonic() + REPLY_TIMEOUT
        while waiting:
            for user_id, (at, before) in list(waiting.items()):
                log = self.api.log(user_id)
                # Answered by a message, not only by the used keyboard taken away (the
                # bot does that first; the next question, or "filed", comes after it).
                if log.count > before and any(
                    s.at >= at and s.text != EDITED_KEYBOARD for s in log.sent
                ):
                    first = next(s.at for s in log.sent if s.at >= at)
                    watch.record(first - at)
                    del waiting[user_id]
            if time.monotonic() > deadline:
                some = next(iter(waiting))
                raise FlowChanged(
                    f"{len(waiting)} customers got no reply within {REPLY_TIMEOUT:.0f} s, "
                    f"e.g. {some}: {_said(self.api.log(some).sent)}"
                )
            await asyncio.sleep(0.01)

    def _update(self, user_id: int, step: Step, strict: bool) -> Update:
        match step:
            case Say(text):
                return self.updates.text(user_id, text)
            case Photo(caption):
                return self.updates.photo(user_id, caption)
            case Press():
                return self.updates.press(
                    user_id, self._message_with(user_id, step, strict), step.data
                )
        raise AssertionError(step)

    def _message_with(self, user_id: int, step: Press, strict: bool) -> dict[str, object]:
        sent = self.api.log(user_id).sent
        for message in reversed(sent):
            if any(data == step.data for _, data in message.buttons):
                return message.message
        if not strict and sent:
            return sent[-1].message
        raise FlowChanged(
            f"customer {user_id}: no button {step.data!r}; the bot said: {_said(sent)}"
        )

    def _collect_tickets(self) -> None:
        """The number of each customer's ticket, from the bot's last answers."""
        for user_id in range(self.first_id, self.first_id + self.count):
            sent = self.api.log(user_id).sent
            numbers = [
                int(m.group(1)) for s in list(sent)[-3:] if (m := TICKET_FILED.search(s.text))
            ]
            if not numbers:
                raise FlowChanged(
                    f"customer {user_id}: no ticket filed; the bot said: {_said(sent)}"
                )
            self.tickets.add(numbers[-1])


def _said(sent: Iterable[Sent]) -> str:
    texts = [s.text for s in list(sent)[-3:]]
    return " / ".join(t[:160].replace("\n", " ") for t in texts) or "nothing"
