"""Flood control lives in the desk, for every channel (the terminal included)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.desk import Desk
from bot.gate import FloodRule
from bot.inputs import TextSent, UpdateRef
from bot.participant import Participant
from bot.policy import load_policy
from bot.schedule import Schedule
from bot.tickets import TicketService
from conversations.intake import Intake
from store.ratelimit import MemoryRateLimiter
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("console", "alice")


async def test_fifty_messages_in_five_seconds_reach_the_ticket_twenty_times_and_warn_once() -> (
    None
):
    clock = ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    seconds = [0.0]
    uow = FakeUnitOfWorkFactory()
    tickets = TicketService(uow, POLICY, clock, Announcer(POLICY), Schedule(POLICY))
    desk = Desk(
        uow,
        tickets,
        POLICY,
        clock,
        [Intake()],
        limiter=MemoryRateLimiter(lambda: seconds[0]),
        flood=FloodRule(limit=20, window=60),
    )
    await tickets.open_tickets(
        Customer(ALICE, "Alice"),
        (TicketDraft(category="bug", title="Broken", description="It is broken."),),
        "console",
    )
    answers = []
    for i in range(50):
        seconds[0] = i * 0.1
        answers.append(await desk.answer(ALICE, TextSent(f"message {i}"), name="Alice"))
    ticket = await tickets.get(1)
    assert len([e for e in ticket.entries if e.text.startswith("message")]) == 20
    keys = [r.key for a in answers for r in a.replies]
    assert keys.count("desk.flood") == 1
    team = [n for n in uow.db.outbox if n.key == "team.customer_wrote"]
    assert len(team) == 20
    # A minute later the customer is heard again.
    seconds[0] = 70.0
    later = await desk.answer(ALICE, TextSent("still there?"), name="Alice")
    assert [r.key for r in later.replies] == ["desk.added_to_ticket"]


async def test_an_update_tried_again_after_a_failure_counts_once() -> None:
    limiter = MemoryRateLimiter(lambda: 0.0)
    rule = FloodRule(limit=2, window=60)
    again = UpdateRef("telegram", "bot", "m:1:1")
    # The same update five times (a worker retrying while the database was away).
    assert [await rule.check(limiter, ALICE.key, again) for _ in range(5)] == [None] * 5
    assert await rule.check(limiter, ALICE.key, UpdateRef("telegram", "bot", "m:1:2")) is None
    assert await rule.check(limiter, ALICE.key, UpdateRef("telegram", "bot", "m:1:3")) is True
