"""The desk's file store on every SQL backend, in a folder and in an S3 bucket, and the
attachments that point into it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from store_support import Backend, make_ticket

from bot.app import build_app
from bot.settings import Settings
from bot.ticket import Attachment
from store.files import FolderFileStore, SqlFileStore, file_key
from store.s3files import S3FileStore
from tests.conftest import S3_KEY_ID, S3_REGION, S3_SECRET, S3Bucket

SHOT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


async def test_the_database_keeps_bytes_by_their_hash(backend: Backend) -> None:
    files = SqlFileStore(backend.sessions)
    assert await files.get(file_key(SHOT)) is None
    key = await files.put(SHOT)
    assert key == file_key(SHOT) and key.startswith("sha256:")
    assert await files.get(key) == SHOT
    # The same file again (an update handled twice, two workers at once): one copy.
    assert set(await asyncio.gather(files.put(SHOT), files.put(SHOT))) == {key}
    assert await files.put(b"other") != key


async def test_a_folder_keeps_them_too(tmp_path: Path) -> None:
    files = FolderFileStore(tmp_path / "files")
    key = await files.put(SHOT)
    assert await files.get(key) == SHOT
    assert await files.put(SHOT) == key
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [
        key.removeprefix("sha256:")
    ]
    assert await FolderFileStore(tmp_path / "files").get(file_key(b"never")) is None
    with pytest.raises(ValueError):
        await files.get("../../etc/passwd")


async def test_an_attachment_keeps_its_copys_key(backend: Backend) -> None:
    key = await SqlFileStore(backend.sessions).put(SHOT)
    shot = Attachment("AgAC-1", "shot.png", "image/png", len(SHOT), "telegram", "photo", key)
    ticket = make_ticket(attachments=[shot])
    async with backend.uow() as uow:
        number = await uow.tickets.add(ticket)
        await uow.commit()
    async with backend.uow() as uow:
        stored = await uow.tickets.get(number)
    assert stored.attachments == [shot]


async def test_an_s3_bucket_keeps_them_over_http(s3_bucket: S3Bucket) -> None:
    """Against a real S3 API on loopback (moto's server): objects named by the hash,
    kept once, a missing key is None, and a presigned link downloads the file."""
    files = S3FileStore(s3_bucket.name, prefix="desk/", **_s3_options(s3_bucket))
    try:
        assert await files.get(file_key(SHOT)) is None
        key = await files.put(SHOT)
        assert key == file_key(SHOT)
        assert await files.get(key) == SHOT
        assert set(await asyncio.gather(files.put(SHOT), files.put(SHOT))) == {key}
        digest = key.removeprefix("sha256:")
        assert s3_bucket.objects() == {f"desk/{digest[:2]}/{digest}": SHOT}
        link = await files.link(key, "shot 1.png")
        assert link is not None and link.startswith(s3_bucket.endpoint_url)
        async with aiohttp.ClientSession() as http, http.get(link) as response:
            assert response.status == 200
            assert await response.read() == SHOT
            assert "shot%201.png" in response.headers["Content-Disposition"]
        with pytest.raises(ValueError):
            await files.get("../../etc/passwd")
    finally:
        await files.close()
    # Another store on the same bucket (another worker) reads what this one kept.
    other = S3FileStore(s3_bucket.name, prefix="desk/", **_s3_options(s3_bucket))
    try:
        assert await other.get(key) == SHOT
    finally:
        await other.close()


async def test_the_settings_choose_the_store(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"
    plain = await build_app(Settings(database_url=db, _env_file=None))  # type: ignore[call-arg]
    try:
        assert isinstance(plain.files, SqlFileStore)
        assert await plain.files.link(await plain.files.put(SHOT), "a.png") is None
    finally:
        await plain.close()
    app = await build_app(
        Settings(database_url=db, _env_file=None, **s3_bucket.settings())  # type: ignore[call-arg]
    )
    try:
        assert isinstance(app.files, S3FileStore)
        key = await app.files.put(b"kept in the bucket")
        assert list(s3_bucket.objects().values()) == [b"kept in the bucket"]
        assert await app.files.get(key) == b"kept in the bucket"
    finally:
        await app.close()
    with pytest.raises(ValueError, match="not both"):
        Settings(database_url=db, file_store_dir=tmp_path, **s3_bucket.settings())


def _s3_options(bucket: S3Bucket) -> dict[str, Any]:
    return {
        "endpoint_url": bucket.endpoint_url,
        "region": S3_REGION,
        "access_key_id": S3_KEY_ID,
        "secret_access_key": S3_SECRET,
    }
