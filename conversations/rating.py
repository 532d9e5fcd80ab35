"""The customer's optional words after rating a closed ticket 1-5.

A pure dialog (``bot.dialog.Dialog``); the rating itself is recorded by the desk when
its button is pressed, so a customer who never writes loses nothing::

    start(number) ──► COMMENT ──text──► SAVING ──RatingCommented──► (end: thanks)
                        │   (CommentRating ⇢ RatingCommented)
                        └── /skip, /cancel ──► (end: thanks)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.commands import CommentRating
from bot.dialog import DeskContext, Transition
from bot.inputs import CommandGiven, Input, RatingCommented, Refused, TextSent
from bot.reply import Reply

COMMENT_MAX = 1000
STATE_VERSION = 1


class Step(StrEnum):
    COMMENT = "comment"
    SAVING = "saving"


@dataclass(frozen=True, slots=True)
class RatingState:
    step: Step
    number: int


Out = Transition[RatingState]


class RatingComment:
    """``bot.dialog.Dialog[RatingState]``: words after a rating."""

    kind = "rating"

    def start(self, context: DeskContext, **options: Any) -> Out:
        """Options: ``number`` of the rated ticket."""
        state = RatingState(Step.COMMENT, int(options["number"]))
        return Transition(state, (Reply("rating.ask_comment", {"max": COMMENT_MAX}),))

    def advance(self, state: RatingState, event: Input, context: DeskContext) -> Out:
        thanks: Out = Transition(None, (Reply("rating.thanks"),))
        if isinstance(event, RatingCommented | Refused):
            return thanks
        if isinstance(event, CommandGiven):
            name = event.name.strip().lstrip("/").casefold()
            return Transition(None) if name == "timeout" else thanks
        if isinstance(event, TextSent) and event.text.strip() and state.step is Step.COMMENT:
            text = event.text.strip()
            if len(text) > COMMENT_MAX:
                hint = Reply("intake.hint.too_long", {"max": COMMENT_MAX, "length": len(text)})
                return Transition(state, (hint,))
            command = CommentRating(number=state.number, text=text)
            return Transition(replace(state, step=Step.SAVING), (), command)
        if state.step is Step.SAVING:
            return thanks  # the answer was lost; the comment is stored or not, once
        return Transition(state, (Reply("rating.ask_comment", {"max": COMMENT_MAX}),))

    def reads_open_tickets(self, state: RatingState | None, event: Input | None) -> bool:
        return False

    def reads_account_usage(self, state: RatingState | None, event: Input | None) -> bool:
        return False

    def resume(self, state: RatingState, context: DeskContext) -> tuple[Reply, ...]:
        """The question again (a restart interrupted the customer)."""
        return (Reply("rating.ask_comment", {"max": COMMENT_MAX}),)

    def dump(self, state: RatingState) -> dict[str, Any]:
        return {"v": STATE_VERSION, "step": state.step.value, "number": state.number}

    def load(self, data: dict[str, Any]) -> RatingState:
        """``ValueError`` for anything it cannot trust (the desk then drops it)."""
        number = data.get("number")
        if data.get("v") != STATE_VERSION or not isinstance(number, int) or number < 1:
            raise ValueError("rating state: unreadable")
        return RatingState(Step(str(data.get("step"))), number)
