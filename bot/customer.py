"""A customer's profile: language, linked account and the ticket they are looking at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.account import Account
from bot.participant import Participant


@dataclass(frozen=True, slots=True)
class Customer:
    participant: Participant
    name: str = ""
    locale: str = "en"
    support_number: str = ""
    domain: str = ""
    phone: str = ""
    current_ticket: int | None = None
    # Telegram users who blocked the bot, Discord users with closed DMs...
    unreachable: bool = False
    # The conversation running with the desk ({"kind", "data", "at"}), stored with the
    # profile so that one step reads and writes one row.
    conversation: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What every step of a customer's update starts from, read in one go: the profile
    (with its conversation), the account of its support number, whether any of their
    tickets is waiting for their answer, and whether messages of theirs are held."""

    customer: Customer | None
    account: Account | None = None
    answer_awaited: bool = False
    # Messages of theirs that flood control kept back wait to be joined in.
    held: bool = False
