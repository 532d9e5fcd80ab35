"""Flood control lives in the desk, for every channel (the terminal included), and drops
nothing without a trace: what comes over the limit is kept and joined into the ticket
once the flood is over; the sender is told, once, exactly what happens."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.announce import Announcer
from bot.clock import ManualClock
from bot.commands import TicketDraft
from bot.customer import Customer
from bot.desk import Desk
from bot.gate import FloodRule
from bot.held import HeldMessage, join_held
from bot.inputs import CommandGiven, FileSent, TextSent, UpdateRef
from bot.participant import Participant
from bot.policy import load_policy
from bot.schedule import Schedule
from bot.ticket import Attachment
from bot.tickets import TicketService
from conversations.intake import Intake
from store.ratelimit import MemoryRateLimiter
from tests.unit.fakes import FakeUnitOfWorkFactory

POLICY = load_policy()
ALICE = Participant("console", "alice")


class Flooded:
    """A desk with one open ticket of Alice's and a flood limit of 20 a minute; the
    limiter's clock (``seconds``) and the desk's (``clock``) move separately."""

    def __init__(self, keep: int = 200) -> None:
        self.clock = ManualClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
        self.seconds = [0.0]
        self.uow = FakeUnitOfWorkFactory()
        self.tickets = TicketService(
            self.uow, POLICY, self.clock, Announcer(POLICY), Schedule(POLICY)
        )
        self.desk = Desk(
            self.uow,
            self.tickets,
            POLICY,
            self.clock,
            [Intake()],
            limiter=MemoryRateLimiter(lambda: self.seconds[0]),
            flood=FloodRule(limit=20, window=60, keep=keep),
        )

    async def open_ticket(self) -> None:
        await self.tickets.open_tickets(
            Customer(ALICE, "Alice"),
            (TicketDraft(category="bug", title="Broken", description="It is broken."),),
            "console",
        )

    def team(self, key: str) -> list[dict[str, object]]:
        return [n.params for n in self.uow.db.outbox if n.key == key]


async def test_fifty_messages_in_five_seconds_all_reach_the_ticket_and_one_notice_says_so() -> (
    None
):
    desk = Flooded()
    await desk.open_ticket()
    answers = []
    for i in range(50):
        desk.seconds[0] = i * 0.1
        answers.append(await desk.desk.answer(ALICE, TextSent(f"message {i}"), name="Alice"))
    ticket = await desk.tickets.get(1)
    assert len([e for e in ticket.entries if e.text.startswith("message")]) == 20
    keys = [r.key for a in answers for r in a.replies]
    assert keys.count("desk.flood") == 1
    [notice] = [r for a in answers for r in a.replies if r.key == "desk.flood"]
    assert notice.params == {"limit": 20, "minutes": 1}
    assert len(desk.team("team.customer_wrote")) == 20

    # A minute later the customer is heard again: the thirty kept come first, joined.
    desk.seconds[0] = 70.0
    later = await desk.desk.answer(ALICE, TextSent("still there?"), name="Alice")
    assert [(r.key, r.params) for r in later.replies] == [
        ("desk.held_added", {"count": 30, "number": 1})
    ]
    assert later.acknowledged == 1  # "still there?" joined too, marked as received
    ticket = await desk.tickets.get(1)
    customer = [e.text for e in ticket.entries if e.kind.value == "customer"]
    assert customer[20] == "\n\n".join(f"message {i}" for i in range(20, 50))
    assert customer[21:] == ["still there?"]
    [held] = desk.team("team.customer_wrote_held")
    assert held["count"] == 30


async def test_kept_messages_of_a_customer_who_went_quiet_are_joined_by_the_clock() -> None:
    desk = Flooded()
    await desk.open_ticket()
    for i in range(23):
        await desk.desk.answer(ALICE, TextSent(f"line {i}"), name="Alice")
    photo = Attachment("AgAC-1", "photo_1.jpg", "image/jpeg", 1000, "console", "photo")
    await desk.desk.answer(ALICE, FileSent((photo,), "and a screenshot"), name="Alice")
    assert await desk.desk.release_held() == 0  # the flood's minute is not over

    desk.clock.advance(seconds=61)
    assert await desk.desk.release_held() == 1
    ticket = await desk.tickets.get(1)
    last = ticket.entries[-1]
    assert last.text == "line 20\n\nline 21\n\nline 22\n\nand a screenshot"
    assert last.attachments == (photo,)
    told = [n for n in desk.uow.db.outbox if n.key == "desk.held_added"]
    assert [(n.recipient, n.params) for n in told] == [("alice", {"count": 4, "number": 1})]
    assert await desk.desk.release_held() == 0  # joined once


async def test_commands_over_the_limit_are_not_carried_out_and_a_redelivery_is_kept_once() -> None:
    desk = Flooded(keep=3)
    await desk.open_ticket()
    for i in range(20):
        await desk.desk.answer(ALICE, TextSent(f"line {i}"), name="Alice")
    refused = await desk.desk.answer(ALICE, CommandGiven("tickets", "all"), name="Alice")
    assert [r.key for r in refused.replies] == ["desk.flood"]  # told, not listed
    again = UpdateRef("telegram", "bot", "m:1:99")
    for _ in range(3):  # the same update delivered three times: kept once
        await desk.desk.answer(ALICE, TextSent("once"), name="Alice", update=again)
    for i in range(2):
        await desk.desk.answer(ALICE, TextSent(f"kept {i}"), name="Alice")
    full = [await desk.desk.answer(ALICE, TextSent(f"over {i}"), name="Alice") for i in range(3)]
    # Three are kept at most here; the sender hears once that the rest are not.
    assert [[r.key for r in a.replies] for a in full] == [["desk.flood_full"], [], []]
    assert [m.text for _, _, m in desk.uow.db.held] == ["once", "kept 0", "kept 1"]


def test_held_messages_join_into_pieces_a_ticket_message_can_take() -> None:
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    held = [HeldMessage("a" * 6, at), HeldMessage("b" * 3, at), HeldMessage("c" * 12, at)]
    pieces = join_held(held, 10)
    assert [(p.text, p.count) for p in pieces] == [
        ("aaaaaa", 1),
        ("bbb", 1),
        ("c" * 10, 1),
        ("cc", 0),  # the rest of a long one
    ]
    assert "".join(p.text for p in pieces).replace("\n", "") == "a" * 6 + "b" * 3 + "c" * 12


async def test_an_update_tried_again_after_a_failure_counts_once() -> None:
    limiter = MemoryRateLimiter(lambda: 0.0)
    rule = FloodRule(limit=2, window=60)
    again = UpdateRef("telegram", "bot", "m:1:1")
    # The same update five times (a worker retrying while the database was away).
    assert [await rule.check(limiter, ALICE.key, again) for _ in range(5)] == [None] * 5
    assert await rule.check(limiter, ALICE.key, UpdateRef("telegram", "bot", "m:1:2")) is None
    assert await rule.check(limiter, ALICE.key, UpdateRef("telegram", "bot", "m:1:3")) is True
