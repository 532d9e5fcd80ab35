"""Small in-memory stand-ins for the desk's ports, used by the Telegram channel tests."""

from __future__ import annotations

import copy
from collections.abc import Collection
from datetime import UTC, datetime

from bot.errors import TicketNotFound
from bot.participant import Participant
from bot.ticket import Origin, RequestType, Ticket


class MemoryLinks:
    """``bot.ports.LinkStore`` in a dict."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], str] = {}

    async def get(self, channel: str, kind: str, key: str) -> str | None:
        return self.rows.get((channel, kind, key))

    async def get_many(self, links: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        return {link: self.rows[link] for link in links if link in self.rows}

    async def set(self, channel: str, kind: str, key: str, value: str) -> None:
        self.rows[(channel, kind, key)] = value

    async def find(self, channel: str, kind: str, value: str) -> str | None:
        keys = sorted(
            k for (c, kd, k), v in self.rows.items() if (c, kd, v) == (channel, kind, value)
        )
        return keys[0] if keys else None


class TicketBook:
    """A ticket reader over a dict: ``await book(number)``, or ``await book.many(numbers)``
    (copies, as a store reads them); ``reads`` lists what was asked, in order."""

    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        self.reads: list[int | list[int]] = []

    async def __call__(self, number: int) -> Ticket:
        self.reads.append(number)
        try:
            return self.tickets[number]
        except KeyError:
            raise TicketNotFound(f"#{number}", number=number) from None

    async def many(self, numbers: Collection[int]) -> dict[int, Ticket]:
        self.reads.append(sorted(numbers))
        return {n: copy.deepcopy(self.tickets[n]) for n in numbers if n in self.tickets}

    def add(self, number: int, title: str = "Printer prints nothing", **kw: object) -> Ticket:
        ticket = Ticket(
            customer=Participant("telegram", "501"),
            customer_name="Alice",
            department="technical",
            category="bug",
            request_type=RequestType.BUG,
            title=title,
            description="It does not print",
            origin=Origin("telegram"),
            created_at=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            number=number,
            **kw,  # type: ignore[arg-type]
        )
        self.tickets[number] = ticket
        return ticket
