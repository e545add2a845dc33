"""Puts, buffering hints and object keys, on every backend: records are durable when acknowledged,
delivered when the buffer reaches SizeInMBs or its oldest record IntervalInSeconds (platform time),
into objects named as Firehose names them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.firehose.errors import (
    DeliveryFailedException,
    InvalidArgumentException,
    ResourceNotFoundException,
)
from tests.services.firehose.conftest import BUCKET, UUID4, keys, lines, read, s3_destination

START = datetime(2024, 3, 9, 22, 59, 58, tzinfo=UTC)


@pytest.fixture
def at_start(clock: FixedClock) -> FixedClock:
    clock.set(START)
    return clock


def test_records_are_buffered_until_the_interval_passes_then_keyed_as_firehose_keys_them(
    fh_client: Client, firehose: Any, at_start: FixedClock,
) -> None:
    firehose.create_delivery_stream(delivery_stream_name="clicks", extended_s3_destination_configuration=s3_destination(
        Prefix="raw/clicks/", BufferingHints={"IntervalInSeconds": 60}))
    first = firehose.put_record(delivery_stream_name="clicks", record={"Data": b'{"n": 1}'})
    at_start.advance(seconds=3)  # the next records arrive in the next hour: the key keeps the first's time
    batch = firehose.put_record_batch(delivery_stream_name="clicks",
                                      records=[{"Data": '{"n": 2}\n'}, {"Data": b'{"n": 3}'}])
    assert batch.failed_put_count == 0
    ids = [first.record_id] + [e.record_id for e in batch.request_responses]
    assert len(set(ids)) == 3 and all(ids)
    described = firehose.describe_delivery_stream(delivery_stream_name="clicks").delivery_stream_description
    assert (described.buffered_records, described.buffered_bytes) == (3, 25)
    assert described.oldest_buffered_arrival == START

    at_start.advance(seconds=56)  # 59 s after the first record: not due
    assert firehose.flush_delivery_stream(delivery_stream_name="clicks").deliveries[0].records_delivered == 0
    assert keys(fh_client) == []
    at_start.advance(seconds=1)  # 60 s: due
    (result,) = firehose.flush_delivery_stream().deliveries
    assert (result.records_delivered, result.buffered_records, result.error_code) == (3, 0, None)
    (key,) = keys(fh_client)
    assert re.fullmatch(rf"raw/clicks/2024/03/09/22/clicks-1-2024-03-09-22-59-58-{UUID4}", key), key
    assert result.objects == [f"lake://{BUCKET}/{key}"]
    # JSON lines, as the records came: a newline added only where a record had none
    assert read(fh_client, key) == b'{"n": 1}\n{"n": 2}\n{"n": 3}\n'
    assert firehose.describe_delivery_stream(
        delivery_stream_name="clicks").delivery_stream_description.buffered_records == 0


def test_a_put_that_fills_the_buffer_delivers_it_in_objects_of_at_most_size_in_mbs(
    fh_client: Client, firehose: Any, at_start: FixedClock,
) -> None:
    firehose.create_delivery_stream(delivery_stream_name="big", extended_s3_destination_configuration=s3_destination(
        Prefix="big/", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900}))
    record = b"x" * 99_999 + b"\n"  # 100,000 bytes
    sent = [f"{i:05d}".encode() + record[5:] for i in range(25)]
    for start in range(0, 10, 5):
        firehose.put_record_batch(delivery_stream_name="big", records=[{"Data": r} for r in sent[start:start + 5]])
    assert keys(fh_client) == []  # 1,000,000 bytes: under 1 MiB
    firehose.put_record_batch(delivery_stream_name="big", records=[{"Data": r} for r in sent[10:25]])
    delivered = keys(fh_client)
    assert len(delivered) == 2  # the put delivered two full MiBs itself, without a flush
    sizes = [len(read(fh_client, k)) for k in delivered]
    assert all(size <= 1024 * 1024 for size in sizes) and sum(sizes) == 20 * 100_000
    left = firehose.describe_delivery_stream(delivery_stream_name="big").delivery_stream_description
    assert left.buffered_records == 5
    firehose.flush_delivery_stream(delivery_stream_name="big", force=True)
    assert sorted(lines(fh_client)) == sorted(r.rstrip(b"\n") for r in sent)


def test_an_interval_of_zero_delivers_each_put_and_gzip_compresses(
    fh_client: Client, firehose: Any, at_start: FixedClock,
) -> None:
    firehose.create_delivery_stream(delivery_stream_name="now", extended_s3_destination_configuration=s3_destination(
        BufferingHints={"IntervalInSeconds": 0}, CompressionFormat="GZIP"))
    firehose.put_record(delivery_stream_name="now", record={"Data": b"first"})
    at_start.advance(hours=1)
    firehose.put_record(delivery_stream_name="now", record={"Data": b"second"})
    found = keys(fh_client)
    assert [k.rsplit("/", 1)[0] for k in found] == ["2024/03/09/22", "2024/03/09/23"]  # no Prefix: the time only
    assert all(re.fullmatch(rf"\d{{4}}/\d\d/\d\d/\d\d/now-1-[\d-]{{19}}-{UUID4}\.gz", k) for k in found)
    raw = fh_client.lake.get_object(bucket=BUCKET, key=found[0]).body.read()
    assert raw[:2] == b"\x1f\x8b"  # gzip's magic number: the object is compressed
    assert [read(fh_client, k) for k in found] == [b"first\n", b"second\n"]


def test_custom_prefix_expressions_replace_the_default_time_prefix(
    fh_client: Client, firehose: Any, at_start: FixedClock,
) -> None:
    firehose.create_delivery_stream(delivery_stream_name="custom", extended_s3_destination_configuration=s3_destination(
        Prefix="year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/!{timestamp:HH'h'mm}/"
               "r=!{firehose:random-string}/",
        ErrorOutputPrefix="errors/!{firehose:error-output-type}/!{timestamp:yy-M-d}/"))
    firehose.put_record(delivery_stream_name="custom", record={"Data": b"x"})
    firehose.flush_delivery_stream(delivery_stream_name="custom", force=True)
    (key,) = keys(fh_client)
    assert re.fullmatch(rf"year=2024/month=03/day=09/22h59/r=[0-9a-f]{{11}}/custom-1-2024-03-09-22-59-58-{UUID4}",
                        key), key


def test_force_flushes_every_stream_and_puts_are_checked(fh_client: Client, firehose: Any) -> None:
    for name in ("a", "b"):
        firehose.create_delivery_stream(delivery_stream_name=name,
                                        extended_s3_destination_configuration=s3_destination(Prefix=f"{name}/"))
        firehose.put_record(delivery_stream_name=name, record={"Data": name})
    results = firehose.flush_delivery_stream(force=True).deliveries
    assert {(r.delivery_stream_name, r.records_delivered) for r in results} == {("a", 1), ("b", 1)}
    assert [k.split("/")[0] for k in keys(fh_client)] == ["a", "b"]

    with pytest.raises(ResourceNotFoundException, match="Firehose nope was not found"):
        firehose.put_record(delivery_stream_name="nope", record={"Data": b"x"})
    with pytest.raises(ResourceNotFoundException):
        firehose.flush_delivery_stream(delivery_stream_name="nope")
    with pytest.raises(InvalidArgumentException, match="1,000 KiB"):
        firehose.put_record(delivery_stream_name="a", record={"Data": b"x" * (1_000 * 1024 + 1)})
    firehose.put_record(delivery_stream_name="a", record={"Data": b"x" * (1_000 * 1024)})  # exactly the limit
    with pytest.raises(InvalidArgument, match="records"):
        firehose.put_record_batch(delivery_stream_name="a", records=[{"Data": b"x"}] * 501)
    with pytest.raises(InvalidArgumentException, match="4 MiB"):
        firehose.put_record_batch(delivery_stream_name="a", records=[{"Data": b"x" * 1_000_000}] * 5)
    with pytest.raises(InvalidArgument, match="'record'"):
        firehose.put_record(delivery_stream_name="a")
    mixed = firehose.put_record_batch(delivery_stream_name="a", records=[
        {"Data": b"ok-1"}, {"Data": b"x" * (1_000 * 1024 + 1)}, {"Data": b"ok-2"}])
    assert mixed.failed_put_count == 1
    assert [e.error_code for e in mixed.request_responses] == [None, "InvalidArgumentException", None]
    assert mixed.request_responses[0].record_id and mixed.request_responses[2].record_id
    assert firehose.describe_delivery_stream(
        delivery_stream_name="a").delivery_stream_description.buffered_records == 3  # the big one and ok-1, ok-2


def test_a_failed_delivery_keeps_its_records_and_says_why(
    fh_client: Client, firehose: Any, clock: FixedClock,
) -> None:
    fh_client.lake.create_bucket(bucket="temporary")
    firehose.create_delivery_stream(delivery_stream_name="fragile", extended_s3_destination_configuration={
        "BucketARN": "lake://temporary", "BufferingHints": {"IntervalInSeconds": 0}})
    fh_client.lake.delete_bucket(bucket="temporary")
    acknowledged = firehose.put_record(delivery_stream_name="fragile", record={"Data": b"keep me"})
    assert acknowledged.record_id  # the put succeeds: its delivery failing does not lose the record
    described = firehose.describe_delivery_stream(delivery_stream_name="fragile").delivery_stream_description
    assert described.buffered_records == 1
    assert described.failure_description is not None and "temporary" in described.failure_description.details
    with pytest.raises(DeliveryFailedException, match="could not deliver") as info:
        firehose.flush_delivery_stream(delivery_stream_name="fragile")
    assert info.value.code == "DeliveryFailedException" and info.value.http_status == 503
    fh_client.lake.create_bucket(bucket="temporary")
    clock.advance(timedelta(seconds=1))
    (result,) = firehose.flush_delivery_stream(delivery_stream_name="fragile").deliveries
    assert result.records_delivered == 1
    assert lines(fh_client, bucket="temporary") == [b"keep me"]
    after = firehose.describe_delivery_stream(delivery_stream_name="fragile").delivery_stream_description
    assert after.failure_description is None
