"""Help articles before filing: the intake offers the department's articles after the
description; "This solved it" ends with no ticket, "I still need help" carries on."""

from __future__ import annotations

from intake_support import (
    ARTICLES,
    DESCRIPTION,
    INCIDENT,
    STANDARD,
    STEPS,
    TITLE,
    Run,
    context,
    to_title,
)

from bot.commands import OpenTickets, RecordDeflection, ShowArticle, SuggestArticles
from bot.inputs import ArticleShown, DeflectionRecorded
from conversations.intake import Step


def _at_articles(category: str = "bug") -> Run:
    run = to_title(context(account=STANDARD), category, articles=ARTICLES)
    run.text(TITLE)
    run.text(DESCRIPTION)
    return run


def test_after_the_description_the_departments_articles_are_searched_for_its_words() -> None:
    run = _at_articles("payment")
    assert run.searches == [
        SuggestArticles(
            text=f"{TITLE}\n{DESCRIPTION}",
            department="sales",
            id=run.searches[0].id,
            at=run.searches[0].at,
        )
    ]
    assert run.step is Step.ARTICLES
    assert run.keys == ["help.suggest"]
    assert run.choices == ["read.0", "read.1", "solved", "need_help"]
    assert run.prompt.choices[0].params == {"title": ARTICLES[0].title}


def test_no_article_found_goes_straight_on_to_the_steps() -> None:
    run = to_title(context(account=STANDARD))
    run.text(TITLE)
    run.text(DESCRIPTION)
    assert run.step is Step.STEPS
    assert run.keys == ["intake.ask_steps_bug"]


def test_reading_an_article_shows_it_and_asks_whether_it_solved_the_problem() -> None:
    run = _at_articles()
    run.pick("read.1")
    assert run.command_sent == ShowArticle(
        slug="site-down", lang="en", id=run.command_sent.id, at=run.command_sent.at
    )
    assert run.step is Step.READING
    run.send(ArticleShown(ARTICLES[1], "Check whether the administration works."))
    assert run.step is Step.ARTICLES
    assert run.keys == ["help.article", "help.solved_question"]
    assert run.replies[0].params == {
        "title": ARTICLES[1].title,
        "body": "Check whether the administration works.",
    }
    # The one just read is not offered again; the others are.
    assert run.choices == ["read.0", "solved", "need_help"]


def test_this_solved_it_records_a_deflection_and_files_nothing() -> None:
    run = _at_articles()
    run.pick("read.0")
    run.send(ArticleShown(ARTICLES[0], "Try the order yourself."))
    run.pick("solved")
    command = run.command_sent
    assert isinstance(command, RecordDeflection)
    assert (command.department, command.category, command.slug, command.lang) == (
        "technical",
        "bug",
        "checkout-error",
        "en",
    )
    run.send(DeflectionRecorded())
    assert run.state is None
    assert run.keys == ["help.deflected"]


def test_i_still_need_help_carries_on_with_nothing_retyped() -> None:
    run = _at_articles()
    run.pick("read.0")
    run.send(ArticleShown(ARTICLES[0], "Try the order yourself."))
    run.text("I still need help")  # the button's label is not its value: asked again
    assert run.step is Step.ARTICLES and run.keys[0] == "intake.hint.choose"
    run.pick("need_help")
    assert run.step is Step.STEPS
    run.text(STEPS)
    run.pick("done")
    run.pick("skip")  # phone
    run.pick("confirm")
    command = run.command_sent
    assert isinstance(command, OpenTickets)
    (draft,) = command.drafts
    assert (draft.title, draft.description, draft.steps) == (TITLE, DESCRIPTION, STEPS)


def test_skip_at_the_articles_is_i_still_need_help() -> None:
    run = _at_articles()
    run.command("skip")
    assert run.step is Step.STEPS


def test_an_article_gone_meanwhile_is_said_and_the_others_stay_offered() -> None:
    run = _at_articles()
    run.pick("read.0")
    run.send(ArticleShown(None))
    assert run.keys == ["help.article_gone", "help.suggest"]
    assert run.choices == ["read.0", "read.1", "solved", "need_help"]


def test_editing_the_description_from_the_summary_does_not_offer_articles_again() -> None:
    run = to_title(context(account=STANDARD), articles=ARTICLES)
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.pick("need_help")
    run.text(STEPS)
    run.pick("done")
    run.pick("skip")
    assert run.step is Step.SUMMARY
    run.pick("edit")
    run.pick("description")
    run.text(DESCRIPTION + " It happens on every browser.")
    assert run.step is Step.SUMMARY
    assert len(run.searches) == 1


def test_an_open_incident_matching_the_description_is_offered_first() -> None:
    run = to_title(context(account=STANDARD), articles=ARTICLES, incident=INCIDENT)
    run.text(TITLE)
    run.text(DESCRIPTION)
    assert run.step is Step.INCIDENT_OFFER
    assert run.keys == ["incident.offer"]
    assert run.replies[0].params == {"title": INCIDENT.title}
    assert run.choices == ["join", "other"]
    # Something else: on to the articles, as without an incident.
    run.pick("other")
    assert run.step is Step.ARTICLES


def test_joining_the_incident_skips_steps_and_files_and_the_ticket_joins_it() -> None:
    run = to_title(context(account=STANDARD), incident=INCIDENT)
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.pick("join")
    assert run.keys[0] == "incident.joining"
    assert run.step is Step.PHONE  # the account is linked: straight to the phone
    run.pick("skip")
    assert "incident.summary" in run.keys
    run.pick("confirm")
    command = run.command_sent
    assert isinstance(command, OpenTickets)
    (draft,) = command.drafts
    assert (draft.incident, draft.steps, draft.attachments) == (INCIDENT.id, "", ())
