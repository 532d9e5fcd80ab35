"""Fixtures shared by every test folder: a real S3-compatible server on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

S3_KEY_ID = "test-key"
S3_SECRET = "test-secret"
S3_REGION = "us-east-1"
_buckets = itertools.count(1)


@dataclass
class S3Bucket:
    """A fresh bucket on the loopback S3 server, and a plain boto3 client to look in it
    (not the desk's code)."""

    endpoint_url: str
    name: str
    client: Any

    def settings(self) -> dict[str, Any]:
        """The desk's settings that keep files in this bucket."""
        return {
            "file_store_s3_bucket": self.name,
            "file_store_s3_endpoint_url": self.endpoint_url,
            "file_store_s3_region": S3_REGION,
            "file_store_s3_access_key_id": S3_KEY_ID,
            "file_store_s3_secret_access_key": S3_SECRET,
        }

    def objects(self) -> dict[str, bytes]:
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return {
            o["Key"]: self.client.get_object(Bucket=self.name, Key=o["Key"])["Body"].read()
            for o in listed
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server (its HTTP API, werkzeug on a free loopback port) in a thread."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> S3Bucket:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    name = f"desk-files-{next(_buckets)}"
    client.create_bucket(Bucket=name)
    return S3Bucket(s3_server, name, client)
