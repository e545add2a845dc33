"""Commits of managed (Iceberg) tables: an overwrite is one snapshot, UpdateTable knows a managed table
without being told, many processes append at once without a failure or a lost row, and a change that
really conflicts with a rival's still fails clearly — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import crispml
from crispml.sdk.client import Client
from crispml.services.catalog.errors import ConcurrentModificationException, InvalidInputException
from crispml.services.catalog.iceberg_data import conform
from crispml.services.catalog.service import CatalogService
from tests.fixtures.forkserver import spawn
from tests.fixtures.homes import once_on_sqlite
from tests.services.catalog.conftest import BUCKET
from tests.services.catalog.managed_support import create_managed, rows, table_input_of


@pytest.fixture
def managed(db_client: Client) -> Client:
    """A home (SQLite or PostgreSQL) with an empty managed table sales.orders (id bigint, amount double)."""
    db_client.lake.create_bucket(bucket=BUCKET)
    db_client.catalog.create_database(database_input={"Name": "sales"})
    create_managed(db_client)
    return db_client


def ids(values: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(values, pa.int64())})


def append(client: Client, values: list[int]) -> Any:
    return client.catalog.append_table_data(database_name="sales", table_name="orders", body=ids(values))


def snapshots(client: Client) -> list[Any]:
    return client.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots


def ids_at(client: Client, snapshot_id: int) -> list[int]:
    return [r["id"] for r in rows(client, snapshot_id=snapshot_id)]


# -- an overwrite is one snapshot ------------------------------------------------------------------


@pytest.mark.parametrize("row_filter", [None, "id <= 2"], ids=["all-rows", "filtered"])
def test_an_overwrite_is_one_snapshot_and_time_travel_never_sees_it_half_done(managed: Client,
                                                                              row_filter: str | None) -> None:
    append(managed, [1, 2])
    append(managed, [3, 4])  # a second file: a filtered overwrite drops one file whole and keeps the other
    before = snapshots(managed)
    done = managed.catalog.overwrite_table_data(database_name="sales", table_name="orders", body=ids([10, 11]),
                                                row_filter=row_filter)
    after = snapshots(managed)
    assert len(after) == len(before) + 1
    newest = after[0]
    assert newest.snapshot_id == done.snapshot_id and newest.parent_snapshot_id == before[0].snapshot_id
    assert newest.operation == "overwrite"
    expected = [10, 11] if row_filter is None else [3, 4, 10, 11]
    assert ids_at(managed, newest.snapshot_id) == expected == [r["id"] for r in rows(managed)]
    assert ids_at(managed, before[0].snapshot_id) == [1, 2, 3, 4]  # its parent: the state just before
    assert (done.added_records, done.deleted_records, done.total_records) == (
        2, 4 if row_filter is None else 2, len(expected))


def test_an_overwrite_inside_a_file_rewrites_it_in_the_same_snapshot(managed: Client) -> None:
    append(managed, [1, 2, 3])
    before = snapshots(managed)
    done = managed.catalog.overwrite_table_data(database_name="sales", table_name="orders", body=ids([20]),
                                                row_filter="id = 2")
    assert len(snapshots(managed)) == len(before) + 1
    assert [r["id"] for r in rows(managed)] == [1, 3, 20]
    assert (done.added_records, done.deleted_records, done.total_records) == (1, 1, 3)


# -- UpdateTable knows a managed table --------------------------------------------------------------


def test_update_table_without_table_type_keeps_a_managed_table_managed(managed: Client) -> None:
    append(managed, [1])
    given = table_input_of(managed)
    given["parameters"] = {k: v for k, v in given["parameters"].items()
                           if k not in ("table_type", "metadata_location", "previous_metadata_location")}
    given["storage_descriptor"]["columns"].append({"name": "note", "type": "string"})
    managed.catalog.update_table(database_name="sales", table_input=given)
    table = managed.catalog.get_table(database_name="sales", name="orders").table
    assert table.is_iceberg and table.parameters["table_type"] == "ICEBERG"
    assert [c.name for c in table.storage_descriptor.columns] == ["id", "amount", "note"]
    assert [(r["id"], r["note"]) for r in rows(managed)] == [(1, None)]


@once_on_sqlite
def test_an_external_table_still_needs_a_format_to_be_created_or_updated(managed: Client) -> None:
    external = {"Name": "raw", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}],
                                                     "Location": f"s3://{BUCKET}/raw/"}}
    with pytest.raises(InvalidInputException, match="an external table needs a format"):
        managed.catalog.create_table(database_name="sales", table_input=external)
    managed.catalog.create_table(database_name="sales", table_input={**external, "Parameters": {
        "classification": "csv"}})
    with pytest.raises(InvalidInputException, match="an external table needs a format"):
        managed.catalog.update_table(database_name="sales", table_input=external)
    given = table_input_of(managed)
    given["parameters"] = {"classification": "csv"}  # a managed table named a format is not quietly kept managed
    with pytest.raises(InvalidInputException, match="keep Parameters table_type=ICEBERG"):
        managed.catalog.update_table(database_name="sales", table_input=given)


# -- writers at once ----------------------------------------------------------------------------------


def test_an_overwrite_of_rows_a_rival_deleted_meanwhile_fails_clearly(managed: Client) -> None:
    """A change built on a state a rival changed under it (pyiceberg used on a table read before the rival
    committed) is refused, and the table keeps the rival's change only."""
    append(managed, [1, 2, 3])
    catalog = managed.platform.peer(CatalogService)

    def stale_overwrite(table: Any, tags: dict[str, str]) -> None:
        managed.catalog.delete_table_data(database_name="sales", table_name="orders", row_filter="id = 2")
        table.overwrite(conform(ids([20]), table.schema(), "sales.orders"), overwrite_filter="id = 2",
                        snapshot_properties=tags)

    with pytest.raises(ConcurrentModificationException, match="changed by other writers"):
        catalog._commit(managed.context(), "sales", "orders", stale_overwrite)
    assert [r["id"] for r in rows(managed)] == [1, 3]


_APPENDER = textwrap.dedent("""
    import pathlib, sys, time
    import pyarrow as pa
    import crispml

    home, db_url, go, number, times = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), int(sys.argv[4]), \\
        int(sys.argv[5])
    with crispml.connect(home=home, db_url=db_url) as client:
        client.catalog.get_table(database_name="sales", name="orders")  # connected and warm
        pathlib.Path(str(go) + f".ready-{number}").touch()
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:  # all start together
            time.sleep(0.005)
        for i in range(times):
            client.catalog.append_table_data(database_name="sales", table_name="orders",
                                             body=pa.table({"id": pa.array([number * 1000 + i], pa.int64())}))
    print("ok", number)
""")


@pytest.mark.load
@pytest.mark.kill
def test_eight_processes_appending_at_once_all_succeed_and_lose_no_row(managed: Client, home: Path, db_url: str,
                                                                       tmp_path: Path) -> None:
    writers, times = 8, 3
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])}
    children = [spawn(["-c", _APPENDER, str(home), db_url, str(go), str(n), str(times)],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for n in range(writers)]
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("go.ready-*"))) < writers:
            failed = [c for c in children if c.poll() is not None]
            assert not failed, failed[0].communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the writers never got ready"
            time.sleep(0.01)
        go.touch()
        results = [c.communicate(timeout=120) for c in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err.decode()[-3000:]
        assert out.decode().startswith("ok")
    assert [r["id"] for r in rows(managed)] == sorted(n * 1000 + i for n in range(writers) for i in range(times))
    listed = snapshots(managed)
    assert len(listed) == writers * times
    chain = {s.snapshot_id: s.parent_snapshot_id for s in listed}
    assert sum(1 for s in listed if s.parent_snapshot_id not in chain) == 1  # one line of history, no fork
