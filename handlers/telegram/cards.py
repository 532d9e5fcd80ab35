"""The ticket card agents act on: its buttons and their callback data.

Callback data: ``a:<action>:<number>`` and, for a picked reason or department,
``a:<action>:<number>:<value>``. The prefixes are stable; a forged value is only a
request, which the team router authorises and the desk checks again.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.desk import parse_number
from bot.ticket import AGENT_DECLINE_REASONS, Status, Ticket
from handlers.telegram.render import AGENT_PREFIX, Renderer


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


ALL_ACTIONS = frozenset(
    v for k, v in vars(Action).items() if not k.startswith("_") and isinstance(v, str)
)


@dataclass(frozen=True, slots=True)
class AgentButton:
    action: str
    number: int
    value: str = ""

    def pack(self) -> str:
        parts = [self.action, str(self.number)] + ([self.value] if self.value else [])
        return AGENT_PREFIX + ":".join(parts)

    @classmethod
    def parse(cls, data: str) -> AgentButton | None:
        if not data.startswith(AGENT_PREFIX):
            return None
        parts = data[len(AGENT_PREFIX) :].split(":")
        # A ticket number the desk could have made: ASCII digits, within the database's
        # range (a forged 60-digit number is an old button, not a database error).
        number = parse_number(parts[1]) if len(parts) in (2, 3) else None
        if number is None or parts[0] not in ALL_ACTIONS:
            return None
        value = parts[2] if len(parts) == 3 else ""
        if parts[0] == Action.DECLINE_REASON and value not in AGENT_DECLINE_REASONS:
            return None
        if parts[0] in (Action.DECLINE_REASON, Action.TRANSFER_TO) and not value:
            return None
        return cls(parts[0], number, value)


def _button(
    renderer: Renderer, lang: str, action: str, number: int, label: str = ""
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=renderer.label(f"telegram.button.{label or action}", lang),
        callback_data=AgentButton(action, number).pack(),
    )


def card_keyboard(renderer: Renderer, ticket: Ticket, lang: str) -> InlineKeyboardMarkup | None:
    """The actions that make sense in the ticket's status."""
    number = ticket.number
    if number is None or not ticket.is_open:
        return None
    if ticket.status is Status.BLOCKED:
        return InlineKeyboardMarkup(
            inline_keyboard=[[_button(renderer, lang, Action.UNBLOCK, number)]]
        )
    # A claimed ticket's Claim hands it to whoever presses it: it says so.
    claim = "take_over" if ticket.assignee is not None else ""
    if ticket.status is Status.AWAITING_APPROVAL:
        # Only the customer's decision moves a quoted request on (or declining it).
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    _button(renderer, lang, Action.CLAIM, number, claim),
                    _button(renderer, lang, Action.DECLINE, number),
                ],
                [_button(renderer, lang, Action.TRANSFER, number)],
            ]
        )
    rows = [
        [
            _button(renderer, lang, Action.CLAIM, number, claim),
            _button(renderer, lang, Action.ASK, number),
        ],
        [
            _button(renderer, lang, Action.RESOLVE, number),
            _button(renderer, lang, Action.DECLINE, number),
        ],
        [
            _button(renderer, lang, Action.TRANSFER, number),
            _button(renderer, lang, Action.BLOCK, number),
        ],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def reasons_keyboard(renderer: Renderer, number: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=renderer.label(f"decline.{reason.value}", lang),
                    callback_data=AgentButton(Action.DECLINE_REASON, number, reason.value).pack(),
                )
            ]
            for reason in AGENT_DECLINE_REASONS
        ]
    )


def departments_keyboard(
    renderer: Renderer, number: int, departments: list[str], lang: str
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=renderer.label(f"department.{key}", lang),
                    callback_data=AgentButton(Action.TRANSFER_TO, number, key).pack(),
                )
            ]
            for key in departments
            if len(AgentButton(Action.TRANSFER_TO, number, key).pack().encode()) <= 64
        ]
    )
