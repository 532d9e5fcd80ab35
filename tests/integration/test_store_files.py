"""The desk's file store on every SQL backend and in a folder, and the attachments that
point into it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from store_support import Backend, make_ticket

from bot.ticket import Attachment
from store.files import FolderFileStore, SqlFileStore, file_key

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
