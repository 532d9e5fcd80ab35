"""The intake conversation as a customer experiences it: prompts, choices, drafts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from intake_support import (
    DESCRIPTION,
    EXPIRED,
    FREE,
    MULTI,
    POLICY,
    STANDARD,
    STEPS,
    TITLE,
    Run,
    after_category,
    brief,
    complete,
    context,
    png,
    runs_at_every_step,
    to_files,
    to_summary,
)

from bot.commands import AppendToTicket, LookupAccount, OpenTickets
from bot.inputs import AccountLooked, AddedToTicket, ChoicePicked, Refused, TicketsFiled
from bot.reply import Day, Text
from bot.ticket import Status
from conversations.intake import Intake, Step

# -- the straight path ----------------------------------------------------------------------------


def test_full_intake_with_a_typed_support_number_files_one_ticket() -> None:
    run = Run()
    assert run.keys == ["intake.ask_category"]
    assert run.choices == [c.key for c in POLICY.listed_categories()]
    assert [c.key for c in run.prompt.choices] == [f"category.{k}" for k in run.choices]

    # The account comes right after the category, before anything is written.
    run.pick("bug")
    assert run.keys == ["intake.ask_support_number"]
    assert run.choices == ["no_number"]
    run.text(" sn-1001 ")
    assert run.step is Step.CHECKING
    assert run.command_sent == LookupAccount(
        support_number="SN-1001", id=run.command_sent.id, at=run.command_sent.at
    )
    assert run.replies == ()
    run.answer_lookup()
    # One domain on the account: used without asking.
    assert run.keys == ["intake.ask_title"]
    assert run.prompt.params == {"min": 5, "max": 120}
    run.text("  Checkout   fails\nwith error 500 ")
    assert run.keys == ["intake.ask_description"]
    run.text(DESCRIPTION)
    assert run.keys == ["intake.ask_steps_bug"]
    assert run.choices == ["skip"]
    run.text(STEPS)
    assert run.keys == ["intake.ask_files"]
    assert run.choices == ["done"]
    run.files(png("a"), png("b", "log.txt"))
    assert run.keys == ["files.received"]
    assert run.prompt.params == {"count": 2}
    assert run.choices == ["done"]
    run.pick("done")
    assert run.keys == ["intake.ask_phone"]
    assert run.choices == ["skip"]
    run.text("+420 601 234 567")
    assert run.keys == ["intake.summary"]
    params = run.prompt.params
    assert params["category"] == Text("category.bug")
    assert params["department"] == Text("department.technical")
    assert params["title"] == TITLE
    assert params["description"] == DESCRIPTION
    assert params["steps"] == STEPS
    assert params["files"] == 2
    assert params["support_number"] == "SN-1001"
    assert params["domain"] == "shop.cz"
    assert params["phone"] == "+420 601 234 567"
    assert run.choices == ["confirm", "edit", "cancel"]

    run.pick("confirm")
    command = run.command_sent
    assert isinstance(command, OpenTickets)
    assert run.step is Step.FILING
    (draft,) = command.drafts
    assert draft.category == "bug"
    assert draft.title == TITLE
    assert draft.description == DESCRIPTION
    assert draft.steps == STEPS
    assert [a.file_ref for a in draft.attachments] == ["a", "b"]
    assert draft.support_number == "SN-1001"
    assert draft.domain == "shop.cz"
    assert draft.phone == "+420 601 234 567"
    assert draft.department is None
    assert draft.follow_up_of is None

    run.send(TicketsFiled((42,)))
    assert run.state is None
    assert run.keys == ["intake.filed"]
    assert run.prompt.params == {"number": 42}


def test_several_filed_tickets_are_all_listed() -> None:
    run = to_summary()
    run.pick("confirm")
    run.send(TicketsFiled((7, 8, 9)))
    assert run.state is None
    assert run.keys == ["intake.filed_many"]
    assert run.prompt.params == {"count": 3, "numbers": "#7, #8, #9"}


def test_no_ticket_numbers_back_from_the_desk_returns_to_the_summary() -> None:
    run = to_summary()
    run.pick("confirm")
    run.send(TicketsFiled(()))
    assert run.step is Step.SUMMARY
    assert run.keys[0] == "intake.filing_failed"


def test_a_typed_choice_value_counts_as_the_choice() -> None:
    run = Run(context(account=STANDARD))
    run.text(" Bug ")
    assert run.step is Step.TITLE


def test_category_option_skips_the_category_question() -> None:
    run = Run(context(account=STANDARD), category="howto")
    assert run.keys == ["intake.ask_title"]
    run.text(TITLE)
    run.text(DESCRIPTION)
    # Not a bug: the steps are asked for, but as optional.
    assert run.keys == ["intake.ask_steps"]


def test_unknown_category_option_asks_for_the_category() -> None:
    run = Run(category="no-such-category")
    assert run.step is Step.CATEGORY


def test_unknown_start_option_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        Intake().start(context(), categroy="bug")


# -- follow-ups of closed tickets -----------------------------------------------------------------


def test_closed_ticket_offer_yes_opens_a_linked_ticket() -> None:
    run = Run(closed_ticket=17, category="bug")
    assert run.keys == ["followup.offer"]
    assert run.prompt.params == {"number": 17}
    assert run.choices == ["yes", "no"]
    run.pick("yes")
    assert run.keys == ["followup.started", "intake.ask_support_number"]
    run.text("SN-1001")
    run.answer_lookup()
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.pick("skip")
    run.pick("done")
    run.pick("skip")
    assert "intake.summary_follow_up" in run.keys
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.follow_up_of == 17
    assert draft.category == "bug"


def test_closed_ticket_offer_no_finishes_politely() -> None:
    run = Run(closed_ticket=17, category="bug")
    run.pick("no")
    assert run.state is None
    assert run.keys == ["followup.declined"]


def test_closed_ticket_offer_without_a_known_category_asks_for_it() -> None:
    run = Run(closed_ticket=17)
    run.text("yes")
    assert run.step is Step.CATEGORY
    assert run.keys == ["followup.started", "intake.ask_category"]


def test_follow_up_option_goes_straight_to_the_title() -> None:
    run = Run(context(account=STANDARD), follow_up_of=5, category="bug")
    assert run.keys == ["followup.started", "intake.ask_title"]
    assert run.state is not None and run.state.follow_up_of == 5


def test_follow_up_offer_rejects_other_input() -> None:
    run = Run(closed_ticket=17, category="bug")
    run.text("maybe")
    assert run.keys == ["intake.hint.choose", "followup.offer"]
    assert run.choices == ["yes", "no"]


# -- validation: every kind of invalid input re-asks with a hint ----------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [("abcd", 4), ("x" * 121, 121), ("   ab   ", 2)],
)
def test_title_length_is_checked(text: str, length: int) -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(text)
    assert run.keys == ["intake.hint.length", "intake.ask_title"]
    assert run.replies[0].params == {"min": 5, "max": 120, "length": length}
    assert run.step is Step.TITLE


def test_title_of_exactly_the_limits_is_accepted() -> None:
    for text in ("abcde", "y" * 120):
        run = Run(context(account=STANDARD), category="bug")
        run.text(text)
        assert run.step is Step.DESCRIPTION


@pytest.mark.parametrize("text", ["too short", "d" * 4001])
def test_description_length_is_checked(text: str) -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(text)
    assert run.keys == ["intake.hint.length", "intake.ask_description"]
    assert run.replies[0].params["length"] == len(text)


def test_steps_longer_than_the_limit_are_refused() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.text("s" * 4001)
    assert run.keys == ["intake.hint.too_long", "intake.ask_steps_bug"]
    assert run.replies[0].params == {"max": 4000, "length": 4001}
    assert run.choices == ["skip"]


@pytest.mark.parametrize("step_inputs", [0, 1, 2])
def test_a_file_where_text_is_expected_is_refused(step_inputs: int) -> None:
    run = Run(context(account=STANDARD), category="bug")
    for text in [TITLE, DESCRIPTION][:step_inputs]:
        run.text(text)
    step = run.step
    prompt = run.prompt
    run.files(png())
    assert run.keys == ["intake.hint.text_expected", prompt.key]
    assert run.step is step


def test_a_forged_choice_where_text_is_expected_is_refused() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.pick("bug")
    assert run.keys == ["intake.hint.text_expected", "intake.ask_title"]


def test_an_empty_message_is_refused() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text("   ")
    assert run.keys == ["intake.hint.empty", "intake.ask_title"]


@pytest.mark.parametrize("event", [ChoicePicked("nonsense"), ChoicePicked("confirm")])
def test_a_forged_choice_value_is_refused_with_the_choices_repeated(event: ChoicePicked) -> None:
    run = Run()
    run.send(event)
    assert run.keys == ["intake.hint.choose", "intake.ask_category"]
    assert run.choices == [c.key for c in POLICY.listed_categories()]


def test_text_where_a_choice_is_required_is_refused() -> None:
    run = to_summary()
    run.text("looks good")
    assert run.keys[0] == "intake.hint.choose"
    assert run.keys[-1] == "intake.summary"
    assert run.choices == ["confirm", "edit", "cancel"]


def test_a_file_at_a_choice_step_is_refused() -> None:
    run = Run()
    run.files(png())
    assert run.keys == ["intake.hint.choose", "intake.ask_category"]


def test_other_commands_re_ask_the_step() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.command("tickets")
    assert run.keys == ["intake.hint.unknown_command", "intake.ask_title"]
    assert run.step is Step.TITLE


# -- cancel, timeout and skip ---------------------------------------------------------------------


def test_the_helper_reaches_every_step() -> None:
    assert {run.step for run in runs_at_every_step()} == set(Step)


@pytest.mark.parametrize("run", runs_at_every_step(), ids=lambda r: str(r.step))
def test_cancel_at_every_step_finishes_with_a_reply(run: Run) -> None:
    run.command("cancel")
    assert run.state is None
    assert run.keys == ["intake.cancelled"]
    assert run.command_sent is None


@pytest.mark.parametrize("run", runs_at_every_step(), ids=lambda r: str(r.step))
def test_timeout_at_every_step_finishes_with_a_reply(run: Run) -> None:
    run.command("timeout")
    assert run.state is None
    assert run.keys == ["intake.timed_out"]


@pytest.mark.parametrize(
    "step",
    [
        Step.CATEGORY,
        Step.FOLLOW_UP_OFFER,
        Step.TITLE,
        Step.DESCRIPTION,
        Step.SPLIT,
        Step.UNKNOWN_NUMBER,
        Step.EXPIRED,
        Step.WRONG_PLAN,
        Step.WRONG_DOMAIN,
        Step.SUMMARY,
        Step.EDIT_FIELD,
        Step.DUPLICATE,
    ],
)
def test_skip_at_a_required_step_says_so_and_re_asks(step: Step) -> None:
    (run,) = [r for r in runs_at_every_step() if r.step is step][:1]
    before = run.state
    prompt = run.prompt
    run.command("skip")
    assert run.keys[0] == "intake.hint.cannot_skip"
    assert run.prompt.key == prompt.key
    assert run.prompt.choices == prompt.choices
    assert run.state == before


def test_skip_at_a_typed_support_number_step_is_refused_for_technical_categories() -> None:
    run = after_category()
    run.command("skip")
    assert run.keys == ["intake.hint.cannot_skip", "intake.ask_support_number"]


def test_skip_at_a_domain_choice_is_refused() -> None:
    run = after_category(context(account=MULTI))
    run.command("skip")
    assert run.keys[0] == "intake.hint.cannot_skip"
    assert run.step is Step.DOMAIN


def test_optional_steps_can_be_skipped_by_command_or_button() -> None:
    run = to_files(context(account=STANDARD), category="howto")
    run.command("skip")  # files
    assert run.step is Step.PHONE
    run.command("skip")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["phone"] == Text("intake.summary.none")

    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.command("/skip")
    assert run.step is Step.FILES
    assert run.state is not None and run.state.steps == ""


# -- files ----------------------------------------------------------------------------------------


def test_refused_files_are_named_with_the_reason_and_accepted_ones_counted() -> None:
    run = to_files()
    big = png("big", "video.png", size=25 * 1024 * 1024)
    exe = png("exe", "setup.exe")
    exe = replace(exe, mime_type="application/x-msdownload")
    run.files(png("ok"), big, exe)
    assert run.keys == ["files.refused", "files.refused", "files.received"]
    assert run.replies[0].params["name"] == "video.png"
    assert run.replies[0].params["reason"] == Text("files.too_big", {"max_mb": 20})
    assert run.replies[1].params["name"] == "setup.exe"
    assert run.replies[1].params["reason"].key == "files.wrong_type"
    assert run.prompt.params == {"count": 1}
    run.files(png("ok2"))
    assert run.prompt.params == {"count": 2}


def test_only_refused_files_re_show_the_files_prompt() -> None:
    run = to_files()
    run.files(replace(png("x", "a.exe"), mime_type="application/x-msdownload"))
    assert run.keys == ["files.refused", "intake.ask_files"]
    assert run.choices == ["done"]
    assert run.state is not None and run.state.attachments == ()


def test_the_same_file_sent_twice_is_kept_once() -> None:
    run = to_files()
    run.files(png("same"))
    run.files(png("same"))
    assert run.prompt.params == {"count": 1}


def test_a_caption_is_kept_in_the_description() -> None:
    run = to_files()
    run.files(png(), caption="This is the error page.")
    assert run.state is not None
    assert run.state.description.endswith("This is the error page.")


def test_text_at_the_files_step_re_asks_with_a_hint() -> None:
    run = to_files()
    run.text("here is my screenshot")
    assert run.keys == ["intake.hint.files_expected", "intake.ask_files"]
    run.text("done")
    assert run.step is Step.PHONE


def test_done_command_finishes_the_files_step() -> None:
    run = to_files(context(account=STANDARD))
    run.command("done")
    assert run.step is Step.PHONE


# -- support number and entitlement ---------------------------------------------------------------


def test_linked_account_skips_the_number_question() -> None:
    run = after_category(context(account=STANDARD))
    assert run.step is Step.TITLE
    assert run.command_sent is None
    assert run.state is not None
    assert run.state.support_number == "SN-1001"
    assert run.state.domain == "shop.cz"


def test_malformed_support_number_is_refused_without_a_lookup() -> None:
    run = after_category()
    run.text("#?")
    assert run.keys == ["intake.hint.support_number", "intake.ask_support_number"]
    assert run.command_sent is None


def test_unknown_number_explains_and_offers_retry_sales_cancel() -> None:
    run = after_category()
    run.text("XX-999")
    run.answer_lookup()
    assert run.keys == ["intake.number_unknown"]
    assert run.prompt.params == {
        "number": "XX-999",
        "where": Text("intake.where_to_find_support_number"),
    }
    assert run.choices == ["retry", "sales", "cancel"]
    run.pick("retry")
    assert run.keys == ["intake.ask_support_number"]
    run.text("SN-1001")
    run.answer_lookup()
    assert run.step is Step.TITLE


def test_unknown_number_then_typing_another_number_looks_it_up() -> None:
    run = after_category()
    run.text("XX-999")
    run.answer_lookup()
    run.text("sn 1001")
    assert run.step is Step.CHECKING
    assert isinstance(run.command_sent, LookupAccount)
    assert run.command_sent.support_number == "SN1001"


def test_unknown_number_to_sales_asks_the_domain_as_optional_text() -> None:
    run = after_category(context(domain="https://www.my-shop.cz/"))
    run.text("XX-999")
    run.answer_lookup()
    run.pick("sales")
    assert run.keys == ["intake.ask_domain_optional"]
    assert run.choices == ["saved_domain", "skip"]
    assert run.prompt.choices[0].params == {"domain": "my-shop.cz"}
    run.text("www.New-Shop.com/admin")
    complete(run)
    assert run.prompt.params["department"] == Text("department.sales")
    assert run.prompt.params["domain"] == "new-shop.com"
    assert run.prompt.params["support_number"] == Text("intake.summary.none")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.department == "sales"
    assert draft.category == "bug"
    assert draft.domain == "new-shop.com"


def test_expired_support_explains_with_the_date_and_offers_renewal_with_sales() -> None:
    run = after_category(context(account=EXPIRED))
    assert run.keys == ["intake.support_expired"]
    assert run.prompt.params == {"number": "SN-4004", "date": Day(EXPIRED.valid_until)}
    assert run.choices == ["renew", "retry", "cancel"]
    run.pick("renew")
    complete(run)
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.department == "sales"
    assert draft.support_number == "SN-4004"
    assert draft.domain == "old-shop.cz"


def test_expired_support_typed_number_is_checked_too() -> None:
    run = after_category()
    run.text("SN-4004")
    run.answer_lookup()
    assert run.step is Step.EXPIRED


def test_support_valid_until_today_is_still_valid() -> None:
    account = replace(STANDARD, valid_until=context().today)
    run = after_category(context(account=account))
    assert run.step is Step.TITLE


def test_free_plan_may_only_go_to_sales() -> None:
    run = after_category(context(account=FREE))
    assert run.keys == ["intake.plan_not_allowed"]
    assert run.prompt.params == {
        "plan": Text("plan.free"),
        "department": Text("department.technical"),
    }
    assert run.choices == ["sales", "retry", "cancel"]
    run.pick("sales")
    assert run.step is Step.TITLE
    complete(run)
    assert run.prompt.params["department"] == Text("department.sales")


def test_free_plan_sales_category_needs_no_detour() -> None:
    run = after_category(context(account=FREE), "payment")
    assert run.step is Step.TITLE


def test_expired_support_may_still_ask_sales_directly() -> None:
    run = after_category(context(account=EXPIRED), "sales")
    assert run.step is Step.TITLE


def test_sales_category_makes_the_support_number_optional() -> None:
    run = after_category(context(), "sales")
    assert run.keys == ["intake.ask_support_number_optional"]
    assert run.choices == ["skip"]
    run.pick("skip")
    assert run.keys == ["intake.ask_domain_optional"]


def test_an_unknown_plan_on_the_account_goes_to_sales() -> None:
    run = after_category(context(account=replace(STANDARD, plan="legacy")))
    assert run.step is Step.WRONG_PLAN
    assert run.prompt.params["plan"] == "legacy"


def test_a_refused_lookup_explains_and_asks_for_the_number_again() -> None:
    run = after_category()
    run.text("SN-1001")
    run.send(Refused("desk.rate_limited", (("seconds", "30"),)))
    assert run.keys == ["desk.rate_limited", "intake.ask_support_number"]
    assert run.replies[0].params == {"seconds": "30"}


def test_a_stale_lookup_answer_is_ignored() -> None:
    run = after_category()
    run.text("SN-1001")
    run.send(AccountLooked("SN-9999", None))
    assert run.step is Step.CHECKING
    assert run.replies == ()


def test_typing_while_the_lookup_is_pending_repeats_it() -> None:
    run = after_category()
    run.text("SN-1001")
    run.text("hello?")
    assert run.step is Step.CHECKING
    assert isinstance(run.command_sent, LookupAccount)
    assert run.keys == ["intake.checking"]


# -- domains --------------------------------------------------------------------------------------


def test_several_domains_are_offered_as_choices() -> None:
    run = after_category(context(account=MULTI))
    assert run.keys == ["intake.ask_domain"]
    assert [c.params["domain"] for c in run.prompt.choices] == list(MULTI.domains)
    run.pick(run.choices[1])
    complete(run)
    assert run.prompt.params["domain"] == "obchod.sk"


def test_typing_a_domain_of_the_account_works() -> None:
    run = after_category(context(account=MULTI))
    run.text("https://www.SKLEP.pl/koszyk")
    assert run.step is Step.TITLE
    assert run.state is not None and run.state.domain == "sklep.pl"


def test_a_domain_not_on_the_account_explains_the_one_domain_rule() -> None:
    run = after_category(context(account=MULTI))
    run.text("another-shop.com")
    assert run.keys == ["intake.domain_not_covered"]
    # The explanation names the package, what it covers and how many domains it may.
    assert run.prompt.params == {
        "domain": "another-shop.com",
        "number": "SN-2002",
        "domains": "shop.cz, obchod.sk, sklep.pl",
        "limit": 1,
    }
    assert run.choices == ["domain.0", "domain.1", "domain.2", "sales"]
    run.pick("domain.0")
    assert run.step is Step.TITLE
    assert run.state is not None and run.state.domain == "shop.cz"


def test_a_domain_not_on_the_account_can_go_to_sales() -> None:
    run = after_category(context(account=MULTI))
    run.text("another-shop.com")
    run.pick("sales")
    complete(run)
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.department == "sales"
    assert draft.domain == "another-shop.com"


def test_not_a_domain_is_refused() -> None:
    run = after_category(context(account=MULTI))
    run.text("my shop")
    assert run.keys == ["intake.hint.domain", "intake.ask_domain"]
    run.pick("domain.7")
    assert run.keys == ["intake.hint.domain", "intake.ask_domain"]


# -- phone ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("phone", ["12345", "call me", "+1 234 567 890 123 456", "601-234-567x"])
def test_invalid_phone_is_refused(phone: str) -> None:
    run = to_files(context(account=STANDARD))
    run.pick("done")
    run.text(phone)
    assert run.keys == ["intake.hint.phone", "intake.ask_phone"]
    assert run.replies[0].params == {"min": 6, "max": 15}


@pytest.mark.parametrize("phone", ["+420 601 234 567", "(0601) 234-567", "123456"])
def test_valid_phone_is_accepted(phone: str) -> None:
    run = to_files(context(account=STANDARD))
    run.pick("done")
    run.text(phone)
    assert run.step is Step.SUMMARY
    assert run.prompt.params["phone"] == phone


def test_critical_category_suggests_a_phone_and_offers_the_known_one() -> None:
    run = to_files(context(account=STANDARD, phone="+420 777 000 111"), "bug_critical")
    run.pick("done")
    assert run.keys == ["intake.ask_phone_critical"]
    assert run.choices == ["saved_phone", "skip"]
    assert run.prompt.choices[0].params == {"phone": "+420 777 000 111"}
    run.pick("saved_phone")
    assert run.prompt.params["phone"] == "+420 777 000 111"


# -- summary and editing --------------------------------------------------------------------------


def test_paid_category_summary_warns_about_charges() -> None:
    run = to_summary(category="template")
    assert run.keys == ["intake.summary", "intake.summary_paid"]
    assert run.choices == ["confirm", "edit", "cancel"]


def test_long_texts_are_shortened_in_the_summary_but_filed_whole() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    long_description = "The export hangs. " * 200
    run.text(long_description)
    run.pick("skip")
    run.pick("done")
    run.pick("skip")
    shown = run.prompt.params["description"]
    assert len(shown) <= 600 and shown.endswith("…")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    assert run.command_sent.drafts[0].description == long_description.strip()


def test_edit_offers_the_fields_and_back() -> None:
    run = to_summary()
    run.pick("edit")
    assert run.keys == ["intake.ask_edit_field"]
    # One domain on the account: nothing to change there.
    assert run.choices == [
        "category",
        "title",
        "description",
        "steps",
        "files",
        "support_number",
        "phone",
        "back",
    ]
    assert run.prompt.choices[0].key == "intake.field.category"
    run.pick("back")
    assert run.step is Step.SUMMARY


@pytest.mark.parametrize(
    ("field", "answer", "param", "expected"),
    [
        ("title", "Payment page is broken", "title", "Payment page is broken"),
        (
            "description",
            "The card payment page shows error 500 since today.",
            "description",
            "The card payment page shows error 500 since today.",
        ),
        ("steps", "Open checkout and pay.", "steps", "Open checkout and pay."),
        ("phone", "+420 601 000 000", "phone", "+420 601 000 000"),
    ],
)
def test_editing_a_field_returns_straight_to_the_summary(
    field: str, answer: str, param: str, expected: str
) -> None:
    run = to_summary()
    run.pick("edit")
    run.pick(field)
    assert run.step is not Step.SUMMARY
    run.text(answer)
    assert run.step is Step.SUMMARY
    assert run.prompt.params[param] == expected
    # Everything else is unchanged.
    assert run.prompt.params["support_number"] == "SN-1001"


def test_skipping_an_edited_optional_field_clears_it() -> None:
    run = to_summary()
    run.pick("edit")
    run.pick("steps")
    run.pick("skip")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["steps"] == Text("intake.summary.none")


def test_editing_files_can_add_and_clear() -> None:
    run = to_summary()
    run.pick("edit")
    run.pick("files")
    run.files(png("n1"))
    assert run.choices == ["done", "clear"]
    run.pick("done")
    assert run.prompt.params["files"] == 1
    run.pick("edit")
    run.pick("files")
    run.pick("clear")
    assert run.keys == ["files.cleared", "intake.ask_files"]
    run.pick("done")
    assert run.prompt.params["files"] == 0


def test_editing_the_category_rechecks_the_plan() -> None:
    run = to_summary(context(account=FREE), category="payment")
    run.pick("edit")
    run.pick("category")
    run.pick("bug")
    assert run.step is Step.WRONG_PLAN
    run.pick("sales")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["category"] == Text("category.bug")
    assert run.prompt.params["department"] == Text("department.sales")


def test_editing_the_category_to_one_the_plan_covers_routes_by_category() -> None:
    run = to_summary(category="bug")
    run.pick("edit")
    run.pick("category")
    run.pick("howto")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["department"] == Text("department.consultation")


def test_editing_the_description_runs_the_one_issue_check() -> None:
    run = to_summary()
    run.pick("edit")
    run.pick("description")
    run.text("1. The cart forgets products\n2. Invoices have the wrong VAT rate")
    assert run.step is Step.SPLIT
    run.pick("keep")
    assert run.step is Step.SUMMARY


def test_editing_the_support_number_looks_it_up_and_returns() -> None:
    run = to_summary(context(), category="bug")
    run.pick("edit")
    run.pick("support_number")
    run.text("SN-2002")
    assert isinstance(run.command_sent, LookupAccount)
    run.answer_lookup()
    # shop.cz is on the new account too: kept without asking.
    assert run.step is Step.SUMMARY
    assert run.prompt.params["support_number"] == "SN-2002"
    assert run.prompt.params["domain"] == "shop.cz"


def test_editing_the_support_number_re_settles_a_domain_the_new_account_lacks() -> None:
    run = after_category()
    run.text("SN-2002")
    run.answer_lookup()
    run.pick("domain.1")
    complete(run)
    assert run.prompt.params["domain"] == "obchod.sk"
    run.pick("edit")
    run.pick("support_number")
    run.text("SN-1001")
    run.answer_lookup()
    assert run.step is Step.SUMMARY
    assert run.prompt.params["domain"] == "shop.cz"


def test_editing_the_domain_with_several_domains() -> None:
    run = to_summary(context(account=MULTI))
    assert run.prompt.params["domain"] == "shop.cz"
    run.pick("edit")
    assert "domain" in run.choices
    run.pick("domain")
    run.pick("domain.1")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["domain"] == "obchod.sk"


def test_category_removed_from_the_policy_asks_again() -> None:
    run = to_summary()
    assert run.state is not None
    stale = replace(run.state, category="retired")
    t = Intake().advance(stale, ChoicePicked("confirm"), run.context)
    assert t.state is not None and t.state.step is Step.CATEGORY
    assert [r.key for r in t.replies] == ["intake.hint.category_gone", "intake.ask_category"]
    t = Intake().advance(t.state, ChoicePicked("bug"), run.context)
    assert t.state is not None and t.state.step is Step.SUMMARY


# -- one issue per ticket -------------------------------------------------------------------------

SEVERAL = (
    "The shopping cart forgets products after logging in.\n\n"
    "Another problem: invoices are generated with the wrong VAT rate."
)


def test_several_problems_are_offered_to_be_split() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(SEVERAL)
    assert run.keys == ["intake.split_offer"]
    assert run.prompt.params["count"] == 2
    assert "1. The shopping cart" in run.prompt.params["parts"]
    assert "2. Another problem" in run.prompt.params["parts"]
    assert run.choices == ["split", "keep", "rewrite"]


def test_split_files_one_draft_per_problem() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text("Two issues in my shop")
    run.text(SEVERAL)
    run.pick("split")
    # The second problem gets its own category: its words suggest the payment one.
    assert run.step is Step.PART_CATEGORY
    assert run.keys == ["intake.ask_part_category_suggested"]
    assert run.prompt.params["number"] == 2 and run.prompt.params["count"] == 2
    assert run.prompt.params["suggested"] == Text("category.payment")
    assert run.choices[0] == "payment" and "bug" in run.choices
    run.pick("payment")
    assert run.step is Step.STEPS
    run.pick("skip")
    run.files(png("shot"))
    run.pick("done")
    run.pick("skip")
    assert run.keys == [
        "intake.summary",
        "intake.summary_split",
        "intake.summary_part",
        "intake.summary_part",
    ]
    first, second = run.replies[2:]
    assert first.params["title"].startswith("Two issues in my shop (1/2): The shopping cart")
    assert first.params["department"] == Text("department.technical")
    assert second.params["title"].startswith("Two issues in my shop (2/2): Another problem")
    assert second.params["category"] == Text("category.payment")
    assert second.params["department"] == Text("department.sales")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    drafts = run.command_sent.drafts
    assert len(drafts) == 2
    assert drafts[0].title.startswith("Two issues in my shop (1/2): The shopping cart")
    assert drafts[0].description == "The shopping cart forgets products after logging in."
    assert drafts[1].description == (
        "Another problem: invoices are generated with the wrong VAT rate."
    )
    assert all(d.attachments == (png("shot"),) for d in drafts)
    assert all(d.support_number == "SN-1001" for d in drafts)
    assert [d.category for d in drafts] == ["bug", "payment"]
    run.send(TicketsFiled((31, 32)))
    assert run.keys == ["intake.filed_many"]


def test_keeping_several_problems_as_one_files_one_draft() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(SEVERAL)
    run.pick("keep")
    run.pick("skip")
    run.pick("done")
    run.pick("skip")
    assert run.keys == ["intake.summary"]
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    assert len(run.command_sent.drafts) == 1
    assert run.command_sent.drafts[0].description == SEVERAL


def test_rewrite_asks_for_the_description_again() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text(TITLE)
    run.text(SEVERAL)
    run.pick("rewrite")
    assert run.keys == ["intake.ask_description"]
    run.text(DESCRIPTION)
    assert run.step is Step.STEPS


def test_split_titles_stay_short() -> None:
    run = Run(context(account=STANDARD), category="bug")
    run.text("t" * 120)
    run.text("- " + "word " * 60 + "\n- " + "other " * 60)
    run.pick("split")
    run.pick("bug")  # the second part's category
    run.pick("skip")
    run.pick("done")
    run.pick("skip")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    assert all(len(d.title) <= 160 for d in run.command_sent.drafts)


# -- duplicates and filing ------------------------------------------------------------------------


def _with_open_ticket(status: Status = Status.ACCEPTED) -> Run:
    similar = brief(
        12,
        "Error 500 when paying in checkout",
        "Customers get error 500 after clicking Pay in the checkout; orders are not created.",
        status,
    )
    other = brief(13, "Logo is too small", "How do I make the logo in the header bigger?")
    return to_summary(context(account=STANDARD, open_tickets=(other, similar)))


def test_a_similar_open_ticket_is_offered_instead() -> None:
    run = _with_open_ticket()
    run.pick("confirm")
    assert run.keys == ["intake.duplicate_offer"]
    assert run.prompt.params == {
        "number": 12,
        "title": "Error 500 when paying in checkout",
        "status": Text("intake.status.accepted"),
    }
    assert run.choices == ["add", "new"]


def test_adding_to_the_similar_ticket_appends_text_and_files() -> None:
    run = _with_open_ticket()
    run.pick("edit")
    run.pick("files")
    run.files(png("p"))
    run.pick("done")
    run.pick("confirm")
    run.pick("add")
    command = run.command_sent
    assert isinstance(command, AppendToTicket)
    assert command.number == 12
    assert TITLE in command.text and DESCRIPTION in command.text and STEPS in command.text
    assert command.attachments == (png("p"),)
    run.send(AddedToTicket(12))
    assert run.state is None
    assert run.keys == ["intake.added"]
    assert run.prompt.params == {"number": 12}


def test_filing_new_despite_a_similar_ticket() -> None:
    run = _with_open_ticket()
    run.pick("confirm")
    run.pick("new")
    assert isinstance(run.command_sent, OpenTickets)
    assert run.step is Step.FILING


def test_closed_or_blocked_tickets_are_not_offered() -> None:
    for status in (Status.CLOSED, Status.BLOCKED, Status.DECLINED):
        run = _with_open_ticket(status)
        run.pick("confirm")
        assert isinstance(run.command_sent, OpenTickets), status


def test_a_refused_append_goes_back_to_the_summary() -> None:
    run = _with_open_ticket()
    run.pick("confirm")
    run.pick("add")
    run.send(Refused("notice.blocked_wait", (("number", "12"),)))
    assert run.keys[0] == "notice.blocked_wait"
    assert run.step is Step.SUMMARY


def test_refused_filing_keeps_everything_and_returns_to_the_summary() -> None:
    run = to_summary()
    before = run.state
    run.pick("confirm")
    run.send(Refused("quota.exceeded", (("limit", "10"),)))
    assert run.keys[0] == "quota.exceeded"
    assert run.replies[0].params == {"limit": "10"}
    assert run.keys[1] == "intake.summary"
    assert run.state == before
    assert run.prompt.params["title"] == TITLE
    assert run.prompt.params["description"] == DESCRIPTION
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)


def test_input_while_filing_returns_to_the_summary_without_refiling() -> None:
    run = to_summary()
    run.pick("confirm")
    run.text("hello?")
    assert run.command_sent is None
    assert run.keys[0] == "intake.hint.interrupted"
    assert run.step is Step.SUMMARY


def test_an_answer_at_the_wrong_step_changes_nothing() -> None:
    run = to_summary()
    before = run.state
    run.send(TicketsFiled((1,)))
    assert run.state == before
    assert run.replies == ()


def test_no_support_number_goes_to_sales_from_the_number_step() -> None:
    run = Run()
    run.pick("bug")
    assert run.choices == ["no_number"]
    run.pick("no_number")
    assert run.state is not None and run.state.department == POLICY.sales_department


# -- what was written to a closed ticket ------------------------------------------------------


def test_a_message_to_a_closed_ticket_is_carried_into_the_follow_up_with_its_files() -> None:
    run = Run(
        context(account=STANDARD),
        closed_ticket=17,
        category="bug",
        carried_text="The checkout error is back since this morning.",
        carried_files=(png("again"), replace(png("x", "x.exe"), mime_type="application/x-ms")),
    )
    assert run.keys == ["followup.message_kept", "followup.offer"]
    run.pick("yes")
    run.text(TITLE)
    assert run.keys == ["intake.carried_description", "intake.ask_steps_bug"]
    run.pick("skip")
    assert run.state is not None and [a.file_ref for a in run.state.attachments] == ["again"]
    run.pick("done")
    run.pick("skip")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.description == "The checkout error is back since this morning."
    assert draft.follow_up_of == 17


def test_declining_the_follow_up_says_the_message_was_not_filed() -> None:
    run = Run(closed_ticket=17, category="bug", carried_text="still broken")
    run.pick("no")
    assert run.state is None
    assert run.keys == ["followup.declined", "followup.message_dropped"]
