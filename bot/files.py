"""Which files a customer may attach to a ticket.

Pure checks on the metadata the platform reports; nothing is downloaded here.
Agents need screenshots, documents, exports and logs; executables and archives of
unknown kinds are refused. The size limit is Telegram's: a bot cannot download a
larger file, so accepting it would only break later.
"""

from __future__ import annotations

from bot.ticket import Attachment

MAX_FILE_BYTES = 20 * 1024 * 1024

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


def check_attachment(att: Attachment) -> str | None:
    """``None`` if the file may be attached, else the reason's translation key
    (``files.too_big`` or ``files.wrong_type``)."""
    if att.size > MAX_FILE_BYTES:
        return TOO_BIG
    if effective_mime_type(att) not in ALLOWED_MIME_TYPES:
        return WRONG_TYPE
    return None
