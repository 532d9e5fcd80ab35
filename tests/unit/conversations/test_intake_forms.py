"""Forms: the problem (title, description, steps, files) answered in one go where a
channel has forms, each field checked as its step checks it typed; one-field forms
for the other text steps."""

from __future__ import annotations

from dataclasses import replace

from intake_support import (
    ARTICLES,
    DESCRIPTION,
    STANDARD,
    STEPS,
    TITLE,
    Run,
    after_category,
    context,
    png,
    to_title,
)

from bot.commands import RecordDeflection
from bot.inputs import FormSent
from bot.reply import dump_replies, load_replies
from bot.ticket import Attachment
from conversations.intake import FORMS, PROBLEM_FORM, Intake, Step


def problem(
    title: str = TITLE,
    description: str = DESCRIPTION,
    steps: str = STEPS,
    files: tuple[Attachment, ...] = (),
) -> FormSent:
    values = (("title", title), ("description", description), ("steps", steps))
    return FormSent(PROBLEM_FORM.name, values, files)


def at_title() -> Run:
    return to_title()


def test_the_title_question_offers_the_problem_form() -> None:
    run = at_title()
    assert run.prompt.form is PROBLEM_FORM
    assert [f.name for f in PROBLEM_FORM.fields] == ["title", "description", "steps", "files"]
    # The form survives being kept with an update's answer (the inbox's replay).
    assert load_replies(dump_replies([run.prompt]))[0].form == PROBLEM_FORM


def test_a_filled_form_moves_past_the_files_step() -> None:
    run = at_title()
    run.send(problem(files=(png(),)))
    assert run.step is Step.PHONE
    assert run.state is not None
    assert (run.state.title, run.state.description, run.state.steps) == (
        TITLE,
        DESCRIPTION,
        STEPS,
    )
    assert [a.file_name for a in run.state.attachments] == ["screen.png"]


def test_empty_steps_are_skipped_and_no_files_are_fine() -> None:
    run = at_title()
    run.send(problem(steps=""))
    assert run.step is Step.PHONE
    assert run.state is not None and run.state.steps == ""


def test_a_short_title_stops_at_the_title_with_the_reason() -> None:
    run = at_title()
    run.send(problem(title="Bug"))
    assert run.step is Step.TITLE
    assert run.keys[0] == "intake.hint.length"
    assert run.prompt.form is PROBLEM_FORM  # the customer fills it in again


def test_a_short_description_stops_there_with_the_title_kept() -> None:
    run = at_title()
    run.send(problem(description="broken"))
    assert run.step is Step.DESCRIPTION
    assert run.state is not None and run.state.title == TITLE
    assert run.keys[0] == "intake.hint.length"


def test_several_problems_in_the_form_lead_to_the_split_offer() -> None:
    several = (
        "1. The checkout shows error 500 when paying by card.\n"
        "2. The product images are blurry on the category page."
    )
    run = at_title()
    run.send(problem(description=several))
    assert run.step is Step.SPLIT
    assert "split" in run.choices


def test_a_refused_file_is_said_and_the_rest_goes_on() -> None:
    bad = Attachment("x", "tool.exe", "application/x-msdownload", 10, "discord")
    run = at_title()
    run.send(problem(files=(png(), bad)))
    assert run.step is Step.PHONE
    assert "files.refused" in run.keys
    assert run.state is not None and [a.file_name for a in run.state.attachments] == ["screen.png"]


def test_a_text_step_has_a_one_field_form_answered_as_if_typed() -> None:
    run = after_category()
    assert run.step is Step.SUPPORT_NUMBER
    form = run.prompt.form
    assert form is not None and form.name == "support_number"
    assert FORMS[form.name] is form
    run.send(FormSent(form.name, (("text", "SN-1001"),)))
    assert run.step is Step.CHECKING


def test_a_form_of_an_earlier_question_is_refused_and_the_question_repeated() -> None:
    run = at_title()
    run.send(problem())
    assert run.step is Step.PHONE
    run.send(problem())  # the old modal submitted again
    assert run.step is Step.PHONE
    assert run.keys[0] == "intake.hint.form_expired"


def test_editing_the_title_offers_only_the_title() -> None:
    run = at_title()
    run.send(problem())
    assert run.state is not None
    run.state = replace(run.state, step=Step.TITLE, editing=True)
    run.text("x")  # too short: asked again, while editing
    form = run.prompt.form
    assert form is not None and [f.name for f in form.fields] == ["text"]


def test_a_filled_form_is_offered_the_articles_and_still_needing_help_skips_steps_and_files() -> (
    None
):
    run = to_title(context(account=STANDARD), articles=ARTICLES)
    run.send(problem(files=(png(),)))
    # The help articles come before filing, also when the form brought everything.
    assert run.step is Step.ARTICLES
    assert run.choices == ["read.0", "read.1", "solved", "need_help"]
    run.pick("need_help")
    # Nothing retyped: the form's steps and files are kept and not asked again.
    assert run.step is Step.PHONE
    assert run.state is not None and run.state.steps == STEPS
    assert [a.file_name for a in run.state.attachments] == ["screen.png"]


def test_a_filled_form_solved_by_an_article_files_nothing() -> None:
    run = to_title(context(account=STANDARD), articles=ARTICLES)
    run.send(problem())
    run.pick("solved")
    assert isinstance(run.command_sent, RecordDeflection)
    assert run.step is Step.DEFLECTING


def test_the_forms_filled_mark_survives_a_restart() -> None:
    run = to_title(context(account=STANDARD), articles=ARTICLES)
    run.send(problem())
    assert run.state is not None
    again = Intake().load(Intake().dump(run.state))
    assert again.filled and again.steps == STEPS
