"""Store-specific refinements of the desk's errors."""

from __future__ import annotations

from bot.errors import InvalidTransition


class ConcurrentUpdate(InvalidTransition):
    """The ticket changed in another unit of work since it was loaded; nothing of this
    unit was kept. An ``InvalidTransition`` so channels already have a message for it;
    retrying the command on a fresh copy is safe."""
