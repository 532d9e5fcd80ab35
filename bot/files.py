"""Which files a customer may attach to a ticket, and which a channel can carry.

Pure checks on the metadata the platform reports; nothing is downloaded here.
Agents need screenshots, documents, exports and logs; executables and archives of
unknown kinds are refused.

Sizes are per channel (``FileLimits``, the policy's ``[files]`` and
``FILE_STORE_MAX_MB``): a file is accepted when the desk can fetch it from the channel
it came on (Telegram's bots download at most 20 MB; Discord's CDN has no such limit)
and keep it (the store's own limit). Whether it can be shown on another channel is
that channel's upload limit (Telegram 50 MB for documents, 10 MB for photos; Discord
10 MB, more in a boosted server): a file over it is not sent there; a notice says so,
with a download link when the store makes links (S3), and the agent who sent it is
told when it cannot reach the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.reply import Reply, Text
from bot.ticket import Attachment

MB = 1024 * 1024


def _receive() -> dict[str, int]:
    # A bot cannot download more from Telegram's cloud Bot API (a local Bot API server
    # lifts it: raise it in the policy).
    return {"telegram": 20 * MB}


def _send() -> dict[str, int]:
    # Telegram: sendDocument's multipart upload; Discord: a server without boosts and DMs.
    return {"telegram": 50 * MB, "discord": 10 * MB}


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Bytes: the largest file the desk keeps, what it can fetch from each channel and
    what it can send on each (a channel not named: the store's limit)."""

    store: int = 50 * MB
    receive: Mapping[str, int] = field(default_factory=_receive)
    send: Mapping[str, int] = field(default_factory=_send)

    def accepted(self, channel: str) -> int:
        """The largest file the desk takes from ``channel``."""
        return min(self.store, self.receive.get(channel, self.store))

    def sendable(self, channel: str) -> int:
        """The largest file the desk sends on ``channel`` (the channel may know better:
        a boosted Discord server)."""
        return self.send.get(channel, self.store)


DEFAULT_LIMITS = FileLimits()


def megabytes(size: int) -> int | float:
    """A size for people in megabytes: whole from 10 up, else to one decimal."""
    value = round(size / MB, 1) if size < 10 * MB else round(size / MB)
    return int(value) if value == int(value) else value


ALLOWED_MIME_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/xml",
        "text/xml",
        "application/json",
    }
)

# Names platforms and operating systems use for the allowed types.
MIME_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "text/x-log": "text/plain",
    "text/log": "text/plain",
    "application/csv": "text/csv",
    "text/comma-separated-values": "text/csv",
    "text/json": "application/json",
}

# Used only when the platform could not tell the type (``application/octet-stream``
# or nothing): Telegram sends log files and CSV exports that way. A fixed table
# rather than ``mimetypes``, whose answers depend on the host's mime.types.
EXTENSION_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
    "zip": "application/zip",
    "xml": "application/xml",
    "json": "application/json",
}

UNKNOWN_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})

TOO_BIG = "files.too_big"
WRONG_TYPE = "files.wrong_type"
NOT_SENT = "files.not_sent"
NOT_SENT_LINK = "files.not_sent_link"


def effective_mime_type(att: Attachment) -> str:
    """The attachment's type as the desk understands it (aliases resolved, and
    guessed from the file name when the platform did not know)."""
    mime = att.mime_type.split(";", 1)[0].strip().lower()
    mime = MIME_ALIASES.get(mime, mime)
    if mime in UNKNOWN_TYPES:
        name = att.file_name.strip().lower()
        extension = name.rsplit(".", 1)[1] if "." in name else ""
        mime = EXTENSION_TYPES.get(extension, mime)
    return mime


def check_attachment(att: Attachment, limits: FileLimits = DEFAULT_LIMITS) -> str | None:
    """``None`` if the file may be attached, else the reason's translation key
    (``files.too_big`` or ``files.wrong_type``); the size limit is the one of the
    channel the file came on (``refusal``'s ``max_mb``)."""
    if att.size > limits.accepted(att.platform):
        return TOO_BIG
    if effective_mime_type(att) not in ALLOWED_MIME_TYPES:
        return WRONG_TYPE
    return None


def refusal(reason: str, att: Attachment, limits: FileLimits = DEFAULT_LIMITS) -> Text:
    """The reason ``check_attachment`` gave, with the limit of the file's channel."""
    return Text(reason, {"max_mb": megabytes(limits.accepted(att.platform))})


def too_large(att: Attachment, size: int, limit: int, link: str | None) -> Reply:
    """Said where a file should have been shown, on a channel whose upload limit it is
    over: its name, size and the limit, and a download link when the store makes one."""
    params = {
        "name": att.file_name or "file",
        "size_mb": megabytes(size),
        "max_mb": megabytes(limit),
    }
    if link:
        return Reply(NOT_SENT_LINK, {**params, "link": link})
    return Reply(NOT_SENT, params)
