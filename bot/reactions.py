"""Reactions as signals: what an emoji someone puts on a message means to the desk.

Chat platforms let people react to a message with an emoji. The desk reads a few of
them (configured in the policy's ``[reactions]`` table, defaults below):

- an agent's reaction from ``seen`` on a customer's message in the ticket's thread marks
  that message seen on the ticket;
- a customer's reaction from ``confirm`` on the message that announced a resolution
  confirms it, as the Confirm button does;
- ``received`` is the desk's own: the mark a channel puts on a customer's message that
  joined a ticket without a reply (``bot.desk.Answer.acknowledged``).

Channels only report who reacted with what on which message; the meanings live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.notification import Notification

# Telegram lets bots react only with a fixed set of emoji; these are all in it.
RECEIVED = "👌"
SEEN = ("👍", "👀", "👌", "✍")
CONFIRM = ("👍", "👌", "❤", "🔥", "🎉", "👏", "🙏", "💯", "🏆", "🤝", "😍", "🥰")


class Signal(StrEnum):
    """What a reaction says, if anything."""

    SEEN = "seen"  # an agent has read the customer's message
    CONFIRM = "confirm"  # the customer confirms a resolution


def _emoji(value: str) -> str:
    # Telegram sends some emoji with the variation selector (U+FE0F), some without.
    return value.replace("\ufe0f", "").strip()


@dataclass(frozen=True, slots=True)
class Reactions:
    """The policy's reactions: which emoji mean what."""

    received: str = RECEIVED
    seen: frozenset[str] = frozenset(SEEN)
    confirm: frozenset[str] = frozenset(CONFIRM)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Reactions:
        """From the policy's ``[reactions]`` table (``received``, ``seen``, ``confirm``);
        missing keys keep the defaults, an empty list turns that signal off."""

        def emoji_set(key: str, default: Iterable[str]) -> frozenset[str]:
            value = raw.get(key, list(default))
            if isinstance(value, str):
                value = [value]
            return frozenset(_emoji(str(v)) for v in value if _emoji(str(v)))

        return cls(
            received=str(raw.get("received", RECEIVED)),
            seen=emoji_set("seen", SEEN),
            confirm=emoji_set("confirm", CONFIRM),
        )

    def agent_signal(self, emoji: Iterable[str]) -> Signal | None:
        """What an agent's reaction on a customer's message says (the newest emoji of
        it that means anything)."""
        return Signal.SEEN if any(_emoji(e) in self.seen for e in emoji) else None

    def customer_signal(self, emoji: Iterable[str]) -> Signal | None:
        """What a customer's reaction on a resolution message says."""
        return Signal.CONFIRM if any(_emoji(e) in self.confirm for e in emoji) else None


# The notification whose message a customer confirms by reacting to it.
RESOLUTION_NOTICE = "notice.resolved"


def confirmable(notification: Notification) -> int | None:
    """The ticket a customer's reaction to this notification's message may confirm (the
    message announcing its resolution), if any: a channel remembers that message."""
    return notification.ticket_number if notification.key == RESOLUTION_NOTICE else None
