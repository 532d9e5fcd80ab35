"""The article feedback dialog ("Other": the customer's own words)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.commands import RecordFeedback
from bot.dialog import DeskContext
from bot.inputs import ChoicePicked, CommandGiven, FeedbackRecorded, FormSent, TextSent
from bot.policy import load_policy
from conversations.feedback import COMMENT_MAX, OTHER_FORM, ArticleFeedback, FeedbackState, Step

CONTEXT = DeskContext(policy=load_policy(), today=date(2026, 12, 1))
DIALOG = ArticleFeedback()


def _start() -> FeedbackState:
    started = DIALOG.start(CONTEXT, slug="site-down", lang="cs")
    assert [r.key for r in started.replies] == ["help.ask_other"]
    assert started.state is not None
    return started.state


def test_the_customers_words_are_recorded_as_the_other_reason_then_thanked() -> None:
    step = DIALOG.advance(_start(), TextSent("  Menu names differ  "), CONTEXT)
    command = step.command
    assert isinstance(command, RecordFeedback)
    assert (command.slug, command.lang, command.helpful, command.reason, command.comment) == (
        "site-down",
        "cs",
        False,
        "other",
        "Menu names differ",
    )
    assert step.state is not None and step.state.step is Step.RECORDING
    done = DIALOG.advance(step.state, FeedbackRecorded(), CONTEXT)
    assert done.state is None and [r.key for r in done.replies] == ["help.thanks"]


@pytest.mark.parametrize("name", ["cancel", "skip"])
def test_skipping_the_words_still_records_the_reason(name: str) -> None:
    step = DIALOG.advance(_start(), CommandGiven(name), CONTEXT)
    assert isinstance(step.command, RecordFeedback) and step.command.comment == ""


def test_too_long_or_not_text_is_asked_again_and_nothing_recorded() -> None:
    state = _start()
    long = DIALOG.advance(state, TextSent("x" * (COMMENT_MAX + 1)), CONTEXT)
    assert [r.key for r in long.replies] == ["intake.hint.too_long", "help.ask_other"]
    pressed = DIALOG.advance(state, ChoicePicked("confirm"), CONTEXT)
    assert pressed.command is None and pressed.state == state


def test_state_round_trips_and_a_broken_one_is_refused() -> None:
    state = _start()
    assert DIALOG.load(DIALOG.dump(state)) == state
    with pytest.raises(ValueError):
        DIALOG.load({"v": 1, "step": "asking", "slug": "", "lang": "en"})
    with pytest.raises(ValueError):
        DIALOG.load({"v": 1, "step": "nowhere", "slug": "x", "lang": "en"})


def test_the_words_may_come_as_the_other_form_where_the_channel_has_forms() -> None:
    started = DIALOG.start(CONTEXT, slug="site-down", lang="cs")
    assert started.replies[0].form is OTHER_FORM
    assert started.state is not None
    filled = FormSent(OTHER_FORM.name, (("text", " Screens are old "),))
    command = DIALOG.advance(started.state, filled, CONTEXT).command
    assert isinstance(command, RecordFeedback) and command.comment == "Screens are old"
