"""Loads whose target table does not exist create it from the source's schema (a managed table unless told
otherwise), and DMS's TargetTablePrepMode: DROP_AND_CREATE, TRUNCATE_BEFORE_LOAD and DO_NOTHING."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.sdk.client import Client
from crispml.services.ingest.errors import InvalidInputException
from tests.cli.support import Run
from tests.services.ingest.conftest import (
    BUCKET,
    PgSource,
    external_rows,
    external_table,
    managed_rows,
    managed_table,
    prepare,
    table_files,
)
from tests.services.ingest.conftest import (
    run as run_job,
)

LOCATION = f"s3://{BUCKET}/created/"
#: PostgreSQL column types, the Glue type a created table gives them, and a value of row ``r``.
_PG_TYPES: list[tuple[str, str, Any]] = [
    ("integer", "int", lambda r: r),
    ("bigint", "bigint", lambda r: 2**40 + r),
    ("smallint", "int", lambda r: r - 5),
    ("numeric(12,2)", "decimal(12,2)", lambda r: Decimal(f"{r}1234.56")),
    ("real", "float", lambda r: r + 0.5),
    ("double precision", "double", lambda r: r / 8),
    ("boolean", "boolean", lambda r: r % 2 == 0),
    ("date", "date", lambda r: dt.date(2024, 1, 1 + r)),
    ("timestamp", "timestamp", lambda r: dt.datetime(2024, 3, 1, 10, r, 30)),
    ("text", "string", lambda r: f"text {r}"),
    ("varchar(20)", "string", lambda r: f"v{r}"),
    ("uuid", "string", lambda r: uuid.UUID(int=r + 1)),
    ("bytea", "binary", lambda r: bytes([r, 255])),
]


def _target(table: str, **extra: Any) -> dict[str, Any]:
    return {"DatabaseName": "sales", "TableName": table, **extra}


def job(client: Client, name: str, source: dict[str, Any], table: str = "orders", **target: Any) -> None:
    client.ingest.create_job(name=name, source=source, target=_target(table, **target))


def _columns(client: Client, table: str) -> list[tuple[str, str]]:
    found = client.catalog.get_table(database_name="sales", name=table).table
    return [(c.name, c.type or "") for c in found.storage_descriptor.columns]


def test_a_wide_postgresql_table_loads_into_a_managed_table_the_job_creates(local_home: Client,
                                                                             pg_source: PgSource) -> None:
    kinds = [_PG_TYPES[i % len(_PG_TYPES)] for i in range(50)]
    names = [f"C{i:02d}" for i in range(50)]  # Glue's names are lower-case: c00 …
    pg_source.execute("CREATE TABLE {schema}.wide (" + ", ".join(
        f'"{n}" {k[0]}' for n, k in zip(names, kinds, strict=True)) + ")")
    values = [[k[2](r) for k in kinds] for r in range(3)]
    pg_source.execute("INSERT INTO {schema}.wide VALUES " + ", ".join(
        "(" + ", ".join(["%s"] * 50) + ")" for _ in values), [v for row in values for v in row])
    local_home.ingest.create_job(name="wide", source={"DatabaseSource": {
        "ConnectionUrl": pg_source.url, "Table": pg_source.table("wide")}},
        target=_target("wide", Location=LOCATION))
    done = run_job(local_home, "wide")
    assert (done.job_run_state, done.rows_written) == ("SUCCEEDED", 3)
    table = local_home.catalog.get_table(database_name="sales", name="wide").table
    assert table.is_iceberg and table.storage_descriptor.location == f"lake://{BUCKET}/created/"
    assert _columns(local_home, "wide") == [(n.lower(), k[1]) for n, k in zip(names, kinds, strict=True)]
    loaded = managed_rows(local_home, "wide", key="c00")
    expected = [{n.lower(): (str(v) if isinstance(v, uuid.UUID) else v) for n, v in zip(names, row, strict=True)}
                for row in values]
    assert loaded == expected
    assert done.snapshot_id is not None
    again = run_job(local_home, "wide")  # the table exists now: the next run appends to it (no prep mode)
    assert again.rows_written == 3 and len(managed_rows(local_home, "wide", key="c01")) == 6


@pytest.mark.parametrize(("fmt", "table_format"), [("csv", "iceberg"), ("json", "iceberg"), ("parquet", "iceberg"),
                                                   ("csv", "parquet"), ("json", "csv")])
def test_files_create_their_table_with_the_types_their_rows_hold(client: Client, tmp_path: Path,
                                                                 fmt: str, table_format: str) -> None:
    home_client = client
    client.lake.create_bucket(bucket=BUCKET)
    client.catalog.create_database(database_input={"Name": "sales", "LocationUri": f"s3://{BUCKET}/warehouse/"})
    path = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        path.write_text("id,Amount,name,placed_at,flag\n1,2.5,a,2024-01-01 10:00:00,true\n"
                        "2,3.0,,2024-01-02 11:00:00,false\n")
    elif fmt == "json":
        path.write_text(json.dumps({"id": 1, "Amount": 2.5, "name": "a", "placed_at": "2024-01-01 10:00:00",
                                    "flag": True}) + "\n" + json.dumps({"id": 2, "Amount": 3.0, "name": None,
                                    "placed_at": "2024-01-02 11:00:00", "flag": False}) + "\n")
    else:
        pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "Amount": [2.5, 3.0], "name": ["a", None],
                                 "placed_at": pa.array([dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 2, 11)],
                                                       pa.timestamp("us")),
                                 "flag": [True, False]}), path)
    home_client.ingest.create_job(name="files", source={"FileSource": {"Paths": [str(path)], "Format": fmt}},
                                  target=_target("orders", TableFormat=table_format))
    done = run_job(home_client, "files")
    assert (done.job_run_state, done.rows_written) == ("SUCCEEDED", 2)
    table = home_client.catalog.get_table(database_name="sales", name="orders").table
    assert table.storage_descriptor.location == f"lake://{BUCKET}/warehouse/orders/"
    assert table.is_iceberg == (table_format == "iceberg")
    when = "string" if fmt == "json" else "timestamp"  # JSON has no time type: the text is kept
    assert _columns(home_client, "orders") == [("id", "bigint"), ("amount", "double"), ("name", "string"),
                                               ("placed_at", when), ("flag", "boolean")]
    if table_format == "iceberg":
        rows = managed_rows(home_client)
        assert [(r["id"], r["amount"], r["name"], r["flag"]) for r in rows] == [(1, 2.5, "a", True),
                                                                               (2, 3.0, None, False)]
    else:
        assert [int(r["id"]) for r in external_rows(home_client, "orders")] == [1, 2]


def test_a_missing_table_needs_a_place_for_its_files(local_home: Client, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    source = {"FileSource": {"Paths": [str(tmp_path / "a.csv")], "Format": "csv"}}
    with pytest.raises(InvalidInputException, match="has nowhere to put its files: give the Target a Location"):
        local_home.ingest.create_job(name="x", source=source, target=_target("new"))
    with pytest.raises(InvalidInputException, match="Target Location 'ftp://x' must be a lake prefix"):
        local_home.ingest.create_job(name="x", source=source, target=_target("new", Location="ftp://x"))
    with pytest.raises(InvalidInputException, match="adds files to it"):
        local_home.ingest.create_job(name="x", source=source, target=_target(
            "new", Location=LOCATION, TableFormat="csv", WriteMode="OVERWRITE"))
    (tmp_path / "empty").mkdir()
    local_home.ingest.create_job(name="empty", target=_target("new", Location=LOCATION), source={
        "FileSource": {"Paths": [str(tmp_path / "empty")], "Format": "csv"}})
    with pytest.raises(InvalidInputException, match="hold no file to load, so the job has no schema"):
        run_job(local_home, "empty")
    assert local_home.catalog.get_tables(database_name="sales").table_list == []


def _orders_csv(tmp_path: Path, ids: list[int]) -> dict[str, Any]:
    path = tmp_path / "orders.csv"
    path.write_text("id,note\n" + "".join(f"{i},n{i}\n" for i in ids))
    return {"FileSource": {"Paths": [str(path)], "Format": "csv"}}


def test_drop_and_create_replaces_the_table_at_each_full_load(local_home: Client, tmp_path: Path) -> None:
    managed_table(local_home)  # sales.orders (id, amount, placed_at) with a row
    local_home.catalog.append_table_data(database_name="sales", table_name="orders",
                                         body=pa.table({"id": [99], "amount": [1.0]}))
    job(local_home, "drop", _orders_csv(tmp_path, [1, 2]), TargetTablePrepMode="DROP_AND_CREATE")
    run_job(local_home, "drop")
    assert _columns(local_home, "orders") == [("id", "bigint"), ("note", "string")]
    assert [(r["id"], r["note"]) for r in managed_rows(local_home)] == [(1, "n1"), (2, "n2")]
    before = local_home.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots
    _orders_csv(tmp_path, [3])
    again = run_job(local_home, "drop")  # the same definition: its rows are replaced in one commit
    assert [r["id"] for r in managed_rows(local_home)] == [3]
    after = local_home.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots
    assert len(after) == len(before) + 1 and after[0].snapshot_id == again.snapshot_id
    assert after[0].operation == "overwrite"

    external_table(local_home, "ext", "parquet", columns=[("id", "bigint"), ("amount", "double")])
    local_home.lake.put_object(bucket=BUCKET, key="tables/ext/old.parquet", body=_parquet({"id": [7], "amount": [1.0]}))
    job(local_home, "drop-ext", _orders_csv(tmp_path, [4, 5]), table="ext", TargetTablePrepMode="DROP_AND_CREATE",
        TableFormat="parquet")
    run_job(local_home, "drop-ext")
    assert _columns(local_home, "ext") == [("id", "bigint"), ("note", "string")]
    assert [(r["id"], r["note"]) for r in external_rows(local_home, "ext")] == [(4, "n4"), (5, "n5")]
    assert not any(p.endswith("old.parquet") for p in table_files(local_home, "ext"))


def test_truncate_before_load_empties_the_table_and_keeps_its_definition(local_home: Client,
                                                                         tmp_path: Path) -> None:
    managed_table(local_home, columns=[("id", "bigint"), ("note", "string"), ("extra", "double")])
    local_home.catalog.append_table_data(database_name="sales", table_name="orders",
                                         body=pa.table({"id": [99], "note": ["old"]}))
    job(local_home, "trunc", _orders_csv(tmp_path, [1, 2]), TargetTablePrepMode="TRUNCATE_BEFORE_LOAD")
    run_job(local_home, "trunc")
    assert _columns(local_home, "orders") == [("id", "bigint"), ("note", "string"), ("extra", "double")]
    assert [(r["id"], r["extra"]) for r in managed_rows(local_home)] == [(1, None), (2, None)]

    external_table(local_home, "ext", "parquet", columns=[("id", "bigint"), ("note", "string")])
    local_home.lake.put_object(bucket=BUCKET, key="tables/ext/old.parquet", body=_parquet({"id": [7], "note": ["x"]}))
    job(local_home, "trunc-ext", _orders_csv(tmp_path, [1]), table="ext", TargetTablePrepMode="TRUNCATE_BEFORE_LOAD")
    run_job(local_home, "trunc-ext")
    assert [r["id"] for r in external_rows(local_home, "ext")] == [1]
    assert not any(p.endswith("old.parquet") for p in table_files(local_home, "ext"))


def test_do_nothing_leaves_an_existing_table_and_still_creates_a_missing_one(local_home: Client,
                                                                             tmp_path: Path) -> None:
    managed_table(local_home, columns=[("id", "bigint"), ("note", "string")])
    local_home.catalog.append_table_data(database_name="sales", table_name="orders",
                                         body=pa.table({"id": [99], "note": ["old"]}))
    job(local_home, "keep", _orders_csv(tmp_path, [1]), TargetTablePrepMode="DO_NOTHING")
    run_job(local_home, "keep")
    assert [r["id"] for r in managed_rows(local_home)] == [1, 99]
    local_home.ingest.create_job(name="new", source=_orders_csv(tmp_path, [5]), target=_target(
        "fresh", Location=LOCATION, TargetTablePrepMode="DO_NOTHING"))
    run_job(local_home, "new")
    assert [r["id"] for r in managed_rows(local_home, "fresh")] == [5]


def _parquet(columns: dict[str, list[Any]]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


# -- the run's summary on the command line ---------------------------------------------------------------


def test_start_job_run_prints_a_readable_summary_and_json_keeps_the_record(run: Run, home: Path,
                                                                          tmp_path: Path) -> None:
    import crispml

    with crispml.connect(home=str(home)) as client:
        prepare(client)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,note\n1,a\n2,b\n")
    source = json.dumps({"FileSource": {"Paths": [str(tmp_path / "in")], "Format": "csv"}})
    target = json.dumps(_target("orders", Location=LOCATION))
    assert run("ingest", "create-job", "--name", "j", "--source", source, "--target", target,
               "--job-bookmark-option", "job-bookmark-enable").code == 0
    shown = run("ingest", "start-job-run", "--job-name", "j")
    assert shown.code == 0, shown.err
    lines = {line.split("  ", 1)[0].strip(): line.split("  ", 1)[1].strip()
             for line in shown.out.splitlines() if "  " in line.strip()}
    assert lines["state"] == "SUCCEEDED"
    assert lines["rows"] == "2 read, 2 written"
    assert lines["bookmark before"] == "none (the run loads everything)"
    assert lines["bookmark after"] == "1 file loaded"
    assert lines["snapshot"].isdigit() and "{" not in shown.out  # no JSON blob in a cell
    (tmp_path / "in" / "b.csv").write_text("id,note\n3,c\n")
    record = run("ingest", "start-job-run", "--job-name", "j", "--output", "json").json()
    assert record["job_run_state"] == "SUCCEEDED" and record["job_run"]["rows_written"] == 1
    assert json.loads(record["job_run"]["bookmark_before"])["files"]
    assert len(json.loads(record["job_run"]["bookmark_after"])["files"]) == 2


def test_bookmarks_in_words() -> None:
    from crispml.cli.ingestcmds import bookmark_text

    assert bookmark_text(None) == "none (the run loads everything)"
    assert bookmark_text(json.dumps({"column": "updated_at", "watermark": {
        "type": "datetime", "value": "2024-03-02T09:00:00"}})) == "updated_at > 2024-03-02T09:00:00 (datetime)"
    assert bookmark_text(json.dumps({"column": "id", "watermark": None})) == "id: no rows yet"
