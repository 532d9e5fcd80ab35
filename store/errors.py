"""Store-specific refinements of the desk's errors."""

from __future__ import annotations

from bot.errors import ConcurrentUpdate

__all__ = ["ConcurrentUpdate"]
