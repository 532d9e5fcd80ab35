"""Shared helpers for the intake tests: the example policy, accounts, and a driver
that feeds inputs like the desk does (storing the state as JSON between steps)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

from bot.account import Account
from bot.commands import Command, SuggestArticles
from bot.dialog import DeskContext, TicketBrief, Transition
from bot.incident import IncidentBrief
from bot.inputs import (
    AccountLooked,
    ArticlesFound,
    ChoicePicked,
    CommandGiven,
    FileSent,
    Input,
    TextSent,
)
from bot.knowledge.article import ArticleBrief
from bot.policy import load_policy, parse_policy
from bot.quota import QuotaStatus
from bot.reply import Reply
from bot.ticket import Attachment, Status
from conversations.intake import Intake, IntakeState, Step

EXAMPLE = load_policy()
# The example policy, and a plan that serves only licences bought directly.
POLICY = parse_policy(
    {
        **EXAMPLE.raw,
        "plans": {
            **EXAMPLE.raw["plans"],
            "direct": {"name": "Direct", "direct_only": True, "monthly_quota": 10},
        },
    }
)
TODAY = date(2025, 3, 10)

STANDARD = Account("SN-1001", ("shop.cz",), "standard", valid_until=date(2025, 6, 30))
MULTI = Account(
    "SN-2002", ("shop.cz", "obchod.sk", "sklep.pl"), "premium", valid_until=date(2025, 9, 1)
)
FREE = Account("SN-3003", ("free-shop.cz",), "free")
EXPIRED = Account("SN-4004", ("old-shop.cz",), "standard", valid_until=date(2025, 1, 31))
# Bought through a reseller, on a plan that serves direct customers only.
RESOLD = Account("SN-5005", ("resold.cz",), "direct", valid_until=date(2025, 12, 31), direct=False)
ACCOUNTS = {a.support_number: a for a in (STANDARD, MULTI, FREE, EXPIRED, RESOLD)}

TITLE = "Checkout fails with error 500"
DESCRIPTION = (
    "When a customer clicks Pay in the checkout, the page shows error 500 and no order "
    "is created. It started this morning after the update."
)
STEPS = "Add any product to the cart, go to checkout, pick card payment, click Pay."

ARTICLES = (
    ArticleBrief("checkout-error", "en", "Checkout fails or the order cannot be completed"),
    ArticleBrief("site-down", "en", "The shop is down or shows error 500"),
)

INCIDENT = IncidentBrief(4, "Checkout error 500 since the update")

# Every reply key any driven flow produced, for the catalog test.
SEEN_KEYS: set[str] = set()


def context(**overrides: Any) -> DeskContext:
    return DeskContext(**{"policy": POLICY, "today": TODAY, **overrides})


def png(ref: str = "f1", name: str = "screen.png", size: int = 50_000) -> Attachment:
    return Attachment(ref, name, "image/png", size, "telegram")


def brief(number: int, title: str, description: str, status: Status = Status.NEW) -> TicketBrief:
    return TicketBrief(number, title, description, status, "technical", "bug")


class Run:
    """One intake, driven step by step; every state goes through dump/JSON/load."""

    def __init__(
        self,
        ctx: DeskContext | None = None,
        articles: tuple[ArticleBrief, ...] | None = (),
        incident: IncidentBrief | None = None,
        **options: Any,
    ) -> None:
        # What the help centre finds for the description (the desk's answer to
        # SuggestArticles, given right away as the desk does; None: left unanswered).
        self.articles = articles
        self.incident = incident
        self.searches: list[SuggestArticles] = []
        self.intake = Intake()
        self.context = ctx or context()
        self.states: list[IntakeState] = []
        self._take(self.intake.start(self.context, **options))

    def _take(self, transition: Transition[IntakeState]) -> Transition[IntakeState]:
        self.transition = transition
        self.state = transition.state
        for reply in transition.replies:
            SEEN_KEYS.add(reply.key)
            SEEN_KEYS.update(choice.key for choice in reply.choices)
        if self.state is not None:
            stored = json.loads(json.dumps(self.intake.dump(self.state)))
            assert self.intake.load(stored) == self.state
            self.states.append(self.state)
        if isinstance(transition.command, SuggestArticles) and self.state is not None:
            self.searches.append(transition.command)
            if self.articles is not None:
                # As the desk does: the step's own replies, then the answer's.
                answered = self.send(ArticlesFound(self.articles, self.incident))
                self.transition = replace(
                    answered, replies=(*transition.replies, *answered.replies)
                )
                return self.transition
        return transition

    def send(self, event: Input) -> Transition[IntakeState]:
        assert self.state is not None, "the intake has finished"
        return self._take(self.intake.advance(self.state, event, self.context))

    def text(self, text: str) -> Transition[IntakeState]:
        return self.send(TextSent(text))

    def pick(self, value: str) -> Transition[IntakeState]:
        return self.send(ChoicePicked(value))

    def command(self, name: str) -> Transition[IntakeState]:
        return self.send(CommandGiven(name))

    def files(self, *files: Attachment, caption: str = "") -> Transition[IntakeState]:
        return self.send(FileSent(files, caption))

    def answer_lookup(self) -> Transition[IntakeState]:
        """Answer the pending LookupAccount from ``ACCOUNTS``, as the desk would."""
        number = self.state.checking_number if self.state else ""
        return self.send(AccountLooked(number, ACCOUNTS.get(number)))

    # -- what the user sees --------------------------------------------------------

    @property
    def step(self) -> Step | None:
        return self.state.step if self.state else None

    @property
    def replies(self) -> tuple[Reply, ...]:
        return self.transition.replies

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.transition.replies]

    @property
    def prompt(self) -> Reply:
        return self.transition.replies[-1]

    @property
    def choices(self) -> list[str]:
        return [c.value for c in self.prompt.choices] if self.transition.replies else []

    @property
    def command_sent(self) -> Command | None:
        return self.transition.command


def identify(run: Run, number: str = STANDARD.support_number) -> Run:
    """Answer the account questions that follow the category: the support number (when
    not linked) and the domain (when there is one to pick)."""
    if run.step is Step.SUPPORT_NUMBER:
        run.text(number)
        run.answer_lookup()
    if run.step is Step.DOMAIN:
        run.pick("domain.0")
    return run


def after_category(ctx: DeskContext | None = None, category: str = "bug") -> Run:
    """A run that has just picked ``category``: at the account questions (or further,
    when the account is linked)."""
    run = Run(ctx)
    run.pick(category)
    return run


def to_title(
    ctx: DeskContext | None = None,
    category: str = "bug",
    number: str = STANDARD.support_number,
    **options: Any,
) -> Run:
    """A run that has answered the category and the account questions: at the title."""
    run = Run(ctx, **options)
    if run.step is Step.CATEGORY:
        run.pick(category)
    identify(run, number)
    assert run.step is Step.TITLE, run.keys
    return run


def complete(run: Run) -> Run:
    """From the title to the summary: title, description, no steps, no files, no phone."""
    assert run.step is Step.TITLE, run.keys
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.pick("skip")
    run.pick("done")
    run.pick("skip")
    assert run.step is Step.SUMMARY, run.keys
    return run


def to_files(ctx: DeskContext | None = None, category: str = "bug", **options: Any) -> Run:
    """A run that has answered category, account, title, description and steps."""
    run = to_title(ctx, category, **options)
    run.text(TITLE)
    run.text(DESCRIPTION)
    run.text(STEPS)
    assert run.step is Step.FILES
    return run


def to_summary(ctx: DeskContext | None = None, category: str = "bug", **options: Any) -> Run:
    """A run at the summary, with the linked STANDARD account unless ``ctx`` says otherwise."""
    run = to_files(ctx or context(account=STANDARD), category, **options)
    run.pick("done")
    if run.step is Step.PHONE:
        run.pick("skip")
    assert run.step is Step.SUMMARY, run.keys
    return run


def runs_at_every_step() -> list[Run]:
    """One run waiting at each step of the intake."""
    runs: list[Run] = [Run(), Run(closed_ticket=3, category="bug")]
    run = to_title(context(account=STANDARD))
    runs.append(run)  # TITLE
    run = to_title(context(account=STANDARD))
    run.text(TITLE)
    runs.append(run)  # DESCRIPTION
    run = to_title(context(account=STANDARD))
    run.text(TITLE)
    run.text("1. The cart forgets products\n2. Invoices have the wrong VAT rate")
    runs.append(run)  # SPLIT
    run = to_title(context(account=STANDARD))
    run.text(TITLE)
    run.text("1. The cart forgets products\n2. Invoices have the wrong VAT rate")
    run.pick("split")
    runs.append(run)  # PART_CATEGORY
    run = to_title(context(account=STANDARD))
    run.text(TITLE)
    run.text(DESCRIPTION)
    runs.append(run)  # STEPS
    run = to_files(context())
    runs.append(run)  # FILES
    for number in ("NOPE-1", "SN-4004"):
        run = Run()
        run.pick("bug")
        runs.append(run)  # SUPPORT_NUMBER
        run = Run()
        run.pick("bug")
        run.text(number)
        runs.append(run)  # CHECKING
        run = Run()
        run.pick("bug")
        run.text(number)
        run.answer_lookup()
        runs.append(run)  # UNKNOWN_NUMBER / EXPIRED
    run = Run(context(account=FREE))
    run.pick("bug")
    runs.append(run)  # WRONG_PLAN
    run = Run(context(account=RESOLD))
    run.pick("bug")
    runs.append(run)  # NOT_DIRECT
    run = Run(context(account=STANDARD, quota=QuotaStatus(10, 10, 0)))
    run.pick("bug")
    runs.append(run)  # QUOTA_USED
    run = Run(context(account=MULTI))
    run.pick("bug")
    runs.append(run)  # DOMAIN
    run = Run(context(account=MULTI))
    run.pick("bug")
    run.text("elsewhere.com")
    runs.append(run)  # WRONG_DOMAIN
    run = to_files(context(account=STANDARD))
    run.pick("done")
    runs.append(run)  # PHONE
    run = to_summary()
    runs.append(run)  # SUMMARY
    run = to_summary()
    run.pick("edit")
    runs.append(run)  # EDIT_FIELD
    run = to_summary(context(account=STANDARD, open_tickets=(brief(9, TITLE, DESCRIPTION),)))
    run.pick("confirm")
    runs.append(run)  # DUPLICATE
    run = to_summary(context(account=STANDARD, open_tickets=(brief(9, TITLE, DESCRIPTION),)))
    run.pick("confirm")
    run.pick("add")
    runs.append(run)  # APPENDING
    run = to_summary()
    run.pick("confirm")
    runs.append(run)  # FILING
    run = to_title(context(account=STANDARD), articles=None)
    run.text(TITLE)
    run.text(DESCRIPTION)
    runs.append(run)  # SEARCHING
    run = to_title(context(account=STANDARD), articles=ARTICLES, incident=INCIDENT)
    run.text(TITLE)
    run.text(DESCRIPTION)
    runs.append(run)  # INCIDENT_OFFER
    for then in ((), ("read.0",), ("solved",)):
        run = to_title(context(account=STANDARD), articles=ARTICLES)
        run.text(TITLE)
        run.text(DESCRIPTION)
        for value in then:
            run.pick(value)
        runs.append(run)  # ARTICLES, READING, DEFLECTING
    return runs
