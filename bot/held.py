"""Messages flood control kept back (``bot.gate.FloodRule``), and how they are joined
into one when the flood is over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.ticket import Attachment


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message that came over the flood limit, kept until the flood is over."""

    text: str
    at: datetime
    files: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Joined:
    """Held messages joined into one (``count`` of them)."""

    text: str
    files: tuple[Attachment, ...]
    count: int


def join_held(held: Sequence[HeldMessage], limit: int) -> list[Joined]:
    """Held messages joined in their order into as few pieces as keep ``limit``
    characters each (a ticket's message has a limit); a longer one is cut up."""
    pieces: list[Joined] = []
    text: list[str] = []
    files: list[Attachment] = []
    count = size = 0

    def close() -> None:
        nonlocal count, size
        if text or files or count:
            pieces.append(Joined("\n\n".join(text), tuple(files), count))
        text.clear()
        files.clear()
        count = size = 0

    for message in held:
        parts = [message.text[i : i + limit] for i in range(0, len(message.text), limit)] or [""]
        for n, part in enumerate(parts):
            if count and size + len(JOINER) + len(part) > limit:
                close()
            if part:
                size += (len(JOINER) if text else 0) + len(part)
                text.append(part)
            if n == 0:
                files.extend(message.files)
                count += 1
    close()
    return pieces


JOINER = "\n\n"
