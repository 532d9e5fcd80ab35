"""Which attachments intake accepts (``bot/files.py``)."""

from __future__ import annotations

import pytest

from bot.files import (
    ALLOWED_MIME_TYPES,
    MB,
    FileLimits,
    check_attachment,
    effective_mime_type,
    megabytes,
    refusal,
)
from bot.policy import PolicyError, load_policy, parse_policy
from bot.ticket import Attachment


def att(name: str, mime: str, size: int = 1000, platform: str = "telegram") -> Attachment:
    return Attachment("ref", name, mime, size, platform)


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


def test_the_limit_is_the_channels_the_file_came_on() -> None:
    """Telegram's bots download 20 MB; Discord's CDN has no limit but the store's."""
    limits = load_policy().files
    assert check_attachment(att("a.png", "image/png", 20 * MB), limits) is None
    over = att("a.png", "image/png", 20 * MB + 1)
    assert check_attachment(over, limits) == "files.too_big"
    assert refusal("files.too_big", over, limits).params == {"max_mb": 20}
    on_discord = att("a.png", "image/png", 45 * MB, "discord")
    assert check_attachment(on_discord, limits) is None
    bigger = att("a.png", "image/png", 50 * MB + 1, "discord")
    assert check_attachment(bigger, limits) == "files.too_big"
    assert refusal("files.too_big", bigger, limits).params == {"max_mb": 50}
    # The store's own limit caps every channel.
    small_store = FileLimits(store=5 * MB, receive=limits.receive, send=limits.send)
    assert check_attachment(att("a.png", "image/png", 6 * MB), small_store) == "files.too_big"
    assert small_store.accepted("telegram") == 5 * MB
    assert (limits.sendable("telegram"), limits.sendable("discord")) == (50 * MB, 10 * MB)


def test_the_policy_names_each_channels_limits() -> None:
    data = load_policy().raw | {"files": {"receive_mb": {"telegram": 2000}, "send_mb": {"x": 1}}}
    limits = parse_policy(data).files
    assert limits.receive["telegram"] == 2000 * MB and limits.send["x"] == MB
    assert limits.send["discord"] == 10 * MB  # the defaults stay for channels not named
    with pytest.raises(PolicyError, match=r"files\.send_mb\.discord"):
        parse_policy(load_policy().raw | {"files": {"send_mb": {"discord": 0}}})
    assert (megabytes(20 * MB), megabytes(int(2.5 * MB)), megabytes(int(12.4 * MB))) == (
        20,
        2.5,
        12,
    )


def test_every_allowed_type_passes() -> None:
    for mime in ALLOWED_MIME_TYPES:
        assert check_attachment(att("x", mime)) is None
