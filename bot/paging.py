"""Pages of a list (a customer's tickets, an organisation's, an agent's queue)."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class Page:
    """Page ``number`` (from 1) of ``size`` items."""

    number: int = 1
    size: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if self.number < 1 or self.size < 1:
            raise ValueError(f"no such page: {self.number} of size {self.size}")

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def count(self, total: int) -> int:
        """How many pages ``total`` items fill (at least one)."""
        return max(1, -(-total // self.size))
