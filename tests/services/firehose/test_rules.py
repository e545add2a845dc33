"""Firehose's rules as plain functions: prefix expressions and Java date patterns, the key layout,
ARNs, the JSON-path subset of partition keys, Hive types to Arrow, buffering, and owners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from crispml.core.owners import owner_alive
from crispml.services.firehose.buffer import Totals, is_due
from crispml.services.firehose.convert import ConversionError, RecordConverter, arrow_schema, arrow_type
from crispml.services.firehose.errors import InvalidArgumentException
from crispml.services.firehose.partitioning import PartitionError, parse_query
from crispml.services.firehose.prefixes import format_time, key_plan, parse
from crispml.services.firehose.processor import Input, chunks
from crispml.services.firehose.rules import bucket_of, stream_of

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("pattern", "text"), [
    ("yyyy/MM/dd/HH/", "2024/01/02/03/"),
    ("yy-M-d H:m:s", "24-1-2 3:4:5"),
    ("'year='yyyy'/'", "year=2024/"),
    ("HH''mm", "03'04"),
])
def test_java_date_patterns(pattern: str, text: str) -> None:
    assert format_time(pattern, WHEN) == text


@pytest.mark.parametrize("pattern", ["yyy", "MMM", "EEE", "'open", "hh"])
def test_date_patterns_outside_the_subset_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidArgumentException, match="date pattern"):
        parse(f"!{{timestamp:{pattern}}}/", "Prefix")


def test_the_default_layout_and_the_error_prefixes() -> None:
    plain = key_plan("raw/", None, dynamic_partitioning=False, query_keys=[], lambda_keys=False)
    assert plain.data_prefix(WHEN) == "raw/2024/01/02/03/"
    assert plain.error_prefix_for("processing-failed", WHEN) == "raw/processing-failed/2024/01/02/03/"
    literal = key_plan("", "errors/", dynamic_partitioning=False, query_keys=[], lambda_keys=False)
    assert literal.data_prefix(WHEN) == "2024/01/02/03/"
    assert literal.error_prefix_for("format-conversion-failed", WHEN) == (
        "errors/format-conversion-failed/2024/01/02/03/")
    custom = key_plan("d=!{timestamp:yyyy-MM-dd}/c=!{partitionKeyFromQuery:c}/",
                      "e/!{firehose:error-output-type}/!{timestamp:yyyy}/", dynamic_partitioning=True,
                      query_keys=["c"], lambda_keys=False)
    assert custom.data_prefix(WHEN, query_keys={"c": "7"}) == "d=2024-01-02/c=7/"
    assert custom.error_prefix_for("partitioning-failed", WHEN) == "e/partitioning-failed/2024/"


@pytest.mark.parametrize(("arn", "bucket"), [
    ("arn:aws:s3:::raw-data", "raw-data"), ("lake://raw-data", "raw-data"), ("s3://raw-data/", "raw-data"),
    ("crn:crispml:lake:::bucket/raw-data", "raw-data"),
])
def test_bucket_arns(arn: str, bucket: str) -> None:
    assert bucket_of(arn) == bucket


def test_stream_arns() -> None:
    assert stream_of("arn:aws:kinesis:us-east-1:123456789012:stream/clicks") == "clicks"
    assert stream_of("crn:crispml:streams:::stream/clicks") == "clicks"
    assert stream_of("clicks") == "clicks"
    with pytest.raises(InvalidArgumentException, match="does not name a stream"):
        stream_of("arn:aws:kinesis:us-east-1:1:table/clicks")


def test_partition_key_queries() -> None:
    query = parse_query('{customer_id, day: .event."the day"}')
    assert query.keys == ["customer_id", "day"]
    assert query.evaluate(b'{"customer_id": 42, "event": {"the day": "mon"}}') == {"customer_id": "42", "day": "mon"}
    for record, reason in [(b"not json", "not JSON"), (b'{"customer_id": {"a": 1}}', "object or array"),
                           (b'{"customer_id": 1, "event": {"the day": ""}}', "cannot be part of an object key")]:
        with pytest.raises(PartitionError, match=reason):
            query.evaluate(record)


def test_hive_types_to_arrow() -> None:
    assert arrow_type("map<string,array<struct<a:smallint,b:varchar(3)>>>") == pa.map_(
        pa.string(), pa.list_(pa.struct([("a", pa.int16()), ("b", pa.string())])))
    assert arrow_type("decimal") == pa.decimal128(10, 0)
    with pytest.raises(InvalidArgumentException, match="column 'c'"):
        arrow_type("uniontype<int,string>", "c")


def test_values_convert_as_the_openx_serde_converts_them() -> None:
    converter = RecordConverter(arrow_schema([("n", "int"), ("f", "double"), ("s", "string"), ("b", "boolean"),
                                              ("t", "timestamp"), ("m", "map<string,bigint>")]))
    row = converter.row(b'{"N": 3.0, "F": "1e3", "S": {"nested": [1]}, "B": "TRUE", "T": 1704164645123, '
                        b'"M": {"a": "5"}}')
    assert row == {"n": 3, "f": 1000.0, "s": '{"nested":[1]}', "b": True, "t": datetime(2024, 1, 2, 3, 4, 5, 123000),
                   "m": [("a", 5)]}
    strict = RecordConverter(arrow_schema([("n", "int")]), case_insensitive=False)
    assert strict.row(b'{"N": 1}') == {"n": None}
    for record, reason in [(b'{"n": 1.5}', "expected int"), (b'{"n": true}', "the boolean true"),
                           (b'{"n": 2147483648}', "out of the range")]:
        with pytest.raises(ConversionError, match=reason):
            strict.row(record)


def test_due_by_size_or_by_age() -> None:
    assert not is_due(Totals(0, 0, None), 100, 1000, 10_000)
    assert is_due(Totals(1, 100, 9_500), 100, 1000, 10_000)  # full
    assert not is_due(Totals(1, 99, 9_500), 100, 1000, 10_000)
    assert is_due(Totals(1, 1, 9_000), 100, 1000, 10_000)  # old enough
    assert is_due(Totals(1, 1, 10_000), 100, 0, 10_000)  # an interval of 0: at once


def test_processor_chunks_hold_one_record_at_least() -> None:
    records = [Input(str(i), 0, b"x" * size) for i, size in enumerate([5, 5, 20, 1])]
    assert [[r.record_id for r in chunk] for chunk in chunks(records, 10)] == [["0", "1"], ["2"], ["3"]]


def test_an_owner_is_alive_while_its_process_runs() -> None:
    host = socket.gethostname()
    assert owner_alive(f"{host}:{os.getpid()}:token")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not owner_alive(f"{host}:{child.pid}:token")
    assert owner_alive(f"another-host:{child.pid}:token")  # elsewhere only its lease decides
