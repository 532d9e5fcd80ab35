"""Article feedback, the "Other" reason: the customer says in their own words what was
wrong with a help article (seed 001: "was this helpful?" with reasons).

A pure dialog (``bot.dialog.Dialog``)::

    start(slug, lang) ──► ASKING ──text──► RECORDING ──FeedbackRecorded──► (end: thanks)
                            │  (RecordFeedback: not helpful, other, the text)
                            └── /cancel, /skip ──► RECORDING (other, no text)

Yes, and the other reasons, are recorded by the desk straight from their buttons; only
"Other" needs the customer's next message, or ``OTHER_FORM`` filled in where the
channel has forms (a private answer in a Discord server cannot be replied to).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bot.commands import RecordFeedback
from bot.dialog import DeskContext, Transition
from bot.inputs import CommandGiven, FeedbackRecorded, FormSent, Input, TextSent
from bot.knowledge.article import FeedbackReason
from bot.reply import Field, Form, Reply

COMMENT_MAX = 1000
STATE_VERSION = 1

# The "Other" reason's words as a one-field form.
OTHER_FORM = Form(
    "feedback.other",
    "help.form.other",
    (Field("text", "help.field.other", long=True, min_length=1, max_length=COMMENT_MAX),),
)
FORMS = {OTHER_FORM.name: OTHER_FORM}


def _ask() -> Reply:
    return Reply("help.ask_other", {"max": COMMENT_MAX}, form=OTHER_FORM)


class Step(StrEnum):
    ASKING = "asking"
    RECORDING = "recording"


@dataclass(frozen=True, slots=True)
class FeedbackState:
    step: Step
    slug: str
    lang: str


Out = Transition[FeedbackState]


def _record(state: FeedbackState, comment: str) -> Out:
    command = RecordFeedback(
        slug=state.slug,
        lang=state.lang,
        helpful=False,
        reason=FeedbackReason.OTHER,
        comment=comment,
    )
    return Transition(replace(state, step=Step.RECORDING), (), command)


class ArticleFeedback:
    """The "Other" reason's dialog (``bot.dialog.Dialog[FeedbackState]``)."""

    kind = "feedback"

    def start(self, context: DeskContext, **options: Any) -> Out:
        """Options: ``slug`` and ``lang`` of the article."""
        state = FeedbackState(Step.ASKING, str(options["slug"]), str(options["lang"]))
        return Transition(state, (_ask(),))

    def advance(self, state: FeedbackState, event: Input, context: DeskContext) -> Out:
        if isinstance(event, FeedbackRecorded):
            return Transition(None, (Reply("help.thanks"),))
        if isinstance(event, CommandGiven):
            name = event.name.strip().lstrip("/").casefold()
            if name == "timeout":
                return Transition(None)
            if state.step is Step.ASKING and name in ("cancel", "skip"):
                return _record(state, "")
        if state.step is Step.RECORDING:
            return _record(state, "")  # the answer was lost: recording again is harmless
        if isinstance(event, FormSent) and event.form == OTHER_FORM.name:
            event = TextSent(event.value("text"))
        if isinstance(event, TextSent) and event.text.strip():
            text = event.text.strip()
            if len(text) > COMMENT_MAX:
                hint = Reply("intake.hint.too_long", {"max": COMMENT_MAX, "length": len(text)})
                return Transition(state, (hint, _ask()))
            return _record(state, text)
        return Transition(state, (_ask(),))

    def reads_open_tickets(self, state: FeedbackState | None, event: Input | None) -> bool:
        return False

    def reads_account_usage(self, state: FeedbackState | None, event: Input | None) -> bool:
        return False

    def resume(self, state: FeedbackState, context: DeskContext) -> tuple[Reply, ...]:
        """The question again (a restart interrupted the customer)."""
        return (_ask(),)

    def dump(self, state: FeedbackState) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "step": state.step.value,
            "slug": state.slug,
            "lang": state.lang,
        }

    def load(self, data: dict[str, Any]) -> FeedbackState:
        """``ValueError`` for anything it cannot trust (the desk then drops it)."""
        if data.get("v") != STATE_VERSION:
            raise ValueError("feedback state: unknown version")
        slug, lang = data.get("slug"), data.get("lang")
        if not isinstance(slug, str) or not isinstance(lang, str) or not slug:
            raise ValueError("feedback state: no article")
        return FeedbackState(Step(str(data.get("step"))), slug, lang)
