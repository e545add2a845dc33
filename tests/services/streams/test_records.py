"""Records on every backend: routing by hash key, sequence numbers, limits, per-record failures,
iterators of every type, expiry, and what GetRecords reports."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument
from crispml.services.streams.errors import (
    ExpiredIteratorException,
    InvalidArgumentException,
    ResourceNotFoundException,
)
from crispml.services.streams.rules import MAX_RECORD_BYTES
from tests.services.streams.conftest import read_all, read_shard

SHARD0, SHARD1 = "shardId-000000000000", "shardId-000000000001"


def md5_number(key: str) -> int:
    return int(hashlib.md5(key.encode()).hexdigest(), 16)


def test_partition_keys_pick_shards_by_md5_hash_range(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=2)
    middle = int(streams.list_shards(stream_name="clicks").shards[1].hash_key_range.starting_hash_key)
    keys = [f"user-{i}" for i in range(40)]
    result = streams.put_records(stream_name="clicks", records=[{"Data": k, "PartitionKey": k} for k in keys])
    assert result.failed_record_count == 0
    expected = [SHARD1 if md5_number(k) >= middle else SHARD0 for k in keys]
    assert [r.shard_id for r in result.records] == expected
    assert {SHARD0, SHARD1} == set(expected)  # both shards took some
    stored = read_all(streams, "clicks")
    for shard, records in stored.items():
        assert [r.partition_key for r in records] == [k for k, s in zip(keys, expected, strict=True) if s == shard]
        assert all(r.data == r.partition_key.encode() for r in records)


def test_explicit_hash_key_overrides_the_partition_key(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=2)
    low_key = next(k for k in (f"k{i}" for i in range(100)) if md5_number(k) < 2**127)
    put = streams.put_record(stream_name="clicks", data=b"x", partition_key=low_key, explicit_hash_key=str(2**128 - 1))
    assert put.shard_id == SHARD1
    batch = streams.put_records(stream_name="clicks", records=[
        {"Data": b"a", "PartitionKey": low_key, "ExplicitHashKey": str(2**127)},
        {"Data": b"b", "PartitionKey": low_key, "ExplicitHashKey": "0"},
        {"Data": b"c", "PartitionKey": low_key, "ExplicitHashKey": str(2**128)}])
    assert [r.shard_id for r in batch.records[:2]] == [SHARD1, SHARD0]
    assert batch.records[2].error_code == "InvalidArgumentException"
    assert "larger than 2^128-1" in (batch.records[2].error_message or "")


def test_sequence_numbers_strictly_increase_per_shard(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=2)
    seen: dict[str, list[str]] = {SHARD0: [], SHARD1: []}
    for round_ in range(3):
        batch = streams.put_records(stream_name="clicks",
                                    records=[{"Data": b"x", "PartitionKey": f"{round_}-{i}"} for i in range(30)])
        for record in batch.records:
            seen[record.shard_id].append(record.sequence_number)
        single = streams.put_record(stream_name="clicks", data=b"y", partition_key=f"single-{round_}")
        seen[single.shard_id].append(single.sequence_number)
    for shard, numbers in seen.items():
        assert all(len(n) == 56 and n.isdigit() for n in numbers)
        assert [int(n) for n in numbers] == sorted({int(n) for n in numbers}), f"{shard} not strictly increasing"
        assert [r.sequence_number for r in read_shard(streams, "clicks", shard)] == numbers
    assert not set(seen[SHARD0]) & set(seen[SHARD1])  # unique across the stream too


def test_records_keep_data_key_and_arrival_time(
    streams: Any, make_stream: Callable[..., str], clock: FixedClock,
) -> None:
    make_stream("clicks")
    streams.put_record(stream_name="clicks", data=b"\x00\xffbinary", partition_key="ключ")
    clock.advance(seconds=3)
    streams.put_record(stream_name="clicks", data="text is UTF-8", partition_key="k")
    streams.put_record(stream_name="clicks", data=io.BytesIO(b"from a file"), partition_key="k")
    records = read_shard(streams, "clicks", SHARD0)
    assert [(r.data, r.partition_key) for r in records] == [
        (b"\x00\xffbinary", "ключ"), (b"text is UTF-8", "k"), (b"from a file", "k")]
    first, second, _ = (r.approximate_arrival_timestamp for r in records)
    assert second - first == timedelta(seconds=3)
    assert abs(second - clock.now()) < timedelta(milliseconds=1)
    json_form = streams.get_records(shard_iterator=streams.get_shard_iterator(
        stream_name="clicks", shard_id=SHARD0, shard_iterator_type="TRIM_HORIZON").shard_iterator).to_json_dict()
    assert json_form["records"][0]["data"] == "AP9iaW5hcnk="  # base64, as on Kinesis's wire


def test_put_records_reports_bad_records_and_keeps_the_others(
    streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks")
    result = streams.put_records(stream_name="clicks", records=[
        {"Data": b"ok-1", "PartitionKey": "k"},
        {"Data": b"x" * MAX_RECORD_BYTES, "PartitionKey": "k"},  # data + key is 1 byte over 1 MiB
        {"Data": b"ok-2", "PartitionKey": "k"},
        {"Data": b"x", "PartitionKey": ""},
        {"Data": b"x", "PartitionKey": "p" * 257},
        {"Data": b"ok-3", "PartitionKey": "p" * 256},
        {"Data": b"y" * (MAX_RECORD_BYTES - 1), "PartitionKey": "k"},  # exactly 1 MiB: fits
    ])
    assert result.failed_record_count == 3
    codes = [r.error_code for r in result.records]
    assert codes == [None, "InvalidArgumentException", None, "InvalidArgumentException",
                     "InvalidArgumentException", None, None]
    assert "1,048,577 bytes" in (result.records[1].error_message or "")
    assert "1-256 characters" in (result.records[3].error_message or "")
    assert all(r.sequence_number and r.shard_id == SHARD0 for r in result.records if r.error_code is None)
    stored = [r.data for r in read_shard(streams, "clicks", SHARD0)]
    assert stored[:3] == [b"ok-1", b"ok-2", b"ok-3"] and len(stored[3]) == MAX_RECORD_BYTES - 1


def test_whole_request_limits(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks")
    with pytest.raises(InvalidArgument, match="at most 500 items"):
        streams.put_records(stream_name="clicks", records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    with pytest.raises(InvalidArgument, match="at least 1 item"):
        streams.put_records(stream_name="clicks", records=[])
    with pytest.raises(InvalidArgumentException, match="larger than the 5 MiB"):
        streams.put_records(stream_name="clicks", records=[{"Data": b"x" * 1_000_000, "PartitionKey": "k"}] * 6)
    with pytest.raises(InvalidArgument, match=r"records\.0\.partition_key"):
        streams.put_records(stream_name="clicks", records=[{"Data": b"x"}])
    with pytest.raises(InvalidArgumentException, match="larger than the 1 MiB"):
        streams.put_record(stream_name="clicks", data=b"x" * MAX_RECORD_BYTES, partition_key="k")
    with pytest.raises(InvalidArgumentException, match="1-256 characters"):
        streams.put_record(stream_name="clicks", data=b"x", partition_key="")
    with pytest.raises(InvalidArgument, match="limit"):
        streams.get_records(shard_iterator="x", limit=10_001)
    assert read_shard(streams, "clicks", SHARD0) == []  # nothing of the refused calls was stored


def test_iterator_types(streams: Any, make_stream: Callable[..., str], clock: FixedClock) -> None:
    make_stream("clicks")
    numbers = []
    for i in range(5):
        numbers.append(streams.put_record(stream_name="clicks", data=f"r{i}", partition_key="k").sequence_number)
        clock.advance(seconds=10)

    def data(**start: Any) -> list[bytes]:
        return [r.data for r in read_shard(streams, "clicks", SHARD0, **start)]

    assert data() == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert data(shard_iterator_type="AT_SEQUENCE_NUMBER", starting_sequence_number=numbers[2]) == [b"r2", b"r3", b"r4"]
    assert data(shard_iterator_type="AFTER_SEQUENCE_NUMBER", starting_sequence_number=numbers[2]) == [b"r3", b"r4"]
    assert data(shard_iterator_type="AFTER_SEQUENCE_NUMBER", starting_sequence_number=numbers[4]) == []
    start = clock.now() - timedelta(seconds=35)  # between r1 (40 s ago) and r2 (30 s ago)
    assert data(shard_iterator_type="AT_TIMESTAMP", timestamp=start) == [b"r2", b"r3", b"r4"]
    assert data(shard_iterator_type="AT_TIMESTAMP", timestamp=clock.now() + timedelta(hours=1)) == []
    latest = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0,
                                        shard_iterator_type="LATEST").shard_iterator
    streams.put_record(stream_name="clicks", data=b"after-latest", partition_key="k")
    assert [r.data for r in streams.get_records(shard_iterator=latest).records] == [b"after-latest"]


def test_iterator_requests_are_checked(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks")
    make_stream("other")
    foreign = streams.put_record(stream_name="other", data=b"x", partition_key="k").sequence_number
    with pytest.raises(InvalidArgumentException, match="did not come from this stream"):
        streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0, shard_iterator_type="AT_SEQUENCE_NUMBER",
                                   starting_sequence_number=foreign)
    with pytest.raises(InvalidArgumentException, match="StartingSequenceNumber is required"):
        streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0, shard_iterator_type="AT_SEQUENCE_NUMBER")
    with pytest.raises(InvalidArgumentException, match="only allowed with AT_SEQUENCE_NUMBER"):
        streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0, shard_iterator_type="LATEST",
                                   starting_sequence_number=foreign)
    with pytest.raises(InvalidArgumentException, match="Timestamp is required"):
        streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0, shard_iterator_type="AT_TIMESTAMP")
    with pytest.raises(ResourceNotFoundException, match="Shard shardId-000000000009 in stream clicks"):
        streams.get_shard_iterator(stream_name="clicks", shard_id="shardId-000000000009",
                                   shard_iterator_type="LATEST")
    with pytest.raises(InvalidArgumentException, match="not a shard id"):
        streams.get_shard_iterator(stream_name="clicks", shard_id="0", shard_iterator_type="LATEST")
    with pytest.raises(InvalidArgument, match="shard_iterator_type"):
        streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0, shard_iterator_type="OLDEST")


def test_malformed_expired_and_orphaned_iterators(
    streams: Any, make_stream: Callable[..., str], clock: FixedClock,
) -> None:
    make_stream("clicks")
    streams.put_record(stream_name="clicks", data=b"x", partition_key="k")
    iterator = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0,
                                          shard_iterator_type="TRIM_HORIZON").shard_iterator
    for bad in ("not-an-iterator", iterator[:-6], iterator[::-1]):
        with pytest.raises(InvalidArgumentException, match="ShardIterator is not valid"):
            streams.get_records(shard_iterator=bad)
    page = streams.get_records(shard_iterator=iterator)
    clock.advance(seconds=299)
    streams.get_records(shard_iterator=page.next_shard_iterator)  # still alive
    clock.advance(seconds=2)
    with pytest.raises(ExpiredIteratorException, match="Iterator expired"):
        streams.get_records(shard_iterator=page.next_shard_iterator)
    fresh = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0,
                                       shard_iterator_type="TRIM_HORIZON").shard_iterator
    streams.delete_stream(stream_name="clicks")
    make_stream("clicks")  # the same name again: the old iterator must not read the new stream
    with pytest.raises(ResourceNotFoundException, match="Stream clicks not found"):
        streams.get_records(shard_iterator=fresh)


def test_get_records_limit_next_iterator_and_millis_behind(
    streams: Any, make_stream: Callable[..., str], clock: FixedClock,
) -> None:
    make_stream("clicks")
    streams.put_records(stream_name="clicks", records=[{"Data": f"{i}", "PartitionKey": "k"} for i in range(10)])
    clock.advance(seconds=7)
    iterator = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0,
                                          shard_iterator_type="TRIM_HORIZON").shard_iterator
    first = streams.get_records(shard_iterator=iterator, limit=4)
    assert [r.data for r in first.records] == [b"0", b"1", b"2", b"3"]
    assert first.millis_behind_latest == 7_000  # the next unread record arrived 7 s ago
    second = streams.get_records(shard_iterator=first.next_shard_iterator, limit=100)
    assert [r.data for r in second.records] == [str(i).encode() for i in range(4, 10)]
    assert second.millis_behind_latest == 0 and second.next_shard_iterator  # caught up; the shard is open
    empty = streams.get_records(shard_iterator=second.next_shard_iterator)
    assert empty.records == [] and empty.next_shard_iterator and empty.child_shards == []
    streams.put_record(stream_name="clicks", data=b"later", partition_key="k")
    assert [r.data for r in streams.get_records(shard_iterator=empty.next_shard_iterator).records] == [b"later"]


def test_get_records_returns_at_most_10_mib(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks")
    for _ in range(3):  # 12 records of 1 MiB - 1 byte (with the one-byte key): 12 MiB in all
        streams.put_records(stream_name="clicks", records=[
            {"Data": b"z" * (MAX_RECORD_BYTES - 1), "PartitionKey": "k"} for _ in range(4)])
    iterator = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD0,
                                          shard_iterator_type="TRIM_HORIZON").shard_iterator
    first = streams.get_records(shard_iterator=iterator)
    assert len(first.records) == 10
    assert len(streams.get_records(shard_iterator=first.next_shard_iterator).records) == 2


def test_record_data_stays_out_of_the_audit_record(local_client: Any) -> None:
    streams = local_client.streams
    streams.create_stream(stream_name="clicks", shard_count=1)
    streams.put_record(stream_name="clicks", data=b"secret-payload-1", partition_key="k")
    streams.put_records(stream_name="clicks", records=[{"Data": b"secret-payload-2", "PartitionKey": "k"}])
    events = local_client.audit.list_events(action="streams:Put*").events
    assert sorted(e.action for e in events) == ["streams:PutRecord", "streams:PutRecords"]
    for event in events:
        assert event.resource == "crn:crispml:streams:::stream/clicks"
        assert "secret-payload" not in str(event.request_parameters)
        assert (event.request_parameters or {}).get("stream_name") == "clicks"
