"""Resharding on every backend: split, merge, UpdateShardCount; parents closed with an end and
readable until it; children take new records; nothing is lost while producers keep putting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from crispml.services.streams.errors import (
    InvalidArgumentException,
    ResourceNotFoundException,
)
from crispml.services.streams.rules import HASH_KEY_SPACE, uniform_ranges
from tests.services.streams.conftest import read_all, read_shard

SHARD = "shardId-{:012d}".format


def shards_of(streams: Any, stream: str) -> dict[str, Any]:
    return {s.shard_id: s for s in streams.list_shards(stream_name=stream).shards}


def put_many(streams: Any, stream: str, tag: str, count: int) -> list[str]:
    result = streams.put_records(stream_name=stream,
                                 records=[{"Data": f"{tag}-{i}", "PartitionKey": f"{tag}-{i}"} for i in range(count)])
    assert result.failed_record_count == 0
    return [r.shard_id for r in result.records]


def test_split_closes_the_parent_and_children_take_new_records(
    streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=1)
    put_many(streams, "clicks", "before", 20)
    middle = HASH_KEY_SPACE // 2
    streams.split_shard(stream_name="clicks", shard_to_split=SHARD(0), new_starting_hash_key=str(middle))
    shards = shards_of(streams, "clicks")
    assert list(shards) == [SHARD(0), SHARD(1), SHARD(2)]
    parent, low, high = shards[SHARD(0)], shards[SHARD(1)], shards[SHARD(2)]
    assert parent.sequence_number_range.ending_sequence_number is not None  # closed
    assert (low.parent_shard_id, high.parent_shard_id) == (SHARD(0), SHARD(0))
    assert (int(low.hash_key_range.ending_hash_key), int(high.hash_key_range.starting_hash_key)) == (middle - 1,
                                                                                                    middle)
    assert streams.describe_stream_summary(stream_name="clicks").stream_description_summary.open_shard_count == 2

    landed = put_many(streams, "clicks", "after", 20)
    assert set(landed) == {SHARD(1), SHARD(2)}  # none in the closed parent
    records = read_all(streams, "clicks")
    assert [r.data for r in records[SHARD(0)]] == [f"before-{i}".encode() for i in range(20)]
    assert records[SHARD(0)][-1].sequence_number == parent.sequence_number_range.ending_sequence_number
    assert sorted(r.data for r in records[SHARD(1)] + records[SHARD(2)]) == sorted(
        f"after-{i}".encode() for i in range(20))

    # reading the parent to its end: no next iterator, and its children named
    iterator = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD(0),
                                          shard_iterator_type="TRIM_HORIZON").shard_iterator
    page = streams.get_records(shard_iterator=iterator, limit=5)
    assert page.next_shard_iterator and page.child_shards == []
    rest = streams.get_records(shard_iterator=page.next_shard_iterator)
    assert len(rest.records) == 15 and rest.next_shard_iterator is None and rest.millis_behind_latest == 0
    assert [(c.shard_id, c.parent_shards) for c in rest.child_shards] == [(SHARD(1), [SHARD(0)]),
                                                                          (SHARD(2), [SHARD(0)])]
    latest = streams.get_shard_iterator(stream_name="clicks", shard_id=SHARD(0), shard_iterator_type="LATEST")
    assert streams.get_records(shard_iterator=latest.shard_iterator).next_shard_iterator is None


def test_merge_needs_adjacent_open_shards(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=3)
    put_many(streams, "clicks", "before", 30)
    with pytest.raises(InvalidArgumentException, match="not adjacent"):
        streams.merge_shards(stream_name="clicks", shard_to_merge=SHARD(0), adjacent_shard_to_merge=SHARD(2))
    streams.merge_shards(stream_name="clicks", shard_to_merge=SHARD(1), adjacent_shard_to_merge=SHARD(2))
    child = shards_of(streams, "clicks")[SHARD(3)]
    assert (child.parent_shard_id, child.adjacent_parent_shard_id) == (SHARD(1), SHARD(2))
    assert int(child.hash_key_range.starting_hash_key) == uniform_ranges(3)[1][0]
    assert int(child.hash_key_range.ending_hash_key) == HASH_KEY_SPACE - 1
    with pytest.raises(InvalidArgumentException, match="is closed"):
        streams.merge_shards(stream_name="clicks", shard_to_merge=SHARD(0), adjacent_shard_to_merge=SHARD(1))
    with pytest.raises(ResourceNotFoundException, match="does not exist"):
        streams.split_shard(stream_name="clicks", shard_to_split=SHARD(9), new_starting_hash_key="5")
    with pytest.raises(InvalidArgumentException, match="must be above the shard's starting hash key"):
        streams.split_shard(stream_name="clicks", shard_to_split=SHARD(0), new_starting_hash_key="0")
    assert sum(len(r) for r in read_all(streams, "clicks").values()) == 30


@pytest.mark.parametrize(("start", "target"), [(2, 4), (4, 2), (3, 2), (2, 3)])
def test_update_shard_count_reaches_uniform_ranges(
    streams: Any, make_stream: Callable[..., str], start: int, target: int,
) -> None:
    make_stream("clicks", shards=start)
    put_many(streams, "clicks", "before", 50)
    result = streams.update_shard_count(stream_name="clicks", target_shard_count=target)
    assert (result.current_shard_count, result.target_shard_count) == (start, target)
    shards = list(shards_of(streams, "clicks").values())
    open_ = [s for s in shards if s.sequence_number_range.ending_sequence_number is None]
    assert [(int(s.hash_key_range.starting_hash_key), int(s.hash_key_range.ending_hash_key))
            for s in sorted(open_, key=lambda s: int(s.hash_key_range.starting_hash_key))] == uniform_ranges(target)
    for shard in shards:  # every shard but the first generation has one or two parents, which exist
        parents = [p for p in (shard.parent_shard_id, shard.adjacent_parent_shard_id) if p]
        assert all(p in {s.shard_id for s in shards} for p in parents)
        assert parents or int(shard.shard_id[-3:]) < start
    assert streams.describe_stream(stream_name="clicks").stream_description.stream_status == "ACTIVE"
    put_many(streams, "clicks", "after", 50)
    everything = sorted(r.data for records in read_all(streams, "clicks").values() for r in records)
    assert everything == sorted([f"before-{i}".encode() for i in range(50)] + [f"after-{i}".encode()
                                                                             for i in range(50)])


def test_update_shard_count_limits_and_intermediate_shards(streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=2)
    with pytest.raises(InvalidArgumentException, match="between half and double"):
        streams.update_shard_count(stream_name="clicks", target_shard_count=5)
    with pytest.raises(InvalidArgumentException, match="uniform ranges already"):
        streams.update_shard_count(stream_name="clicks", target_shard_count=2)
    eighth = HASH_KEY_SPACE // 8
    streams.split_shard(stream_name="clicks", shard_to_split=SHARD(0), new_starting_hash_key=str(2 * eighth))
    streams.split_shard(stream_name="clicks", shard_to_split=SHARD(2), new_starting_hash_key=str(eighth))
    # open: [0, 1/8) [1/8, 1/4) [1/4, 1/2) [1/2, 1): the first half is three pieces, merged in two steps
    put_many(streams, "clicks", "before", 40)
    streams.update_shard_count(stream_name="clicks", target_shard_count=2)
    shards = shards_of(streams, "clicks")
    intermediate = shards[SHARD(6)]
    assert (intermediate.parent_shard_id, intermediate.adjacent_parent_shard_id) == (SHARD(4), SHARD(5))
    assert intermediate.sequence_number_range.ending_sequence_number is not None  # opened and closed at once
    final = shards[SHARD(7)]
    assert (final.parent_shard_id, final.adjacent_parent_shard_id) == (SHARD(6), SHARD(3))
    assert read_shard(streams, "clicks", SHARD(6)) == []
    assert shards[SHARD(1)].sequence_number_range.ending_sequence_number is None  # [1/2, 1) was already right
    assert sum(len(r) for r in read_all(streams, "clicks").values()) == 40


def test_no_record_is_lost_while_producers_put_during_resharding(
    streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=2)
    acknowledged: list[bytes] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def produce(tag: str) -> None:
        i = 0
        try:
            while not stop.is_set():
                batch = [f"{tag}-{i + j}".encode() for j in range(25)]
                result = streams.put_records(stream_name="clicks",
                                             records=[{"Data": d, "PartitionKey": d.decode()} for d in batch])
                acknowledged.extend(d for d, r in zip(batch, result.records, strict=True) if r.error_code is None)
                i += 25
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            failures.append(exc)

    producers = [threading.Thread(target=produce, args=(f"p{n}",)) for n in range(2)]
    for producer in producers:
        producer.start()
    try:
        for target in (4, 3, 6, 3):
            streams.update_shard_count(stream_name="clicks", target_shard_count=target)
    finally:
        stop.set()
        for producer in producers:
            producer.join(timeout=60)
    assert not failures, failures
    stored = [r.data for records in read_all(streams, "clicks").values() for r in records]
    assert len(stored) == len(set(stored)), "a record was stored twice"
    assert sorted(stored) == sorted(acknowledged), "acknowledged records missing (or unacknowledged ones stored)"
    assert len(acknowledged) > 0
