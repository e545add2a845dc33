"""Kinesis's arithmetic: hash keys, uniform ranges, sequence numbers and iterator tokens."""

from __future__ import annotations

import base64
import hashlib
import itertools

import pytest

from crispml.services.streams.backends.base import Batch, route
from crispml.services.streams.errors import ExpiredIteratorException, InvalidArgumentException
from crispml.services.streams.rules import (
    HASH_KEY_SPACE,
    IteratorPosition,
    check_not_expired,
    decode_iterator,
    encode_iterator,
    hash_key_of,
    parse_hash_key,
    parse_sequence_number,
    sequence_number,
    sequence_numbers,
    shard_id,
    shard_number,
    uniform_ranges,
)


def test_hash_key_is_the_md5_of_the_partition_key_as_a_128_bit_number() -> None:
    assert hash_key_of("user-1") == int(hashlib.md5(b"user-1").hexdigest(), 16)
    assert hash_key_of("é") == int(hashlib.md5("é".encode()).hexdigest(), 16)  # UTF-8, not Latin-1
    assert 0 <= hash_key_of("x") < HASH_KEY_SPACE


def test_routing_by_partition_key_puts_each_record_in_the_shard_holding_its_md5() -> None:
    keys = [f"user-{i}" for i in range(2000)] + ["é", "日本"]
    # uneven ranges, one starting exactly at a key's hash (the range holds its first key)
    starts = sorted({0, hash_key_of("user-7"), 2**126, 2**127 + 12345, 3 * 2**126})
    groups = route(starts, Batch(keys, [b""] * len(keys)), list(range(len(keys))))
    expected: list[list[int]] = [[] for _ in starts]
    for i, key in enumerate(keys):
        expected[max(n for n, start in enumerate(starts) if start <= hash_key_of(key))].append(i)
    assert groups == expected
    explicit = [hash_key_of(k) for k in keys]
    assert route(starts, Batch(keys, [b""] * len(keys), explicit), list(range(len(keys)))) == expected
    assert keys.index("user-7") in groups[starts.index(hash_key_of("user-7"))]


@pytest.mark.parametrize("first", [0, 1, 998, 10**12 - 3, 10**32 - 2])
def test_sequence_numbers_of_a_run_are_those_of_each_counter(first: int) -> None:
    numbers = sequence_numbers(123_456_789, 7, first, 5)
    assert numbers == [sequence_number(123_456_789, 7, c) for c in range(first, first + 5)]
    assert all(len(n) == 56 for n in numbers) and numbers == sorted(numbers)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_uniform_ranges_cover_the_hash_key_space_without_gaps(count: int) -> None:
    ranges = uniform_ranges(count)
    assert ranges[0][0] == 0 and ranges[-1][1] == HASH_KEY_SPACE - 1
    assert all(end + 1 == nxt for (_, end), (nxt, _) in itertools.pairwise(ranges))
    sizes = {end - start + 1 for start, end in ranges}
    assert max(sizes) - min(sizes) <= 1
    if count == 2:  # Kinesis's split point for two shards
        assert ranges[1][0] == 170141183460469231731687303715884105728


def test_sequence_numbers_are_56_digits_ordered_like_their_counters() -> None:
    numbers = [sequence_number(123, 7, counter) for counter in (0, 1, 9, 10, 10**17 * 1_700_000_000_000 + 5)]
    assert all(len(n) == 56 and n.isdigit() and n.startswith("49") for n in numbers)
    assert numbers == sorted(numbers) == sorted(numbers, key=int)
    assert parse_sequence_number(numbers[2], tag=123, number=7, stream="s", shard="shardId-000000000007") == 9


@pytest.mark.parametrize(("text", "why"), [
    ("12345", "not a sequence number"),
    (sequence_number(124, 7, 1), "did not come from this stream"),
    (sequence_number(123, 8, 1), "did not come from this stream"),
])
def test_a_foreign_or_malformed_sequence_number_is_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidArgumentException, match=why):
        parse_sequence_number(text, tag=123, number=7, stream="s", shard="shardId-000000000007")


def test_shard_ids_and_hash_keys_are_parsed_strictly() -> None:
    assert shard_id(7) == "shardId-000000000007" and shard_number("shardId-000000000007") == 7
    with pytest.raises(InvalidArgumentException, match="not a shard id"):
        shard_number("shard-7")
    assert parse_hash_key(str(HASH_KEY_SPACE - 1)) == HASH_KEY_SPACE - 1
    for bad in (str(HASH_KEY_SPACE), "-1", "1e5", "", "١٢"):
        with pytest.raises(InvalidArgumentException, match="ExplicitHashKey"):
            parse_hash_key(bad)


def test_iterators_round_trip_and_reject_tampering() -> None:
    position = IteratorPosition("clicks", "st-1", 3, 41, 1_700_000_000_000)
    token = encode_iterator(position)
    assert decode_iterator(token) == position
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[-3] ^= 1  # one flipped bit in the payload
    for bad in (base64.urlsafe_b64encode(bytes(raw)).decode(), token[:-4], "not-an-iterator", "", "ÿÿ"):
        with pytest.raises(InvalidArgumentException, match="ShardIterator is not valid"):
            decode_iterator(bad)


def test_an_iterator_lives_five_minutes() -> None:
    position = IteratorPosition("clicks", "st-1", 0, -1, 1_000_000)
    check_not_expired(position, 1_000_000 + 300_000)
    with pytest.raises(ExpiredIteratorException, match="Iterator expired"):
        check_not_expired(position, 1_000_000 + 300_001)
