"""The desk's error family: every expected failure is a ``DeskError``.

Each carries a translation key and parameters, so a channel can turn any of them
into a message for the user in one place.
"""

from __future__ import annotations

from typing import Any


class DeskError(Exception):
    """Base of every expected failure; ``key`` names the user-facing message."""

    key = "error.generic"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.params: dict[str, Any] = params


class NotFound(DeskError):
    key = "error.not_found"


class TicketNotFound(NotFound):
    key = "error.ticket_not_found"


class NotAllowed(DeskError):
    """The actor may not do this (wrong department, not an agent, not the owner)."""

    key = "error.not_allowed"


class InvalidTransition(DeskError):
    """The ticket's status does not allow this action; nothing was changed."""

    key = "error.invalid_transition"


class InvalidInput(DeskError):
    key = "error.invalid_input"


class AlreadyRated(DeskError):
    """A ticket takes one rating (and one comment on it)."""

    key = "rating.already"


class ConcurrentUpdate(InvalidTransition):
    """The ticket changed in another unit of work since it was loaded (its version
    moved on); nothing of this unit was kept. Retrying the whole update on fresh state
    is safe, and is what ``bot.gate.Gate`` does; only after several clashes in a row
    does it reach a user, as an ``InvalidTransition``."""


class StoreInterrupted(Exception):
    """The store's connection was lost in the middle of a unit of work, which was rolled
    back (or, lost at its commit, may have been kept: an update's inbox row then tells).
    Running the update again on a fresh connection is safe; ``bot.gate.Gate`` does."""


class DuplicateUpdate(DeskError):
    """This platform update was handled already (a redelivery); nothing was done again."""


class DuplicateEscalation(DeskError):
    """A community post already became a ticket."""

    key = "error.already_escalated"


class EscalationNotCovered(DeskError):
    """The author's plan covers no department a post could be filed with."""

    key = "error.escalation_not_covered"
