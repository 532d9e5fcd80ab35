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
from bot.ticket import AGENT_DECLINE_REASONS, Attachment, DeclineReason

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


def test_a_decline_reason_may_be_its_number_in_the_agents_list() -> None:
    # The list an agent is shown is in their language; the number saves typing a code.
    by_number = read_agent_command("decline", 4, "2 cannot see it")
    assert isinstance(by_number, DeclineTicket)
    assert by_number.reason is AGENT_DECLINE_REASONS[1] is DeclineReason.CANNOT_REPRODUCE
    assert by_number.text == "cannot see it"


@pytest.mark.parametrize(
    ("name", "rest", "usage"),
    [
        ("ask", "  ", Usage.NEEDS_TEXT),
        ("quote", "| only a note", Usage.QUOTE),
        ("transfer", "nowhere", Usage.TRANSFER),
        ("decline", "because", Usage.DECLINE),
        ("decline", "0", Usage.DECLINE),
        ("decline", "8", Usage.DECLINE),
        ("decline", "quote_refused", Usage.DECLINE),
        ("frobnicate", "x", Usage.UNKNOWN),
    ],
)
def test_what_cannot_be_read_says_which_hint_is_needed(name: str, rest: str, usage: Usage) -> None:
    assert read_agent_command(name, 4, rest, departments={"sales"}) is usage


def test_a_channel_may_offer_only_some_commands() -> None:
    assert read_agent_command("transfer", 4, "sales", allowed={"note"}) is Usage.UNKNOWN
