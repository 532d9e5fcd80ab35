"""The terminal channel: the embedded default, where one person can play every role."""

from handlers.console.session import ConsoleSession, run_console

__all__ = ["ConsoleSession", "run_console"]
