"""Agents' written commands, read once for every channel."""

from __future__ import annotations

import pytest

from bot.agent_commands import Usage, read_agent_command
from bot.commands import (
    AddNote,
    DeclineTicket,
    QuoteTicket,
    ResolveTicket,
    TransferTicket,
)
from bot.ticket import Attachment, DeclineReason

LOG = Attachment("f1", "app.log", "text/plain", 10, "telegram")


def test_commands_become_desk_commands() -> None:
    quote = read_agent_command("quote", 4, " 1500 CZK | new banner ")
    assert isinstance(quote, QuoteTicket) and (quote.price, quote.note) == (
        "1500 CZK",
        "new banner",
    )
    note = read_agent_command("note", 4, "see the log", files=(LOG,))
    assert isinstance(note, AddNote) and note.attachments == (LOG,)
    moved = read_agent_command("transfer", 4, "sales wrong team", departments={"sales"})
    assert isinstance(moved, TransferTicket) and moved.text == "wrong team"
    declined = read_agent_command("decline", 4, "third_party it is GoPay")
    assert isinstance(declined, DeclineTicket) and declined.reason is DeclineReason.THIRD_PARTY
    assert isinstance(read_agent_command("resolve", 4, ""), ResolveTicket)


@pytest.mark.parametrize(
    ("name", "rest", "usage"),
    [
        ("ask", "  ", Usage.NEEDS_TEXT),
        ("quote", "| only a note", Usage.QUOTE),
        ("transfer", "nowhere", Usage.TRANSFER),
        ("decline", "because", Usage.DECLINE),
        ("frobnicate", "x", Usage.UNKNOWN),
    ],
)
def test_what_cannot_be_read_says_which_hint_is_needed(name: str, rest: str, usage: Usage) -> None:
    assert read_agent_command(name, 4, rest, departments={"sales"}) is usage


def test_a_channel_may_offer_only_some_commands() -> None:
    assert read_agent_command("transfer", 4, "sales", allowed={"note"}) is Usage.UNKNOWN
