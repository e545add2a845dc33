"""Stream operations on every backend: create, describe, list, delete, retention, shard listing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.streams.errors import (
    ExpiredNextTokenException,
    InvalidArgumentException,
    LimitExceededException,
    RecordStoreUnavailable,
    ResourceInUseException,
    ResourceNotFoundException,
)
from crispml.services.streams.rules import HASH_KEY_SPACE, SHARD_QUOTA
from tests.fixtures.homes import once_on_embedded_sqlite
from tests.services.streams.conftest import read_all, stored_count


def test_create_describe_list_delete(streams: Any, make_stream: Callable[..., str], store: str) -> None:
    make_stream("clicks", shards=3)
    make_stream("orders", shards=1)
    description = streams.describe_stream(stream_name="clicks").stream_description
    assert (description.stream_name, description.stream_status, description.retention_period_hours) == (
        "clicks", "ACTIVE", 24)
    assert description.stream_arn == "crn:crispml:streams:::stream/clicks"
    assert description.stream_mode_details.stream_mode == "PROVISIONED"
    assert description.record_store == store
    shards = description.shards
    assert [s.shard_id for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    assert int(shards[0].hash_key_range.starting_hash_key) == 0
    assert int(shards[-1].hash_key_range.ending_hash_key) == HASH_KEY_SPACE - 1
    assert all(s.sequence_number_range.ending_sequence_number is None for s in shards)  # all open
    summary = streams.describe_stream_summary(stream_name="clicks").stream_description_summary
    assert (summary.open_shard_count, summary.stream_status) == (3, "ACTIVE")

    listed = streams.list_streams()
    assert listed.stream_names == ["clicks", "orders"] and not listed.has_more_streams
    assert [s.stream_status for s in listed.stream_summaries] == ["ACTIVE", "ACTIVE"]

    streams.put_record(stream_name="clicks", data=b"x", partition_key="k")
    streams.delete_stream(stream_name="clicks")
    assert streams.list_streams().stream_names == ["orders"]
    with pytest.raises(ResourceNotFoundException, match="Stream clicks not found"):
        streams.describe_stream(stream_name="clicks")
    # the name can be used again, and the new stream starts empty
    make_stream("clicks", shards=1)
    assert read_all(streams, "clicks") == {"shardId-000000000000": []}


def test_create_refuses_bad_input(streams: Any, make_stream: Callable[..., str], store: str) -> None:
    make_stream("clicks")
    with pytest.raises(ResourceInUseException, match="already exists"):
        make_stream("clicks")
    with pytest.raises(InvalidArgument, match="stream name 'bad name!' is not valid"):
        make_stream("bad name!")
    with pytest.raises(InvalidArgumentException, match="ShardCount is required"):
        streams.create_stream(stream_name="no-count", record_store=store)
    with pytest.raises(InvalidArgument, match="shard_count"):
        make_stream("zero", shards=0)
    with pytest.raises(LimitExceededException, match="shard quota"):
        make_stream("huge", shards=SHARD_QUOTA)
    with pytest.raises(InvalidArgumentException, match="RecordStore 'memcached' is not valid"):
        streams.create_stream(stream_name="elsewhere", shard_count=1, record_store="memcached")
    with pytest.raises(InvalidArgumentException, match="unknown stream record store URI scheme 'kafka'"):
        streams.create_stream(stream_name="elsewhere", shard_count=1, record_store="kafka://host:9092")
    assert streams.list_streams().stream_names == ["clicks"]


def test_on_demand_streams_start_with_four_shards(streams: Any, store: str) -> None:
    streams.create_stream(stream_name="auto", stream_mode_details={"StreamMode": "ON_DEMAND"}, record_store=store)
    summary = streams.describe_stream_summary(stream_name="auto").stream_description_summary
    assert (summary.stream_mode_details.stream_mode, summary.open_shard_count) == ("ON_DEMAND", 4)
    with pytest.raises(InvalidArgumentException, match="ShardCount cannot be given"):
        streams.create_stream(stream_name="auto2", shard_count=2, record_store=store,
                              stream_mode_details={"StreamMode": "ON_DEMAND"})
    with pytest.raises(InvalidArgumentException, match="ON_DEMAND"):
        streams.update_shard_count(stream_name="auto", target_shard_count=8)


@once_on_embedded_sqlite
@pytest.mark.parametrize(("method", "fields"), [
    ("describe_stream_summary", {}),
    ("list_shards", {}),
    ("delete_stream", {}),
    ("put_record", {"data": b"x", "partition_key": "k"}),
    ("put_records", {"records": [{"Data": b"x", "PartitionKey": "k"}]}),
    ("get_shard_iterator", {"shard_id": "shardId-000000000000", "shard_iterator_type": "LATEST"}),
    ("increase_stream_retention_period", {"retention_period_hours": 48}),
    ("update_shard_count", {"target_shard_count": 2}),
])
def test_unknown_stream_is_resource_not_found(streams: Any, method: str, fields: dict[str, Any]) -> None:
    with pytest.raises(ResourceNotFoundException, match="Stream nope not found"):
        getattr(streams, method)(stream_name="nope", **fields)


def test_list_streams_pages(streams: Any, make_stream: Callable[..., str]) -> None:
    for name in ("a", "b", "c", "d", "e"):
        make_stream(name)
    first = streams.list_streams(limit=2)
    assert first.stream_names == ["a", "b"] and first.has_more_streams
    second = streams.list_streams(limit=2, next_token=first.next_token)
    assert second.stream_names == ["c", "d"]
    assert streams.list_streams(exclusive_start_stream_name="d").stream_names == ["e"]
    with pytest.raises(InvalidArgumentException, match="NextToken is not valid"):
        streams.list_streams(next_token="garbage")


def test_list_shards_pages_and_filters(streams: Any, make_stream: Callable[..., str], clock: FixedClock) -> None:
    make_stream("clicks", shards=2)
    clock.advance(hours=1)
    streams.split_shard(stream_name="clicks", shard_to_split="shardId-000000000000",
                        new_starting_hash_key=str(2**126))  # closes 0, opens 2 and 3
    everything = [s.shard_id for s in streams.list_shards(stream_name="clicks").shards]
    assert everything == [f"shardId-00000000000{i}" for i in range(4)]
    page = streams.list_shards(stream_name="clicks", max_results=3)
    assert [s.shard_id for s in page.shards] == everything[:3]
    rest = streams.list_shards(next_token=page.next_token)
    assert [s.shard_id for s in rest.shards] == everything[3:] and rest.next_token is None

    def picked(**shard_filter: Any) -> list[str]:
        return [s.shard_id[-1] for s in streams.list_shards(stream_name="clicks", shard_filter=shard_filter).shards]

    assert picked(Type="AT_LATEST") == ["1", "2", "3"]
    assert picked(Type="AT_TRIM_HORIZON") == ["0", "1"]  # open when the oldest record could have arrived
    assert picked(Type="FROM_TRIM_HORIZON") == ["0", "1", "2", "3"]
    assert picked(Type="AFTER_SHARD_ID", ShardId="shardId-000000000001") == ["2", "3"]
    before_split = clock.now() - timedelta(minutes=30)
    assert picked(Type="AT_TIMESTAMP", Timestamp=before_split.isoformat()) == ["0", "1"]
    assert picked(Type="FROM_TIMESTAMP", Timestamp=clock.now().isoformat()) == ["1", "2", "3"]

    with pytest.raises(InvalidArgumentException, match="NextToken and StreamName"):
        streams.list_shards(stream_name="clicks", next_token=page.next_token)
    with pytest.raises(InvalidArgumentException, match="needs a ShardId"):
        picked(Type="AFTER_SHARD_ID")
    clock.advance(minutes=6)
    with pytest.raises(ExpiredNextTokenException, match="300 seconds"):
        streams.list_shards(next_token=page.next_token)


def test_retention_bounds_and_direction(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks")
    streams.increase_stream_retention_period(stream_name="clicks", retention_period_hours=168)
    assert streams.describe_stream_summary(stream_name="clicks").stream_description_summary \
        .retention_period_hours == 168
    with pytest.raises(InvalidArgumentException, match="can not be shorter"):
        streams.increase_stream_retention_period(stream_name="clicks", retention_period_hours=48)
    with pytest.raises(InvalidArgumentException, match="can not be longer"):
        streams.decrease_stream_retention_period(stream_name="clicks", retention_period_hours=200)
    for hours in (23, 8_761):
        with pytest.raises(InvalidArgumentException, match="24-8760"):
            streams.increase_stream_retention_period(stream_name="clicks", retention_period_hours=hours)
    streams.decrease_stream_retention_period(stream_name="clicks", retention_period_hours=24)
    assert streams.describe_stream_summary(stream_name="clicks").stream_description_summary \
        .retention_period_hours == 24


def test_expired_records_are_not_read_and_are_trimmed(
    streams_client: Client, streams: Any, make_stream: Callable[..., str], clock: FixedClock, store: str,
) -> None:
    make_stream("clicks")
    streams.increase_stream_retention_period(stream_name="clicks", retention_period_hours=48)
    streams.put_records(stream_name="clicks", records=[{"Data": f"old-{i}", "PartitionKey": "k"} for i in range(3)])
    clock.advance(hours=30)
    streams.put_record(stream_name="clicks", data=b"new", partition_key="k")
    assert [r.data for r in read_all(streams, "clicks")["shardId-000000000000"]] == [b"old-0", b"old-1", b"old-2",
                                                                                      b"new"]
    assert stored_count(streams_client, store, "clicks") == 4
    # shorter retention: the old records are past it, and go now; the new one stays
    streams.decrease_stream_retention_period(stream_name="clicks", retention_period_hours=24)
    assert [r.data for r in read_all(streams, "clicks")["shardId-000000000000"]] == [b"new"]
    assert stored_count(streams_client, store, "clicks") == 1
    clock.advance(hours=25)  # now the new one has expired too: not returned even before it is trimmed
    assert read_all(streams, "clicks")["shardId-000000000000"] == []
    assert stored_count(streams_client, store, "clicks") == 1
    streams.put_record(stream_name="clicks", data=b"newest", partition_key="k")  # a put trims what expired
    assert stored_count(streams_client, store, "clicks") == 1
    assert [r.data for r in read_all(streams, "clicks")["shardId-000000000000"]] == [b"newest"]


def test_describe_stream_pages_its_shards(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=5)
    first = streams.describe_stream(stream_name="clicks", limit=2).stream_description
    assert [s.shard_id[-1] for s in first.shards] == ["0", "1"] and first.has_more_shards
    rest = streams.describe_stream(stream_name="clicks", exclusive_start_shard_id=first.shards[-1].shard_id)
    assert [s.shard_id[-1] for s in rest.stream_description.shards] == ["2", "3", "4"]
    assert not rest.stream_description.has_more_shards


def test_an_unreachable_redis_is_a_clear_error(local_client: Client) -> None:
    with pytest.raises(RecordStoreUnavailable, match=r"cannot reach the Redis record store redis://127\.0\.0\.1:1/0"):
        local_client.streams.create_stream(stream_name="clicks", shard_count=1, record_store="redis://127.0.0.1:1/0")
    assert local_client.streams.list_streams().stream_names == []


def test_a_missing_redis_package_names_the_extra(local_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now fails, as when it is not installed
    monkeypatch.delitem(sys.modules, "crispml.services.streams.backends.redis", raising=False)
    with pytest.raises(InvalidArgumentException, match=r"pip install 'crispml\[redis\]'"):
        local_client.streams.create_stream(stream_name="clicks", shard_count=1,
                                           record_store="redis://127.0.0.1:6379/0")


def test_the_redis_store_parses_replies_with_hiredis(local_client: Client, redis_url: str) -> None:
    """``crispml[redis]`` brings hiredis, and the store's client uses it (redis-py's own parser in Python
    is what made a 4-shard PutRecords a third slower)."""
    import redis.utils

    from crispml.services.streams.backends.redis import RedisRecordStore

    assert redis.utils.HIREDIS_AVAILABLE, "hiredis is missing: pip install 'crispml[redis]'"
    store = RedisRecordStore(redis_url, local_client.platform.db)
    try:
        store.check()
        connection = store._redis.connection_pool.get_connection()
        try:
            assert type(connection._parser).__name__ == "_HiredisParser"
        finally:
            store._redis.connection_pool.release(connection)
    finally:
        store.close()
