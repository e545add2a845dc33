"""Fixtures of the firehose suite: a home per backend — the lake on file:// or s3:// (metadata in
SQLite), or the metadata in PostgreSQL (lake on file://) — with a bucket, and helpers to read
what deliveries wrote."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from tests.fixtures.homes import seed_home

BUCKET = "landing"
#: Firehose's object name after the prefix: ``<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid4>``.
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture(params=["file-sqlite", pytest.param("s3-sqlite", marks=pytest.mark.s3),
                        pytest.param("file-postgresql", marks=pytest.mark.postgresql)])
def fh_client(request: pytest.FixtureRequest, home: Path, clock: FixedClock, sqlite_template: Path) -> Iterator[Client]:
    """A client on a fresh home with the bucket ``landing``, once per lake (file, s3) and database (SQLite,
    PostgreSQL)."""
    settings: dict[str, Any] = {}
    if request.param == "s3-sqlite":
        s3 = request.getfixturevalue("s3_lake_url")
        settings = {"lake_url": s3.url, **s3.kwargs}
    elif request.param == "file-postgresql":
        settings = {"db_url": request.getfixturevalue("postgres_home_url")}
    if request.param != "file-postgresql":
        seed_home(home, sqlite_template)
    client = crispml.connect(home=str(home), clock=clock, **settings)
    client.lake.create_bucket(bucket=BUCKET)
    yield client
    client.close()


@pytest.fixture
def firehose(fh_client: Client) -> Any:
    return fh_client.firehose


def s3_destination(**fields: Any) -> dict[str, Any]:
    """An ExtendedS3DestinationConfiguration in Firehose's PascalCase shape, to the ``landing`` bucket."""
    return {"BucketARN": f"arn:aws:s3:::{BUCKET}", **fields}


def keys(client: Client, prefix: str = "", bucket: str = BUCKET) -> list[str]:
    """Every object key under ``prefix``, sorted."""
    found: list[str] = []
    token = None
    while True:
        page = client.lake.list_objects_v2(bucket=bucket, prefix=prefix,
                                           **({"continuation_token": token} if token else {}))
        found += [o.key for o in page.contents]
        token = page.next_continuation_token
        if not token:
            return sorted(found)


def read(client: Client, key: str, bucket: str = BUCKET) -> bytes:
    """An object's bytes, gunzipped when its key ends in .gz."""
    data: bytes = client.lake.get_object(bucket=bucket, key=key).body.read()
    return gzip.decompress(data) if key.endswith(".gz") else data


def lines(client: Client, prefix: str = "", bucket: str = BUCKET) -> list[bytes]:
    """Every line of every object under ``prefix``."""
    return [line for key in keys(client, prefix, bucket) for line in read(client, key, bucket).splitlines()]


def error_documents(client: Client, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(client, prefix)]


@pytest.fixture
def local(local_client: Client) -> Client:
    """A client on the default home (SQLite, file://) with the bucket ``landing``: for checks of input."""
    local_client.lake.create_bucket(bucket=BUCKET)
    return local_client
