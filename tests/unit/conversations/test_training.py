"""The onboarding training request dialog."""

from __future__ import annotations

from datetime import date

import pytest

from bot.account import Account
from bot.commands import LookupAccount, OpenTickets
from bot.dialog import DeskContext, TicketBrief
from bot.inputs import (
    AccountLooked,
    ChoicePicked,
    CommandGiven,
    FileSent,
    Refused,
    TextSent,
    TicketsFiled,
)
from bot.policy import load_policy
from bot.reply import Text
from bot.ticket import Status
from conversations.training import CorruptTrainingState, Step, Training, parse_slots

POLICY = load_policy()
ACCOUNT = Account("SN-1", ("shop.cz",), "standard", purchased_on=date(2026, 11, 10))
ELIGIBLE = DeskContext(POLICY, date(2026, 11, 23), account=ACCOUNT, training_eligible=True)
dialog = Training()


def test_not_eligible_is_told_and_nothing_starts() -> None:
    old = DeskContext(
        POLICY, date(2026, 11, 23), account=ACCOUNT, training_eligible=False, training_days=14
    )
    done = dialog.start(old)
    assert done.state is None
    assert [r.key for r in done.replies] == ["training.intro", "training.not_eligible"]
    # The policy's period and the policy's name for the training, not a fixed "30 days".
    assert done.replies[1].params == {"training": Text("category.training"), "days": 14}


def test_without_a_linked_account_the_number_comes_first() -> None:
    unlinked = DeskContext(POLICY, date(2026, 11, 23))
    start = dialog.start(unlinked)
    assert start.state is not None and start.replies[-1].key == "training.ask_number"
    checking = dialog.advance(start.state, TextSent("SN-1"), unlinked)
    assert checking.command == LookupAccount(
        support_number="SN-1", id=checking.command.id, at=checking.command.at
    )
    assert checking.state is not None
    unknown = dialog.advance(checking.state, AccountLooked("SN-1", None), unlinked)
    assert unknown.replies[0].key == "training.number_unknown"
    found = dialog.advance(checking.state, AccountLooked("SN-1", ACCOUNT), ELIGIBLE)
    assert found.state is not None and found.state.step is Step.SLOTS


def test_one_training_request_at_a_time() -> None:
    brief = TicketBrief(4, "SN-1: Tue", "1. Tue", Status.NEW, "sales", "training")
    again = dialog.start(
        DeskContext(
            POLICY,
            date(2026, 11, 23),
            account=ACCOUNT,
            training_eligible=True,
            open_tickets=(brief,),
        )
    )
    assert again.state is None and again.replies[0].params == {"number": 4}


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("Tuesday 10:00-11:00\nWednesday 14:00", ("Tuesday 10:00-11:00", "Wednesday 14:00")),
        ("Mon 9:00; Tue 9:00; Wed 9:00", ("Mon 9:00", "Tue 9:00", "Wed 9:00")),
        ("only one slot", None),
        ("a1\nb2\nc3\nd4", None),
        ("ok slot\nx", None),
    ],
)
def test_slots_are_two_or_three_lines(text: str, slots: tuple[str, ...] | None) -> None:
    assert parse_slots(text) == slots


def test_training_is_filed_for_sales_with_the_slots() -> None:
    start = dialog.start(ELIGIBLE)
    assert start.state is not None and start.state.step is Step.SLOTS
    bad = dialog.advance(start.state, FileSent(()), ELIGIBLE)
    assert bad.replies[0].key == "training.hint_slots" and bad.state == start.state
    confirm = dialog.advance(start.state, TextSent("Tue 10:00\nWed 14:00"), ELIGIBLE)
    assert confirm.state is not None and confirm.replies[0].key == "training.summary"
    forged = dialog.advance(confirm.state, ChoicePicked("file-anything"), ELIGIBLE)
    assert forged.replies[0].key == "training.hint_choose" and forged.command is None
    filing = dialog.advance(confirm.state, ChoicePicked("confirm"), ELIGIBLE)
    assert isinstance(filing.command, OpenTickets)
    [draft] = filing.command.drafts
    assert draft.category == "training" and POLICY.route(draft.category) == "sales"
    assert draft.description == "1. Tue 10:00\n2. Wed 14:00"
    assert filing.state is not None
    refused = dialog.advance(filing.state, Refused("sla.quota_exceeded", ()), ELIGIBLE)
    assert refused.state is not None and refused.state.step is Step.CONFIRM
    done = dialog.advance(filing.state, TicketsFiled((7,)), ELIGIBLE)
    assert done.state is None and done.replies[0].params == {"number": 7}


def test_cancel_and_storage() -> None:
    start = dialog.start(ELIGIBLE)
    assert start.state is not None
    assert dialog.advance(start.state, CommandGiven("cancel"), ELIGIBLE).state is None
    assert dialog.load(dialog.dump(start.state)) == start.state
    with pytest.raises(CorruptTrainingState):
        dialog.load({"v": 1, "step": "nowhere"})
    with pytest.raises(ValueError):
        dialog.load({"step": "slots"})


def test_trial_users_without_a_number_may_ask_where_the_policy_allows() -> None:
    trial = DeskContext(POLICY, date(2026, 11, 23), training_trial=True, phone="+420 601 234 567")
    start = dialog.start(trial)
    assert start.state is not None and start.replies[-1].key == "training.ask_number_trial"
    assert [c.value for c in start.replies[-1].choices] == ["trial"]
    asking = dialog.advance(start.state, ChoicePicked("trial"), trial)
    assert asking.state is not None and asking.state.step is Step.SLOTS
    confirm = dialog.advance(asking.state, TextSent("Tue 10:00\nWed 14:00"), trial)
    assert confirm.state is not None
    assert dialog.load(dialog.dump(confirm.state)) == confirm.state
    filing = dialog.advance(confirm.state, ChoicePicked("confirm"), trial)
    assert isinstance(filing.command, OpenTickets)
    [draft] = filing.command.drafts
    assert draft.support_number == "" and draft.title == "Tue 10:00 / Wed 14:00"
    # Without the policy's leave, the button is not there and pressing it does nothing.
    closed = DeskContext(POLICY, date(2026, 11, 23))
    start = dialog.start(closed)
    assert start.state is not None and start.replies[-1].choices == ()
    refused = dialog.advance(start.state, ChoicePicked("trial"), closed)
    assert refused.state is not None and refused.state.step is Step.NUMBER
