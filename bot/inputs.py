"""What a participant (or the desk, answering a conversation's command) feeds a dialog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.account import Account
from bot.incident import IncidentBrief
from bot.knowledge.article import ArticleBrief
from bot.ticket import Attachment


@dataclass(frozen=True, slots=True)
class UpdateRef:
    """A platform update's identity, stable when the platform delivers it again
    (Telegram: the message or callback query behind the update)."""

    channel: str
    bot: str
    update_id: str


@dataclass(frozen=True, slots=True)
class TextSent:
    text: str
    # Written in a ticket's own thread (a topic of a private chat): it is about that
    # ticket, whatever else the customer is doing.
    ticket: int | None = None
    # Several messages held back by flood control, joined into one (how many).
    held: int = 0


@dataclass(frozen=True, slots=True)
class ChoicePicked:
    value: str


@dataclass(frozen=True, slots=True)
class FileSent:
    """One file, or an album collected by the channel into one step."""

    files: tuple[Attachment, ...]
    caption: str = ""
    ticket: int | None = None  # as ``TextSent.ticket``
    held: int = 0  # as ``TextSent.held``


@dataclass(frozen=True, slots=True)
class FormSent:
    """A ``bot.reply.Form`` filled in: its text fields by name, and its files."""

    form: str
    values: tuple[tuple[str, str], ...]
    files: tuple[Attachment, ...] = ()

    def value(self, name: str) -> str:
        return next((v for k, v in self.values if k == name), "").strip()


@dataclass(frozen=True, slots=True)
class CommandGiven:
    name: str
    arg: str = ""


# Answers the desk feeds back after carrying out a conversation's command.


@dataclass(frozen=True, slots=True)
class AccountLooked:
    support_number: str
    account: Account | None


@dataclass(frozen=True, slots=True)
class TicketsFiled:
    numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AddedToTicket:
    number: int


@dataclass(frozen=True, slots=True)
class ArticlesFound:
    articles: tuple[ArticleBrief, ...]
    # An open incident of the department that the description matches.
    incident: IncidentBrief | None = None


@dataclass(frozen=True, slots=True)
class ArticleShown:
    """The article asked for (``body`` as chat text), or None when it is gone."""

    article: ArticleBrief | None
    body: str = ""


@dataclass(frozen=True, slots=True)
class DeflectionRecorded:
    pass


@dataclass(frozen=True, slots=True)
class FeedbackRecorded:
    pass


@dataclass(frozen=True, slots=True)
class RatingCommented:
    number: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The desk refused the command (quota, entitlement...); ``key`` explains why."""

    key: str
    params: tuple[tuple[str, Any], ...] = ()


Input = (
    TextSent
    | ChoicePicked
    | FileSent
    | FormSent
    | CommandGiven
    | AccountLooked
    | TicketsFiled
    | AddedToTicket
    | ArticlesFound
    | ArticleShown
    | DeflectionRecorded
    | FeedbackRecorded
    | RatingCommented
    | Refused
)
