"""The desk's copies of files in an S3-compatible object store (``bot.ports.FileStore``):
AWS S3, MinIO, Ceph, Cloudflare R2, Backblaze B2 and the like, chosen by
``FILE_STORE_S3_BUCKET`` (README "Files").

Keys are the same SHA-256 as in the other stores (``store.files.file_key``); an
object is named ``<prefix><first two hex digits>/<digest>``. Keeping a file that is
there already costs one HEAD request and no upload. The store can also hand out a
time-limited link to a file (a presigned GET), which channels offer in place of a
file too large to upload on them.

One client (aiobotocore, over aiohttp) is made on first use and closed with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError

from store.files import PREFIX, file_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3FileStore:
    """Files as objects of one bucket."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        link_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.link_seconds = link_seconds
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            # Path-style addressing works with every S3-compatible server.
            "config": Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
        }
        self._client: S3Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._opening = asyncio.Lock()

    def object_name(self, key: str) -> str:
        digest = key.removeprefix(PREFIX)
        if not key.startswith(PREFIX) or not digest.isalnum():
            raise ValueError(f"not a file key: {key!r}")
        return f"{self.prefix}{digest[:2]}/{digest}"

    async def _s3(self) -> S3Client:
        async with self._opening:
            if self._client is None:
                from aiobotocore.session import get_session

                client = get_session().create_client("s3", **self._options)
                self._client = await self._stack.enter_async_context(client)
            return self._client

    async def put(self, data: bytes) -> str:
        key = file_key(data)
        name = self.object_name(key)
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            await s3.put_object(Bucket=self.bucket, Key=name, Body=data)
        return key

    async def get(self, key: str) -> bytes | None:
        s3 = await self._s3()
        try:
            found = await s3.get_object(Bucket=self.bucket, Key=self.object_name(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        async with found["Body"] as body:
            return await body.read()

    async def link(self, key: str, file_name: str) -> str | None:
        """A link that downloads the file (as ``file_name``) for ``link_seconds``."""
        s3 = await self._s3()
        disposition = f"attachment; filename*=UTF-8''{quote(file_name or 'file')}"
        return await s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_name(key),
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=self.link_seconds,
        )

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
