"""Customers filing requests through a Telegram bot, interleaved one step at a time.

Each customer does the whole structured intake that ``tests/channels`` drive:
``/new``, the category button, the support number, the domain button, title,
description, *I still need help* under the help articles the description found,
steps, a photo, *Done*, *Skip* for the phone, *Send the ticket*. A
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
from functools import partial

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from benchmarks.bot_api import EDITED_KEYBOARD, MemoryBotAPI, RawUpdate, Sent, UpdateMaker
from benchmarks.probes import Stopwatch

Feed = Callable[[Update], Awaitable[object]]
Push = Callable[[RawUpdate], Awaitable[object]]
REPLY_TIMEOUT = 120.0  # seconds a customer waits for the bot's answer before the run fails
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
        Press("need_help"),  # the help articles found ("checkout error") did not help
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
                update = self.updates.parse(self._update(user_id, script[step_index], strict))
                with watch.lap():
                    await feed(update)
                fed += 1
        if strict:
            self._collect_tickets()
        return fed

    async def run_apart(self, push: Push, watch: Stopwatch) -> int:
        """For a bot in another process: every customer at their own pace, all at once.
        Each pushes a step (``push`` queues it for ``getUpdates``), waits for the bot's
        answer (its latency: the time to the first message back) and takes the next
        step, pressing a button once the bot has shown it. The number pushed."""
        pushed = await asyncio.gather(
            *(self._one_apart(i, push, watch) for i in range(self.count))
        )
        self._collect_tickets()
        return sum(pushed)

    async def _one_apart(self, i: int, push: Push, watch: Stopwatch) -> int:
        user_id = self.first_id + i
        log = self.api.log(user_id)
        steps = intake(self.first_account + i)
        for step in steps:
            if isinstance(step, Press):
                await self._until(user_id, partial(self._shown, user_id, step))
            at, before = time.perf_counter(), log.count
            await push(self._update(user_id, step, True))
            await self._until(user_id, partial(self._answered, user_id, at, before))
            watch.record(next(s.at for s in log.sent if s.at >= at) - at)
        return len(steps)

    async def _until(self, user_id: int, seen: Callable[[], bool]) -> None:
        """Until ``seen()`` holds, looked at whenever the bot writes to the chat."""
        log = self.api.log(user_id)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                while not seen():
                    await log.next_message()
        except TimeoutError:
            raise FlowChanged(
                f"customer {user_id}: nothing within {REPLY_TIMEOUT:.0f} s; "
                f"the bot said: {_said(log.sent)}"
            ) from None

    def _answered(self, user_id: int, at: float, before: int) -> bool:
        """Answered by a message, not only by the used keyboard taken away (the bot
        does that first; the next question, or "filed", comes after it)."""
        log = self.api.log(user_id)
        return log.count > before and any(
            s.at >= at and s.text != EDITED_KEYBOARD for s in log.sent
        )

    def _shown(self, user_id: int, step: Press) -> bool:
        return any(data == step.data for s in self.api.log(user_id).sent for _, data in s.buttons)

    def _update(self, user_id: int, step: Step, strict: bool) -> RawUpdate:
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
