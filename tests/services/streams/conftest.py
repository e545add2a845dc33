"""Fixtures of the streams contract suite: one home per backend — records in SQLite, in
PostgreSQL, or in Redis Streams (metadata in SQLite) — and helpers to make and read streams.

Redis is the server of ``redis_url`` (tests/fixtures/servers.py), on the worker's own
database; if it cannot be reached its tests skip on a workstation and fail under
``CI=true``. Keys a test leaves in Redis are removed after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from tests.fixtures.homes import seed_home


@pytest.fixture(params=["embedded-sqlite", pytest.param("embedded-postgresql", marks=pytest.mark.postgresql),
                        pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest) -> str:
    """Where the test's streams keep their records: ``embedded`` or a redis:// URL."""
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return "embedded"


@pytest.fixture
def streams_client(request: pytest.FixtureRequest, store: str, home: Path, clock: FixedClock,
                   sqlite_template: Path) -> Iterator[Client]:
    """A client on a fresh home whose metadata DB is SQLite, or PostgreSQL for embedded-postgresql."""
    settings: dict[str, Any] = {}
    if request.node.callspec.params.get("store") == "embedded-postgresql":
        settings["db_url"] = request.getfixturevalue("postgres_home_url")
    else:
        seed_home(home, sqlite_template)
    client = crispml.connect(home=str(home), clock=clock, **settings)
    yield client
    client.close()


@pytest.fixture
def streams(streams_client: Client) -> Any:
    return streams_client.streams


@pytest.fixture
def make_stream(streams: Any, store: str) -> Callable[..., str]:
    """Create a stream on the test's store: ``make_stream("clicks", shards=2)`` returns its name."""

    def make(name: str = "clicks", shards: int = 1, **fields: Any) -> str:
        streams.create_stream(stream_name=name, shard_count=shards, record_store=store, **fields)
        return name

    return make


def read_shard(streams: Any, stream: str, shard_id: str, **start: Any) -> list[Any]:
    """Every record of a shard from ``start`` (default TRIM_HORIZON) until it is caught up or ends."""
    kind = start.pop("shard_iterator_type", "TRIM_HORIZON")
    iterator = streams.get_shard_iterator(stream_name=stream, shard_id=shard_id, shard_iterator_type=kind,
                                          **start).shard_iterator
    found: list[Any] = []
    while iterator:
        page = streams.get_records(shard_iterator=iterator)
        found += page.records
        if not page.records and page.millis_behind_latest == 0 and page.next_shard_iterator:
            break  # caught up on an open shard
        iterator = page.next_shard_iterator
    return found


def read_all(streams: Any, stream: str) -> dict[str, list[Any]]:
    """Every record of every shard, by shard id."""
    shards = streams.list_shards(stream_name=stream).shards
    return {s.shard_id: read_shard(streams, stream, s.shard_id) for s in shards}


def stored_count(client: Client, store: str, stream: str) -> int:
    """Records the store holds for a stream, counted below the service (expired ones included)."""
    from sqlalchemy import func, select

    from crispml.services.streams.store import RECORDS, SHARDS, STREAMS

    with client.platform.db.connect() as conn:
        stream_id = conn.execute(select(STREAMS.c.stream_id).where(STREAMS.c.name == stream)).scalar_one()
        keys = select(SHARDS.c.shard_key).where(SHARDS.c.stream_name == stream)
        rows = conn.execute(select(func.count()).select_from(RECORDS).where(RECORDS.c.shard_key.in_(keys))).scalar()
    if store == "embedded":
        return int(rows or 0)
    import redis

    server = redis.Redis.from_url(store)
    try:
        return sum(int(server.xlen(key)) for key in server.scan_iter(f"crispml:streams:{stream_id}:*")
                   if not key.endswith(b":meta"))
    finally:
        server.close()
