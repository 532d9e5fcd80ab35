"""Agents' written commands (``/ask N TEXT`` in the terminal, ``/ask TEXT`` in a
ticket's topic): one reading of them for every channel.

The channel finds the command's name, the ticket and the rest of the line; this
module turns them into the desk command, or says which usage hint the agent needs.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from bot.commands import (
    AddNote,
    AnswerCustomer,
    AskCustomer,
    BlockTicket,
    ClaimTicket,
    Command,
    DeclineTicket,
    QuoteTicket,
    ResolveTicket,
    TransferTicket,
    UnblockTicket,
)
from bot.ticket import AGENT_DECLINE_REASONS, Attachment, DeclineReason

NAMES = frozenset(
    {
        "claim",
        "answer",
        "ask",
        "resolve",
        "note",
        "quote",
        "block",
        "unblock",
        "transfer",
        "decline",
    }
)
NEED_TEXT = frozenset({"answer", "ask", "note"})


class Usage(StrEnum):
    """Why a written command could not be read; each channel words its own hint."""

    UNKNOWN = "unknown"
    NEEDS_TEXT = "needs_text"
    QUOTE = "quote"
    TRANSFER = "transfer"
    DECLINE = "decline"


def read_agent_command(
    name: str,
    number: int,
    rest: str,
    *,
    departments: Collection[str] = (),
    files: tuple[Attachment, ...] = (),
    allowed: Collection[str] = NAMES,
) -> Command | Usage:
    """``name`` without the slash; ``rest`` the text after the ticket reference.

    ``quote`` reads ``PRICE | NOTE``; ``transfer`` ``DEPARTMENT [WHY]`` (one of
    ``departments``); ``decline`` ``REASON [WHY]``. Files go with answers and notes.
    """
    rest = rest.strip()
    if name not in allowed:
        return Usage.UNKNOWN
    if name in NEED_TEXT and not rest:
        return Usage.NEEDS_TEXT
    match name:
        case "claim":
            return ClaimTicket(number=number)
        case "answer":
            return AnswerCustomer(number=number, text=rest, attachments=files)
        case "ask":
            return AskCustomer(number=number, text=rest)
        case "resolve":
            return ResolveTicket(number=number, text=rest)
        case "note":
            return AddNote(number=number, text=rest, attachments=files)
        case "block":
            return BlockTicket(number=number, text=rest)
        case "unblock":
            return UnblockTicket(number=number, text=rest)
        case "quote":
            price, _, note = rest.partition("|")
            if not price.strip():
                return Usage.QUOTE
            return QuoteTicket(number=number, price=price.strip(), note=note.strip())
        case "transfer":
            department, _, why = rest.partition(" ")
            if department not in departments:
                return Usage.TRANSFER
            return TransferTicket(number=number, department=department, text=why.strip())
        case "decline":
            code, _, why = rest.partition(" ")
            reason = _decline_reason(code)
            if reason is None:
                return Usage.DECLINE
            return DeclineTicket(number=number, reason=reason, text=why.strip())
    return Usage.UNKNOWN


def _decline_reason(code: str) -> DeclineReason | None:
    """An agent's reason: its number in the list the usage shows (in the agent's
    language, so nobody has to type an English code), or its code."""
    if code.isdigit():
        index = int(code) - 1
        return AGENT_DECLINE_REASONS[index] if 0 <= index < len(AGENT_DECLINE_REASONS) else None
    try:
        reason = DeclineReason(code)
    except ValueError:
        return None
    return reason if reason in AGENT_DECLINE_REASONS else None
