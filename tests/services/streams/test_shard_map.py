"""The put path's shard map on every backend: the plain-SQL read both record stores' puts share
(``read_shard_map``) gives what the Core reads give, and a put refuses what it must."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest
from sqlalchemy import update

from crispml.sdk.client import Client
from crispml.services.streams.backends.base import load_shards, load_stream, read_shard_map
from crispml.services.streams.errors import ResourceInUseException, ResourceNotFoundException
from crispml.services.streams.store import STREAMS
from tests.services.streams.conftest import stored_count

SHARD = "shardId-{:012d}".format


def typed(value: Any) -> list[tuple[str, type, Any]]:
    """A dataclass's fields with their values' types (and time zones): ``==`` alone takes 1 for True
    and a datetime for the same instant in another zone."""
    return [(f.name, type(v), getattr(v, "tzinfo", None))
            for f in fields(value) for v in [getattr(value, f.name)]]


def test_the_shard_map_is_what_core_reads_after_resharding(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=3)
    streams.put_records(stream_name="clicks", records=[{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(30)])
    # Open shards whose numbers are not in hash-key order (3 covers the top two thirds), one of them with
    # a first hash key of fewer digits than the next one's (ordered as text, 5 would come after 3).
    streams.merge_shards(stream_name="clicks", shard_to_merge=SHARD(1), adjacent_shard_to_merge=SHARD(2))
    streams.split_shard(stream_name="clicks", shard_to_split=SHARD(0), new_starting_hash_key=str(9 * 10**37))
    streams.put_records(stream_name="clicks", records=[{"Data": b"y", "PartitionKey": f"k{i}"} for i in range(30)])

    db = streams_client.platform.db
    with db.connect() as conn:
        stream, shards = load_stream(conn, "clicks"), load_shards(conn, "clicks", open_only=True)
    with db.cursor() as cursor:
        got_stream, got_shards = read_shard_map(db, cursor, "clicks")
    assert [(s.number, s.start) for s in got_shards] == [(4, 0), (5, 9 * 10**37), (3, shards[2].start)]
    assert (got_stream, got_shards) == (stream, shards)
    assert typed(got_stream) == typed(stream)
    assert [typed(s) for s in got_shards] == [typed(s) for s in shards]

    with db.cursor() as cursor, pytest.raises(ResourceNotFoundException, match="Stream nope not found"):
        read_shard_map(db, cursor, "nope")


def test_a_put_refuses_a_stream_that_is_not_active(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=2)
    record = {"Data": b"x", "PartitionKey": "k"}
    streams.put_records(stream_name="clicks", records=[record])
    for status, error, message in (("CREATING", ResourceInUseException, "is CREATING, not ACTIVE"),
                                   ("DELETING", ResourceNotFoundException, "is being deleted")):
        with streams_client.platform.db.begin() as conn:
            conn.execute(update(STREAMS).where(STREAMS.c.name == "clicks").values(status=status))
        with pytest.raises(error, match=message):
            streams.put_records(stream_name="clicks", records=[record])
    with streams_client.platform.db.begin() as conn:
        conn.execute(update(STREAMS).where(STREAMS.c.name == "clicks").values(status="UPDATING"))
    assert streams.put_records(stream_name="clicks", records=[record]).failed_record_count == 0


def test_a_stream_made_again_on_the_other_store_takes_the_next_put(
    request: pytest.FixtureRequest, streams_client: Client, streams: Any, make_stream: Callable[..., str], store: str,
) -> None:
    other = "embedded" if store != "embedded" else request.getfixturevalue("redis_url")
    records = [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(10)]
    make_stream("clicks", shards=2)
    streams.put_records(stream_name="clicks", records=records)  # the service now knows the stream's store
    streams.delete_stream(stream_name="clicks")
    streams.create_stream(stream_name="clicks", shard_count=2, record_store=other)
    assert streams.put_records(stream_name="clicks", records=records).failed_record_count == 0
    assert stored_count(streams_client, other, "clicks") == 10
