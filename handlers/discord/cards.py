"""The ticket card's buttons and menus on Discord, and their custom ids.

Custom ids: ``a:<action>:<number>`` and, for a picked reason or department,
``a:<action>:<number>:<value>``, the same vocabulary as Telegram's card. The prefix is
stable; a forged id is only a request, which the desk authorises.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.desk import parse_number
from bot.ticket import DeclineReason, Status, Ticket
from handlers.discord.render import AGENT_PREFIX, Renderer, static_view


class Action:
    CLAIM = "claim"
    ASK = "ask"
    RESOLVE = "resolve"
    DECLINE = "decline"
    DECLINE_REASON = "dr"
    TRANSFER = "transfer"
    TRANSFER_TO = "tt"
    BLOCK = "block"
    UNBLOCK = "unblock"
    QUOTE = "quote"


ALL_ACTIONS = frozenset(
    v for k, v in vars(Action).items() if not k.startswith("_") and isinstance(v, str)
)
# Menus whose pick arrives as the select's value.
PICKED = frozenset({Action.DECLINE_REASON, Action.TRANSFER_TO})


@dataclass(frozen=True, slots=True)
class AgentButton:
    action: str
    number: int
    value: str = ""

    def pack(self) -> str:
        parts = [self.action, str(self.number)] + ([self.value] if self.value else [])
        return AGENT_PREFIX + ":".join(parts)

    @classmethod
    def parse(cls, data: str, picked: str = "") -> AgentButton | None:
        """A card button's custom id (``picked``: a menu's chosen value)."""
        if not data.startswith(AGENT_PREFIX):
            return None
        parts = data[len(AGENT_PREFIX) :].split(":")
        number = parse_number(parts[1]) if len(parts) in (2, 3) else None
        if number is None or parts[0] not in ALL_ACTIONS:
            return None
        value = parts[2] if len(parts) == 3 else picked
        if parts[0] == Action.DECLINE_REASON and value not in DeclineReason.__members__.values():
            return None
        if parts[0] in PICKED and not value:
            return None
        return cls(parts[0], number, value)


def _button(
    renderer: Renderer,
    lang: str,
    action: str,
    number: int,
    label: str = "",
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
) -> discord.ui.Button[discord.ui.View]:
    return discord.ui.Button(
        label=renderer.label(f"discord.button.{label or action}", lang),
        custom_id=AgentButton(action, number).pack(),
        style=style,
    )


def card_view(renderer: Renderer, ticket: Ticket, lang: str) -> discord.ui.View | None:
    """The actions that make sense in the ticket's status (as on Telegram's card)."""
    number = ticket.number
    if number is None or not ticket.is_open:
        return None
    if ticket.status is Status.BLOCKED:
        return static_view(_button(renderer, lang, Action.UNBLOCK, number))
    claim = "take_over" if ticket.assignee is not None else ""
    items = [
        _button(renderer, lang, Action.CLAIM, number, claim, discord.ButtonStyle.primary),
        _button(renderer, lang, Action.ASK, number),
        _button(renderer, lang, Action.RESOLVE, number, style=discord.ButtonStyle.success),
        _button(renderer, lang, Action.DECLINE, number, style=discord.ButtonStyle.danger),
        _button(renderer, lang, Action.TRANSFER, number),
        _button(renderer, lang, Action.BLOCK, number),
    ]
    return static_view(*items)


def reasons_view(renderer: Renderer, number: int, lang: str) -> discord.ui.View:
    return static_view(
        discord.ui.Select(
            custom_id=AgentButton(Action.DECLINE_REASON, number).pack(),
            options=[
                discord.SelectOption(
                    label=renderer.label(f"decline.{r.value}", lang), value=r.value
                )
                for r in DeclineReason
            ],
        )
    )


def departments_view(
    renderer: Renderer, number: int, departments: list[str], lang: str
) -> discord.ui.View:
    return static_view(
        discord.ui.Select(
            custom_id=AgentButton(Action.TRANSFER_TO, number).pack(),
            options=[
                discord.SelectOption(label=renderer.label(f"department.{key}", lang), value=key)
                for key in departments[:25]
            ],
        )
    )
