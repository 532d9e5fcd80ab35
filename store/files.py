"""The desk's copies of the files people send (``bot.ports.FileStore``): in the
database by default, or in a folder (``FILE_STORE_DIR``); ``store.s3files`` keeps them
in an S3-compatible bucket.

Keys are the SHA-256 of the bytes: the same file sent twice (an update handled again
after a crash, one screenshot in two tickets) is kept once, and keeping it again is
harmless.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.driver import Prepared, UnitConnection, on_demand
from store.models import StoredFileRow

PREFIX = "sha256:"


def file_key(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


class SqlFileStore:
    """Files as rows of ``stored_files``: one backup of the database holds them all."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def put(self, data: bytes) -> str:
        key = file_key(data)
        values = {"key": key, "data": data, "size": len(data), "created_at": datetime.now(UTC)}
        # One statement on the driver, no session: a file kept already (or by another
        # worker at the same moment) is left as it is.
        unit = UnitConnection(self._sessions)
        await unit.open()
        try:
            if await _keeping(unit.dialect.name).execute(on_demand(unit), values, last=True):
                await unit.commit()
        finally:
            await unit.rollback()
            await unit.close()
        return key

    async def get(self, key: str) -> bytes | None:
        async with self._sessions() as session:
            data = await session.scalar(select(StoredFileRow.data).where(StoredFileRow.key == key))
        return bytes(data) if data is not None else None

    async def link(self, key: str, file_name: str) -> str | None:
        return None  # the database serves no links


@functools.cache
def _keeping(dialect: str) -> Prepared:
    table = cast(Table, StoredFileRow.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return Prepared(insert(table).on_conflict_do_nothing(index_elements=["key"]))


class FolderFileStore:
    """Files in a folder, one per key (written under a temporary name, then renamed, so
    a reader never sees half a file)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _path(self, key: str) -> Path:
        digest = key.removeprefix(PREFIX)
        if not key.startswith(PREFIX) or not digest.isalnum():
            raise ValueError(f"not a file key: {key!r}")
        return self._folder / digest[:2] / digest

    async def put(self, data: bytes) -> str:
        key = file_key(data)
        await asyncio.to_thread(_write, self._path(key), data)
        return key

    async def get(self, key: str) -> bytes | None:
        return await asyncio.to_thread(_read, self._path(key))

    async def link(self, key: str, file_name: str) -> str | None:
        return None  # a folder serves no links


def _write(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None
