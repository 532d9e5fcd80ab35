"""The terminal's notifier: deliveries for other roles are printed as they happen."""

from __future__ import annotations

from collections.abc import Callable

from bot.i18n import Translator
from bot.notification import Audience, Notification
from bot.reply import Reply, decode_params
from handlers.console.render import render


class ConsoleNotifier:
    channel = "console"

    def __init__(
        self,
        translator: Translator,
        write: Callable[[str], None],
        on_choices: Callable[[str, list[tuple[str, str]]], None] | None = None,
    ) -> None:
        self._translator = translator
        self._write = write
        self._on_choices = on_choices

    async def deliver(self, notification: Notification) -> None:
        reply = Reply(notification.key, decode_params(notification.params), notification.choices)
        lines, choices = render(self._translator, [reply], notification.locale)
        if choices and self._on_choices is not None:
            self._on_choices(notification.recipient, choices)
        who = {
            Audience.CUSTOMER: "customer",
            Audience.TEAM: "team",
            Audience.COMMUNITY: "community",
        }[notification.audience]
        head = f"[to {who} {notification.recipient}]"
        for i, line in enumerate(lines):
            self._write(f"{head} {line}" if i == 0 else f"{' ' * len(head)} {line}")
