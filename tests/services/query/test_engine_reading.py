"""The engine reads real data faithfully (issue 14): evolved Parquet partitions, CSV values as Athena
reads them, compressed text files, partitions sharing a folder, Trino's date functions, the bytes
Athena counts for Parquet, and a lake file gone from under a table.
"""

from __future__ import annotations

import bz2
import datetime
import gzip
import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.core.compression import codec_of, snappy_decompress
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.test_engine_support import (
    BUCKET,
    add_partition,
    chunk_bytes,
    external_table,
    parquet,
    put,
    run,
    setup,
    size_of,
)

CSV_SERDE = {"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"}


def test_an_evolved_parquet_partition_reads_the_added_column_as_null_in_older_files(client: Client) -> None:
    setup(client)
    external_table(client, "evolve", "parquet", [("id", "bigint"), ("name", "string"), ("extra", "double")],
                   keys=[("day", "string")])
    put(client, "evolve/day=1/a.parquet", parquet(pa.table({"id": [1, 2], "name": ["a", "b"]})))
    put(client, "evolve/day=2/b.parquet", parquet(pa.table({"name": ["c"], "id": [3], "extra": [0.5]})))
    add_partition(client, "evolve", ["1"])
    add_partition(client, "evolve", ["2"])
    ran = run(client, "SELECT id, name, extra, day FROM evolve ORDER BY id")
    assert ran.rows == [{"id": 1, "name": "a", "extra": None, "day": "1"},
                        {"id": 2, "name": "b", "extra": None, "day": "1"},
                        {"id": 3, "name": "c", "extra": 0.5, "day": "2"}]
    assert run(client, "SELECT count(extra) AS n, sum(id) AS s FROM evolve").rows == [{"n": 1, "s": 6}]


def test_csv_values_are_read_as_athena_reads_them(client: Client) -> None:
    setup(client)
    body = (b'code,country,note,n\n'
            b'NA,Namibia,"two\nlines",1\n'
            b'N/A,None,null,3.5\n'
            b'nan,"quoted ""x""",\\N,-7\n'
            b',,,\n')
    put(client, "vals/c.csv", body)
    external_table(client, "vals", "csv", [("code", "string"), ("country", "string"), ("note", "string"),
                                             ("n", "bigint")], serde=CSV_SERDE)
    ran = run(client, "SELECT * FROM vals")
    # the literal strings stay strings (only the empty field and \N are NULL); a quoted field keeps its line
    # break; 3.5 in a bigint column is NULL, never rounded to 4
    assert ran.rows == [
        {"code": "NA", "country": "Namibia", "note": "two\nlines", "n": 1},
        {"code": "N/A", "country": "None", "note": "null", "n": None},
        {"code": "nan", "country": 'quoted "x"', "note": None, "n": -7},
        {"code": None, "country": None, "note": None, "n": None},
    ]
    assert run(client, "SELECT count(*) AS rows_, count(n) AS ints FROM vals").rows == [{"rows_": 4, "ints": 2}]
    put(client, "nums/n.json", b'{"n": 3.5, "x": 1.5}\n{"n": 2, "x": 2}\n{"n": "7", "x": null}\n')
    external_table(client, "nums", "json", [("n", "bigint"), ("x", "double")])
    assert run(client, "SELECT n, x FROM nums").rows == [{"n": None, "x": 1.5}, {"n": 2, "x": 2.0},
                                                         {"n": 7, "x": None}]


def test_compressed_csv_and_json_files_are_read_whatever_their_names(local_client: Client) -> None:
    setup(local_client)
    text = b"id,label\n1,one\n2,two\n"
    framed = _snappy_framed(text)
    assert codec_of("x", framed) == "snappy" and snappy_decompress(framed) == text
    files = {"a.csv.gz": gzip.compress(text), "b": gzip.compress(text),  # gzip known by name, and by magic only
             "c.csv.bz2": bz2.compress(text), "d.zst": pa.Codec("zstd").compress(text, asbytes=True),
             "e.snappy": framed, "f.csv": text}
    for name, body in files.items():
        put(local_client, f"packed/{name}", body)
    external_table(local_client, "packed", "csv", [("id", "int"), ("label", "string")], serde=CSV_SERDE)
    ran = run(local_client, "SELECT id, label, count(*) AS n FROM packed GROUP BY id, label ORDER BY id")
    assert ran.rows == [{"id": 1, "label": "one", "n": 6}, {"id": 2, "label": "two", "n": 6}]
    # Athena counts the compressed bytes it read
    assert ran.plan.data_scanned_bytes == sum(len(b) for b in files.values())

    records = b'{"id": 1, "tag": "x"}\n{"id": 2}\n'
    put(local_client, "events/part-0", gzip.compress(records))  # Firehose's names carry no extension at will
    put(local_client, "events/part-1.bz2", bz2.compress(records))
    external_table(local_client, "events", "json", [("id", "bigint"), ("tag", "string")])
    assert run(local_client, "SELECT id, tag FROM events ORDER BY id, tag").rows == [
        {"id": 1, "tag": "x"}, {"id": 1, "tag": "x"}, {"id": 2, "tag": None}, {"id": 2, "tag": None}]


def test_a_file_that_is_not_what_its_name_says_fails_naming_it(local_client: Client) -> None:
    client = local_client
    setup(client)
    put(client, "bad/x.csv.bz2", b"BZh9 not bzip2 at all")
    external_table(client, "bad", "csv", [("a", "string")])
    with pytest.raises(QueryFailed, match=rf"lake://{BUCKET}/bad/x.csv.bz2 of table lakehouse.bad cannot be read "
                                          "as bzip2-compressed text") as failed:
        run(client, "SELECT * FROM bad")
    assert failed.value.error_type == "InvalidArgument"


def _snappy_framed(data: bytes) -> bytes:
    """``data`` in snappy's framing format (stream identifier, one compressed chunk; CRC not checked)."""
    block = pa.Codec("snappy").compress(data, asbytes=True)
    return (b"\xff\x06\x00\x00sNaPpY" + b"\x00" + (len(block) + 4).to_bytes(3, "little") + b"\x00" * 4 + block)


def test_partitions_sharing_a_folder_each_read_it_under_their_own_values(client: Client) -> None:
    setup(client)
    external_table(client, "shared", "csv", [("v", "int")], keys=[("k", "string")])
    put(client, "shared/common/x.csv", b"1\n2\n")
    put(client, "shared/own/y.csv", b"9\n")
    add_partition(client, "shared", ["a"], location=f"lake://{BUCKET}/shared/common/")
    add_partition(client, "shared", ["b"], location=f"lake://{BUCKET}/shared/common/")
    add_partition(client, "shared", ["c"], location=f"lake://{BUCKET}/shared/own/")
    ran = run(client, "SELECT k, v FROM shared ORDER BY k, v")
    assert ran.rows == [{"k": "a", "v": 1}, {"k": "a", "v": 2}, {"k": "b", "v": 1}, {"k": "b", "v": 2},
                        {"k": "c", "v": 9}]
    assert run(client, "SELECT v FROM shared WHERE k = 'b' ORDER BY v").rows == [{"v": 1}, {"v": 2}]


def test_trino_date_functions_keep_dates_dates(local_client: Client) -> None:
    setup(local_client)
    put(local_client, "days/d.csv", b"2024-01-31,2024-03-07 10:11:12\n")
    external_table(local_client, "days", "csv", [("d", "date"), ("ts", "timestamp")])
    ran = run(local_client, "SELECT date_trunc('month', d) AS m, date_add('day', 1, d) AS next_day, "
                            "date_add('month', 1, date_trunc('year', d)) AS feb, d + INTERVAL '2' DAY AS later, "
                            "date_trunc('month', ts) AS m_ts, date_add('hour', 1, ts) AS hour_later, "
                            "format_datetime(ts, 'yyyy-MM-dd''T''HH:mm') AS text, "
                            "format_datetime(d, 'dd/MM/yy') AS short FROM days")
    assert ran.rows == [{"m": datetime.date(2024, 1, 1), "next_day": datetime.date(2024, 2, 1),
                         "feb": datetime.date(2024, 2, 1), "later": datetime.date(2024, 2, 2),
                         "m_ts": datetime.datetime(2024, 3, 1), "hour_later": datetime.datetime(2024, 3, 7, 11, 11, 12),
                         "text": "2024-03-07T10:11", "short": "31/01/24"}]
    assert ran.types == {"m": "date", "next_day": "date", "feb": "date", "later": "date", "m_ts": "timestamp",
                         "hour_later": "timestamp", "text": "varchar", "short": "varchar"}
    literal = run(local_client, "SELECT date_trunc('week', DATE '2024-03-07') AS w", database=None)
    assert literal.rows == [{"w": datetime.date(2024, 3, 4)}] and literal.types == {"w": "date"}


def test_parquet_bytes_scanned_are_the_column_chunks_read(client: Client) -> None:
    setup(client)
    rows = 20_000
    wide = pa.table({"carat": pa.array([i / 100 for i in range(rows)]),
                     "cut": pa.array([f"cut-{i % 97}-{'x' * 30}" for i in range(rows)]),
                     "price": pa.array(list(range(rows)), pa.int64())})
    sink = io.BytesIO()
    pq.write_table(wide, sink, row_group_size=5_000)
    size = put(client, "gems/g.parquet", sink.getvalue())
    external_table(client, "gems", "parquet", [("carat", "double"), ("cut", "string"), ("price", "bigint")])
    one = run(client, "SELECT sum(carat) AS s FROM gems")
    assert one.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", {"carat"})
    assert one.plan.data_scanned_bytes < size / 2  # cut holds most of the file
    both = run(client, "SELECT g.price FROM gems AS g WHERE g.carat > 1 LIMIT 1")
    assert both.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", {"carat", "price"})
    every = run(client, "SELECT * FROM gems LIMIT 1")
    assert every.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", None) <= size
    # row groups of 5,000 rows, price ascending: the statistics leave the last one (and, with BETWEEN, two)
    late = run(client, "SELECT sum(carat) AS s FROM gems WHERE price >= 15000 AND 'a' < cut")
    assert late.rows == [{"s": pytest.approx(sum(i / 100 for i in range(15_000, rows)))}]
    assert late.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", {"carat", "price", "cut"}, [3])
    middle = run(client, "SELECT count(*) AS n FROM gems AS g WHERE g.price BETWEEN 4000 AND 6000")
    assert middle.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", {"price"}, [0, 1])
    kept = run(client, "SELECT count(*) AS n FROM gems WHERE price + 1 > 15000 OR carat < 0")  # not simple: all
    assert kept.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", {"price", "carat"})
    counted = run(client, "SELECT count(*) AS n FROM gems")
    assert counted.rows == [{"n": rows}]
    assert counted.plan.data_scanned_bytes == chunk_bytes(client, "gems/g.parquet", set())  # the footer only


def test_a_lake_file_gone_from_under_a_table_is_named_as_missing(local_client: Client, home: Path) -> None:
    setup(local_client)
    put(local_client, "gone/x.csv", b"1\n")
    external_table(local_client, "gone", "csv", [("a", "int")])
    assert size_of(local_client, "gone/x.csv") == 2
    blobs = [os.path.join(folder, name) for folder, _, names in os.walk(home / "lake" / BUCKET) for name in names]
    assert len(blobs) == 1
    os.remove(blobs[0])  # lost outside crispml: the object is still listed
    with pytest.raises(QueryFailed, match=rf"data file lake://{BUCKET}/gone/x.csv of table lakehouse.gone is "
                                          "missing") as failed:
        run(local_client, "SELECT * FROM gone")
    assert failed.value.error_type == "NotFound" and "Traceback" not in str(failed.value)
