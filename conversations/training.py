"""Onboarding training request (seed 004): new customers in their first 30 days may
ask for a free one-hour training; the desk collects two or three preferred time
slots and files it for the sales department.

    start ── a training already open ─────────────────► (end) training.already
      │  no linked account ─► NUMBER ─(LookupAccount ⇢ AccountLooked)─┐
      │                                                              │
      ├── not eligible ────────────────────────────────► (end) training.not_eligible
      ▼
    SLOTS ── 2–3 slots ──► CONFIRM ── confirm ──► FILING (OpenTickets ⇢ TicketsFiled) ─► (end)
      ▲                      │  edit                 │ Refused
      └──────────────────────┘                       └──► CONFIRM
    /cancel anywhere ─► (end) training.cancelled

Pure: no I/O, no clock; the desk carries out ``OpenTickets`` and answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.commands import LookupAccount, OpenTickets, TicketDraft
from bot.dialog import DeskContext, Transition
from bot.inputs import (
    AccountLooked,
    ChoicePicked,
    CommandGiven,
    Input,
    Refused,
    TextSent,
    TicketsFiled,
)
from bot.reply import Choice, Reply

CATEGORY = "training"
MIN_SLOTS, MAX_SLOTS = 2, 3
SLOT_MIN, SLOT_MAX = 3, 80
_SEPARATORS = re.compile(r"[\n;]+")


class Step(StrEnum):
    NUMBER = "number"
    CHECKING = "checking"
    SLOTS = "slots"
    CONFIRM = "confirm"
    FILING = "filing"


class CorruptTrainingState(ValueError):
    """Stored data that is not a training state: the desk drops the conversation."""


@dataclass(frozen=True, slots=True)
class TrainingState:
    step: Step
    slots: tuple[str, ...] = ()


Out = Transition[TrainingState]


def parse_slots(text: str) -> tuple[str, ...] | None:
    """Two or three time slots, one per line (or separated by ';'); None if not."""
    slots = tuple(" ".join(part.split()) for part in _SEPARATORS.split(text) if part.strip())
    if not MIN_SLOTS <= len(slots) <= MAX_SLOTS:
        return None
    if any(not SLOT_MIN <= len(slot) <= SLOT_MAX for slot in slots):
        return None
    return slots


class Training:
    """The training request dialog (``bot.dialog.Dialog``)."""

    kind = "training"

    def start(self, context: DeskContext, **options: Any) -> Out:
        for ticket in context.open_tickets:
            if ticket.category == CATEGORY:
                return Transition(None, (Reply("training.already", {"number": ticket.number}),))
        if context.account is None:
            # Eligibility depends on the licence: ask for the number first.
            state = TrainingState(Step.NUMBER)
            return Transition(state, (Reply("training.intro"), self._prompt(state)))
        return self._eligible(context, (Reply("training.intro"),))

    def _eligible(self, context: DeskContext, before: tuple[Reply, ...]) -> Out:
        if not context.training_eligible:
            return Transition(None, (*before, Reply("training.not_eligible")))
        state = TrainingState(Step.SLOTS)
        return Transition(state, (*before, self._prompt(state)))

    def advance(self, state: TrainingState, event: Input, context: DeskContext) -> Out:
        if isinstance(event, CommandGiven) and event.name == "cancel":
            return Transition(None, (Reply("training.cancelled"),))
        if state.step is Step.NUMBER:
            if not isinstance(event, TextSent) or not event.text.strip():
                return self._again(state, "training.hint_number")
            checking = replace(state, step=Step.CHECKING)
            return Transition(checking, (), LookupAccount(support_number=event.text.strip()))
        if state.step is Step.CHECKING:
            if isinstance(event, AccountLooked):
                if event.account is None:
                    again = replace(state, step=Step.NUMBER)
                    unknown = Reply("training.number_unknown", {"number": event.support_number})
                    return Transition(again, (unknown, self._prompt(again)))
                # The desk linked the number; the context now tells eligibility.
                return self._eligible(context, ())
            return Transition(state, ())
        if state.step is Step.SLOTS:
            if not isinstance(event, TextSent):
                return self._again(state, "training.hint_slots")
            slots = parse_slots(event.text)
            if slots is None:
                return self._again(state, "training.hint_slots")
            confirm = replace(state, step=Step.CONFIRM, slots=slots)
            return Transition(confirm, (self._prompt(confirm),))
        if state.step is Step.CONFIRM:
            value = _picked(event, ("confirm", "edit"))
            if value == "edit":
                again = replace(state, step=Step.SLOTS)
                return Transition(again, (self._prompt(again),))
            if value != "confirm" or context.account is None:
                return self._again(state, "training.hint_choose")
            account = context.account
            draft = TicketDraft(
                category=CATEGORY,
                # Language-neutral: customers see it in their ticket list.
                title=f"{account.support_number}: {' / '.join(state.slots)}",
                description="\n".join(f"{i}. {slot}" for i, slot in enumerate(state.slots, 1)),
                support_number=account.support_number,
                domain=account.domains[0] if account.domains else "",
                phone=context.phone,
            )
            filing = replace(state, step=Step.FILING)
            return Transition(filing, (), OpenTickets(drafts=(draft,)))
        # FILING: only the desk's answer moves it on.
        if isinstance(event, TicketsFiled) and event.numbers:
            return Transition(None, (Reply("training.filed", {"number": event.numbers[0]}),))
        if isinstance(event, Refused):
            back = replace(state, step=Step.CONFIRM)
            return Transition(back, (Reply(event.key, dict(event.params)), self._prompt(back)))
        return Transition(state, ())

    def _again(self, state: TrainingState, hint: str) -> Out:
        return Transition(state, (Reply(hint), self._prompt(state)))

    @staticmethod
    def _prompt(state: TrainingState) -> Reply:
        if state.step in (Step.NUMBER, Step.CHECKING):
            return Reply("training.ask_number")
        if state.step is Step.SLOTS:
            return Reply("training.ask_slots", {"min": MIN_SLOTS, "max": MAX_SLOTS})
        slots = "\n".join(f"{i}. {slot}" for i, slot in enumerate(state.slots, 1))
        return Reply(
            "training.summary",
            {"slots": slots},
            (
                Choice("confirm", "training.choice.confirm"),
                Choice("edit", "training.choice.edit"),
            ),
        )

    def reads_open_tickets(self, state: TrainingState | None, event: Input | None) -> bool:
        """Only the start looks for a training request already open."""
        return state is None

    def resume(self, state: TrainingState, context: DeskContext) -> tuple[Reply, ...]:
        """The current step's question again."""
        return (self._prompt(state),)

    def reads_account_usage(self, state: TrainingState | None, event: Input | None) -> bool:
        """Training is neither counted against the quota nor a one-off request."""
        return False

    def dump(self, state: TrainingState) -> dict[str, Any]:
        return {"v": 1, "step": state.step.value, "slots": list(state.slots)}

    def load(self, data: dict[str, Any]) -> TrainingState:
        try:
            if data.get("v") != 1:
                raise CorruptTrainingState("unknown version")
            slots = tuple(str(s) for s in data.get("slots", []))
            return TrainingState(Step(data["step"]), slots)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptTrainingState(str(exc)) from exc


def _picked(event: Input, offered: tuple[str, ...]) -> str | None:
    if isinstance(event, ChoicePicked) and event.value in offered:
        return event.value
    if isinstance(event, TextSent) and event.text.strip().lower() in offered:
        return event.text.strip().lower()
    return None
