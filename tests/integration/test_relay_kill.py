"""A relay process killed with SIGKILL while it sends, then a relay started again: no
notification lost, none sent twice, only the one being sent left in doubt, and that
one reported on its ticket and to its team (``bot.resend.report_uncertain``).

The relay runs in a child process (``relay_child.py``) on the test's database; its
notifier writes the id of each notification it delivered to a file, fsynced per line,
so that what reached the "platform" survives the kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from relay_child import MovingClock, append_line, desk_policy
from store_support import Backend

from bot.app import App, build_app
from bot.commands import AnswerCustomer, TicketDraft
from bot.customer import Customer
from bot.notification import Audience, DeliveryStatus, Notification, OutboxItem
from bot.participant import Actor, Participant, Role
from bot.resend import uncertain_line
from bot.settings import Settings
from bot.ticket import EntryKind

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD = HERE / "relay_child.py"

# A Monday morning in Prague: the technical team is in.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CUSTOMERS = [Participant("chat", str(n)) for n in (100, 101, 102)]
EVA = Actor(Participant("chat", "900"), "eva", Role.AGENT, frozenset({"technical"}))
ANSWERS = 9  # per ticket
LEASE = 120.0  # build_app's relay: the default lease
# How long the test waits for the child relay to reach a state before failing.
PATIENCE = 15.0


@pytest.fixture
async def app(backend: Backend) -> AsyncIterator[App]:
    settings = Settings(
        database_url=backend.engine.url.render_as_string(hide_password=False),
        _env_file=None,  # type: ignore[call-arg]
    )
    built = await build_app(settings, policy=desk_policy(), clock=MovingClock(MONDAY))
    try:
        yield built
    finally:
        await built.close()


async def queue_work(app: App) -> list[int]:
    """A ticket per customer, then Eva's answers to them interleaved."""
    numbers = []
    for who in CUSTOMERS:
        await app.desk.customer(who, name=f"Customer {who.external_id}")
        [ticket] = await app.tickets.open_tickets(
            Customer(who, f"Customer {who.external_id}"),
            (TicketDraft(category="bug", title="Broken", description="It is broken."),),
            "chat",
        )
        assert ticket.number is not None
        numbers.append(ticket.number)
    for a in range(ANSWERS):
        for number in numbers:
            await app.tickets.execute(EVA, AnswerCustomer(number=number, text=f"answer {a}"))
    return numbers


async def outbox(app: App) -> list[OutboxItem]:
    """Every row, in the order the relay claims them."""
    return await app.relay.outbox.items(limit=1000)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def delivered_ids(path: Path) -> list[str]:
    """What reached the platform, in order: the ids of each call (one line a call)."""
    return [i for line in lines(path) for i in line.split()]


async def until(
    what: str, condition: Callable[[], Awaitable[bool]], child: asyncio.subprocess.Process
) -> None:
    """Wait for ``condition`` (polled), failing if the child died or time ran out."""
    deadline = time.monotonic() + PATIENCE
    while not await condition():
        if child.returncode is not None:
            raise AssertionError(f"the relay process exited ({child.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def start_relay(app: App, tmp_path: Path, hang_on: str) -> asyncio.subprocess.Process:
    """The relay process (``relay_child.py``) on ``app``'s database, from ``app``'s time:
    it writes what it delivered to delivered.txt, and hangs on the call carrying
    ``hang_on`` after saying so in marker.txt; its output goes to child.log."""
    delivered, marker, log = (tmp_path / n for n in ("delivered.txt", "marker.txt", "child.log"))
    config = tmp_path / "child.json"
    config.write_text(
        json.dumps(
            {
                "database_url": app.settings.database_url,
                "now": app.clock.now().isoformat(),
                "delivered": str(delivered),
                "marker": str(marker),
                "hang_on": hang_on,
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), str(config), env=env, stdout=out, stderr=out, cwd=REPO
        )


async def kill(child: asyncio.subprocess.Process, log: Path) -> None:
    if child.returncode is None:
        os.kill(child.pid, signal.SIGKILL)
    await child.wait()
    assert child.returncode == -signal.SIGKILL, "\n".join(lines(log))


class FastChat:
    """The restarted relay's notifier: appends to the same file as the killed one."""

    channel = "chat"

    def __init__(self, delivered: Path) -> None:
        self.delivered = delivered
        self.got: list[Notification] = []

    async def deliver(self, notification: Notification) -> None:
        self.got.append(notification)
        append_line(self.delivered, notification.id)


async def test_a_relay_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    app: App, tmp_path: Path
) -> None:
    numbers = await queue_work(app)
    queued = await outbox(app)
    assert len(queued) >= 30
    ids = [item.notification.id for item in queued]
    by_id = {item.notification.id: item.notification for item in queued}
    order: dict[str, list[str]] = {}
    for n in (item.notification for item in queued):
        order.setdefault(n.recipient, []).append(n.id)
    assert len(order) >= 4  # three customers and the team
    # In flight at the kill: an answer to the middle customer, with more queued behind it.
    victim = CUSTOMERS[1].external_id
    hang_on = by_id[order[victim][3]]
    assert hang_on.key == "notice.answer" and hang_on.audience is Audience.CUSTOMER
    held_back = order[victim][4:]
    assert held_back

    delivered, marker, log = (tmp_path / n for n in ("delivered.txt", "marker.txt", "child.log"))
    child = await start_relay(app, tmp_path, hang_on.id)
    try:

        async def sending() -> bool:
            return lines(marker) == [f"sending {hang_on.id}"]

        # Everything but the victim's queue went out and was marked while the one send
        # hangs: nothing else is on its way, so a kill now puts only that one in doubt.
        others = [i for i in ids if i != hang_on.id and i not in held_back]

        async def settled() -> bool:
            if sorted(delivered_ids(delivered)) != sorted(others):
                return False
            status = {i.notification.id: i.status for i in await outbox(app)}
            return all(status[i] is DeliveryStatus.DELIVERED for i in others)

        await until("the chosen send began", sending, child)
        await until("the other recipients' messages were marked", settled, child)
        status = {i.notification.id: i.status for i in await outbox(app)}
        assert status[hang_on.id] is DeliveryStatus.SENDING
        assert {status[i] for i in held_back} == {DeliveryStatus.PENDING}  # held back
    finally:
        await kill(child, log)
    before_restart = delivered_ids(delivered)

    chat = FastChat(delivered)
    app.relay.register(chat)
    # Restarted while the dead relay's lease runs: its row is not touched, and the
    # victim's later messages still wait behind it.
    assert await app.relay.drain() == 0
    assert chat.got == []
    app.clock.advance(seconds=LEASE + 5)  # type: ignore[attr-defined]
    await app.relay.drain(max_rounds=100)

    sent = delivered_ids(delivered)
    assert sent[: len(before_restart)] == before_restart
    # Each exactly once, the one in flight never again.
    counts = Counter(sent)
    assert [i for i, c in counts.items() if c > 1] == []
    assert hang_on.id not in counts
    rows = {i.notification.id: i for i in await outbox(app)}
    notices = [
        r.notification for r in rows.values() if r.notification.key == "team.delivery_uncertain"
    ]
    assert len(notices) == 1, notices  # only the one in flight was in doubt
    [notice] = notices
    assert set(counts) == (set(ids) - {hang_on.id}) | {notice.id}  # nothing lost
    assert sorted(n.id for n in chat.got) == sorted([*held_back, notice.id])
    # Each recipient's messages in the order queued.
    for recipient, queue in order.items():
        got = [i for i in sent if by_id.get(i) and by_id[i].recipient == recipient]
        assert got == [i for i in queue if i != hang_on.id], recipient
    # The store agrees: delivered what the file says, the one in flight uncertain.
    assert rows[hang_on.id].status is DeliveryStatus.UNCERTAIN
    assert {i for i, row in rows.items() if row.status is DeliveryStatus.DELIVERED} == set(sent)
    assert len(rows) == len(ids) + 1
    # Reported: a line on its ticket, and the team told with a button to send it again.
    assert notice.recipient == "team-tech" and notice.audience is Audience.TEAM
    assert notice.ticket_number == hang_on.ticket_number == numbers[1]
    assert [c.value for c in notice.choices] == [f"resend:{hang_on.id}"]
    ticket = await app.tickets.get(numbers[1])
    system = [e.text for e in ticket.entries if e.kind is EntryKind.SYSTEM]
    assert system.count(uncertain_line(hang_on)) == 1
    for number in (numbers[0], numbers[2]):
        other = await app.tickets.get(number)
        assert not any(e.text.startswith("delivery uncertain") for e in other.entries)


TEAM_NOTES = 4  # per ticket, each customer writing in turn


async def queue_team_run(app: App) -> list[int]:
    """A ticket per customer, then the customers' messages to the team, turn by turn:
    one run of the team chat (its openings and twelve messages)."""
    numbers = []
    for who in CUSTOMERS:
        await app.desk.customer(who, name=f"Customer {who.external_id}")
        [ticket] = await app.tickets.open_tickets(
            Customer(who, f"Customer {who.external_id}"),
            (TicketDraft(category="bug", title="Broken", description="It is broken."),),
            "chat",
        )
        assert ticket.number is not None
        numbers.append(ticket.number)
    async with app.uow() as unit:
        for m in range(TEAM_NOTES):
            for number in numbers:
                await unit.outbox.add(
                    Notification(
                        channel="chat",
                        audience=Audience.TEAM,
                        recipient="team-tech",
                        key="team.customer_wrote",
                        created_at=app.clock.now(),
                        params={"number": number, "text": f"note {m}"},
                        ticket_number=number,
                    )
                )
        await unit.commit()
    return numbers


async def test_a_relay_killed_mid_run_leaves_in_doubt_only_the_call_in_flight(
    app: App, tmp_path: Path
) -> None:
    """Regression (issue 7): a kill -9 in the middle of a team chat's run put the whole
    run in doubt (up to 60 rows, most never tried). Now only the rows of the one call
    in flight are; the run's untried rows go out after the restart, in order."""
    await queue_team_run(app)
    queued = await outbox(app)
    ids = [item.notification.id for item in queued]
    by_id = {item.notification.id: item.notification for item in queued}
    team = [i for i in ids if by_id[i].recipient == "team-tech"]
    assert len(team) >= 3 + 3 * TEAM_NOTES  # the openings and the messages: one run
    # The third call of the run (two a call) hangs: it carries team[4] and team[5].
    in_flight = team[4:6]
    before = team[:4]
    untried = team[6:]
    others = [i for i in ids if by_id[i].recipient != "team-tech"]

    delivered, marker, log = (tmp_path / n for n in ("delivered.txt", "marker.txt", "child.log"))
    child = await start_relay(app, tmp_path, in_flight[0])
    try:

        async def sending() -> bool:
            return lines(marker) == [f"sending {' '.join(in_flight)}"]

        async def settled() -> bool:
            if sorted(delivered_ids(delivered)) != sorted([*others, *before]):
                return False
            status = {i.notification.id: i.status for i in await outbox(app)}
            return all(status[i] is DeliveryStatus.DELIVERED for i in [*others, *before])

        await until("the run's third call began", sending, child)
        await until("the calls before it were marked", settled, child)
        status = {i.notification.id: i.status for i in await outbox(app)}
        assert {status[i] for i in [*in_flight, *untried]} == {DeliveryStatus.SENDING}
    finally:
        await kill(child, log)

    chat = FastChat(delivered)
    app.relay.register(chat)
    assert await app.relay.drain() == 0  # the dead relay's lease still runs
    app.clock.advance(seconds=LEASE + 5)  # type: ignore[attr-defined]
    await app.relay.drain(max_rounds=100)

    sent = delivered_ids(delivered)
    counts = Counter(sent)
    assert [i for i, c in counts.items() if c > 1] == []  # nothing twice
    rows = {i.notification.id: i for i in await outbox(app)}
    # In doubt: exactly the two rows of the call in flight, each reported.
    assert sorted(i for i, r in rows.items() if r.status is DeliveryStatus.UNCERTAIN) == sorted(
        in_flight
    )
    assert not set(in_flight) & set(counts)
    reports = {i for i in rows if i not in by_id}
    assert set(counts) == (set(ids) - set(in_flight)) | reports  # nothing lost
    # The untried rows went out after the restart, in the team chat's order.
    assert [i for i in sent if i in by_id and by_id[i].recipient == "team-tech"] == [
        *before,
        *untried,
    ]
    for i in in_flight:
        number = by_id[i].ticket_number
        assert number is not None
        ticket = await app.tickets.get(number)
        lines_of = [e.text for e in ticket.entries if e.kind is EntryKind.SYSTEM]
        assert lines_of.count(uncertain_line(by_id[i])) == 1
