"""The account comes right after the category, before the customer writes anything:
the monthly quota with its ways forward, the domain a plan wants with every request,
a reseller's licence, a plan's own request types and one-off requests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from intake_support import (
    EXAMPLE,
    MULTI,
    RESOLD,
    STANDARD,
    Run,
    after_category,
    complete,
    context,
    to_summary,
)

from bot.account import Account
from bot.commands import OpenTickets
from bot.inputs import Refused
from bot.policy import DeskPolicy, parse_policy
from bot.quota import QUOTA_EXCEEDED, QuotaStatus
from bot.reply import Reply, Text
from conversations.intake import Intake, IntakeState, Step

USED_UP = QuotaStatus(10, 10, 0)
NOTICE_EXCEEDED = Reply(QUOTA_EXCEEDED, {"limit": 10})
NOTICE_LEFT = Reply("sla.quota_left", {"left": 3, "limit": 10})


def policy(**sections: object) -> DeskPolicy:
    return parse_policy({**EXAMPLE.raw, **sections})


def with_plan(**keys: object) -> DeskPolicy:
    plans = dict(EXAMPLE.raw["plans"])
    plans["standard"] = {**plans["standard"], **keys}
    return policy(plans=plans)


# -- the monthly quota, when the category is chosen ------------------------------------------


def test_what_is_left_of_the_quota_is_said_before_writing() -> None:
    run = after_category(
        context(account=STANDARD, quota=QuotaStatus(10, 7, 3), quota_notice=NOTICE_LEFT)
    )
    assert run.keys == ["sla.quota_left", "intake.ask_title"]
    assert run.replies[0].params == {"left": 3, "limit": 10}


def test_a_used_up_quota_offers_the_ways_forward_as_buttons() -> None:
    ctx = context(account=STANDARD, quota=USED_UP, quota_notice=NOTICE_EXCEEDED)
    run = after_category(ctx)
    assert run.step is Step.QUOTA_USED
    assert run.keys == [QUOTA_EXCEEDED, "intake.quota_way_forward"]
    # The example policy offers both ways; nothing has been written yet.
    assert run.choices == ["quota_sales", "quota_paid", "cancel"]
    assert run.state is not None and run.state.title == ""


def test_the_sales_way_files_for_the_sales_department_uncounted() -> None:
    run = after_category(context(account=STANDARD, quota=USED_UP))
    run.pick("quota_sales")
    complete(run)
    assert run.prompt.params["department"] == Text("department.sales")
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.department == "sales" and draft.category == "bug" and not draft.paid


def test_the_paid_way_files_a_paid_request_and_the_summary_says_so() -> None:
    run = after_category(context(account=STANDARD, quota=USED_UP))
    run.pick("quota_paid")
    complete(run)
    assert run.keys == ["intake.summary", "intake.summary_paid_over_quota"]
    run.pick("confirm")
    assert isinstance(run.command_sent, OpenTickets)
    (draft,) = run.command_sent.drafts
    assert draft.paid and draft.department is None


def test_the_policy_chooses_the_ways_forward() -> None:
    only_sales = policy(quota={"over_quota": ["sales"]})
    run = Run(context(policy=only_sales, account=STANDARD, quota=USED_UP))
    run.pick("bug")
    assert run.choices == ["quota_sales", "cancel"]
    run.pick("quota_paid")  # not offered: refused
    assert run.keys[0] == "intake.hint.choose" and run.step is Step.QUOTA_USED


def test_sales_categories_never_meet_the_quota() -> None:
    run = after_category(context(account=STANDARD, quota=USED_UP), "sales")
    assert run.step is Step.TITLE


def test_critical_requests_are_exempt_where_the_policy_says_so() -> None:
    run = after_category(context(account=STANDARD, quota=USED_UP), "bug_critical")
    assert run.step is Step.QUOTA_USED
    exempt = policy(quota={"exempt_critical": True})
    run = Run(context(policy=exempt, account=STANDARD, quota=USED_UP))
    run.pick("bug_critical")
    assert run.step is Step.TITLE
    # Exempt means not counted either.
    assert not exempt.counts_toward_quota("technical", "bug_critical")
    assert exempt.counts_toward_quota("technical", "bug")


def test_the_quota_used_up_at_filing_offers_the_ways_forward_then_the_summary() -> None:
    run = to_summary()
    run.pick("confirm")
    run.send(Refused(QUOTA_EXCEEDED, (("limit", 10),)))
    assert run.step is Step.QUOTA_USED
    assert run.keys == [QUOTA_EXCEEDED, "intake.quota_way_forward"]
    run.pick("quota_paid")
    assert run.step is Step.SUMMARY
    assert run.state is not None and run.state.paid and run.state.title


def test_a_new_category_from_the_summary_checks_the_quota_again() -> None:
    ctx = context(account=STANDARD, quota=USED_UP)
    run = after_category(ctx, "sales")
    complete(run)
    run.pick("edit")
    run.pick("category")
    run.pick("bug")
    assert run.step is Step.QUOTA_USED
    run.pick("quota_sales")
    assert run.step is Step.SUMMARY
    assert run.prompt.params["department"] == Text("department.sales")


# -- the domain and the support number with every request -------------------------------------


def test_a_plan_can_want_the_domain_with_every_request_even_with_one() -> None:
    ctx = context(policy=with_plan(ask_domain=True), account=STANDARD)
    run = after_category(ctx)
    assert run.keys == ["intake.ask_domain"]
    assert [c.params["domain"] for c in run.prompt.choices] == ["shop.cz"]
    run.text("other-shop.cz")
    assert run.keys == ["intake.domain_not_covered"]
    assert run.prompt.params["domain"] == "other-shop.cz"
    assert run.prompt.params["limit"] == 1
    run.text("www.shop.cz")
    complete(run)
    assert run.prompt.params["domain"] == "shop.cz"
    # Shown and editable, though the package covers one domain.
    run.pick("edit")
    assert "domain" in run.choices


def test_without_the_rule_one_domain_is_taken_silently_and_not_offered_to_edit() -> None:
    run = to_summary()
    assert run.prompt.params["domain"] == "shop.cz"
    run.pick("edit")
    assert "domain" not in run.choices


def test_a_plan_can_want_the_support_number_with_every_request() -> None:
    ctx = context(policy=with_plan(ask_support_number=True), account=STANDARD)
    run = after_category(ctx)
    assert run.keys == ["intake.ask_support_number"]
    assert run.choices == ["saved_number", "no_number"]
    assert run.prompt.choices[0].params == {"number": "SN-1001"}
    assert run.prompt.params == {"where": Text("intake.where_to_find_support_number")}
    run.pick("saved_number")
    assert run.step is Step.CHECKING
    run.answer_lookup()
    assert run.step is Step.TITLE


# -- who may be served --------------------------------------------------------------------------


def test_a_resellers_licence_is_sent_to_its_seller_where_the_plan_serves_direct_customers() -> (
    None
):
    run = after_category()
    run.text(RESOLD.support_number)
    run.answer_lookup()
    assert run.step is Step.NOT_DIRECT
    assert run.keys == ["intake.not_direct"]
    assert run.prompt.params == {"number": "SN-5005"}
    assert run.choices == ["sales", "retry", "cancel"]
    run.pick("retry")
    assert run.step is Step.SUPPORT_NUMBER
    # The same licence bought directly is served.
    direct = replace(RESOLD, direct=True)
    run = after_category(context(account=direct))
    assert run.step is Step.TITLE


def test_a_plans_own_category_is_refused_to_other_plans_with_the_reason() -> None:
    # Not linked yet: the menu has every category, and the plan is checked once known.
    run = after_category(context(), "installation")
    run.text(STANDARD.support_number)
    run.answer_lookup()
    assert run.step is Step.CATEGORY
    assert run.keys == ["intake.category_not_in_plan", "intake.ask_category"]
    assert run.replies[0].params == {
        "category": Text("category.installation"),
        "plan": Text("plan.standard"),
    }
    # A linked account sees only the categories its plan has.
    assert "installation" not in Run(context(account=STANDARD)).choices
    assert "installation" in Run(context()).choices


def test_a_one_off_request_is_offered_once_per_account() -> None:
    all_in_one = Account("SN-7007", ("a.cz",), "all_in_one", valid_until=date(2025, 12, 31))
    run = after_category(context(account=all_in_one), "installation")
    assert run.step is Step.TITLE
    used = context(account=all_in_one, used_once=frozenset({"installation"}))
    run = after_category(used, "installation")
    assert run.keys == ["intake.once_used", "intake.ask_category"]
    assert run.step is Step.CATEGORY


def test_a_one_off_request_is_not_counted_against_the_quota() -> None:
    all_in_one = Account("SN-7007", ("a.cz",), "all_in_one", valid_until=date(2025, 12, 31))
    run = after_category(context(account=all_in_one, quota=USED_UP), "installation")
    assert run.step is Step.TITLE


def test_the_policy_words_where_the_number_is_found() -> None:
    assert EXAMPLE.labels()["intake.where_to_find_support_number"]["en"].endswith(
        "under Shop information."
    )
    plain = policy(wording={})
    assert "intake.where_to_find_support_number" not in plain.labels()
    assert MULTI.plan in plain.plans


def test_usage_is_read_where_the_next_move_may_need_it_and_not_after() -> None:
    """A step costs the account's quota reads only while the account can still be
    settled by it (or re-checked: a category, an edit, a refused filing)."""
    dialog = Intake()
    assert dialog.reads_account_usage(None, None)
    assert dialog.reads_account_usage(IntakeState(Step.CATEGORY, identified=True), None)
    assert dialog.reads_account_usage(IntakeState(Step.FILING, identified=True), None)
    assert dialog.reads_account_usage(IntakeState(Step.SUPPORT_NUMBER), None)
    # Stored by an earlier version that asked for the account after the files.
    assert dialog.reads_account_usage(IntakeState(Step.FILES), None)
    assert not dialog.reads_account_usage(IntakeState(Step.FILES, identified=True), None)
    assert not dialog.reads_account_usage(IntakeState(Step.TITLE, identified=True), None)
