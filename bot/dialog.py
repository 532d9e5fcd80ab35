"""The contract between the desk and its pure conversations (``conversations/``).

A dialog is ``advance(state, input, context) -> Transition``: no I/O, no clock, no
platform. The desk loads the state, runs one step, carries out the command if any,
feeds the command's answer back as an input, stores the new state and hands the
replies to the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Protocol, TypeVar

from bot.account import Account
from bot.commands import Command
from bot.inputs import Input
from bot.policy import DeskPolicy
from bot.quota import QuotaStatus
from bot.reply import Reply
from bot.ticket import Status

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class TicketBrief:
    """What a conversation may know of one of the customer's tickets."""

    number: int
    title: str
    description: str
    status: Status
    department: str
    category: str


@dataclass(frozen=True, slots=True)
class DeskContext:
    """Read-only facts a conversation step may use."""

    policy: DeskPolicy
    today: date
    locale: str = "en"
    # The channel the customer writes on (its file limits).
    channel: str = ""
    account: Account | None = None
    domain: str = ""
    phone: str = ""
    # Filled only for steps whose dialog says it reads them (``reads_open_tickets``).
    open_tickets: tuple[TicketBrief, ...] = ()
    # May ask for the free onboarding training (seed 004); for how many days after the
    # purchase it is offered, and whether trial users without a number may ask too.
    training_eligible: bool = False
    training_days: int = 30
    training_trial: bool = False
    # The account's monthly quota and what to tell about it, and the once-per-account
    # categories it has used: filled only for steps whose dialog says it reads them
    # (``reads_account_usage``), for ``account``.
    quota: QuotaStatus | None = None
    quota_notice: Reply | None = None
    used_once: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Transition(Generic[S]):
    """The result of one step: next state (None = finished), replies, maybe a command."""

    state: S | None
    replies: tuple[Reply, ...] = ()
    command: Command | None = None


class Dialog(Protocol[S]):
    kind: str

    def start(self, context: DeskContext, **options: Any) -> Transition[S]: ...

    def advance(self, state: S, event: Input, context: DeskContext) -> Transition[S]: ...

    def reads_open_tickets(self, state: S | None, event: Input | None) -> bool:
        """Whether the next step (``start`` when ``state`` is None) looks at
        ``DeskContext.open_tickets``; the desk reads them only then, and leaves the
        field empty otherwise."""
        ...

    def resume(self, state: S, context: DeskContext) -> tuple[Reply, ...]:
        """The current step's question and choices again, changing nothing (a customer
        interrupted by a restart is reminded where they were)."""
        ...

    def reads_account_usage(self, state: S | None, event: Input | None) -> bool:
        """Whether the next step looks at ``DeskContext.quota``, ``quota_notice`` and
        ``used_once`` (read for it only then)."""
        ...

    def dump(self, state: S) -> dict[str, Any]: ...

    def load(self, data: dict[str, Any]) -> S: ...


@dataclass(frozen=True, slots=True)
class StoredConversation:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
