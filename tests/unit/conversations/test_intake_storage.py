"""Stored intake states survive JSON, restarts and deploys; bad data never crashes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_support import (
    ACCOUNTS,
    DESCRIPTION,
    MULTI,
    STANDARD,
    TITLE,
    Run,
    brief,
    context,
    png,
    runs_at_every_step,
)

from bot.inputs import (
    AccountLooked,
    AddedToTicket,
    ChoicePicked,
    CommandGiven,
    FileSent,
    Refused,
    TextSent,
    TicketsFiled,
)
from conversations.intake import CorruptState, Intake, IntakeState, Step


@pytest.mark.parametrize("run", runs_at_every_step(), ids=lambda r: str(r.step))
def test_every_step_round_trips_through_json(run: Run) -> None:
    assert run.state is not None
    intake = Intake()
    data = intake.dump(run.state)
    text = json.dumps(data)  # no default=: plain JSON types only
    assert intake.load(json.loads(text)) == run.state


@pytest.mark.parametrize("run", runs_at_every_step(), ids=lambda r: str(r.step))
def test_a_reloaded_state_behaves_like_the_original(run: Run) -> None:
    assert run.state is not None
    intake = Intake()
    reloaded = intake.load(json.loads(json.dumps(intake.dump(run.state))))
    for event in (TextSent("hello there"), CommandGiven("skip"), ChoicePicked("confirm")):
        a = intake.advance(run.state, event, run.context)
        b = intake.advance(reloaded, event, run.context)
        assert a.state == b.state
        assert a.replies == b.replies


def test_step_values_are_stable() -> None:
    # Stored states name steps by these strings; renaming one strands live intakes.
    assert {s.value for s in Step} == {
        "category", "follow_up_offer", "title", "description", "split", "part_category",
        "steps", "files",
        "support_number", "checking", "unknown_number", "expired", "wrong_plan", "not_direct",
        "quota_used", "domain", "wrong_domain", "phone", "summary", "edit_field", "duplicate",
        "appending", "filing",
        "searching", "articles", "reading", "deflecting", "incident_offer",
    }  # fmt: skip


def test_a_version_1_document_still_loads() -> None:
    stored = {
        "v": 1,
        "step": "summary",
        "category": "bug",
        "title": TITLE,
        "description": DESCRIPTION,
        "attachments": [{"file_ref": "f", "file_name": "a.png", "mime_type": "image/png",
                         "size": 10}],
        "account": {"support_number": "SN-1001", "domains": ["shop.cz"], "plan": "standard",
                    "valid_until": "2025-06-30"},
        "domain": "shop.cz",
        "follow_up_of": 4,
    }  # fmt: skip
    state = Intake().load(stored)
    assert state.step is Step.SUMMARY
    assert state.account is not None and state.account.valid_until is not None
    assert state.attachments[0].file_name == "a.png"
    assert state.follow_up_of == 4


def _valid() -> dict[str, Any]:
    run = Run(context(account=MULTI, open_tickets=(brief(9, TITLE, DESCRIPTION),)))
    run.pick("bug")
    run.pick("domain.1")
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.pick("skip")
    run.files(png())
    run.pick("done")
    run.text("+420 601 234 567")
    run.pick("confirm")
    assert run.state is not None and run.state.step is Step.DUPLICATE
    return Intake().dump(run.state)


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": None},
        {"step": "renamed_step"},
        {"step": 3},
        {"title": 42},
        {"title": ""},
        {"parts": "not a list"},
        {"parts": [1, 2]},
        {"attachments": [{"file_name": "no ref"}]},
        {"attachments": ["x"]},
        {"attachments": [{"file_ref": "r", "size": True}]},
        {"account": {"support_number": "x"}},
        {"account": {"support_number": "x", "domains": [], "plan": "p", "valid_until": "soon"}},
        {"follow_up_of": "7"},
        {"follow_up_of": True},
        {"duplicate": None},
        {"duplicate": {"number": 1, "title": "t", "status": "lost"}},
        {"editing": "yes"},
        {"identified": 1},
        {"paid": "no"},
    ],
)
def test_corrupt_data_raises_corrupt_state(change: dict[str, Any]) -> None:
    data = _valid() | change
    with pytest.raises(CorruptState):
        Intake().load(data)


@pytest.mark.parametrize("data", [None, [], "summary", 7])
def test_not_a_dict_raises_corrupt_state(data: Any) -> None:
    with pytest.raises(CorruptState):
        Intake().load(data)


def test_corrupt_state_is_a_value_error() -> None:
    assert issubclass(CorruptState, ValueError)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_KEYS = st.sampled_from(list(_valid()))


@given(st.dictionaries(_KEYS, _JSON, max_size=6))
def test_load_of_any_json_returns_a_state_or_raises_corrupt_state(change: dict[str, Any]) -> None:
    data = _valid() | change
    try:
        state = Intake().load(data)
    except CorruptState:
        return
    assert isinstance(state, IntakeState)


_EVENTS = st.one_of(
    st.sampled_from(
        [
            TextSent(TITLE),
            TextSent(DESCRIPTION),
            TextSent("1. The cart forgets products\n2. Invoices have the wrong VAT rate"),
            TextSent("SN-1001"),
            TextSent("SN-2002"),
            TextSent("NOPE-1"),
            TextSent("shop.cz"),
            TextSent("other.com"),
            TextSent("+420 601 234 567"),
            TextSent("x"),
            FileSent((png("a"),)),
            FileSent((png("b", "big.png", 10**9),), "caption text"),
            CommandGiven("skip"),
            CommandGiven("done"),
            CommandGiven("help"),
            TicketsFiled((5,)),
            AddedToTicket(9),
            Refused("quota.exceeded"),
        ]
    ),
    st.sampled_from(
        [
            "bug",
            "howto",
            "sales",
            "yes",
            "no",
            "split",
            "keep",
            "rewrite",
            "skip",
            "done",
            "clear",
            "retry",
            "sales",
            "renew",
            "cancel",
            "confirm",
            "edit",
            "add",
            "new",
            "back",
            "title",
            "description",
            "files",
            "support_number",
            "domain",
            "phone",
            "category",
            "domain.0",
            "domain.1",
            "saved_phone",
            "saved_domain",
        ]
    ).map(ChoicePicked),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([None, STANDARD, MULTI, ACCOUNTS["SN-3003"], ACCOUNTS["SN-4004"]]),
    st.sampled_from([{}, {"category": "bug"}, {"closed_ticket": 3, "category": "howto"}]),
    st.lists(_EVENTS, max_size=40),
)
def test_random_conversations_never_crash_and_always_store(
    account: Any, options: dict[str, Any], events: list[Any]
) -> None:
    ctx = context(
        account=account, phone="+420 777 000 111", open_tickets=(brief(9, TITLE, DESCRIPTION),)
    )
    run = Run(ctx, **options)  # Run checks the dump/JSON/load round trip at every step
    for event in events:
        if run.state is None:
            break
        if run.step is Step.CHECKING and isinstance(event, TextSent):
            event = AccountLooked(
                run.state.checking_number, ACCOUNTS.get(run.state.checking_number)
            )
        run.send(event)
        if isinstance(event, TextSent | ChoicePicked | FileSent | CommandGiven):
            # Whatever they sent, the customer hears back (or the desk has work to do).
            assert run.replies or run.command_sent is not None
