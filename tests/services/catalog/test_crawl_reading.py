"""Crawls over real-world files, then queried (issue 14): crispml's own compressed Firehose output,
compressed CSV and JSON, a CSV folder that gained a column, an evolved Parquet partition, and a crawl
that could read none of its files.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.services.catalog.test_crawlers import BUCKET, DB, columns, last_crawl, partitions, put, tables
from tests.services.query.test_engine_support import run


def crawl(client: Client, path: str, name: str = "reader") -> None:
    client.catalog.create_crawler(name=name, role="crawler-role", database_name=DB,
                                  targets={"S3Targets": [{"Path": f"s3://{BUCKET}/{path}"}]})
    client.catalog.start_crawler(name=name)


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_firehose_gzip_output_is_crawled_and_queried(client: Client) -> None:
    client.lake.create_bucket(bucket=BUCKET)
    client.firehose.create_delivery_stream(delivery_stream_name="clicks", extended_s3_destination_configuration={
        "BucketARN": f"arn:aws:s3:::{BUCKET}", "Prefix": "clicks/", "CompressionFormat": "GZIP",
        "BufferingHints": {"IntervalInSeconds": 0}})
    sent = [{"user": "ann", "n": 1}, {"user": "bob", "n": 2}, {"user": "cyd", "n": 3}]
    for record in sent:
        client.firehose.put_record(delivery_stream_name="clicks", record={"Data": json.dumps(record).encode()})
    objects = [o.key for o in client.lake.list_objects_v2(bucket=BUCKET, prefix="clicks/").contents]
    assert objects and all(k.endswith(".gz") for k in objects)  # what Firehose wrote: GZIP JSON lines

    crawl(client, "clicks/")
    table = tables(client)["clicks"]
    assert table.parameters["classification"] == "json" and table.parameters["compressionType"] == "gzip"
    assert table.storage_descriptor.compressed is True
    assert columns(table) == [("user", "string"), ("n", "bigint")]
    assert not last_crawl(client, "reader").summary.unreadable
    ran = run(client, "SELECT user, n FROM clicks ORDER BY n", database=DB)
    assert ran.rows == sent


def test_compressed_csv_and_json_by_extension_or_magic_bytes_are_crawled(local_client: Client) -> None:
    client = local_client
    client.lake.create_bucket(bucket=BUCKET)
    text = b"id,label\n1,one\n2,two\n"
    put(client, "zipped/csv/a.csv.bz2", bz2.compress(text))
    put(client, "zipped/csv/b.zst", pa.Codec("zstd").compress(text, asbytes=True))
    put(client, "zipped/csv/c", gzip.compress(text))  # no extension: known by its first bytes
    put(client, "zipped/json/e.json.gz", gzip.compress(b'{"k": "x", "v": 1.5}\n'))
    crawl(client, "zipped/")
    found = tables(client)
    assert sorted(found) == ["csv", "json"]
    assert columns(found["csv"]) == [("id", "bigint"), ("label", "string")]
    assert found["csv"].parameters["compressionType"] in ("bzip2", "zstd", "gzip")
    assert columns(found["json"]) == [("k", "string"), ("v", "double")]
    assert run(client, "SELECT id, count(*) AS n FROM csv GROUP BY id ORDER BY id", database=DB).rows == [
        {"id": 1, "n": 3}, {"id": 2, "n": 3}]
    assert run(client, "SELECT k, v FROM json", database=DB).rows == [{"k": "x", "v": 1.5}]


def test_a_crawl_that_reads_none_of_its_files_says_so(local_client: Client) -> None:
    client = local_client
    client.lake.create_bucket(bucket=BUCKET)
    put(client, "junk/a.bin", b"\x00\x01\x02 binary")
    put(client, "junk/b.gz", b"\x1f\x8b not really gzip")
    with pytest.raises(InvalidArgument, match=r"read none of the 2 file\(s\).*no table was made"):
        crawl(client, "junk/")
    assert tables(client) == {}
    crawler = client.catalog.get_crawler(name="reader").crawler
    assert crawler.state == "READY" and crawler.last_crawl.status == "FAILED"
    assert "read none of the 2 file(s)" in (crawler.last_crawl.error_message or "")
    reasons = {u.path.rsplit("/", 1)[-1]: u.reason for u in last_crawl(client, "reader").summary.unreadable}
    assert "gzip content cannot be decompressed" in reasons["b.gz"] and "binary" in reasons["a.bin"]


def test_a_csv_file_with_an_added_column_joins_its_table(client: Client) -> None:
    client.lake.create_bucket(bucket=BUCKET)
    put(client, "evolve/f1.csv", b"id,name,score,city\n1,ann,2.5,oslo\n2,bob,3.5,rome\n")
    crawl(client, "evolve/")
    assert columns(tables(client)["evolve"]) == [("id", "bigint"), ("name", "string"), ("score", "double"),
                                                 ("city", "string")]
    put(client, "evolve/f2.csv", b"id,name,score,city,extra\n3,cyd,1.0,nice,x\n")
    client.catalog.start_crawler(name="reader")

    found = tables(client)
    assert sorted(found) == ["evolve"]  # one table, not one per file located at the file
    evolve = found["evolve"]
    assert "DEPRECATED_BY_CRAWLER" not in evolve.parameters
    assert evolve.storage_descriptor.location == f"lake://{BUCKET}/evolve/"
    assert columns(evolve)[-1] == ("extra", "string")
    ran = run(client, "SELECT id, city, extra FROM evolve ORDER BY id", database=DB)
    assert ran.rows == [{"id": 1, "city": "oslo", "extra": None}, {"id": 2, "city": "rome", "extra": None},
                        {"id": 3, "city": "nice", "extra": "x"}]


def test_an_evolved_parquet_partition_is_crawled_and_queried(client: Client) -> None:
    client.lake.create_bucket(bucket=BUCKET)
    old = pa.table({"id": [1, 2], "a": ["x", "y"], "b": [1.0, 2.0], "c": [True, False]})
    put(client, "pq/day=1/part-0.parquet", parquet(old))
    crawl(client, "pq/")
    new = pa.table({"id": [3], "a": ["z"], "b": [3.0], "c": [True], "extra": [7]})
    put(client, "pq/day=2/part-0.parquet", parquet(new))
    client.catalog.start_crawler(name="reader")

    table = tables(client)["pq"]
    assert columns(table)[-1] == ("extra", "bigint")
    assert partitions(client, "pq") == [["1"], ["2"]]
    ran = run(client, "SELECT id, extra, day FROM pq ORDER BY id", database=DB)
    assert ran.rows == [{"id": 1, "extra": None, "day": "1"}, {"id": 2, "extra": None, "day": "1"},
                        {"id": 3, "extra": 7, "day": "2"}]
    assert run(client, "SELECT sum(extra) AS s FROM pq WHERE day = '1'", database=DB).rows == [{"s": None}]


def test_a_table_the_crawler_locates_at_a_file_reads_that_file(local_client: Client) -> None:
    client = local_client
    client.lake.create_bucket(bucket=BUCKET)
    put(client, "mixed/a.csv", b"id,name\n1,ann\n2,bob\n")
    put(client, "mixed/b.json", b'{"x": true}\n')  # shares nothing with a.csv: a table each, at the file
    crawl(client, "mixed/")
    found = tables(client)
    assert sorted(found) == ["a_csv", "b_json"]
    assert found["a_csv"].storage_descriptor.location.rstrip("/") == f"lake://{BUCKET}/mixed/a.csv"
    ran = run(client, "SELECT id, name FROM a_csv ORDER BY id", database=DB)
    assert ran.rows == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
    assert ran.plan.files == [f"lake://{BUCKET}/mixed/a.csv"]
    assert run(client, "SELECT x FROM b_json", database=DB).rows == [{"x": True}]
