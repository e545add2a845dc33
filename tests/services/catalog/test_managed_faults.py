"""Managed (Iceberg) tables under stress: concurrent writers, a writer killed mid-commit, bad bodies and
filters, and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.exceptions import CommitFailedException
from sqlalchemy import select

import crispml
from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.catalog.errors import (
    ConcurrentModificationException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.catalog.iceberg_data import conform
from crispml.services.catalog.iceberg_store import ICEBERG_TABLES
from crispml.services.catalog.service import CatalogService
from tests.cli.support import Run, assert_refused
from tests.fixtures.forkserver import spawn
from tests.fixtures.homes import once_on_sqlite
from tests.services.catalog.conftest import BUCKET
from tests.services.catalog.managed_support import ICEBERG, create_managed, iceberg_input, rows, scan


@pytest.fixture
def managed(db_client: Client) -> Client:
    """A home (SQLite or PostgreSQL) with an empty managed table sales.orders (id bigint, amount double)."""
    db_client.lake.create_bucket(bucket=BUCKET)
    db_client.catalog.create_database(database_input={"Name": "sales"})
    create_managed(db_client)
    return db_client


def ids(values: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(values, pa.int64())})


def append(client: Client, data: Any) -> Any:
    return client.catalog.append_table_data(database_name="sales", table_name="orders", body=data)


def service(client: Client) -> CatalogService:
    found = client.platform.service("catalog")
    assert isinstance(found, CatalogService)
    return found


def pointers(client: Client) -> tuple[str, str]:
    """The Glue table's metadata_location and pyiceberg's pointer: always the same."""
    glue = client.catalog.get_table(database_name="sales", name="orders").table.parameters["metadata_location"]
    with client.platform.db.read() as session:
        iceberg = session.execute(select(ICEBERG_TABLES.c.metadata_location)).scalar_one()
    return glue, iceberg


# -- concurrent writers ------------------------------------------------------------------------


def test_a_writer_that_lost_the_race_is_rebased_on_the_winner(managed: Client) -> None:
    catalog = service(managed)._lake_catalog(managed.context())
    first, second = catalog.load_table(("sales", "orders")), catalog.load_table(("sales", "orders"))
    first.append(conform(ids([1]), first.schema(), "sales.orders"))
    second.append(conform(ids([2]), second.schema(), "sales.orders"))  # stale: pyiceberg tries again on top
    assert [r["id"] for r in rows(managed)] == [1, 2]
    newest, older = managed.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots
    assert newest.parent_snapshot_id == older.snapshot_id
    glue, iceberg = pointers(managed)
    assert glue == iceberg == second.metadata_location


def test_a_writer_out_of_retries_fails_clearly_and_changes_nothing(managed: Client) -> None:
    catalog = service(managed)._lake_catalog(managed.context())
    with catalog.load_table(("sales", "orders")).transaction() as settings:
        settings.set_properties({"commit.retry.num-retries": "0"})  # Iceberg's table property
    first, second = catalog.load_table(("sales", "orders")), catalog.load_table(("sales", "orders"))
    first.append(conform(ids([1]), first.schema(), "sales.orders"))
    with pytest.raises(CommitFailedException):
        second.append(conform(ids([2]), second.schema(), "sales.orders"))
    assert [r["id"] for r in rows(managed)] == [1]
    glue, iceberg = pointers(managed)
    assert glue == iceberg == first.metadata_location

    def rival_first(table: Any, tags: dict[str, str]) -> None:
        append(managed, ids([100]))  # another writer commits between our read and our commit
        table.append(conform(ids([3]), table.schema(), "sales.orders"), snapshot_properties=tags)

    with pytest.raises(ConcurrentModificationException, match=r"changed by other writers .* repeat it"):
        service(managed)._commit(managed.context(), "sales", "orders", rival_first)
    assert [r["id"] for r in rows(managed)] == [1, 100]
    glue, iceberg = pointers(managed)
    assert glue == iceberg


@pytest.mark.load
def test_concurrent_appends_lose_no_rows(managed: Client) -> None:
    writers, outcomes = 4, []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        start.wait()
        try:
            outcomes.append(("ok", n, append(managed, ids([n * 10, n * 10 + 1])).added_records))
        except ConcurrentModificationException as exc:
            outcomes.append(("lost", n, str(exc)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = sorted(n for kind, n, _ in outcomes if kind == "ok")
    assert won, outcomes
    assert [r["id"] for r in rows(managed)] == [i for n in won for i in (n * 10, n * 10 + 1)]
    snapshots = managed.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots
    assert len(snapshots) == len(won)
    glue, iceberg = pointers(managed)
    assert glue == iceberg


# -- a writer killed midway ----------------------------------------------------------------------

_KILLED_WRITER = textwrap.dedent("""
    import pathlib, sys, threading
    import pyarrow as pa
    import crispml
    from crispml.services.catalog.iceberg_catalog import LakeCatalog

    home, db_url, marker = sys.argv[1:4]
    real = LakeCatalog._write_metadata

    def held(metadata, io, path):  # the new metadata file is written; hold before the pointer moves
        real(metadata, io, path)
        pathlib.Path(marker).write_text(path)
        threading.Event().wait()  # held here until the test kills this process

    LakeCatalog._write_metadata = staticmethod(held)
    with crispml.connect(home=home, db_url=db_url) as client:
        client.catalog.append_table_data(database_name="sales", table_name="orders",
                                         body=pa.table({"id": list(range(1000, 1500))}))
""")


@pytest.mark.kill
def test_a_writer_killed_mid_append_leaves_the_last_commit(managed: Client, home: Path, db_url: str,
                                                          tmp_path: Path) -> None:
    committed = append(managed, ids([1, 2, 3]))
    before = pointers(managed)
    marker = tmp_path / "held"
    env = {**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])}
    child = spawn(["-c", _KILLED_WRITER, str(home), db_url, str(marker)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the writer never reached its commit"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    orphan = marker.read_text()
    assert managed.fs.exists(orphan)  # the killed writer got as far as its new metadata file ...
    parquet = [p for p in managed.fs.find(f"lake://{BUCKET}/orders/data/") if p.endswith(".parquet")]
    assert len(parquet) == 2  # ... and its data file
    assert pointers(managed) == before  # ... but the table never moved to them
    assert scan(managed).snapshot_id == committed.snapshot_id
    assert [r["id"] for r in rows(managed)] == [1, 2, 3]
    assert [s.snapshot_id for s in managed.catalog.get_table_snapshots(
        database_name="sales", table_name="orders").snapshots] == [committed.snapshot_id]
    after = append(managed, ids([4]))  # and the table takes the next commit as usual
    assert (after.total_records, [r["id"] for r in rows(managed)]) == (4, [1, 2, 3, 4])


# -- bad input ------------------------------------------------------------------------------------------


@once_on_sqlite
@pytest.mark.parametrize(("body", "problem"), [
    (pa.table({"id": [1], "region": ["eu"]}), "Body has column 'region', which table sales.orders does not have "
                                              "\\(columns: id, amount\\)"),
    (pa.table({"id": ["abc"]}), "column 'id' of table sales.orders is bigint, but the Body's string values"),
    (pa.table({"id": [1], "amount": ["x"]}), "column 'amount' of table sales.orders is double"),
    (pa.table({"id": [1], "ID": [2]}), "Body has column 'ID' twice"),
    (pa.table({"id": pa.array([2**64 - 1], pa.uint64())}), "column 'id' of table sales.orders is bigint"),
    (b"not rows", "Body must be a pyarrow Table.*not bytes"),
    (12, "Body must be a pyarrow Table.*not int"),
])
def test_data_that_does_not_fit_is_refused_naming_the_column(managed: Client, body: Any, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=problem):
        append(managed, body)
    assert scan(managed).snapshot_id is None


def test_a_fractional_value_does_not_go_into_an_int_column(managed: Client) -> None:
    managed.catalog.create_table(database_name="sales", table_input=iceberg_input("counts", columns=[("n", "int")]),
                                 open_table_format_input=ICEBERG)
    with pytest.raises(InvalidInputException, match=r"column 'n' of table sales\.counts is int"):
        managed.catalog.append_table_data(database_name="sales", table_name="counts", body=pa.table({"n": [3.5]}))
    managed.catalog.append_table_data(database_name="sales", table_name="counts", body=pa.table({"n": [3.0]}))
    assert [r["n"] for r in rows(managed, "counts", key="n")] == [3]


def test_bodies_that_are_not_parquet_files(managed: Client, tmp_path: Path) -> None:
    text = tmp_path / "rows.csv"
    text.write_text("id\n1\n")
    with pytest.raises(InvalidInputException, match="is not a readable Parquet file"):
        append(managed, text)
    with pytest.raises(InvalidInputException, match="no Parquet file at"):
        append(managed, str(tmp_path / "missing.parquet"))
    assert scan(managed).snapshot_id is None


@once_on_sqlite
@pytest.mark.parametrize(("row_filter", "problem"), [
    ("id = ", "is not a valid filter: cannot read it at character 1"),
    ("amount > 10 AND", "is not a valid filter: cannot read it at character 16 \\(at the end\\)"),
    ("region = 'eu'", "does not fit table sales.orders: Could not find field with name region.*columns: id, amount"),
    ("id = 'abc'", "does not fit table sales.orders: Could not convert abc into a long"),
])
def test_bad_row_filters_are_refused_saying_why(managed: Client, row_filter: str, problem: str) -> None:
    append(managed, ids([1]))
    with pytest.raises(InvalidInputException, match=problem):
        managed.catalog.delete_table_data(database_name="sales", table_name="orders", row_filter=row_filter)
    with pytest.raises(InvalidInputException, match=problem):
        managed.catalog.overwrite_table_data(database_name="sales", table_name="orders", body=ids([9]),
                                             row_filter=row_filter)
    assert [r["id"] for r in rows(managed)] == [1]
    assert len(managed.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots) == 1


def test_filters_ignore_the_case_of_column_names(managed: Client) -> None:
    append(managed, ids([1, 2]))
    managed.catalog.delete_table_data(database_name="sales", table_name="orders", row_filter="ID = 1")
    assert [r["id"] for r in rows(managed)] == [2]


def test_a_table_whose_metadata_file_was_deleted_fails_clearly(managed: Client) -> None:
    append(managed, ids([1]))
    glue, _ = pointers(managed)
    bucket, key = glue[len("lake://"):].split("/", 1)
    managed.lake.delete_object(bucket=bucket, key=key)
    with pytest.raises(EntityNotFoundException, match=r"sales\.orders: .*metadata file .*missing from the lake"):
        scan(managed)
    with pytest.raises(EntityNotFoundException, match="metadata file is missing from the lake"):
        append(managed, ids([2]))


def test_unknown_tables(managed: Client) -> None:
    with pytest.raises(EntityNotFoundException, match=r"sales\.nope does not exist"):
        managed.catalog.append_table_data(database_name="sales", table_name="nope", body=ids([1]))
    with pytest.raises(EntityNotFoundException, match="database 'other' does not exist"):
        managed.catalog.get_table_snapshots(database_name="other", table_name="orders")


# -- the command line -----------------------------------------------------------------------------------

def test_managed_tables_from_the_command_line(run: Run, tmp_path: Path) -> None:
    assert run("lake", "create-bucket", "--bucket", BUCKET).code == 0
    assert run("catalog", "create-database", "--database-input", '{"Name": "sales"}').code == 0
    definition = tmp_path / "orders.json"
    definition.write_text(json.dumps(iceberg_input()))
    assert run("catalog", "create-table", "--database-name", "sales", "--table-input", f"file://{definition}",
               "--open-table-format-input", json.dumps(ICEBERG)).code == 0
    data = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}), data)
    appended = run("catalog", "append-table-data", "--database-name", "sales", "--table-name", "orders",
                   "--body", str(data), "-o", "json").json()
    assert (appended["added_records"], appended["total_records"]) == (3, 3)
    deleted = run("catalog", "delete-table-data", "--database-name", "sales", "--table-name", "orders",
                  "--row-filter", "amount >= 2", "-o", "json").json()
    assert (deleted["deleted_records"], deleted["total_records"]) == (2, 1)
    listed = run("catalog", "get-table-snapshots", "--database-name", "sales", "--table-name", "orders")
    assert listed.code == 0 and "append" in listed.out and "overwrite" in listed.out  # a file rewritten
    snapshots = run("catalog", "get-table-snapshots", "--database-name", "sales", "--table-name", "orders",
                    "-o", "json").json()["snapshots"]
    assert [s["snapshot_id"] for s in snapshots] == [deleted["snapshot_id"], appended["snapshot_id"]]
    refused = run("catalog", "delete-table-data", "--database-name", "sales", "--table-name", "orders",
                  "--row-filter", "amount >")
    assert_refused(refused, "InvalidInputException", "is not a valid filter")
    refused = run("catalog", "overwrite-table-data", "--database-name", "sales", "--table-name", "orders",
                  "--body", str(definition))
    assert_refused(refused, "InvalidInputException", "is not a readable Parquet file")
