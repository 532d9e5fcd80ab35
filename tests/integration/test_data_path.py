"""Two of a thing at once against the real store: the data path's promises (issue 7).

Each test runs the assembled desk (``build_app``) on SQLite and on PostgreSQL (with
Redis locks when ``REDIS_TEST_URL`` is set, advisory locks otherwise), and makes two
or more updates, tickers or workers meet on one ticket, one customer or one quota.
"""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import Engine
from store_support import Backend

from bot.account import Account
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.commands import AnswerCustomer, AskCustomer, ClaimTicket, ResolveTicket, TicketDraft
from bot.customer import Customer
from bot.errors import ConcurrentUpdate, DuplicateUpdate, InvalidTransition
from bot.inputs import ChoicePicked, CommandGiven, TextSent, UpdateRef
from bot.participant import Actor, Participant, Role
from bot.policy import EXAMPLE_POLICY, parse_policy
from bot.settings import Settings
from bot.ticket import EntryKind, Status
from bot.tickets import OnceUsed, QuotaExceeded
from store.models import OutboxRow, TicketRow

# A Monday morning in Prague: the technical team is in.
MONDAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ALICE = Participant("chat", "100")
EVA = Actor(Participant("chat", "900"), "Eva", Role.AGENT, frozenset({"technical"}))
PETR = Actor(Participant("chat", "901"), "Petr", Role.AGENT, frozenset({"technical"}))


class MovingClock(ManualClock):
    """A manual clock that still moves a microsecond per reading, like a real one:
    notifications written one after the other get increasing times."""

    def now(self) -> datetime:
        return self.advance(microseconds=1)


def _policy() -> Any:
    with EXAMPLE_POLICY.open("rb") as fh:
        raw = tomllib.load(fh)
    raw["departments"]["technical"]["team_channels"] = {"chat": "team-tech"}
    return parse_policy(raw)


def _settings(backend: Backend, redis_url: str | None) -> Settings:
    # Flood control out of the way: these tests send many updates as one customer.
    return Settings(
        database_url=backend.engine.url.render_as_string(hide_password=False),
        redis_url=redis_url,
        flood_limit=1000,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(params=["memory-or-advisory", "redis"])
def lock_kind(request: pytest.FixtureRequest) -> str | None:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return None


@pytest.fixture
async def app(backend: Backend, lock_kind: str | None) -> AsyncIterator[App]:
    settings = _settings(backend, lock_kind)
    built = await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY))
    await _with_account(built)
    try:
        yield built
    finally:
        await built.close()


async def _with_account(app: App) -> None:
    """The account SN-1 (standard plan, one domain) in ``app``'s store."""
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-1", ("shop.cz",), "standard", valid_until=date(2099, 1, 1))
        )
        await uow.commit()


async def _file(app: App, who: Participant = ALICE, number: str = "SN-1") -> int:
    draft = TicketDraft(
        category="bug", title="Checkout fails", description="Error 500.", support_number=number
    )
    [ticket] = await app.tickets.open_tickets(Customer(who, "Alice"), (draft,), "chat")
    assert ticket.number is not None
    return ticket.number


async def _outbox(app: App, ticket: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(audience, key, params) of the ticket's notifications, in the order written."""
    async with app.uow() as uow:
        session = uow._session  # the test reads the table as it is
        rows = await session.execute(
            select(OutboxRow.audience, OutboxRow.key, OutboxRow.params)
            .where(OutboxRow.ticket_number == ticket)
            .order_by(OutboxRow.created_at, OutboxRow.position)
        )
        return [(audience, key, params) for audience, key, params in rows]


async def test_thirty_agent_messages_and_a_claim_at_once_all_land_in_order(app: App) -> None:
    number = await _file(app)
    answers = [
        asyncio.create_task(
            app.tickets.execute(
                EVA,
                AnswerCustomer(number=number, text=f"step {i}"),
                update=UpdateRef("chat", "bot", f"m:{i}"),
            )
        )
        for i in range(30)
    ]
    claim = asyncio.create_task(app.tickets.execute(PETR, ClaimTicket(number=number)))
    await asyncio.gather(*answers, claim)  # none refused: a clash runs again on fresh state
    ticket = await app.tickets.get(number)
    said = [e.text for e in ticket.entries if e.kind is EntryKind.AGENT]
    assert said == [f"step {i}" for i in range(30)]
    assert ticket.status is Status.ACCEPTED
    statuses = [(c.old, c.new) for c in ticket.history]
    assert statuses.count((Status.NEW, Status.ACCEPTED)) == 1
    to_customer = [
        params["text"]
        for audience, key, params in await _outbox(app, number)
        if audience == "customer" and key == "notice.answer"
    ]
    assert to_customer == [f"step {i}" for i in range(30)]


async def test_the_same_update_twice_and_twice_at_once_has_its_effect_once(app: App) -> None:
    number = await _file(app)
    await app.desk.customer(ALICE, name="Alice")
    again = UpdateRef("chat", "bot", "m:100:7")
    first, second = await asyncio.gather(
        app.desk.answer(ALICE, TextSent("It happens on Firefox too."), update=again),
        app.desk.answer(ALICE, TextSent("It happens on Firefox too."), update=again),
    )
    later = await app.desk.answer(ALICE, TextSent("It happens on Firefox too."), update=again)
    # Each delivery is answered the same (the first answer may never have reached the
    # customer), and only one was handled.
    assert first.replies == second.replies == later.replies
    assert first.replies and [first.again, second.again, later.again].count(False) == 1
    ticket = await app.tickets.get(number)
    assert [e.text for e in ticket.entries if e.kind is EntryKind.CUSTOMER] == [
        "It happens on Firefox too."
    ]
    thanks = AnswerCustomer(number=number, text="Thanks")
    await app.tickets.execute(EVA, thanks, update=UpdateRef("chat", "bot", "m:900:1"))
    with pytest.raises(DuplicateUpdate):
        await app.tickets.execute(EVA, thanks, update=UpdateRef("chat", "bot", "m:900:1"))
    ticket = await app.tickets.get(number)
    assert [e.text for e in ticket.entries if e.kind is EntryKind.AGENT] == ["Thanks"]


async def test_a_flood_is_held_back_on_every_limiter(
    backend: Backend, lock_kind: str | None
) -> None:
    """Five messages against a limit of three: three reach the ticket, the fourth and
    fifth are held for later, each once, the sender told once. With Redis the check
    runs while the update's unit of work reads the profile: that unit, over the
    limit, keeps nothing, and the message is held as without Redis."""
    settings = _settings(backend, lock_kind).model_copy(update={"flood_limit": 3})
    flooded = await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY))
    try:
        await _with_account(flooded)
        who = Participant("chat", f"flood-{lock_kind is not None}-{backend.name}")
        number = await _file(flooded, who)
        answers = [
            await flooded.desk.answer(
                who,
                TextSent(f"message {i}"),
                name="Flo",
                update=UpdateRef("chat", "bot", f"f:{i}"),
            )
            for i in range(5)
        ]
        keys = [[r.key for r in a.replies] for a in answers]
        assert keys[3] == ["desk.flood"] and keys[4] == []

        ticket = await flooded.tickets.get(number)
        texts = [e.text for e in ticket.entries if e.kind is EntryKind.CUSTOMER]
        assert texts == ["message 0", "message 1", "message 2"]
        async with flooded.uow() as uow:  # looked at, not taken: no commit
            held = await uow.held.take(who)
        assert [m.text for m in held] == ["message 3", "message 4"]
    finally:
        await flooded.close()


async def _to_summary(app: App, who: Participant) -> None:
    for step in (
        CommandGiven("new"),
        ChoicePicked("bug"),
        TextSent("SN-1"),
        TextSent("Checkout fails with 500"),
        TextSent("The checkout page shows error 500 after I click Pay."),
        CommandGiven("skip"),
        CommandGiven("skip"),
        CommandGiven("skip"),
    ):
        await app.desk.handle(who, step, name="Alice")


async def _filed_by(app: App, who: Participant) -> int:
    async with app.uow() as uow:
        found = await uow._session.scalar(
            select(func.count())
            .select_from(TicketRow)
            .where(TicketRow.customer_id == who.external_id)
        )
    return int(found or 0)


async def test_a_double_press_of_confirm_files_one_ticket(app: App) -> None:
    await _to_summary(app, ALICE)
    press = ChoicePicked("confirm")
    # Two presses (two callbacks), and one press delivered twice, all at once.
    answers = await asyncio.gather(
        app.desk.answer(ALICE, press, update=UpdateRef("chat", "bot", "q:1")),
        app.desk.answer(ALICE, press, update=UpdateRef("chat", "bot", "q:1")),
        app.desk.answer(ALICE, press, update=UpdateRef("chat", "bot", "q:2")),
    )
    assert await _filed_by(app, ALICE) == 1
    handled = [a for a in answers if not a.again]
    keys = [r.key for a in handled for r in a.replies]
    assert keys.count("intake.filed") == 1
    # The press delivered twice is answered twice alike; the second press is stale.
    assert answers[0].replies == answers[1].replies


async def test_twenty_filings_at_once_against_a_quota_of_ten_file_exactly_ten(app: App) -> None:
    people = [Participant("chat", str(200 + i)) for i in range(20)]
    outcomes = await asyncio.gather(*(_file(app, who) for who in people), return_exceptions=True)
    filed = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    odd = [o for o in outcomes if not isinstance(o, int | QuotaExceeded)]
    assert (len(filed), len(refused)) == (10, 10), odd
    left = await app.tickets.quota_left("SN-1")
    assert left is not None and left.params["left"] == 0


async def test_five_filings_of_a_one_off_request_at_once_file_exactly_one(app: App) -> None:
    async with app.uow() as uow:
        await uow.accounts.put(
            Account("SN-A", ("a.cz",), "all_in_one", valid_until=date(2099, 1, 1), direct=False)
        )
        await uow.commit()
    draft = TicketDraft(
        category="installation", title="Install", description="On a.cz.", support_number="SN-A"
    )
    people = [Participant("chat", str(300 + i)) for i in range(5)]
    outcomes = await asyncio.gather(
        *(app.tickets.open_tickets(Customer(who, "X"), (draft,), "chat") for who in people),
        return_exceptions=True,
    )
    filed = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, OnceUsed)]
    assert (len(filed), len(refused)) == (1, 4), outcomes
    async with app.uow() as uow:
        assert await uow.quota.used_once("SN-A", ["installation", "bug"]) == {"installation"}
        stored = await uow.accounts.get("SN-A")
    # The reseller flag is kept.
    assert stored is not None and not stored.direct


async def test_a_claim_racing_a_ticker_save_is_never_overwritten(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    for _ in range(5):
        number = await _file(app)
        await app.tickets.execute(EVA, AskCustomer(number=number, text="Which browser?"))
        await app.tickets.execute(EVA, AnswerCustomer(number=number, text="Also: which version?"))
        clock.advance(days=3)  # the reminder is due
        await asyncio.gather(
            app.ticker.tick(), app.tickets.execute(PETR, ClaimTicket(number=number))
        )
        ticket = await app.tickets.get(number)
        assert ticket.assignee is not None
        assert ticket.history[-1].new is ticket.status  # history and status agree


async def test_three_tickers_at_once_remind_once(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    number = await _file(app)
    await app.tickets.execute(EVA, AskCustomer(number=number, text="Which browser?"))
    clock.advance(days=3)
    others = [await build_app(app.settings, policy=app.policy, clock=clock) for _ in range(2)]
    try:
        looked = await asyncio.gather(app.ticker.tick(), *(o.ticker.tick() for o in others))
    finally:
        for other in others:
            await other.close()
    assert sum(looked) == 1
    reminders = [key for _, key, _ in await _outbox(app, number) if key == "notice.reminder"]
    assert len(reminders) == 1


async def test_an_intake_step_is_one_commit_and_two_statements(app: App, backend: Backend) -> None:
    """The profile read; its write together with the inbox row (a data-modifying WITH
    on PostgreSQL, a view's trigger on SQLite)."""
    await app.desk.handle(ALICE, CommandGiven("new"), name="Alice")
    await app.desk.handle(ALICE, ChoicePicked("bug"), name="Alice")
    await app.desk.handle(ALICE, TextSent("SN-1"), name="Alice")
    commits: list[object] = []
    statements: list[str] = []

    def on_commit(connection: object) -> None:
        commits.append(connection)

    def on_statement(_c: object, _cur: object, statement: str, *_: object) -> None:
        # Advisory locks (PostgreSQL without Redis) are the fleet's coordination, on a
        # connection of their own: the unit of work is what is counted here.
        if "pg_advisory" not in statement and "lock_timeout" not in statement:
            statements.append(statement)

    event.listen(Engine, "commit", on_commit)
    event.listen(Engine, "before_cursor_execute", on_statement)
    try:
        # A title: read profile, conversation and account; write them; the inbox row.
        await app.desk.handle(
            ALICE, TextSent("Checkout fails"), update=UpdateRef("chat", "bot", "m:100:3")
        )
    finally:
        event.remove(Engine, "commit", on_commit)
        event.remove(Engine, "before_cursor_execute", on_statement)
    assert len(commits) == 1
    assert len(statements) == 2, "\n".join(statements)


async def test_a_dropped_database_connection_is_survived(app: App, backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("only PostgreSQL connections can be dropped from outside")
    number = await _file(app)
    async with backend.engine.connect() as admin:
        await admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            )
        )
    await app.tickets.execute(EVA, AnswerCustomer(number=number, text="Back again"))
    ticket = await app.tickets.get(number)
    assert ticket.entries[-1].text == "Back again"


async def test_redis_connections_dropped_mid_run_are_reconnected(
    backend: Backend, redis_url: str
) -> None:
    settings = _settings(backend, redis_url)
    app = await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY))
    try:
        number = await _file(app)
        await app.tickets.execute(EVA, AnswerCustomer(number=number, text="before"))
        from redis.asyncio import Redis

        admin = Redis.from_url(redis_url)
        try:
            await admin.client_kill_filter(_type="normal", skipme=True)
        finally:
            await admin.aclose()
        await app.tickets.execute(EVA, AnswerCustomer(number=number, text="after"))
        ticket = await app.tickets.get(number)
        assert [e.text for e in ticket.entries][-2:] == ["before", "after"]
    finally:
        await app.close()


async def test_the_inbox_forgets_updates_after_a_week_and_not_before(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, ManualClock)
    number = await _file(app)
    old = UpdateRef("chat", "bot", "m:100:1")
    await app.desk.answer(ALICE, TextSent("first"), update=old)
    clock.advance(days=6)
    assert await app.ticker.sweep_inbox(clock.now()) == 0
    assert (await app.desk.answer(ALICE, TextSent("first"), update=old)).again
    clock.advance(days=2)
    assert await app.ticker.sweep_inbox(clock.now()) == 1
    ticket = await app.tickets.get(number)
    assert [e.text for e in ticket.entries if e.kind is EntryKind.CUSTOMER] == ["first"]


async def test_a_redelivered_agent_action_is_not_refused_as_already_done(app: App) -> None:
    number = await _file(app)
    resolve = ResolveTicket(number=number, text="Fixed.")
    ref = UpdateRef("chat", "bot", "q:77")
    await app.tickets.execute(EVA, resolve, update=ref)
    # Telegram delivers the press again: not "cannot be done in its current state".
    with pytest.raises(DuplicateUpdate):
        await app.tickets.execute(EVA, resolve, update=ref)
    # A new press of the same button is refused as ever.
    with pytest.raises(InvalidTransition):
        await app.tickets.execute(EVA, resolve, update=UpdateRef("chat", "bot", "q:78"))


async def test_conversations_left_in_redis_by_the_earlier_layout_carry_on(
    backend: Backend, redis_url: str
) -> None:
    from redis.asyncio import Redis

    settings = _settings(backend, redis_url)
    first = await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY))
    try:
        await first.desk.handle(ALICE, CommandGiven("new"), name="Alice")
        # A question for sales: no support number, no domain; the title comes next.
        await first.desk.handle(ALICE, ChoicePicked("sales"), name="Alice")
        await first.desk.handle(ALICE, CommandGiven("skip"), name="Alice")
        await first.desk.handle(ALICE, CommandGiven("skip"), name="Alice")
        async with first.uow() as uow:
            profile = await uow.customers.get(ALICE)
            assert profile is not None and profile.conversation is not None
            state = profile.conversation
            # As the earlier layout kept it: in Redis, not in the row.
            await uow.customers.put(replace(profile, conversation=None))
            await uow.commit()
    finally:
        await first.close()
    client = Redis.from_url(redis_url)
    try:
        # A Redis the earlier layout used: its states, and no marker of a move yet.
        await client.delete("supportbot:legacy:states-moved")
        await client.set(f"supportbot:state:{ALICE.key}", json.dumps(state))
        upgraded = await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY))
        try:
            replies = await upgraded.desk.handle(ALICE, TextSent("Checkout fails"))
        finally:
            await upgraded.close()
        assert [r.key for r in replies] == ["intake.ask_description"]
        assert await client.get(f"supportbot:state:{ALICE.key}") is None
    finally:
        await client.aclose()


async def test_held_messages_released_by_two_tickers_and_a_worker_join_once(
    backend: Backend, lock_kind: str | None
) -> None:
    """Messages held back by flood control, released at the same moment by the clock
    in two workers and by the customer's next message in a third: each joins the
    ticket once, before the new one (two takers of the same held rows: the later one's
    DELETE finds them gone and its update runs again)."""
    # Redis counts the window in real time, the in-process limiter by the clock: long
    # enough that the five answers fit in it however slow the machine, short enough to
    # wait out.
    window = 3.0
    settings = _settings(backend, lock_kind).model_copy(
        update={"flood_limit": 3, "flood_window_seconds": window}
    )
    fleet = [
        await build_app(settings, policy=_policy(), clock=MovingClock(MONDAY)) for _ in range(3)
    ]
    first, second, third = fleet
    try:
        await _with_account(first)
        who = Participant("chat", f"held-{lock_kind is not None}-{backend.name}")
        number = await _file(first, who)
        for i in range(5):
            await first.desk.answer(
                who, TextSent(f"message {i}"), name="Flo", update=UpdateRef("chat", "b", f"h{i}")
            )
        async with first.uow() as uow:
            held = await uow.held.take(who)  # looked at, not taken: no commit
        assert held, "nothing was held back: the test would prove nothing"
        if lock_kind is not None:  # Redis: the window passes on the wall clock
            await asyncio.sleep(window + 0.1)
        for app in fleet:
            assert isinstance(app.clock, ManualClock)
            app.clock.advance(seconds=window + 1)
        await asyncio.gather(
            first.desk.release_held(),
            second.desk.release_held(),
            third.desk.answer(
                who, TextSent("message 5"), name="Flo", update=UpdateRef("chat", "b", "h5")
            ),
        )
        ticket = await first.tickets.get(number)
        texts = "\n".join(e.text for e in ticket.entries if e.kind is EntryKind.CUSTOMER)
        for i in range(6):
            assert texts.count(f"message {i}") == 1, texts
        assert texts.index("message 4") < texts.index("message 5")
    finally:
        for app in fleet:
            await app.close()


async def test_a_profile_written_meanwhile_by_another_worker_is_not_overwritten(
    backend: Backend,
) -> None:
    """On PostgreSQL a step reads the profile without locking it and writes it back at
    the version it read: the later of two writers changes nothing and is told to run
    again (``ConcurrentUpdate``), so neither worker's step is lost."""
    if backend.name != "postgres":
        pytest.skip("SQLite is one process: its updates queue in that process")
    from store.uow import SqlUnitOfWorkFactory

    units = SqlUnitOfWorkFactory(backend.sessions)
    async with units() as setup:
        await setup.customers.create(Customer(ALICE, "Alice"))
        await setup.commit()
    async with units() as first, units() as second:
        mine = (await first.customers.profile(ALICE)).customer
        theirs = (await second.customers.profile(ALICE)).customer
        assert mine is not None and theirs is not None
        await second.customers.put(replace(theirs, locale="cs"))
        await second.inbox.record(UpdateRef("chat", "bot", "b"), MONDAY)
        await second.commit()
        await first.customers.put(replace(mine, conversation={"kind": "intake"}))
        with pytest.raises(ConcurrentUpdate):
            await first.inbox.record(UpdateRef("chat", "bot", "a"), MONDAY)
    async with units() as check:
        found = await check.customers.get(ALICE)
        assert found is not None and (found.locale, found.conversation) == ("cs", None)
        # The refused step left no inbox row: its update runs again.
        assert not await check.inbox.seen(UpdateRef("chat", "bot", "a"))
    # A write with no inbox row (the clock's, a first contact) is checked the same way.
    async with units() as first, units() as second:
        mine = (await first.customers.profile(ALICE)).customer
        theirs = (await second.customers.profile(ALICE)).customer
        assert mine is not None and theirs is not None
        await second.customers.put(replace(theirs, phone="+420 777 000 000"))
        await second.commit()
        await first.customers.put(replace(mine, name="Alice B."))
        with pytest.raises(ConcurrentUpdate):
            await first.commit()


async def test_two_workers_changing_one_customer_at_once_keep_both_changes(app: App) -> None:
    """Two workers take two updates of one customer at the same moment (the language,
    and the intake's next answer), round after round: every change of both is kept."""
    other = await build_app(app.settings, policy=app.policy, clock=app.clock)
    try:
        for step in (CommandGiven("new"), ChoicePicked("bug"), TextSent("SN-1")):
            await app.desk.handle(ALICE, step, name="Alice")
        languages = ["cs", "pl", "ru", "en"]
        answers = ["Checkout fails", "The checkout page shows error 500.", "/skip"]
        for round_, (language, text_) in enumerate(zip(languages, answers, strict=False)):
            event = CommandGiven("skip") if text_ == "/skip" else TextSent(text_)
            await asyncio.gather(
                app.desk.handle(
                    ALICE, event, name="Alice", update=UpdateRef("chat", "b", f"t{round_}")
                ),
                other.desk.handle(
                    ALICE,
                    ChoicePicked(f"lang:{language}"),
                    name="Alice",
                    update=UpdateRef("chat", "b", f"l{round_}"),
                ),
            )
            async with app.uow() as uow:
                found = await uow.customers.get(ALICE)
            assert found is not None and found.locale == language
            assert found.conversation is not None
            data = found.conversation["data"]
            # Each answer landed: the title, then the description, then past the steps.
            assert data.get("title") == "Checkout fails"
            if round_ >= 1:
                assert data.get("description") == "The checkout page shows error 500."
    finally:
        await other.close()


async def test_two_workers_meeting_a_new_customer_make_one_profile(app: App) -> None:
    """Two workers handle a new customer's first two updates at once: one creates the
    profile, the other finds it made meanwhile and runs again on it; both are handled."""
    other = await build_app(app.settings, policy=app.policy, clock=app.clock)
    newcomer = Participant("chat", "555")
    try:
        answers = await asyncio.gather(
            app.desk.answer(newcomer, CommandGiven("help"), update=UpdateRef("chat", "b", "a")),
            other.desk.answer(newcomer, CommandGiven("start"), update=UpdateRef("chat", "b", "b")),
        )
    finally:
        await other.close()
    assert all(a.replies and not a.again for a in answers)
    async with app.uow() as uow:
        assert (await uow.customers.get(newcomer)) is not None
        assert await uow.inbox.seen(UpdateRef("chat", "b", "a"))
        assert await uow.inbox.seen(UpdateRef("chat", "b", "b"))


async def test_two_workers_starting_at_once_both_fill_the_queue_keys(app: App) -> None:
    """Open tickets from before migration 0008 get their queue key at start-up; two
    workers starting together both do it, neither fails on the other's saves."""
    numbers = [await _file(app, Participant("chat", str(300 + i))) for i in range(6)]
    # The second worker is built first (building fills the keys: alembic's migration
    # cannot run twice at once in one process), then the keys are taken away again.
    other = await build_app(app.settings, policy=app.policy, clock=app.clock)
    try:
        async with app.uow() as uow:
            await uow._session.execute(update(TicketRow).values(queue_due=None))
            await uow.commit()
        filled = await asyncio.gather(
            app.tickets.fill_queue_due(batch=2), other.tickets.fill_queue_due(batch=2)
        )
    finally:
        await other.close()
    assert sum(filled) >= len(numbers)
    async with app.uow() as uow:
        assert await uow.tickets.without_queue_due() == []
