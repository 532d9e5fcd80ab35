"""Choice values <-> the short ids a platform allows on a button (Telegram's 64-byte
callback data, Discord's 100-character custom ids), for any channel.

A value that fits goes as itself after ``CHOICE_PREFIX``; a longer one as a token (a
hash of it) after ``TOKEN_PREFIX``, kept in the ``LinkStore`` so that every worker can
read it back. The prefixes never change: buttons sent long ago must keep working.
"""

from __future__ import annotations

import abc
import base64
import hashlib

from bot.ports import LinkStore

CHOICE_PREFIX = "c:"
TOKEN_PREFIX = "k:"
LINK_KIND_CHOICE = "choice"


class ChoiceCodec(abc.ABC):
    """Encodes choices for ``channel``; a subclass says what fits (``fits``)."""

    def __init__(self, channel: str, links: LinkStore | None = None) -> None:
        self._channel = channel
        self._links = links
        self._tokens: dict[str, str] = {}
        self._unsaved: dict[str, str] = {}

    @abc.abstractmethod
    def fits(self, data: str) -> bool:
        """Whether ``data`` fits the platform's field as it is."""

    def encode(self, value: str) -> str:
        data = CHOICE_PREFIX + value
        if self.fits(data):
            return data
        digest = hashlib.sha256(value.encode()).digest()[:12]
        token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if token not in self._tokens:
            self._tokens[token] = value
            self._unsaved[token] = value
        return TOKEN_PREFIX + token

    async def save(self) -> None:
        """Persist tokens made since the last save, so other workers can decode them."""
        if self._links is None:
            return
        pending, self._unsaved = self._unsaved, {}
        for token, value in pending.items():
            await self._links.set(self._channel, LINK_KIND_CHOICE, token, value)

    async def decode(self, data: str) -> str | None:
        """The choice value behind an id; None for anything we did not make."""
        if data.startswith(CHOICE_PREFIX):
            return data[len(CHOICE_PREFIX) :] or None
        if data.startswith(TOKEN_PREFIX):
            token = data[len(TOKEN_PREFIX) :]
            if token in self._tokens:
                return self._tokens[token]
            if self._links is not None:
                value = await self._links.get(self._channel, LINK_KIND_CHOICE, token)
                if value is not None:
                    self._tokens[token] = value
                return value
        return None
