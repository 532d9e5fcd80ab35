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
from bot.reply import Choice, Reply, Text
from conversations.intake import WHERE_NUMBER

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
    # Trying the product without a support number (where the policy allows it).
    trial: bool = False


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
            intro = Reply("training.intro", _about(context))
            return Transition(state, (intro, self._prompt(state, context)))
        return self._eligible(context, (Reply("training.intro", _about(context)),))

    def _eligible(self, context: DeskContext, before: tuple[Reply, ...]) -> Out:
        if not context.training_eligible:
            return Transition(None, (*before, Reply("training.not_eligible", _about(context))))
        state = TrainingState(Step.SLOTS)
        return Transition(state, (*before, self._prompt(state, context)))

    def advance(self, state: TrainingState, event: Input, context: DeskContext) -> Out:
        if isinstance(event, CommandGiven) and event.name == "cancel":
            return Transition(None, (Reply("training.cancelled"),))
        if state.step is Step.NUMBER:
            if context.training_trial and _picked(event, ("trial",)) == "trial":
                asking = TrainingState(Step.SLOTS, trial=True)
                return Transition(asking, (self._prompt(asking, context),))
            if not isinstance(event, TextSent) or not event.text.strip():
                return self._again(state, "training.hint_number", context)
            checking = replace(state, step=Step.CHECKING)
            return Transition(checking, (), LookupAccount(support_number=event.text.strip()))
        if state.step is Step.CHECKING:
            if isinstance(event, AccountLooked):
                if event.account is None:
                    again = replace(state, step=Step.NUMBER)
                    unknown = Reply(
                        "training.number_unknown",
                        {"number": event.support_number, "where": Text(WHERE_NUMBER)},
                    )
                    return Transition(again, (unknown, self._prompt(again, context)))
                # The desk linked the number; the context now tells eligibility.
                return self._eligible(context, ())
            return Transition(state, ())
        if state.step is Step.SLOTS:
            if not isinstance(event, TextSent):
                return self._again(state, "training.hint_slots", context)
            slots = parse_slots(event.text)
            if slots is None:
                return self._again(state, "training.hint_slots", context)
            confirm = replace(state, step=Step.CONFIRM, slots=slots)
            return Transition(confirm, (self._prompt(confirm, context),))
        if state.step is Step.CONFIRM:
            value = _picked(event, ("confirm", "edit"))
            if value == "edit":
                again = replace(state, step=Step.SLOTS)
                return Transition(again, (self._prompt(again, context),))
            account = context.account
            if value != "confirm" or (account is None and not state.trial):
                return self._again(state, "training.hint_choose", context)
            # Language-neutral: customers see it in their ticket list.
            times = " / ".join(state.slots)
            draft = TicketDraft(
                category=CATEGORY,
                title=f"{account.support_number}: {times}" if account is not None else times,
                description="\n".join(f"{i}. {slot}" for i, slot in enumerate(state.slots, 1)),
                support_number=account.support_number if account is not None else "",
                domain=account.domains[0] if account is not None and account.domains else "",
                phone=context.phone,
            )
            filing = replace(state, step=Step.FILING)
            return Transition(filing, (), OpenTickets(drafts=(draft,)))
        # FILING: only the desk's answer moves it on.
        if isinstance(event, TicketsFiled) and event.numbers:
            return Transition(None, (Reply("training.filed", {"number": event.numbers[0]}),))
        if isinstance(event, Refused):
            back = replace(state, step=Step.CONFIRM)
            refusal = Reply(event.key, dict(event.params))
            return Transition(back, (refusal, self._prompt(back, context)))
        return Transition(state, ())

    def _again(self, state: TrainingState, hint: str, context: DeskContext) -> Out:
        return Transition(state, (Reply(hint), self._prompt(state, context)))

    @staticmethod
    def _prompt(state: TrainingState, context: DeskContext) -> Reply:
        if state.step in (Step.NUMBER, Step.CHECKING):
            if context.training_trial:
                trial = Choice("trial", "training.choice.trial")
                return Reply("training.ask_number_trial", choices=(trial,))
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
        return (self._prompt(state, context),)

    def reads_account_usage(self, state: TrainingState | None, event: Input | None) -> bool:
        """Training is neither counted against the quota nor a one-off request."""
        return False

    def dump(self, state: TrainingState) -> dict[str, Any]:
        return {"v": 1, "step": state.step.value, "slots": list(state.slots), "trial": state.trial}

    def load(self, data: dict[str, Any]) -> TrainingState:
        try:
            if data.get("v") != 1:
                raise CorruptTrainingState("unknown version")
            slots = tuple(str(s) for s in data.get("slots", []))
            return TrainingState(Step(data["step"]), slots, trial=data.get("trial") is True)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptTrainingState(str(exc)) from exc


def _about(context: DeskContext) -> dict[str, Any]:
    """What the training messages say of it: its name (the policy's) and for how many
    days after the purchase it is offered (the policy's, not a fixed 30)."""
    return {"training": Text(f"category.{CATEGORY}"), "days": context.training_days}


def _picked(event: Input, offered: tuple[str, ...]) -> str | None:
    if isinstance(event, ChoicePicked) and event.value in offered:
        return event.value
    if isinstance(event, TextSent) and event.text.strip().lower() in offered:
        return event.text.strip().lower()
    return None
