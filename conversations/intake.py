"""Customer intake: the wizard that turns a private chat into a well-formed ticket.

A pure state machine (``bot.dialog.Dialog``): no I/O, no clock, no platform. Every
prompt is a ``Reply`` whose key lives in ``bot/locales/<lang>/intake.po``; every
re-ask repeats the step's prompt with its choices, so any channel can re-render it.

States and transitions (``Step`` values are stored; never rename them)::

    start() ─────────────────────────────┐ start(closed_ticket=N, category=K)
      │ start(follow_up_of=N, category=K)│            │
      │                                  ▼            ▼
      │                              CATEGORY   FOLLOW_UP_OFFER ──no──► (end)
      │                                  │            │ yes
      ├──────────────────────────────────┼────────────┘
      ▼   (the account before anything is written)
    context.account? ──yes (plan not asking the number each time)──┐
      │ no                                                          │
    SUPPORT_NUMBER ──► CHECKING (LookupAccount ⇢ AccountLooked)     │
                          │  unknown ─► UNKNOWN_NUMBER (retry / sales)
                          ▼                                         │
                     entitlement ◄──────────────────────────────────┘
                          │ ─expired─► EXPIRED  ─plan─► WRONG_PLAN
                          │ ─reseller (plan serves direct only)─► NOT_DIRECT
                          │            (sales / another number / cancel)
                          │ ─category not of the plan, one-off used─► CATEGORY
                          │ ─monthly quota used up─► QUOTA_USED (sales / paid / cancel)
                          ▼   (else what is left of the quota is said)
                       DOMAIN (several domains, no account, or the plan asks each time)
                          │  not on the package ─► WRONG_DOMAIN (domain / sales)
                        TITLE
                          │ 5..120 chars
                      DESCRIPTION ◄─────────edit──┐
                          │ 20..4000 chars        │
                          ├── several problems ─► SPLIT
                          ▼                       │ split / keep
                      SEARCHING ◄─────────────────┘
          (SuggestArticles ⇢ ArticlesFound: the department's help articles and
           an open incident the title and description match)
                          │ incident ─► INCIDENT_OFFER ──join──► PHONE (no steps, no files)
                          │                │ something else: articles, or STEPS
                          ▼ articles
                      ARTICLES ──read N──► READING (ShowArticle ⇢ ArticleShown) ─┐
                          │   ◄────────────────────────────────────────────────────┘
                          ├── "This solved it" ──► DEFLECTING ──► (end: no ticket)
                          │      (RecordDeflection ⇢ DeflectionRecorded)
                          ▼ "I still need help" (/skip), or no article
                        STEPS   (/skip allowed; the problem form brought the steps and
                          │      files before the search: on to PHONE)
                          │
                        FILES   (files, "done" or /skip)
                          │
                        PHONE  (/skip allowed)
                          │
       ┌─────────────► SUMMARY ──edit──► EDIT_FIELD ──► that step ─┐
       │                  │ confirm                                │
       │                  │◄───────────────────────────────────────┘
       │        similar open ticket? ──yes──► DUPLICATE ──add──► APPENDING
       │                  │ no / "file new"                (AppendToTicket
       │                  ▼                                 ⇢ AddedToTicket)
       └── Refused ── FILING  (OpenTickets ⇢ TicketsFiled) ──► (end)
                          │ quota taken meanwhile ─► QUOTA_USED ─► SUMMARY

A message written to a closed ticket comes along (``carried_text``/``carried_files``):
it is the follow-up's description (or its beginning, when short) and files. After a
restart, ``resume`` gives the current step's question again.

At every step ``/cancel`` ends the intake, ``/skip`` skips an optional step (or
says it cannot be skipped), any other command re-asks. ``CommandGiven("timeout")``
is how the desk tells an abandoned intake that its time is up.

Stored states: ``dump`` gives a JSON-safe dict with a format version; ``load``
raises ``CorruptState`` (a ``ValueError``) for anything it cannot trust. The desk
should then drop the conversation and send ``STATE_LOST``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any

from bot.account import Account, normalise_domain, normalise_support_number
from bot.commands import (
    AppendToTicket,
    LookupAccount,
    OpenTickets,
    RecordDeflection,
    ShowArticle,
    SuggestArticles,
    TicketDraft,
)
from bot.dialog import DeskContext, TicketBrief, Transition
from bot.files import check_attachment, megabytes, refusal
from bot.incident import IncidentBrief
from bot.inputs import (
    AccountLooked,
    AddedToTicket,
    ArticlesFound,
    ArticleShown,
    ChoicePicked,
    CommandGiven,
    DeflectionRecorded,
    FileSent,
    FormSent,
    Input,
    Refused,
    TextSent,
    TicketsFiled,
)
from bot.knowledge.article import ArticleBrief
from bot.policy import Category, Plan
from bot.quota import QUOTA_EXCEEDED
from bot.reply import Choice, Day, Field, Form, Reply, Text
from bot.ticket import Attachment, RequestType, Status
from conversations.similarity import DEFAULT_THRESHOLD, find_similar
from conversations.splitting import split_problems

TITLE_MIN, TITLE_MAX = 5, 120
DESCRIPTION_MIN, DESCRIPTION_MAX = 20, 4000
STEPS_MAX = 4000
PHONE_MIN_DIGITS, PHONE_MAX_DIGITS = 6, 15
# Split tickets get "Title (1/2): first words…"; a little longer than a typed title.
DRAFT_TITLE_MAX = 160
DRAFT_TITLE_LEAD_WORDS = 8
# Telegram caps a message at 4096 characters; the summary shows long texts cut.
SUMMARY_PREVIEW = 600
SIMILARITY_THRESHOLD = DEFAULT_THRESHOLD
STATE_VERSION = 1

# Where the customer finds their support number: the policy's own words
# ([intake] where_to_find_support_number), laid over the catalog's neutral default.
WHERE_NUMBER = "intake.where_to_find_support_number"

# What the problem is, in one form where a channel has forms (the title step offers it):
# title, description, steps and files, with the limits the steps check.
PROBLEM_FORM = Form(
    "problem",
    "intake.form.problem",
    (
        Field("title", "intake.field.title", min_length=TITLE_MIN, max_length=TITLE_MAX),
        Field(
            "description",
            "intake.field.description",
            long=True,
            min_length=DESCRIPTION_MIN,
            max_length=DESCRIPTION_MAX,
        ),
        Field("steps", "intake.field.steps", long=True, required=False, max_length=STEPS_MAX),
        Field("files", "intake.field.files", required=False, files=True),
    ),
)


STATE_LOST = Reply("intake.state_lost")
"""What the desk should send when ``load`` raised ``CorruptState``."""

# Tickets a customer can still add messages to (blocked ones are being fixed,
# resolved ones are disputed through their own flow).
APPENDABLE = frozenset({Status.NEW, Status.ACCEPTED, Status.WAITING})

_SUPPORT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9./_-]{2,39}$")
_DOMAIN = re.compile(r"^(?=.{3,253}$)[^\s/@:]+\.[^\s/@:.]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]+$")
_LIST_MARKER = re.compile(r"^(?:\d{1,2}[.)]|[-*•])\s*")


class Step(StrEnum):
    CATEGORY = "category"
    FOLLOW_UP_OFFER = "follow_up_offer"
    TITLE = "title"
    DESCRIPTION = "description"
    SPLIT = "split"
    PART_CATEGORY = "part_category"
    SEARCHING = "searching"
    INCIDENT_OFFER = "incident_offer"
    ARTICLES = "articles"
    READING = "reading"
    DEFLECTING = "deflecting"
    STEPS = "steps"
    FILES = "files"
    SUPPORT_NUMBER = "support_number"
    CHECKING = "checking"
    UNKNOWN_NUMBER = "unknown_number"
    EXPIRED = "expired"
    WRONG_PLAN = "wrong_plan"
    NOT_DIRECT = "not_direct"
    QUOTA_USED = "quota_used"
    DOMAIN = "domain"
    WRONG_DOMAIN = "wrong_domain"
    PHONE = "phone"
    SUMMARY = "summary"
    EDIT_FIELD = "edit_field"
    DUPLICATE = "duplicate"
    APPENDING = "appending"
    FILING = "filing"


def _answer_form(step: Step, long: bool = False, low: int = 0, high: int = 200) -> Form:
    """A step that wants typed text, as a one-field form (a channel where typing is
    awkward, such as a private reply in a Discord server, offers it as a modal)."""
    field = Field("text", f"intake.field.{step.value}", long=long, min_length=low, max_length=high)
    return Form(step.value, "intake.form.answer", (field,))


# The text steps' forms, by step.
TEXT_FORMS = {
    Step.TITLE: _answer_form(Step.TITLE, low=TITLE_MIN, high=TITLE_MAX),
    Step.DESCRIPTION: _answer_form(
        Step.DESCRIPTION, long=True, low=DESCRIPTION_MIN, high=DESCRIPTION_MAX
    ),
    Step.STEPS: _answer_form(Step.STEPS, long=True, low=1, high=STEPS_MAX),
    Step.SUPPORT_NUMBER: _answer_form(Step.SUPPORT_NUMBER, low=3, high=40),
    Step.DOMAIN: _answer_form(Step.DOMAIN, low=3, high=253),
    Step.PHONE: _answer_form(Step.PHONE, low=6, high=30),
}
FORMS = {form.name: form for form in (PROBLEM_FORM, *TEXT_FORMS.values())}

# Steps at which the desk owes us an answer to a command.
WAITING_STEPS = frozenset(
    {Step.CHECKING, Step.FILING, Step.APPENDING, Step.SEARCHING, Step.READING, Step.DEFLECTING}
)
# Steps that need a title / a description already (checked by ``load``): those after
# the title is asked (the account and domain come before it).
_NEEDS_TITLE = frozenset(
    {
        Step.DESCRIPTION,
        Step.SPLIT,
        Step.PART_CATEGORY,
        Step.SEARCHING,
        Step.INCIDENT_OFFER,
        Step.ARTICLES,
        Step.READING,
        Step.DEFLECTING,
        Step.STEPS,
        Step.FILES,
        Step.PHONE,
        Step.SUMMARY,
        Step.EDIT_FIELD,
        Step.DUPLICATE,
        Step.APPENDING,
        Step.FILING,
    }
)
_NEEDS_DESCRIPTION = _NEEDS_TITLE - {Step.DESCRIPTION}
# Steps whose next move may look at the account's quota and one-off requests.
_READS_USAGE = frozenset(
    {
        Step.CATEGORY,
        Step.FOLLOW_UP_OFFER,
        Step.UNKNOWN_NUMBER,
        Step.EXPIRED,
        Step.WRONG_PLAN,
        Step.NOT_DIRECT,
        Step.QUOTA_USED,
        Step.EDIT_FIELD,
        Step.FILING,
    }
)
# ... and those that look at it only while the account is not settled yet (once it
# is, they move on without it: a read per step saved on most intakes).
_READS_USAGE_UNSETTLED = frozenset({Step.FILES, Step.SUPPORT_NUMBER, Step.CHECKING})


class CorruptState(ValueError):
    """Stored intake data that cannot be trusted (unknown step, wrong types, a
    format from the future). The desk drops it and tells the customer
    (``STATE_LOST``); the customer starts again."""


@dataclass(frozen=True, slots=True)
class IntakeState:
    """Everything collected so far. ``parts`` holds the split candidates at SPLIT
    and the accepted split afterwards (empty = one ticket)."""

    step: Step
    category: str = ""
    title: str = ""
    description: str = ""
    parts: tuple[str, ...] = ()
    # The categories of the second and further parts (the first part's is
    # ``category``): each part reaches its own department.
    part_categories: tuple[str, ...] = ()
    steps: str = ""
    attachments: tuple[Attachment, ...] = ()
    support_number: str = ""
    checking_number: str = ""
    account: Account | None = None
    domain: str = ""
    rejected_domain: str = ""
    phone: str = ""
    # Set when entitlement sends the customer to sales; None routes by category.
    department: str | None = None
    follow_up_of: int | None = None
    duplicate: TicketBrief | None = None
    # True while changing one field from the summary: the step returns there.
    editing: bool = False
    # Help articles offered before filing (ARTICLES), and the one last read.
    articles: tuple[ArticleBrief, ...] = ()
    read_slug: str = ""
    # An open incident offered (INCIDENT_OFFER); joined: the tickets become its.
    incident: IncidentBrief | None = None
    joined: bool = False
    # The account question is settled (an account, or knowingly none): asked once,
    # right after the category, before the customer writes anything.
    identified: bool = False
    # Filed as a paid request past the monthly quota (the customer chose to).
    paid: bool = False
    # What the customer wrote to a closed ticket: the follow-up's description (or its
    # beginning, when short), so nothing typed is lost.
    carried: str = ""
    # The problem form brought the steps and files along with the description: after
    # the help articles the intake goes on past them.
    filled: bool = False


Out = Transition[IntakeState]
_Handler = Callable[[IntakeState, Input, DeskContext], Out]


# -- prompts -------------------------------------------------------------------------


def _choice(value: str, **params: Any) -> Choice:
    return Choice(value, f"intake.choice.{value}", params)


_CHOICE_KEYS = (
    # Listed so the catalog test (and a reader) sees every key ``_choice`` builds.
    "intake.choice.skip",
    "intake.choice.done",
    "intake.choice.clear",
    "intake.choice.split",
    "intake.choice.keep",
    "intake.choice.rewrite",
    "intake.choice.edit",
    "intake.choice.renew",
    "intake.choice.retry",
    "intake.choice.sales",
    "intake.choice.cancel",
    "intake.choice.confirm",
    "intake.choice.add",
    "intake.choice.new",
    "intake.choice.back",
    "intake.choice.saved_phone",
    "intake.choice.saved_domain",
    "intake.choice.domain",
    "intake.choice.saved_number",
    "intake.choice.quota_sales",
    "intake.choice.quota_paid",
)

_EDIT_FIELD_KEYS = {
    "category": "intake.field.category",
    "title": "intake.field.title",
    "description": "intake.field.description",
    "steps": "intake.field.steps",
    "files": "intake.field.files",
    "support_number": "intake.field.support_number",
    "domain": "intake.field.domain",
    "phone": "intake.field.phone",
}
_EDIT_TARGET = {
    "category": Step.CATEGORY,
    "title": Step.TITLE,
    "description": Step.DESCRIPTION,
    "steps": Step.STEPS,
    "files": Step.FILES,
    "support_number": Step.SUPPORT_NUMBER,
    "domain": Step.DOMAIN,
    "phone": Step.PHONE,
}
_STATUS_KEYS = {status: f"intake.status.{status.value}" for status in Status}


def _department(state: IntakeState, context: DeskContext) -> str:
    if state.department:
        return state.department
    category = context.policy.categories.get(state.category)
    return category.department if category else context.policy.sales_department


def _to_sales(state: IntakeState, context: DeskContext) -> bool:
    return _department(state, context) == context.policy.sales_department


def _plan(state: IntakeState, context: DeskContext) -> Plan | None:
    account = state.account
    return context.policy.plans.get(account.plan) if account is not None else None


def _asks_domain(state: IntakeState, context: DeskContext) -> bool:
    plan = _plan(state, context)
    return plan is not None and plan.ask_domain


def _menu(context: DeskContext) -> list[Category]:
    """The categories to pick from: those of the known account's plan, or all listed
    ones while the account is unknown (a restricted one is checked once it is)."""
    plan = context.account.plan if context.account is not None else None
    return [
        c
        for c in context.policy.listed_categories()
        if context.account is None or c.offered_to(plan)
    ]


def _usage_known(state: IntakeState, context: DeskContext) -> bool:
    """The context's quota and one-off uses are those of the state's account."""
    return (
        state.account is not None
        and context.account is not None
        and context.account.support_number == state.account.support_number
    )


def _domain_choices(account: Account) -> tuple[Choice, ...]:
    # Indexes, not the domains: callback data is short (Telegram: 64 bytes).
    return tuple(
        Choice(f"domain.{i}", "intake.choice.domain", {"domain": d})
        for i, d in enumerate(account.domains)
    )


def _number_optional(state: IntakeState, context: DeskContext) -> bool:
    # Sales also serves people without a (valid) support package.
    return _to_sales(state, context)


def _domain_free_text(state: IntakeState) -> bool:
    return state.account is None or not state.account.domains


def _preview(text: str) -> str:
    return text if len(text) <= SUMMARY_PREVIEW else text[: SUMMARY_PREVIEW - 1].rstrip() + "…"


def _or_none(value: str) -> str | Text:
    return value or Text("intake.summary.none")


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


def _summary_replies(state: IntakeState, context: DeskContext) -> list[Reply]:
    params: dict[str, Any] = {
        "category": Text(f"category.{state.category}"),
        "department": Text(f"department.{_department(state, context)}"),
        "title": state.title,
        "description": _preview(state.description),
        "steps": _or_none(_preview(state.steps)),
        "files": len(state.attachments),
        "support_number": _or_none(state.support_number),
        "domain": _or_none(state.domain),
        "phone": _or_none(state.phone),
    }
    replies = [Reply("intake.summary", params)]
    if state.parts:
        drafts = _drafts(state)
        replies.append(Reply("intake.summary_split", {"count": len(drafts)}))
        replies.extend(
            Reply(
                "intake.summary_part",
                {
                    "number": i,
                    "title": d.title,
                    "category": Text(f"category.{d.category}"),
                    "department": Text(f"department.{_draft_department(d, context)}"),
                },
            )
            for i, d in enumerate(drafts, 1)
        )
    if state.follow_up_of is not None:
        replies.append(Reply("intake.summary_follow_up", {"number": state.follow_up_of}))
    if state.joined and state.incident is not None:
        replies.append(Reply("incident.summary", {"title": state.incident.title}))
    category = context.policy.categories.get(state.category)
    if state.paid:
        replies.append(Reply("intake.summary_paid_over_quota"))
    elif category is not None and category.paid:
        replies.append(Reply("intake.summary_paid"))
    return replies


def _edit_fields(state: IntakeState, context: DeskContext) -> list[str]:
    fields = ["category", "title", "description", "steps", "files", "support_number"]
    # One domain on the account leaves nothing to choose, unless the plan wants the
    # domain confirmed with every request.
    if not (state.account is not None and len(state.account.domains) == 1) or _asks_domain(
        state, context
    ):
        fields.append("domain")
    fields.append("phone")
    return fields


def _prompt(state: IntakeState, context: DeskContext) -> tuple[Reply, ...]:
    """The step's question with its choices (on the last reply)."""
    step = state.step
    policy = context.policy
    replies: list[Reply]
    choices: tuple[Choice, ...] = ()
    if step is Step.CATEGORY:
        replies = [Reply("intake.ask_category")]
        choices = tuple(Choice(c.key, f"category.{c.key}") for c in _menu(context))
    elif step is Step.FOLLOW_UP_OFFER:
        replies = [Reply("followup.offer", {"number": state.follow_up_of})]
        if state.carried or state.attachments:
            replies.insert(0, Reply("followup.message_kept"))
        choices = (
            Choice("yes", "followup.choice.yes"),
            Choice("no", "followup.choice.no"),
        )
    elif step is Step.TITLE:
        replies = [Reply("intake.ask_title", {"min": TITLE_MIN, "max": TITLE_MAX})]
    elif step is Step.DESCRIPTION:
        replies = [
            Reply("intake.ask_description", {"min": DESCRIPTION_MIN, "max": DESCRIPTION_MAX})
        ]
    elif step is Step.SPLIT:
        replies = [
            Reply(
                "intake.split_offer",
                {"count": len(state.parts), "parts": _numbered(list(state.parts))},
            )
        ]
        choices = (_choice("split"), _choice("keep"), _choice("rewrite"))
    elif step is Step.PART_CATEGORY:
        index = len(state.part_categories) + 1
        part = state.parts[index] if index < len(state.parts) else ""
        menu = _part_menu(state, context)
        suggested = suggest_category(part, menu)
        params: dict[str, Any] = {
            "number": index + 1,
            "count": len(state.parts),
            "part": _preview(part),
        }
        if suggested is not None:
            # The likeliest category first, and named.
            menu = [suggested, *(c for c in menu if c.key != suggested.key)]
            params["suggested"] = Text(f"category.{suggested.key}")
            replies = [Reply("intake.ask_part_category_suggested", params)]
        else:
            replies = [Reply("intake.ask_part_category", params)]
        choices = tuple(Choice(c.key, f"category.{c.key}") for c in menu)
    elif step is Step.INCIDENT_OFFER:
        assert state.incident is not None
        replies = [Reply("incident.offer", {"title": state.incident.title})]
        choices = (
            Choice("join", "incident.choice.join"),
            Choice("other", "incident.choice.other"),
        )
    elif step is Step.ARTICLES:
        if state.read_slug:
            replies = [Reply("help.solved_question")]
        else:
            replies = [Reply("help.suggest", {"count": len(state.articles)})]
        choices = tuple(
            Choice(f"read.{i}", "help.choice.read", {"title": a.title})
            for i, a in enumerate(state.articles)
            if a.slug != state.read_slug
        )
        choices += (
            Choice("solved", "help.choice.solved"),
            Choice("need_help", "help.choice.need_help"),
        )
    elif step in (Step.SEARCHING, Step.READING, Step.DEFLECTING):
        replies = [Reply("help.searching")]
    elif step is Step.STEPS:
        category = policy.categories.get(state.category)
        is_bug = category is not None and category.request_type is RequestType.BUG
        replies = [Reply("intake.ask_steps_bug" if is_bug else "intake.ask_steps")]
        choices = (_choice("skip"),)
    elif step is Step.FILES:
        replies = [
            Reply(
                "intake.ask_files",
                {
                    "max_mb": megabytes(policy.files.accepted(context.channel)),
                    "count": len(state.attachments),
                },
            )
        ]
        choices = (_choice("done"),)
        if state.editing and state.attachments:
            choices += (_choice("clear"),)
    elif step is Step.SUPPORT_NUMBER:
        where = Text(WHERE_NUMBER)
        if context.account is not None:
            # The plan wants the number with every request: the saved one is a button.
            choices = (_choice("saved_number", number=context.account.support_number),)
        if _number_optional(state, context):
            replies = [Reply("intake.ask_support_number_optional", {"where": where})]
            choices += (_choice("skip"),)
        else:
            replies = [Reply("intake.ask_support_number", {"where": where})]
            # Without a number the way forward is the sales department.
            choices += (_choice("no_number"),)
    elif step is Step.CHECKING:
        replies = [Reply("intake.checking", {"number": state.checking_number})]
    elif step is Step.UNKNOWN_NUMBER:
        replies = [
            Reply(
                "intake.number_unknown",
                {"number": state.checking_number, "where": Text(WHERE_NUMBER)},
            )
        ]
        choices = (_choice("retry"), _choice("sales"), _choice("cancel"))
    elif step is Step.EXPIRED:
        until = state.account.valid_until if state.account else None
        replies = [
            Reply(
                "intake.support_expired",
                {
                    "number": state.support_number,
                    "date": Day(until) if until else "",
                },
            )
        ]
        choices = (_choice("renew"), _choice("retry"), _choice("cancel"))
    elif step is Step.WRONG_PLAN:
        plan = state.account.plan if state.account else ""
        replies = [
            Reply(
                "intake.plan_not_allowed",
                {
                    "plan": Text(f"plan.{plan}") if plan in policy.plans else plan,
                    "department": Text(f"department.{_department(state, context)}"),
                },
            )
        ]
        choices = (_choice("sales"), _choice("retry"), _choice("cancel"))
    elif step is Step.NOT_DIRECT:
        replies = [Reply("intake.not_direct", {"number": state.support_number})]
        choices = (_choice("sales"), _choice("retry"), _choice("cancel"))
    elif step is Step.QUOTA_USED:
        replies = [context.quota_notice] if context.quota_notice is not None else []
        replies.append(Reply("intake.quota_way_forward"))
        ways = {"sales": _choice("quota_sales"), "paid": _choice("quota_paid")}
        choices = (*(ways[w] for w in policy.over_quota if w in ways), _choice("cancel"))
    elif step is Step.DOMAIN:
        if _domain_free_text(state):
            replies = [Reply("intake.ask_domain_optional")]
            saved = normalise_domain(context.domain)
            if saved:
                choices = (_choice("saved_domain", domain=saved),)
            choices += (_choice("skip"),)
        else:
            assert state.account is not None
            replies = [Reply("intake.ask_domain")]
            choices = _domain_choices(state.account)
    elif step is Step.WRONG_DOMAIN:
        account = state.account
        package = _plan(state, context)
        replies = [
            Reply(
                "intake.domain_not_covered",
                {
                    "domain": state.rejected_domain,
                    "number": state.support_number or "—",
                    "domains": ", ".join(account.domains) if account is not None else "—",
                    "limit": package.domains_per_package if package is not None else 1,
                },
            )
        ]
        if account is not None:
            choices = _domain_choices(account)
        choices += (_choice("sales"),)
    elif step is Step.PHONE:
        category = policy.categories.get(state.category)
        critical = category is not None and category.critical
        replies = [Reply("intake.ask_phone_critical" if critical else "intake.ask_phone")]
        if context.phone:
            choices = (_choice("saved_phone", phone=context.phone),)
        choices += (_choice("skip"),)
    elif step is Step.SUMMARY:
        replies = _summary_replies(state, context)
        choices = (_choice("confirm"), _choice("edit"), _choice("cancel"))
    elif step is Step.EDIT_FIELD:
        replies = [Reply("intake.ask_edit_field")]
        fields = tuple(
            Choice(name, _EDIT_FIELD_KEYS[name]) for name in _edit_fields(state, context)
        )
        choices = (*fields, _choice("back"))
    elif step is Step.DUPLICATE:
        dup = state.duplicate
        assert dup is not None
        replies = [
            Reply(
                "intake.duplicate_offer",
                {
                    "number": dup.number,
                    "title": dup.title,
                    "status": Text(_STATUS_KEYS[dup.status]),
                },
            )
        ]
        choices = (_choice("add"), _choice("new"))
    else:  # FILING, APPENDING: nothing to ask; the desk's answer moves on.
        replies = [Reply("intake.filing")]
    last = replies[-1]
    replies[-1] = Reply(last.key, last.params, choices, _form(state))
    return tuple(replies)


def _form(state: IntakeState) -> Form | None:
    """The form that answers the step's question: the whole problem for a first title,
    the one field for another text step (a domain only when it is typed)."""
    if state.step is Step.TITLE and not state.editing:
        return PROBLEM_FORM
    if state.step is Step.DOMAIN and not _domain_free_text(state):
        return None
    return TEXT_FORMS.get(state.step)


def _offered(state: IntakeState, context: DeskContext) -> dict[str, Choice]:
    return {c.value: c for reply in _prompt(state, context) for c in reply.choices}


def _ask(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    return Transition(state, (*before, *_prompt(state, context)))


def _reask(state: IntakeState, context: DeskContext, hint: str, **params: Any) -> Out:
    return _ask(state, context, Reply(hint, params))


def _picked(event: Input, offered: Mapping[str, Choice]) -> str | None:
    """The offered choice the event selects: a button, or its value typed out."""
    if isinstance(event, ChoicePicked):
        return event.value if event.value in offered else None
    if isinstance(event, TextSent):
        typed = event.text.strip().casefold()
        for value in offered:
            if value.casefold() == typed:
                return value
    return None


def _finished(*replies: Reply) -> Out:
    return Transition(None, replies)


# -- the flow, step by step ------------------------------------------------------------


def _go(step: Step, state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    return _ask(replace(state, step=step), context, *before)


def _summary(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    return _go(Step.SUMMARY, replace(state, editing=False, duplicate=None), context, *before)


def _after_category(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    # A new category may need another department, count against the quota or not:
    # entitlement and quota are checked afresh, before anything is written.
    return _identify(replace(state, department=None, paid=False), context, *before)


def _after_title(state: IntakeState, context: DeskContext) -> Out:
    if state.editing:
        return _summary(state, context)
    carried = state.carried
    if carried and DESCRIPTION_MIN <= len(carried) <= DESCRIPTION_MAX:
        # What they wrote to the closed ticket describes the problem already.
        kept = Reply("intake.carried_description", {"text": _preview(carried)})
        return _describe(replace(state, carried=""), carried, context, kept)
    if carried:
        kept = Reply("intake.carried_short", {"text": carried})
        return _go(Step.DESCRIPTION, state, context, kept)
    return _go(Step.DESCRIPTION, state, context)


def _after_description(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    if state.editing:
        return _summary(state, context, *before)
    # Self-service first (seeds 000, 002): the department's articles before filing.
    command = SuggestArticles(
        text=f"{state.title}\n{state.description}", department=_department(state, context)
    )
    return Transition(replace(state, step=Step.SEARCHING), before, command)


def _describe(state: IntakeState, text: str, context: DeskContext, *before: Reply) -> Out:
    """Take ``text`` as the description; offer to split several problems."""
    state = replace(state, description=text, parts=(), part_categories=())
    parts = split_problems(text)
    if len(parts) >= 2:
        return _go(Step.SPLIT, replace(state, parts=tuple(parts)), context, *before)
    return _after_description(state, context, *before)


def _on_articles(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    if value == "need_help":
        return _still_need_help(state, context)
    if value == "solved":
        read = next((a for a in state.articles if a.slug == state.read_slug), None)
        deflection = RecordDeflection(
            department=_department(state, context),
            category=state.category,
            slug=read.slug if read else "",
            lang=read.lang if read else "",
        )
        return Transition(replace(state, step=Step.DEFLECTING), (), deflection)
    article = state.articles[int(value.removeprefix("read."))]
    show = ShowArticle(slug=article.slug, lang=article.lang)
    return Transition(replace(state, step=Step.READING, read_slug=article.slug), (), show)


def _after_offers(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    """The articles found, if any; else on to the steps."""
    if state.articles:
        return _go(Step.ARTICLES, state, context, *before)
    return _past_offers(state, context, *before)


def _past_offers(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    """The steps; or on past the steps and files when the problem form brought them."""
    if state.filled:
        return _prefixed(_after_files(state, context), before)
    return _go(Step.STEPS, state, context, *before)


def _on_incident_offer(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "join":
        # A known problem: no steps or files needed; the request joins the incident.
        state = replace(state, joined=True, articles=(), read_slug="")
        joined = Reply(
            "incident.joining", {"title": state.incident.title if state.incident else ""}
        )
        return _prefixed(_after_files(state, context), (joined,))
    if value == "other":
        return _after_offers(replace(state, incident=None), context)
    return _reask(state, context, "intake.hint.choose")


def _still_need_help(state: IntakeState, context: DeskContext) -> Out:
    """On with the request where the customer was: nothing typed is lost."""
    return _past_offers(replace(state, articles=(), read_slug=""), context)


def _after_steps(state: IntakeState, context: DeskContext) -> Out:
    return _summary(state, context) if state.editing else _go(Step.FILES, state, context)


def _after_files(state: IntakeState, context: DeskContext) -> Out:
    if state.editing:
        return _summary(state, context)
    if not state.identified:
        # Stored by an earlier version, which asked for the account after the files.
        return _identify(state, context)
    return _go(Step.PHONE, state, context)


def _identify(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    """Find the customer's account: the linked one (unless their plan wants the number
    given with every request), or ask for the support number."""
    linked = context.account
    if state.account is None and linked is not None and not state.editing:
        plan = context.policy.plans.get(linked.plan)
        if plan is None or not plan.ask_support_number:
            state = replace(state, account=linked, support_number=linked.support_number)
    if state.account is not None:
        return _check_entitlement(state, context, *before)
    if state.editing and _to_sales(state, context):
        return _after_entitlement(state, context, *before)
    return _go(Step.SUPPORT_NUMBER, state, context, *before)


def _prefixed(out: Out, before: tuple[Reply, ...]) -> Out:
    return replace(out, replies=(*before, *out.replies)) if before else out


def _check_entitlement(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    account = state.account
    assert account is not None
    # Sales is the door for everyone, expired or free plan alike (seed 002).
    if not _to_sales(state, context):
        if not account.is_valid_on(context.today):
            return _go(Step.EXPIRED, state, context, *before)
        plan = context.policy.plans.get(account.plan)
        if plan is None or _department(state, context) not in plan.departments:
            return _go(Step.WRONG_PLAN, state, context, *before)
        if plan.direct_only and not account.direct:
            return _go(Step.NOT_DIRECT, state, context, *before)
    return _after_entitlement(state, context, *before)


def _category_refusal(state: IntakeState, context: DeskContext) -> Reply | None:
    """Why the account may not file this category (a plan's own request type, a
    one-off already used), if it may not."""
    category = context.policy.categories.get(state.category)
    if category is None:
        return None
    account = state.account
    plan_key = account.plan if account is not None else None
    name = Text(f"category.{category.key}")
    if not category.offered_to(plan_key):
        if plan_key is None:
            return Reply("intake.category_needs_plan", {"category": name})
        shown = Text(f"plan.{plan_key}") if plan_key in context.policy.plans else plan_key
        return Reply("intake.category_not_in_plan", {"category": name, "plan": shown})
    used = _usage_known(state, context) and category.key in context.used_once
    if category.once_per_account and used:
        return Reply("intake.once_used", {"category": name})
    return None


def _after_entitlement(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    """The account is settled: may it file this category, is the monthly quota left
    (before anything is written), then the domain."""
    state = replace(state, identified=True)
    refusal = _category_refusal(state, context)
    if refusal is not None:
        return _go(Step.CATEGORY, state, context, *before, refusal)
    if not state.paid and _usage_known(state, context):
        counted = context.policy.counts_toward_quota(
            _department(state, context), state.category, state.paid
        )
        quota = context.quota
        if counted and quota is not None and quota.limit is not None:
            if quota.exhausted:
                return _go(Step.QUOTA_USED, state, context, *before)
            if context.quota_notice is not None and not state.editing:
                before = (*before, context.quota_notice)
    return _settle_domain(state, context, *before)


def _settle_domain(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    """Settle the domain: silently when there is nothing to choose and the plan does
    not want it confirmed with every request."""
    account = state.account
    if account is not None and account.domains:
        if state.domain and (account.covers(state.domain) or _to_sales(state, context)):
            return _after_domain(state, context, *before)
        if len(account.domains) == 1 and not _asks_domain(state, context):
            return _after_domain(replace(state, domain=account.domains[0]), context, *before)
        return _go(Step.DOMAIN, replace(state, domain=""), context, *before)
    if state.editing:
        return _after_domain(state, context, *before)
    return _go(Step.DOMAIN, state, context, *before)


def _after_domain(state: IntakeState, context: DeskContext, *before: Reply) -> Out:
    state = replace(state, rejected_domain="")
    if state.editing:
        return _summary(state, context, *before)
    if not state.title:
        return _go(Step.TITLE, state, context, *before)
    # Stored by an earlier version: the account came after the files.
    return _go(Step.PHONE, state, context, *before)


def _text(event: Input) -> str | None:
    return event.text.strip() if isinstance(event, TextSent) else None


def _text_hint(state: IntakeState, context: DeskContext, event: Input) -> Out:
    """Re-ask a step that wants typed text but got something else."""
    if isinstance(event, TextSent):
        return _reask(state, context, "intake.hint.empty")
    return _reask(state, context, "intake.hint.text_expected")


def _on_category(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    return _after_category(replace(state, category=value), context, *_hotline(value, context))


def _hotline(category: str, context: DeskContext) -> tuple[Reply, ...]:
    """A critical category's department hotline, shown as soon as it is picked."""
    picked = context.policy.categories.get(category)
    if picked is None or not picked.critical:
        return ()
    if not context.policy.department(picked.department).hotline:
        return ()
    return (Reply("sla.hotline", {"hotline": Text(f"hotline.{picked.department}")}),)


def _on_follow_up_offer(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    if value == "no":
        declined = Reply("followup.declined", {"number": state.follow_up_of})
        if state.carried or state.attachments:
            return _finished(declined, Reply("followup.message_dropped"))
        return _finished(declined)
    started = Reply("followup.started", {"number": state.follow_up_of})
    if state.category in context.policy.categories:
        return _after_category(state, context, started)
    return _go(Step.CATEGORY, state, context, started)


def _on_title(state: IntakeState, event: Input, context: DeskContext) -> Out:
    text = _text(event)
    if not text:
        return _text_hint(state, context, event)
    # A title is one line; pasted text may bring line breaks and double spaces.
    title = " ".join(text.split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        return _reask(
            state, context, "intake.hint.length", min=TITLE_MIN, max=TITLE_MAX, length=len(title)
        )
    return _after_title(replace(state, title=title), context)


def _on_description(state: IntakeState, event: Input, context: DeskContext) -> Out:
    text = _text(event)
    if not text:
        return _text_hint(state, context, event)
    if state.carried:
        # The short message written to the closed ticket starts the description.
        text = f"{state.carried}\n\n{text}"
    if not DESCRIPTION_MIN <= len(text) <= DESCRIPTION_MAX:
        return _reask(
            state,
            context,
            "intake.hint.length",
            min=DESCRIPTION_MIN,
            max=DESCRIPTION_MAX,
            length=len(text),
        )
    return _describe(replace(state, carried=""), text, context)


def _on_split(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    if value == "split":
        return _next_part(replace(state, part_categories=()), context)
    if value == "keep":
        return _after_description(replace(state, parts=(), part_categories=()), context)
    return _go(Step.DESCRIPTION, replace(state, parts=(), part_categories=()), context)


def _next_part(state: IntakeState, context: DeskContext) -> Out:
    """Ask the category of the next part that has none (the first part has the
    request's own); then go on."""
    if len(state.part_categories) + 1 < len(state.parts):
        return _go(Step.PART_CATEGORY, state, context)
    return _after_description(state, context)


def _on_part_category(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    return _next_part(replace(state, part_categories=(*state.part_categories, value)), context)


def _part_menu(state: IntakeState, context: DeskContext) -> list[Category]:
    """The categories a further part may take: those the account's plan may file (its
    departments, or the sales department), one-off requests left out (they are asked
    for on their own)."""
    plan = _plan(state, context)
    policy = context.policy
    menu = [
        c
        for c in policy.listed_categories()
        if not c.once_per_account and c.offered_to(plan.key if plan is not None else None)
    ]
    if plan is not None and state.department is None:
        allowed = plan.departments | {policy.sales_department}
        menu = [c for c in menu if c.department in allowed]
    return menu


def suggest_category(text: str, categories: Sequence[Category]) -> Category | None:
    """The category whose policy ``keywords`` the text mentions most (a keyword, one
    word or several, matches where a word starts, case and accents aside); None when
    none is mentioned."""
    folded = " " + " ".join(_folded(text).split())
    best, hits = None, 0
    for category in categories:
        stems = (" ".join(_folded(keyword).split()) for keyword in category.keywords)
        found = sum(1 for stem in stems if stem and " " + stem in folded)
        if found > hits:
            best, hits = category, found
    return best


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w\s]", " ", plain)


def _on_steps(state: IntakeState, event: Input, context: DeskContext) -> Out:
    if _picked(event, _offered(state, context)) == "skip":
        return _skip(state, context)
    text = _text(event)
    if not text:
        return _text_hint(state, context, event)
    if len(text) > STEPS_MAX:
        return _reask(state, context, "intake.hint.too_long", max=STEPS_MAX, length=len(text))
    return _after_steps(replace(state, steps=text), context)


def _on_files(state: IntakeState, event: Input, context: DeskContext) -> Out:
    if isinstance(event, FileSent):
        return _add_files(state, event, context)
    value = _picked(event, _offered(state, context))
    if value == "done":
        return _after_files(state, context)
    if value == "clear":
        return _ask(replace(state, attachments=()), context, Reply("files.cleared"))
    return _reask(state, context, "intake.hint.files_expected")


def _add_files(state: IntakeState, event: FileSent, context: DeskContext) -> Out:
    replies: list[Reply] = []
    kept = list(state.attachments)
    known = {a.file_ref for a in kept}
    accepted = 0
    for att in event.files:
        reason = check_attachment(att, context.policy.files)
        if reason is not None:
            replies.append(
                Reply(
                    "files.refused",
                    {
                        "name": att.file_name or att.file_ref,
                        "reason": refusal(reason, att, context.policy.files),
                    },
                )
            )
        elif att.file_ref not in known:  # the same file sent twice is kept once
            kept.append(att)
            known.add(att.file_ref)
            accepted += 1
    state = replace(state, attachments=tuple(kept))
    caption = event.caption.strip()
    if caption:
        # Typed text is never dropped: a caption explains the files, so it joins the
        # description (and every split part, which all carry the files).
        state = replace(
            state,
            description=f"{state.description}\n\n{caption}",
            parts=tuple(f"{p}\n\n{caption}" for p in state.parts),
        )
    if accepted or not replies:
        offered = tuple(_offered(state, context).values())
        replies.append(Reply("files.received", {"count": len(state.attachments)}, offered))
        return Transition(state, tuple(replies))
    return _ask(state, context, *replies)


def _submit_number(state: IntakeState, text: str, context: DeskContext) -> Out:
    number = normalise_support_number(text)
    if not _SUPPORT_NUMBER.match(number):
        return _reask(
            replace(state, step=Step.SUPPORT_NUMBER),
            context,
            "intake.hint.support_number",
            where=Text(WHERE_NUMBER),
        )
    state = replace(state, step=Step.CHECKING, checking_number=number)
    return Transition(state, (), LookupAccount(support_number=number))


def _on_support_number(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "skip":
        return _skip(state, context)
    if value == "no_number":
        return _to_sales_without_number(state, context)
    if value == "saved_number" and context.account is not None:
        return _submit_number(state, context.account.support_number, context)
    text = _text(event)
    if not text:
        return _text_hint(state, context, event)
    return _submit_number(state, text, context)


def _on_unknown_number(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "retry":
        return _go(Step.SUPPORT_NUMBER, state, context)
    if value == "sales":
        return _to_sales_without_number(state, context)
    if value == "cancel":
        return _finished(Reply("intake.cancelled"))
    text = _text(event)
    if text:
        # Customers answer "not found" by typing the corrected number straight away.
        return _submit_number(state, text, context)
    return _reask(state, context, "intake.hint.choose")


def _to_sales_without_number(state: IntakeState, context: DeskContext) -> Out:
    state = replace(
        state,
        department=context.policy.sales_department,
        account=None,
        support_number="",
    )
    return _after_entitlement(state, context)


def _on_not_entitled(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "retry":
        # Another number (a colleague's licence, a renewed one) may give support.
        return _go(Step.SUPPORT_NUMBER, replace(state, account=None, support_number=""), context)
    if value in ("sales", "renew"):
        state = replace(state, department=context.policy.sales_department)
        return _after_entitlement(state, context)
    if value == "cancel":
        return _finished(Reply("intake.cancelled"))
    return _reask(state, context, "intake.hint.choose")


def _on_quota_used(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "quota_sales":
        state = replace(state, department=context.policy.sales_department)
        return _after_entitlement(state, context)
    if value == "quota_paid":
        return _after_entitlement(replace(state, paid=True), context)
    if value == "cancel":
        return _finished(Reply("intake.cancelled"))
    return _reask(state, context, "intake.hint.choose")


def _on_domain(state: IntakeState, event: Input, context: DeskContext) -> Out:
    offered = _offered(state, context)
    value = _picked(event, offered)
    if value == "skip":
        return _skip(state, context)
    if value == "sales":
        state = replace(
            state, department=context.policy.sales_department, domain=state.rejected_domain
        )
        return _after_domain(state, context)
    if value is not None:
        return _after_domain(replace(state, domain=str(offered[value].params["domain"])), context)
    text = _text(event)
    if not text:
        if isinstance(event, ChoicePicked | FileSent):
            return _reask(state, context, "intake.hint.domain")
        return _text_hint(state, context, event)
    domain = normalise_domain(text)
    if not _DOMAIN.match(domain):
        return _reask(state, context, "intake.hint.domain")
    account = state.account
    if account is None or not account.domains:
        return _after_domain(replace(state, domain=domain), context)
    for known in account.domains:
        if normalise_domain(known) == domain:
            return _after_domain(replace(state, domain=known), context)
    if _to_sales(state, context):
        return _after_domain(replace(state, domain=domain), context)
    return _go(Step.WRONG_DOMAIN, replace(state, rejected_domain=domain), context)


def _on_phone(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "skip":
        return _skip(state, context)
    if value == "saved_phone":
        return _summary(replace(state, phone=context.phone), context)
    text = _text(event)
    if not text:
        return _text_hint(state, context, event)
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE.match(text) or not PHONE_MIN_DIGITS <= digits <= PHONE_MAX_DIGITS:
        return _reask(
            state, context, "intake.hint.phone", min=PHONE_MIN_DIGITS, max=PHONE_MAX_DIGITS
        )
    return _summary(replace(state, phone=" ".join(text.split())), context)


def _on_summary(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "confirm":
        return _confirm(state, context)
    if value == "edit":
        return _go(Step.EDIT_FIELD, state, context)
    if value == "cancel":
        return _finished(Reply("intake.cancelled"))
    return _reask(state, context, "intake.hint.choose")


def _on_edit_field(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value is None:
        return _reask(state, context, "intake.hint.choose")
    if value == "back":
        return _summary(state, context)
    state = replace(state, editing=True, rejected_domain="")
    if value == "description":
        state = replace(state, parts=(), part_categories=())
    return _go(_EDIT_TARGET[value], state, context)


def _on_duplicate(state: IntakeState, event: Input, context: DeskContext) -> Out:
    value = _picked(event, _offered(state, context))
    if value == "add" and state.duplicate is not None:
        command = AppendToTicket(
            number=state.duplicate.number,
            text=_append_text(state),
            attachments=state.attachments,
        )
        return Transition(replace(state, step=Step.APPENDING), (), command)
    if value == "new":
        return _file(state)
    return _reask(state, context, "intake.hint.choose")


def _confirm(state: IntakeState, context: DeskContext) -> Out:
    candidates = [t for t in context.open_tickets if t.status in APPENDABLE]
    similar = find_similar(state.title, state.description, candidates, SIMILARITY_THRESHOLD)
    if similar is not None:
        return _go(Step.DUPLICATE, replace(state, duplicate=similar), context)
    return _file(state)


def _file(state: IntakeState) -> Out:
    command = OpenTickets(drafts=_drafts(state))
    return Transition(replace(state, step=Step.FILING, duplicate=None), (), command)


def _append_text(state: IntakeState) -> str:
    return "\n\n".join(part for part in (state.title, state.description, state.steps) if part)


def _part_title(title: str, index: int, count: int, part: str) -> str:
    head = f"{title} ({index}/{count}): "
    words = _LIST_MARKER.sub("", part).split()
    lead = " ".join(words[:DRAFT_TITLE_LEAD_WORDS])
    if len(words) > DRAFT_TITLE_LEAD_WORDS:
        lead += "…"
    full = head + lead
    return full if len(full) <= DRAFT_TITLE_MAX else full[: DRAFT_TITLE_MAX - 1] + "…"


def _drafts(state: IntakeState) -> tuple[TicketDraft, ...]:
    """One draft, or one per split part (each with the shared steps and files)."""
    common: dict[str, Any] = {
        "steps": state.steps,
        "attachments": state.attachments,
        "support_number": state.support_number,
        "domain": state.domain,
        "phone": state.phone,
        "follow_up_of": state.follow_up_of,
        "department": state.department,
        "incident": state.incident.id if state.joined and state.incident else None,
        "paid": state.paid,
    }
    if not state.parts:
        return (
            TicketDraft(
                category=state.category,
                title=state.title,
                description=state.description,
                **common,
            ),
        )
    count = len(state.parts)
    # A part whose category was not asked (a state stored before parts had their own)
    # takes the request's.
    categories = (*state.part_categories, *(state.category,) * count)
    return tuple(
        TicketDraft(
            category=state.category if i == 1 else categories[i - 2],
            title=_part_title(state.title, i, count, part),
            description=part,
            **common,
        )
        for i, part in enumerate(state.parts, 1)
    )


def _draft_department(draft: TicketDraft, context: DeskContext) -> str:
    if draft.department:
        return draft.department
    category = context.policy.categories.get(draft.category)
    return category.department if category else context.policy.sales_department


def _on_problem_form(state: IntakeState, event: FormSent, context: DeskContext) -> Out:
    """The problem form, filled in at the title step: each field as its step would take
    it typed, in order, until one is refused or leads elsewhere (several problems: the
    split offer); then whatever that step says. Files are checked as at the files step,
    and a refused one is said beside the next question. The steps and files are taken
    before the help articles are looked for (``filled``): "I still need help" then goes
    on past them, nothing retyped."""
    out = _on_title(state, TextSent(event.value("title")), context)
    now = out.state
    if now is None or now.step is not Step.DESCRIPTION:
        return out
    searched = _on_description(now, TextSent(event.value("description")), context)
    now = searched.state
    if now is None or now.step is not Step.SEARCHING:
        return searched
    at_steps = replace(now, step=Step.STEPS)
    steps = event.value("steps")
    out = _on_steps(at_steps, TextSent(steps), context) if steps else _skip(at_steps, context)
    if out.state is None or out.state.step is not Step.FILES:
        return out
    notes: tuple[Reply, ...] = ()
    current = out.state
    if event.files:
        added = _add_files(current, FileSent(event.files), context)
        notes = tuple(r for r in added.replies if r.key == "files.refused")
        current = added.state or current
    filled = replace(current, step=Step.SEARCHING, filled=True)
    return Transition(filled, (*searched.replies, *notes), searched.command)


def _on_form(state: IntakeState, event: FormSent, context: DeskContext) -> Out:
    if event.form == PROBLEM_FORM.name and state.step is Step.TITLE and not state.editing:
        return _on_problem_form(state, event, context)
    if event.form == state.step.value and _form(state) is TEXT_FORMS.get(state.step):
        # One answer, as if typed.
        return _HANDLERS[state.step](state, TextSent(event.value("text")), context)
    # A form from an older question: the current one is asked again.
    return _reask(state, context, "intake.hint.form_expired")


def _skip(state: IntakeState, context: DeskContext) -> Out:
    """``/skip``: leaves an optional field empty (also when editing it)."""
    step = state.step
    if step is Step.STEPS:
        return _after_steps(replace(state, steps=""), context)
    if step is Step.ARTICLES:
        return _still_need_help(state, context)
    if step is Step.FILES:
        return _after_files(state, context)
    if step is Step.SUPPORT_NUMBER and _number_optional(state, context):
        state = replace(state, account=None, support_number="")
        return _after_entitlement(state, context)
    if step is Step.DOMAIN and _domain_free_text(state):
        return _after_domain(replace(state, domain=""), context)
    if step is Step.PHONE:
        return _summary(replace(state, phone=""), context)
    return _reask(state, context, "intake.hint.cannot_skip")


_HANDLERS: dict[Step, _Handler] = {
    Step.CATEGORY: _on_category,
    Step.FOLLOW_UP_OFFER: _on_follow_up_offer,
    Step.TITLE: _on_title,
    Step.DESCRIPTION: _on_description,
    Step.SPLIT: _on_split,
    Step.PART_CATEGORY: _on_part_category,
    Step.INCIDENT_OFFER: _on_incident_offer,
    Step.ARTICLES: _on_articles,
    Step.STEPS: _on_steps,
    Step.FILES: _on_files,
    Step.SUPPORT_NUMBER: _on_support_number,
    Step.UNKNOWN_NUMBER: _on_unknown_number,
    Step.EXPIRED: _on_not_entitled,
    Step.WRONG_PLAN: _on_not_entitled,
    Step.NOT_DIRECT: _on_not_entitled,
    Step.QUOTA_USED: _on_quota_used,
    Step.DOMAIN: _on_domain,
    Step.WRONG_DOMAIN: _on_domain,
    Step.PHONE: _on_phone,
    Step.SUMMARY: _on_summary,
    Step.EDIT_FIELD: _on_edit_field,
    Step.DUPLICATE: _on_duplicate,
}


# -- answers to our commands -------------------------------------------------------


def _on_answer(state: IntakeState, event: Input, context: DeskContext) -> Out:
    """The desk's answer to the command of the previous step."""
    step = state.step
    if step is Step.CHECKING and isinstance(event, AccountLooked):
        if normalise_support_number(event.support_number) != state.checking_number:
            return Transition(state)  # an answer to an older lookup
        account = event.account
        if account is None:
            return _go(Step.UNKNOWN_NUMBER, state, context)
        state = replace(
            state,
            account=account,
            support_number=account.support_number,
            department=None,
        )
        return _check_entitlement(state, context)
    if step is Step.FILING and isinstance(event, TicketsFiled):
        numbers = event.numbers
        if len(numbers) == 1:
            return _finished(Reply("intake.filed", {"number": numbers[0]}))
        if numbers:
            listed = ", ".join(f"#{n}" for n in numbers)
            return _finished(
                Reply("intake.filed_many", {"count": len(numbers), "numbers": listed})
            )
        return _summary(state, context, Reply("intake.filing_failed"))
    if step is Step.SEARCHING and isinstance(event, ArticlesFound):
        state = replace(state, articles=event.articles, read_slug="", incident=event.incident)
        if event.incident is not None:
            return _go(Step.INCIDENT_OFFER, state, context)
        return _after_offers(state, context)
    if step is Step.READING and isinstance(event, ArticleShown):
        state = replace(state, step=Step.ARTICLES)
        if event.article is None:
            return _ask(replace(state, read_slug=""), context, Reply("help.article_gone"))
        shown = Reply("help.article", {"title": event.article.title, "body": event.body})
        return _ask(state, context, shown)
    if step is Step.DEFLECTING and isinstance(event, DeflectionRecorded):
        return _finished(Reply("help.deflected"))
    if step is Step.APPENDING and isinstance(event, AddedToTicket):
        return _finished(Reply("intake.added", {"number": event.number}))
    if step in WAITING_STEPS and isinstance(event, Refused):
        refusal = Reply(event.key, dict(event.params))
        if step is Step.CHECKING:
            return _go(Step.SUPPORT_NUMBER, state, context, refusal)
        if event.key == QUOTA_EXCEEDED:
            # The month's last request went meanwhile (a colleague of the account filed
            # one): the ways forward, then back to the summary with everything kept.
            quota_used = replace(state, editing=True, duplicate=None)
            if context.quota_notice is None:
                return _go(Step.QUOTA_USED, quota_used, context, refusal)
            return _go(Step.QUOTA_USED, quota_used, context)
        # Nothing typed is lost: back to the summary with everything kept.
        return _summary(state, context, refusal)
    # A late or unexpected answer (e.g. a retried command): nothing to tell the user.
    return Transition(state)


def _while_waiting(state: IntakeState, context: DeskContext) -> Out:
    """The customer spoke while we waited for the desk: its answer was lost (a crash
    between storing the state and answering)."""
    if state.step is Step.CHECKING:
        # Looking an account up again is harmless.
        number = state.checking_number
        return Transition(state, _prompt(state, context), LookupAccount(support_number=number))
    if state.step is Step.SEARCHING:
        return _after_description(state, context)
    if state.step in (Step.READING, Step.DEFLECTING):
        # Back to the articles: reading again, or saying it solved it again, is harmless.
        return _go(Step.ARTICLES, state, context)
    # Filing again could duplicate the ticket, so the customer confirms again, and the
    # duplicate check offers the ticket if it was in fact filed.
    return _summary(state, context, Reply("intake.hint.interrupted"))


# -- the dialog ---------------------------------------------------------------------------


class Intake:
    """The intake dialog (``bot.dialog.Dialog[IntakeState]``)."""

    kind = "intake"

    def start(self, context: DeskContext, **options: Any) -> Out:
        """Begin an intake.

        Options: ``category`` (a policy category key: skip the category question),
        ``follow_up_of`` (number of a closed ticket the new one links to) or
        ``closed_ticket`` (the customer wrote to that closed ticket: offer a linked
        new one first). Unknown categories are asked for instead; unknown option
        names are a programming error (``TypeError``).
        """
        unknown = set(options) - {
            "category",
            "follow_up_of",
            "closed_ticket",
            "carried_text",
            "carried_files",
        }
        if unknown:
            raise TypeError(f"unknown intake options: {sorted(unknown)}")
        category = options.get("category")
        if category not in context.policy.categories:
            category = ""
        closed = _ticket_number(options.get("closed_ticket"))
        follow_up_of = _ticket_number(options.get("follow_up_of"))
        if closed is not None:
            carried = str(options.get("carried_text") or "").strip()
            files = tuple(
                a
                for a in options.get("carried_files") or ()
                if check_attachment(a, context.policy.files) is None
            )
            state = IntakeState(
                Step.FOLLOW_UP_OFFER,
                category=category,
                follow_up_of=closed,
                carried=carried,
                attachments=files,
            )
            return _ask(state, context)
        state = IntakeState(Step.CATEGORY, category=category, follow_up_of=follow_up_of)
        intro: tuple[Reply, ...] = ()
        if follow_up_of is not None:
            intro = (Reply("followup.started", {"number": follow_up_of}),)
        if category:
            return _after_category(state, context, *intro)
        return _ask(state, context, *intro)

    def advance(self, state: IntakeState, event: Input, context: DeskContext) -> Out:
        """One step: the customer's input (or the desk's answer) -> next state."""
        if isinstance(event, CommandGiven):
            return self._command(state, event, context)
        if isinstance(
            event,
            AccountLooked
            | TicketsFiled
            | AddedToTicket
            | ArticlesFound
            | ArticleShown
            | DeflectionRecorded
            | Refused,
        ):
            return _on_answer(state, event, context)
        if state.step in WAITING_STEPS:
            return _while_waiting(state, context)
        if state.category not in context.policy.categories and state.step not in (
            Step.CATEGORY,
            Step.FOLLOW_UP_OFFER,
        ):
            # The policy changed under a stored intake: the category is gone.
            at_summary = state.step in (Step.SUMMARY, Step.EDIT_FIELD, Step.DUPLICATE)
            state = replace(state, step=Step.CATEGORY, editing=at_summary)
            return _reask(state, context, "intake.hint.category_gone")
        if isinstance(event, FormSent):
            return _on_form(state, event, context)
        return _HANDLERS[state.step](state, event, context)

    def _command(self, state: IntakeState, event: CommandGiven, context: DeskContext) -> Out:
        name = event.name.strip().lstrip("/").casefold()
        if name == "cancel":
            return _finished(Reply("intake.cancelled"))
        if name == "timeout":
            return _finished(Reply("intake.timed_out"))
        if state.step in WAITING_STEPS:
            return _while_waiting(state, context)
        if name == "skip":
            return _skip(state, context)
        if name == "done" and state.step is Step.FILES:
            return _after_files(state, context)
        return _reask(state, context, "intake.hint.unknown_command")

    def reads_open_tickets(self, state: IntakeState | None, event: Input | None) -> bool:
        """Only confirming the summary looks for a similar open ticket (``_confirm``)."""
        return state is not None and state.step is Step.SUMMARY

    def resume(self, state: IntakeState, context: DeskContext) -> tuple[Reply, ...]:
        """The current step's question with its choices, as it was asked (to remind a
        customer interrupted by a restart where they were)."""
        return _prompt(state, context)

    def reads_account_usage(self, state: IntakeState | None, event: Input | None) -> bool:
        """The steps that may settle the account (quota, one-off requests): the start,
        and the steps up to the domain; the summary's edits; a refused filing."""
        return (
            state is None
            or state.step in _READS_USAGE
            or (state.step in _READS_USAGE_UNSETTLED and not state.identified)
        )

    def dump(self, state: IntakeState) -> dict[str, Any]:
        """JSON-safe form of ``state`` (read back by ``load``, also after a deploy)."""
        return _dump(state)

    def load(self, data: dict[str, Any]) -> IntakeState:
        """The state ``dump`` wrote; ``CorruptState`` if ``data`` cannot be trusted."""
        return _load(data)


def _ticket_number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


# -- storage -------------------------------------------------------------------------------


def _dump_account(account: Account) -> dict[str, Any]:
    return {
        "support_number": account.support_number,
        "domains": list(account.domains),
        "plan": account.plan,
        "valid_until": account.valid_until.isoformat() if account.valid_until else None,
        "purchased_on": account.purchased_on.isoformat() if account.purchased_on else None,
        "organisation": account.organisation,
        "direct": account.direct,
    }


def _dump(state: IntakeState) -> dict[str, Any]:
    dup = state.duplicate
    return {
        "v": STATE_VERSION,
        "step": state.step.value,
        "category": state.category,
        "title": state.title,
        "description": state.description,
        "parts": list(state.parts),
        "part_categories": list(state.part_categories),
        "steps": state.steps,
        "attachments": [
            {
                "file_ref": a.file_ref,
                "file_name": a.file_name,
                "mime_type": a.mime_type,
                "size": a.size,
                "platform": a.platform,
                "stored": a.stored,
            }
            for a in state.attachments
        ],
        "support_number": state.support_number,
        "checking_number": state.checking_number,
        "account": _dump_account(state.account) if state.account else None,
        "domain": state.domain,
        "rejected_domain": state.rejected_domain,
        "phone": state.phone,
        "department": state.department,
        "follow_up_of": state.follow_up_of,
        "duplicate": None
        if dup is None
        else {
            "number": dup.number,
            "title": dup.title,
            "description": dup.description,
            "status": dup.status.value,
            "department": dup.department,
            "category": dup.category,
        },
        "editing": state.editing,
        "articles": [{"slug": a.slug, "lang": a.lang, "title": a.title} for a in state.articles],
        "read_slug": state.read_slug,
        "incident": None
        if state.incident is None
        else {"id": state.incident.id, "title": state.incident.title},
        "joined": state.joined,
        "identified": state.identified,
        "paid": state.paid,
        "carried": state.carried,
        "filled": state.filled,
    }


def _field(data: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = data.get(name, default)
    # bool is an int; a stored true must not pass as a ticket number or a size.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CorruptState(f"intake state: {name!r} is not {kind.__name__}")
    return value


def _optional(data: Mapping[str, Any], name: str, kind: type) -> Any:
    return None if data.get(name) is None else _field(data, name, kind)


def _strings(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    items = _field(data, name, list, [])
    if not all(isinstance(item, str) for item in items):
        raise CorruptState(f"intake state: {name!r} must hold strings")
    return tuple(items)


def _date(data: Mapping[str, Any], name: str) -> date | None:
    text = _optional(data, name, str)
    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError:
        raise CorruptState(f"intake state: {name!r} is not a date") from None


def _load_account(data: Mapping[str, Any]) -> Account:
    return Account(
        support_number=_field(data, "support_number", str),
        domains=_strings(data, "domains"),
        plan=_field(data, "plan", str),
        valid_until=_date(data, "valid_until"),
        purchased_on=_date(data, "purchased_on"),
        organisation=_field(data, "organisation", str, ""),
        direct=_field(data, "direct", bool, True),
    )


def _load_attachment(data: Any) -> Attachment:
    if not isinstance(data, dict):
        raise CorruptState("intake state: an attachment is not an object")
    return Attachment(
        file_ref=_field(data, "file_ref", str),
        file_name=_field(data, "file_name", str, ""),
        mime_type=_field(data, "mime_type", str, ""),
        size=_field(data, "size", int, 0),
        platform=_field(data, "platform", str, ""),
        stored=_field(data, "stored", str, ""),
    )


def _load_incident(data: Mapping[str, Any] | None) -> IncidentBrief | None:
    if data is None:
        return None
    return IncidentBrief(id=_field(data, "id", int), title=_field(data, "title", str))


def _load_article(data: Any) -> ArticleBrief:
    if not isinstance(data, dict):
        raise CorruptState("intake state: an article is not an object")
    return ArticleBrief(
        slug=_field(data, "slug", str),
        lang=_field(data, "lang", str),
        title=_field(data, "title", str),
    )


def _load_brief(data: Mapping[str, Any]) -> TicketBrief:
    try:
        status = Status(_field(data, "status", str))
    except ValueError:
        raise CorruptState("intake state: unknown ticket status") from None
    return TicketBrief(
        number=_field(data, "number", int),
        title=_field(data, "title", str),
        description=_field(data, "description", str, ""),
        status=status,
        department=_field(data, "department", str, ""),
        category=_field(data, "category", str, ""),
    )


def _load(data: Any) -> IntakeState:
    if not isinstance(data, dict):
        raise CorruptState("intake state is not an object")
    if data.get("v") != STATE_VERSION:
        raise CorruptState(f"intake state version {data.get('v')!r} is not {STATE_VERSION}")
    try:
        step = Step(_field(data, "step", str))
    except ValueError:
        raise CorruptState(f"unknown intake step {data.get('step')!r}") from None
    account = _optional(data, "account", dict)
    duplicate = _optional(data, "duplicate", dict)
    attachments = _field(data, "attachments", list, [])
    state = IntakeState(
        step=step,
        category=_field(data, "category", str, ""),
        title=_field(data, "title", str, ""),
        description=_field(data, "description", str, ""),
        parts=_strings(data, "parts"),
        part_categories=_strings(data, "part_categories"),
        steps=_field(data, "steps", str, ""),
        attachments=tuple(_load_attachment(a) for a in attachments),
        support_number=_field(data, "support_number", str, ""),
        checking_number=_field(data, "checking_number", str, ""),
        account=None if account is None else _load_account(account),
        domain=_field(data, "domain", str, ""),
        rejected_domain=_field(data, "rejected_domain", str, ""),
        phone=_field(data, "phone", str, ""),
        department=_optional(data, "department", str),
        follow_up_of=_optional(data, "follow_up_of", int),
        duplicate=None if duplicate is None else _load_brief(duplicate),
        editing=_field(data, "editing", bool, False),
        articles=tuple(_load_article(a) for a in _field(data, "articles", list, [])),
        read_slug=_field(data, "read_slug", str, ""),
        incident=_load_incident(_optional(data, "incident", dict)),
        joined=_field(data, "joined", bool, False),
        identified=_field(data, "identified", bool, False),
        paid=_field(data, "paid", bool, False),
        carried=_field(data, "carried", str, ""),
        filled=_field(data, "filled", bool, False),
    )
    _check(state)
    return state


def _check(state: IntakeState) -> None:
    """What each step relies on; a state without it would misbehave, not just look odd."""
    step = state.step
    problems = [
        (step in _NEEDS_TITLE and not state.title, "no title"),
        (step in _NEEDS_DESCRIPTION and not state.description, "no description"),
        (step is Step.SPLIT and len(state.parts) < 2, "nothing to split"),
        (
            step is Step.PART_CATEGORY and len(state.part_categories) + 1 >= len(state.parts),
            "no part without a category",
        ),
        (step in (Step.CHECKING, Step.UNKNOWN_NUMBER) and not state.checking_number, "no number"),
        (
            step in (Step.EXPIRED, Step.WRONG_PLAN, Step.NOT_DIRECT) and state.account is None,
            "no account",
        ),
        (step is Step.WRONG_DOMAIN and not state.rejected_domain, "no domain"),
        (step is Step.DUPLICATE and state.duplicate is None, "no duplicate"),
        (step is Step.ARTICLES and not state.articles, "no articles"),
        (step is Step.INCIDENT_OFFER and state.incident is None, "no incident"),
        (step is Step.READING and not state.read_slug, "no article read"),
        (step is Step.FOLLOW_UP_OFFER and state.follow_up_of is None, "no ticket"),
    ]
    for failed, what in problems:
        if failed:
            raise CorruptState(f"intake state at {step.value}: {what}")
