"""Loading CSV, JSON lines and Parquet files (lake and local) into managed and external tables, on the
file:// and s3:// lakes: rows fitted to the table, all or nothing, each file once with a bookmark."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.services.ingest.errors import InvalidInputException
from tests.services.ingest.conftest import (
    BUCKET,
    external_rows,
    external_table,
    job,
    managed_rows,
    managed_table,
    parquet_bytes,
    put,
    run,
    table_files,
)

ROWS: list[dict[str, Any]] = [
    {"id": 1, "amount": 10.5, "placed_at": datetime(2024, 1, 1, 9, 30)},
    {"id": 2, "amount": None, "placed_at": datetime(2024, 1, 2, 10, 0)},
    {"id": 3, "amount": 7.25, "placed_at": None},
]


def encode(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """Rows as a file of ``fmt``, the way other tools write them (CSV with a header, ISO times)."""
    if fmt == "parquet":
        return parquet_bytes(pa.Table.from_pylist(rows))
    if fmt == "json":
        return "".join(json.dumps(r, default=str) + "\n" for r in rows).encode()
    names = list(rows[0])
    lines = [",".join(names)] + [",".join("" if r[n] is None else str(r[n]) for n in names) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def snapshots(client: Client, name: str = "orders") -> list[Any]:
    return list(client.catalog.get_table_snapshots(database_name="sales", table_name=name).snapshots)


# -- managed tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_files_of_each_format_load_into_a_managed_table_in_one_commit(home_client: Client, fmt: str) -> None:
    managed_table(home_client)
    first = put(home_client, f"raw/{fmt}/part-1.{fmt}", encode(ROWS[:2], fmt))
    put(home_client, f"raw/{fmt}/part-2.{fmt}", encode(ROWS[2:], fmt))
    put(home_client, f"raw/{fmt}/_SUCCESS", b"marker")  # hidden: not data
    job(home_client, "orders-load", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/{fmt}/"], "Format": fmt}})
    done = run(home_client, "orders-load")
    assert managed_rows(home_client) == ROWS
    (snapshot,) = snapshots(home_client)
    sizes = sum(home_client.lake.head_object(bucket=BUCKET, key=k).content_length
                for k in (f"raw/{fmt}/part-1.{fmt}", f"raw/{fmt}/part-2.{fmt}"))
    assert (done.job_run_state, done.rows_read, done.rows_written, done.files_read, done.bytes_read) == (
        "SUCCEEDED", 3, 3, 2, sizes)
    assert done.snapshot_id == snapshot.snapshot_id and snapshot.summary["crispml.request-id"] == done.id
    assert done.bytes_written == int(snapshot.summary["added-files-size"]) > 0
    assert done.completed_on is not None and done.error_message is None and first.endswith(f"part-1.{fmt}")


def test_overwrite_replaces_the_rows_and_append_adds_them(home_client: Client) -> None:
    managed_table(home_client)
    path = put(home_client, "raw/orders.csv", encode(ROWS, "csv"))
    job(home_client, "replace", {"FileSource": {"Paths": [path], "Format": "csv"}}, write_mode="OVERWRITE")
    job(home_client, "add", {"FileSource": {"Paths": [path], "Format": "csv"}})
    run(home_client, "replace")
    run(home_client, "replace")
    assert managed_rows(home_client) == ROWS
    run(home_client, "add")  # a full load (no bookmark) appends every row again
    assert [r["id"] for r in managed_rows(home_client)] == [1, 1, 2, 2, 3, 3]
    assert len(snapshots(home_client)) >= 3


def test_a_bookmark_loads_each_file_once(home_client: Client) -> None:
    managed_table(home_client)
    put(home_client, "landing/a.json", encode(ROWS[:1], "json"))
    job(home_client, "landing", {"FileSource": {"Paths": [f"s3://{BUCKET}/landing/"], "Format": "json"}},
        job_bookmark_option="job-bookmark-enable")
    assert run(home_client, "landing").rows_written == 1
    put(home_client, "landing/b.json", encode(ROWS[1:2], "json"))
    second = run(home_client, "landing")
    assert (second.files_read, second.rows_written) == (1, 1)
    idle = run(home_client, "landing")  # nothing new: no rows, no commit
    assert (idle.job_run_state, idle.files_read, idle.rows_written, idle.snapshot_id) == ("SUCCEEDED", 0, 0, None)
    assert [r["id"] for r in managed_rows(home_client)] == [1, 2]
    assert len(snapshots(home_client)) == 2
    put(home_client, "landing/a.json", encode(ROWS[2:], "json"))  # a file written again is new data
    assert run(home_client, "landing").rows_written == 1
    entry = home_client.ingest.get_job_bookmark(job_name="landing").job_bookmark_entry
    assert set(json.loads(entry.job_bookmark or "{}")["files"]) == {
        f"lake://{BUCKET}/landing/a.json", f"lake://{BUCKET}/landing/b.json"}
    assert entry.version == 3
    home_client.ingest.reset_job_bookmark(job_name="landing")
    assert run(home_client, "landing").rows_written == 2  # everything again
    assert [r["id"] for r in managed_rows(home_client)] == [1, 2, 2, 3, 3]


def test_local_files_folders_and_gzip(home_client: Client, tmp_path: Path) -> None:
    managed_table(home_client)
    folder = tmp_path / "exports"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "a.csv").write_bytes(encode(ROWS[:1], "csv"))
    (folder / "2024" / "b.csv.gz").write_bytes(gzip.compress(encode(ROWS[1:], "csv")))
    (folder / ".hidden.csv").write_bytes(b"id\nnot a number\n")
    (folder / "_SUCCESS").write_bytes(b"")
    job(home_client, "local", {"FileSource": {"Paths": [f"file://{folder}"], "Format": "csv"}})
    done = run(home_client, "local")
    assert (done.files_read, done.rows_written) == (2, 3)
    assert managed_rows(home_client) == ROWS


def test_csv_options_headerless_and_semicolons(home_client: Client) -> None:
    managed_table(home_client, columns=[("id", "bigint"), ("name", "string"), ("active", "boolean")])
    path = put(home_client, "raw/people.csv", b'1;"Doe; Jane";true\n2;Smith;false\n3;NA;\n')
    job(home_client, "people", {"FileSource": {"Paths": [path], "Format": "csv", "FormatOptions": {
        "Separator": ";", "WithHeader": False}}})
    run(home_client, "people")
    assert managed_rows(home_client) == [{"id": 1, "name": "Doe; Jane", "active": True},
                                         {"id": 2, "name": "Smith", "active": False},
                                         {"id": 3, "name": None, "active": None}]


def test_columns_match_by_name_in_any_case_and_missing_ones_are_null(home_client: Client) -> None:
    managed_table(home_client)
    path = put(home_client, "raw/x.json", b'{"AMOUNT": 1.5, "Id": 7}\n{"id": 8, "placed_at": "2024-05-01T12:00:00Z"}\n')
    job(home_client, "mixed", {"FileSource": {"Paths": [path], "Format": "json"}})
    run(home_client, "mixed")
    assert managed_rows(home_client) == [{"id": 7, "amount": 1.5, "placed_at": None},
                                         {"id": 8, "amount": None, "placed_at": datetime(2024, 5, 1, 12, 0)}]


# -- external tables ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_files_load_into_an_external_table_as_new_files_and_partitions(home_client: Client, fmt: str) -> None:
    columns = [("id", "bigint"), ("amount", "double")]
    serde = {"separatorChar": "|", "skip.header.line.count": "1"} if fmt == "csv" else None
    external_table(home_client, "events", fmt, columns=columns, keys=[("day", "date")], serde=serde)
    home_client.catalog.create_partition(database_name="sales", table_name="events", partition_input={
        "Values": ["2024-01-01"], "StorageDescriptor": {"Location": f"s3://{BUCKET}/elsewhere/jan1/"}})
    rows = [{"id": 1, "amount": 1.5, "day": "2024-01-01"}, {"id": 2, "amount": 2.5, "day": "2024-01-02"},
            {"id": 3, "amount": None, "day": "2024-01-02"}]
    path = put(home_client, "raw/events.json", "".join(json.dumps(r) + "\n" for r in rows).encode())
    job(home_client, "events", {"FileSource": {"Paths": [path], "Format": "json"}}, table="events")
    done = run(home_client, "events")
    assert (done.rows_written, done.job_run_state) == (3, "SUCCEEDED")
    files = table_files(home_client, "events")
    assert [f.rsplit("/", 1)[0] for f in files] == [f"{BUCKET}/tables/events/day=2024-01-02"]
    assert files[0].rsplit("/", 1)[1].startswith(done.id) and files[0].endswith(f".{fmt}")
    (jan1,) = [f for f in home_client.fs.find(f"{BUCKET}/elsewhere/jan1")]  # an existing partition's location
    assert done.bytes_written == home_client.fs.size(files[0]) + home_client.fs.size(jan1)
    partitions = home_client.catalog.get_partitions(database_name="sales", table_name="events").partitions
    assert sorted(p.values[0] for p in partitions) == ["2024-01-01", "2024-01-02"]
    read_back = external_rows(home_client, "events")
    assert [(r["id"], r["amount"]) for r in read_back] == [(2, 2.5), (3, None)]
    first = home_client.fs.cat_file(jan1)
    if fmt == "parquet":  # the key is the folder, not a column
        assert pq.read_table(io.BytesIO(first)).to_pylist() == [{"id": 1, "amount": 1.5}]
    elif fmt == "json":
        assert first == b'{"id": 1, "amount": 1.5}\n'
    else:
        assert first.decode().splitlines() == ["id|amount", "1|1.5"]  # with the header line the table skips


def test_an_external_table_takes_appends_only(home_client: Client) -> None:
    external_table(home_client, "events", "parquet")
    with pytest.raises(InvalidInputException, match=r"external table over files.*APPEND"):
        job(home_client, "replace", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "csv"}},
            table="events", write_mode="OVERWRITE")


# -- rows that do not fit: nothing is loaded ---------------------------------------------------------


@pytest.mark.parametrize("target", ["managed", "external"])
def test_a_value_that_does_not_fit_fails_the_run_naming_file_row_and_column(home_client: Client,
                                                                           target: str) -> None:
    if target == "managed":
        managed_table(home_client)
    else:
        external_table(home_client, "orders", "parquet")
    put(home_client, "raw/a.csv", encode(ROWS, "csv"))
    bad = put(home_client, "raw/b.csv", b"id,amount\n4,1.0\n5,2.0\n6,lots\n7,3.0\n")
    job(home_client, "orders", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "csv"}})
    with pytest.raises(InvalidInputException) as info:
        run(home_client, "orders")
    where = f"file {bad.replace('s3://', 'lake://')}, row 3: column 'amount' of table sales.orders is double"
    assert where in info.value.message and "'lots'" in info.value.message
    (failed,) = home_client.ingest.get_job_runs(job_name="orders").job_runs
    assert failed.job_run_state == "FAILED" and where in (failed.error_message or "")
    assert info.value.message.startswith(f"job run {failed.id} of job 'orders' failed: ")
    if target == "managed":
        assert snapshots(home_client) == [] and managed_rows(home_client) == []
    else:
        assert table_files(home_client, "orders") == []  # the first file's rows were never published


@pytest.mark.parametrize(("data", "fmt", "problem"), [
    (b"id,region\n1,eu\n", "csv", "has column 'region', which table sales.orders does not have"),
    (b"id,ID\n1,2\n", "csv", "has column 'ID' twice"),
    (b'{"id": 1}\n{"id": 2\n', "json", "line 2: not valid JSON"),
    (b'{"id": 1}\n[1, 2]\n', "json", "line 2: a JSON lines file holds one object per line"),
    (b'{"id": 1}\n{"id": "two"}\n', "json", "row 2: column 'id' holds 'two', unlike the values before it"),
    (b'{"id": 2.5}\n', "json", "row 1: column 'id' of table sales.orders is bigint, but the value 2.5"),
    (b"id,amount\n1,2,3\n", "csv", "cannot be read as CSV"),
    (b"not parquet at all", "parquet", "cannot be read as Parquet"),
])
def test_files_that_do_not_fit_the_table(local_home: Client, data: bytes, fmt: str, problem: str) -> None:
    managed_table(local_home)
    path = put(local_home, f"raw/bad.{fmt}", data)
    job(local_home, "bad", {"FileSource": {"Paths": [path], "Format": fmt}})
    with pytest.raises(InvalidInputException, match="failed: file lake://") as info:
        run(local_home, "bad")
    assert problem in info.value.message
    assert snapshots(local_home) == []


def test_a_path_that_is_not_there(home_client: Client, tmp_path: Path) -> None:
    managed_table(home_client)
    job(home_client, "missing", {"FileSource": {"Paths": [str(tmp_path / "nope")], "Format": "csv"}})
    with pytest.raises(InvalidArgument, match=r"nope is no local file or folder"):
        run(home_client, "missing")
    job(home_client, "no-bucket", {"FileSource": {"Paths": ["s3://no-such-bucket/x/"], "Format": "csv"}})
    with pytest.raises(NotFound, match="no-such-bucket"):
        run(home_client, "no-bucket")
    job(home_client, "empty", {"FileSource": {"Paths": [f"s3://{BUCKET}/nothing-yet/"], "Format": "csv"}})
    assert run(home_client, "empty").rows_written == 0  # an empty landing prefix is not an error


def test_parquet_row_groups_stream_in_batches(home_client: Client) -> None:
    managed_table(home_client, columns=[("id", "bigint"), ("label", "string")])
    many = pa.table({"id": pa.array(range(150_000), pa.int32()), "label": [f"n{i % 7}" for i in range(150_000)]})
    sink = io.BytesIO()
    pq.write_table(many, sink, row_group_size=20_000)
    path = put(home_client, "raw/many.parquet", sink.getvalue())
    job(home_client, "many", {"FileSource": {"Paths": [path], "Format": "parquet"}})
    done = run(home_client, "many")
    assert (done.rows_read, done.rows_written) == (150_000, 150_000)
    (snapshot,) = snapshots(home_client)
    assert snapshot.summary["total-records"] == "150000"
