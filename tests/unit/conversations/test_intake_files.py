"""Which attachments intake accepts (``bot/files.py``)."""

from __future__ import annotations

import pytest

from bot.files import ALLOWED_MIME_TYPES, MAX_FILE_BYTES, check_attachment, effective_mime_type
from bot.ticket import Attachment


def att(name: str, mime: str, size: int = 1000) -> Attachment:
    return Attachment("ref", name, mime, size, "telegram")


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpg", "image/jpg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.pdf", "application/pdf"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.csv", "text/csv"),
        ("a.zip", "application/zip"),
        ("a.zip", "application/x-zip-compressed"),
        ("a.xml", "application/xml"),
        ("a.xml", "text/xml"),
        ("a.json", "application/json"),
        ("error.log", "text/x-log"),
    ],
)
def test_allowed_types_are_accepted(name: str, mime: str) -> None:
    assert check_attachment(att(name, mime)) is None


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("setup.exe", "application/x-msdownload"),
        ("movie.mp4", "video/mp4"),
        ("page.html", "text/html"),
        ("doc.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
)
def test_other_types_are_refused(name: str, mime: str) -> None:
    assert check_attachment(att(name, mime)) == "files.wrong_type"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("server.LOG", "text/plain"),
        ("export.csv", "text/csv"),
        ("shot.JPEG", "image/jpeg"),
        ("backup.tar.gz", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
    ],
)
def test_unknown_type_is_guessed_from_the_extension(name: str, expected: str) -> None:
    assert effective_mime_type(att(name, "application/octet-stream")) == expected


def test_octet_stream_with_an_unknown_extension_is_refused() -> None:
    assert check_attachment(att("payload.bin", "application/octet-stream")) == "files.wrong_type"
    assert check_attachment(att("app.log", "")) is None


def test_twenty_megabytes_is_the_limit() -> None:
    assert MAX_FILE_BYTES == 20 * 1024 * 1024
    assert check_attachment(att("a.png", "image/png", MAX_FILE_BYTES)) is None
    assert check_attachment(att("a.png", "image/png", MAX_FILE_BYTES + 1)) == "files.too_big"


def test_every_allowed_type_passes() -> None:
    for mime in ALLOWED_MIME_TYPES:
        assert check_attachment(att("x", mime)) is None
