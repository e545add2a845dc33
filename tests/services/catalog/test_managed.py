"""Managed (Apache Iceberg) tables: create from Glue's input, append, overwrite, delete, snapshots,
time travel through plan_scan, authorization — on SQLite and PostgreSQL (``catalog``/``db_client``)
and on a file:// and an s3:// lake (``client``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import select

from crispml.core.errors import InvalidArgument, PermissionDenied
from crispml.sdk.client import Client
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.catalog.iceberg_store import ICEBERG_TABLES
from tests.services.catalog.conftest import BUCKET, table_input
from tests.services.catalog.managed_support import (
    ICEBERG,
    after_this_millisecond,
    create_managed,
    iceberg_input,
    plan_scan,
    rows,
    scan,
)
from tests.spine.test_spine import add_principal, events

DAY1, DAY2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
DAY_KEY = [("day", "date")]


@pytest.fixture
def home_client(db_client: Client) -> Client:
    """A home (SQLite or PostgreSQL) with a bucket and the database ``sales``."""
    db_client.lake.create_bucket(bucket=BUCKET)
    db_client.catalog.create_database(database_input={"Name": "sales"})
    return db_client


@pytest.fixture
def lake_client(client: Client) -> Client:
    """A home whose lake is on file:// or on s3://, with a bucket and the database ``sales``."""
    client.lake.create_bucket(bucket=BUCKET)
    client.catalog.create_database(database_input={"Name": "sales"})
    return client


def orders(ids: list[int], day: dt.date = DAY1, amount: float = 1.5) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "amount": [amount] * len(ids), "day": [day] * len(ids)})


def append(client: Client, data: Any, name: str = "orders") -> Any:
    return client.catalog.append_table_data(database_name="sales", table_name=name, body=data)


# -- creating ---------------------------------------------------------------------------


def test_create_an_iceberg_table_the_glue_way(home_client: Client) -> None:
    home_client.catalog.create_table({
        "DatabaseName": "sales",
        "TableInput": iceberg_input("Orders", columns=[
            ("id", "bigint"), ("qty", "smallint"), ("code", "varchar(8)"), ("price", "decimal(10,2)"),
            ("ok", "boolean"), ("at", "timestamp"), ("raw", "binary"), ("ratio", "float"),
            ("tags", "array<string>"), ("attrs", "map<string,int>"), ("addr", "struct<city:string,zip:int>"),
        ], keys=[("day", "date")], Description="curated orders", Parameters={"owner": "sales-team"}),
        "OpenTableFormatInput": ICEBERG,
    })
    table = home_client.catalog.get_table(database_name="sales", name="orders").table
    assert (table.table_type, table.is_iceberg, table.version_id) == ("EXTERNAL_TABLE", True, "0")
    assert table.parameters["table_type"] == "ICEBERG" and table.parameters["owner"] == "sales-team"
    location = table.parameters["metadata_location"]
    assert location.startswith(f"lake://{BUCKET}/orders/metadata/00000-") and location.endswith(".metadata.json")
    assert home_client.fs.exists(location)  # written through the lake
    assert table.storage_descriptor.location == f"lake://{BUCKET}/orders/"
    # types read back as Iceberg holds them, as Athena shows them
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("id", "bigint"), ("qty", "int"), ("code", "string"), ("price", "decimal(10,2)"), ("ok", "boolean"),
        ("at", "timestamp"), ("raw", "binary"), ("ratio", "float"), ("tags", "array<string>"),
        ("attrs", "map<string,int>"), ("addr", "struct<city:string,zip:int>")]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "date")]
    listed = home_client.catalog.get_tables(database_name="sales").table_list
    assert [(t.name, t.is_iceberg) for t in listed] == [("orders", True)]
    with home_client.platform.db.read() as session:
        entry = session.execute(select(ICEBERG_TABLES)).one()
    assert (entry.table_namespace, entry.table_name, entry.metadata_location) == ("sales", "orders", location)
    empty = scan(home_client)
    assert (empty.snapshot_id, empty.files, empty.has_deletes) == (None, [], False)
    assert empty.arrow_schema.names == [c.name for c in table.storage_descriptor.columns] + ["day"]
    assert empty.to_arrow().num_rows == 0


@pytest.mark.parametrize(("change", "problem"), [
    ({"StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}]}}, "needs StorageDescriptor.Location"),
    ({"StorageDescriptor": {"Location": f"s3://{BUCKET}/x"}}, "needs at least one column"),
    ({"StorageDescriptor": {"Columns": [{"Name": "m", "Type": "map<string>"}], "Location": f"s3://{BUCKET}/x"}},
     "column 'm': type 'map<string>' is not valid"),
    ({"StorageDescriptor": {"Columns": [{"Name": "d", "Type": "decimal(40,2)"}],
                            "Location": f"s3://{BUCKET}/x"}}, "decimal precision must be 1-38"),
    ({"StorageDescriptor": {"Columns": [{"Name": "s", "Type": "struct<a int>"}],
                            "Location": f"s3://{BUCKET}/x"}}, "column 's': type 'struct<a int>' is not valid"),
    ({"StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://no-bucket/x"}},
     "bucket 'no-bucket' does not exist"),
])
def test_bad_iceberg_table_inputs(home_client: Client, change: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidInputException, match=problem):
        home_client.catalog.create_table(database_name="sales", table_input={**iceberg_input("t"), **change},
                                         open_table_format_input=ICEBERG)
    assert home_client.catalog.get_tables(database_name="sales").table_list == []
    with home_client.platform.db.read() as session:
        assert session.execute(select(ICEBERG_TABLES)).all() == []


def test_open_table_format_input_rules(home_client: Client) -> None:
    catalog = home_client.catalog
    with pytest.raises(InvalidArgument, match="metadata_operation': Input should be 'CREATE'"):
        catalog.create_table(database_name="sales", table_input=iceberg_input("t"),
                             open_table_format_input={"IcebergInput": {"MetadataOperation": "UPDATE"}})
    with pytest.raises(InvalidArgument, match="version"):
        catalog.create_table(database_name="sales", table_input=iceberg_input("t"),
                             open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE",
                                                                       "Version": "9"}})
    with pytest.raises(InvalidInputException, match="pass OpenTableFormatInput"):
        catalog.create_table(database_name="sales",
                             table_input={**iceberg_input("t"), "Parameters": {"table_type": "iceberg"}})
    catalog.create_table(database_name="sales", table_input=iceberg_input("v1"),
                         open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE", "Version": "1"}})
    create_managed(home_client, "t")
    with pytest.raises(AlreadyExistsException, match=r"sales\.t already exists"):
        create_managed(home_client, "t")
    with pytest.raises(EntityNotFoundException, match="database 'nope'"):
        catalog.create_table(database_name="nope", table_input=iceberg_input("t"), open_table_format_input=ICEBERG)
    assert sorted(t.name for t in catalog.get_tables(database_name="sales").table_list) == ["t", "v1"]


# -- data: on each lake ----------------------------------------------------------------------


def test_append_overwrite_delete_on_each_lake(lake_client: Client) -> None:
    create_managed(lake_client, keys=[("day", "date")])
    first = append(lake_client, orders([1, 2], DAY1))
    assert (first.added_records, first.deleted_records, first.total_records) == (2, 0, 2)
    second = append(lake_client, pd.DataFrame({"ID": [3], "Amount": [7.0], "day": [DAY2]}))  # names: any case
    assert (second.added_records, second.total_records) == (1, 3)
    assert rows(lake_client) == [{"id": 1, "amount": 1.5, "day": DAY1}, {"id": 2, "amount": 1.5, "day": DAY1},
                                 {"id": 3, "amount": 7.0, "day": DAY2}]
    assert {f.partition["day"] for f in scan(lake_client).files} == {"2024-01-01", "2024-01-02"}

    replaced = lake_client.catalog.overwrite_table_data(database_name="sales", table_name="orders",
                                                        body=orders([10], DAY1, 2.0), row_filter="day = '2024-01-01'")
    assert (replaced.deleted_records, replaced.added_records, replaced.total_records) == (2, 1, 2)
    assert [(r["id"], r["day"]) for r in rows(lake_client)] == [(3, DAY2), (10, DAY1)]

    removed = lake_client.catalog.delete_table_data(database_name="sales", table_name="orders",
                                                    row_filter="amount > 5")
    assert (removed.deleted_records, removed.total_records) == (1, 1)
    assert [r["id"] for r in rows(lake_client)] == [10]

    everything = lake_client.catalog.overwrite_table_data(database_name="sales", table_name="orders",
                                                          body=orders([20, 21], DAY2))
    assert (everything.deleted_records, everything.added_records, everything.total_records) == (1, 2, 2)
    assert [r["id"] for r in rows(lake_client)] == [20, 21]
    assert everything.snapshot_id == scan(lake_client).snapshot_id
    # each commit moved the Glue pointer with it
    table = lake_client.catalog.get_table(database_name="sales", name="orders").table
    location = table.parameters["metadata_location"]
    assert location != table.parameters["previous_metadata_location"]
    assert lake_client.fs.exists(location)


def test_a_delete_inside_a_file_rewrites_it_and_keeps_the_rest(home_client: Client) -> None:
    create_managed(home_client)
    append(home_client, pa.table({"id": [1, 2, 3, 4], "amount": [1.0, 2.0, 3.0, 4.0]}))
    deleted = home_client.catalog.delete_table_data(database_name="sales", table_name="orders",
                                                    row_filter="id IN (2, 3) OR amount IS NULL")
    assert (deleted.deleted_records, deleted.added_records, deleted.total_records) == (2, 0, 2)
    assert [r["id"] for r in rows(home_client)] == [1, 4]
    nothing = home_client.catalog.delete_table_data(database_name="sales", table_name="orders",
                                                    row_filter="id > 100")
    assert (nothing.snapshot_id, nothing.deleted_records, nothing.total_records) == (deleted.snapshot_id, 0, 2)


def test_data_types_survive_a_round_trip(home_client: Client) -> None:
    create_managed(home_client, columns=[
        ("id", "int"), ("price", "decimal(10,2)"), ("at", "timestamp"), ("raw", "binary"), ("tags", "array<string>"),
        ("attrs", "map<string,int>"), ("addr", "struct<city:string,zip:int>")])
    at = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    append(home_client, pa.table({
        "id": pa.array([1, 2], pa.int32()), "price": [Decimal("12.50"), None], "at": [at, None],
        "raw": [b"\x00\x01", b""],
        "tags": [["a", "b"], []], "attrs": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int32())),
        "addr": [{"city": "Oslo", "zip": 150}, None]}))
    got = rows(home_client)
    assert got[0] == {"id": 1, "price": Decimal("12.50"), "at": at, "raw": b"\x00\x01", "tags": ["a", "b"],
                      "attrs": [("k", 1)], "addr": {"city": "Oslo", "zip": 150}}
    assert got[1]["price"] is None and got[1]["tags"] == [] and got[1]["addr"] is None


def test_a_body_may_leave_out_columns_and_may_be_a_reader_or_a_parquet_file(home_client: Client, tmp_path: Any
                                                                            ) -> None:
    import pyarrow.parquet as pq

    create_managed(home_client)
    append(home_client, pa.table({"id": [1]}))  # amount: null
    reader = pa.RecordBatchReader.from_batches(orders([2]).schema, orders([2]).to_batches())
    append(home_client, reader.read_all().drop_columns(["day"]))
    path = tmp_path / "more.parquet"
    pq.write_table(pa.table({"amount": [9.0], "id": [3]}), path)
    append(home_client, path)
    with open(path, "rb") as handle:
        append(home_client, pa.table({"id": [4]}).to_batches()[0])
        append(home_client, handle)
    assert [(r["id"], r["amount"]) for r in rows(home_client)] == [(1, None), (2, 1.5), (3, 9.0), (3, 9.0), (4, None)]


# -- snapshots and time travel ------------------------------------------------------------------


def test_snapshots_list_newest_first_a_page_at_a_time(home_client: Client) -> None:
    create_managed(home_client, keys=DAY_KEY)
    committed = [append(home_client, orders([i])).snapshot_id for i in range(5)]
    catalog = home_client.catalog
    seen: list[Any] = []
    token = None
    while True:
        page = catalog.get_table_snapshots(database_name="sales", table_name="orders", max_results=2,
                                           next_token=token)
        assert len(page.snapshots) <= 2
        seen += page.snapshots
        token = page.next_token
        if token is None:
            break
    assert [s.snapshot_id for s in seen] == committed[::-1]
    assert [s.parent_snapshot_id for s in seen] == [*committed[::-1][1:], None]
    assert [s.is_current for s in seen] == [True, False, False, False, False]
    assert {s.operation for s in seen} == {"append"}
    assert [s.summary["total-records"] for s in seen] == ["5", "4", "3", "2", "1"]
    assert all(s.committed_at.tzinfo is not None for s in seen)
    assert [s.committed_at for s in seen] == sorted((s.committed_at for s in seen), reverse=True)
    with pytest.raises(InvalidInputException, match="NextToken"):
        catalog.get_table_snapshots(database_name="sales", table_name="orders", next_token="bad!")


def test_time_travel_by_snapshot_id_and_by_timestamp(lake_client: Client) -> None:
    create_managed(lake_client, keys=DAY_KEY)
    before_any = dt.datetime.now(dt.UTC)
    after_this_millisecond()
    first = append(lake_client, orders([1, 2]))
    after_this_millisecond()
    second = lake_client.catalog.delete_table_data(database_name="sales", table_name="orders", row_filter="id = 1")
    after_this_millisecond()
    third = append(lake_client, orders([3]))
    snapshots = {s.snapshot_id: s for s in lake_client.catalog.get_table_snapshots(
        database_name="sales", table_name="orders").snapshots}

    assert [r["id"] for r in rows(lake_client, snapshot_id=first.snapshot_id)] == [1, 2]
    assert [r["id"] for r in rows(lake_client, snapshot_id=second.snapshot_id)] == [2]
    assert [r["id"] for r in rows(lake_client)] == [2, 3]
    at_second = snapshots[second.snapshot_id].committed_at
    assert scan(lake_client, as_of=at_second).snapshot_id == second.snapshot_id  # at the instant: included
    assert scan(lake_client, as_of=at_second - dt.timedelta(milliseconds=1)).snapshot_id == first.snapshot_id
    naive_utc = snapshots[third.snapshot_id].committed_at.replace(tzinfo=None)
    assert scan(lake_client, as_of=naive_utc).snapshot_id == third.snapshot_id
    with pytest.raises(EntityNotFoundException, match=r"No table snapshot found before timestamp.*first snapshot"):
        scan(lake_client, as_of=before_any)
    with pytest.raises(EntityNotFoundException, match="snapshot ID does not exist: 42"):
        scan(lake_client, snapshot_id=42)
    with pytest.raises(InvalidInputException, match="not both"):
        scan(lake_client, snapshot_id=first.snapshot_id, as_of=at_second)


def test_plan_scan_refuses_an_external_table_and_an_unknown_one(home_client: Client) -> None:
    home_client.catalog.create_table(database_name="sales", table_input=table_input("raw"))
    with pytest.raises(InvalidInputException, match=r"sales\.raw is an external table"):
        scan(home_client, "raw")
    with pytest.raises(EntityNotFoundException, match=r"sales\.missing does not exist"):
        scan(home_client, "missing")
    with pytest.raises(InvalidInputException, match="only managed \\(Iceberg\\) tables take data operations"):
        append(home_client, orders([1]), "raw")


# -- who may ---------------------------------------------------------------------------------------


def test_data_operations_and_scans_are_authorized_and_audited(home_client: Client) -> None:
    create_managed(home_client, keys=DAY_KEY)
    append(home_client, orders([1]))
    add_principal(home_client, "uma", kind="User", status="Active")
    uma = home_client.as_principal("uma")
    with pytest.raises(PermissionDenied, match="catalog:AppendTableData"):
        uma.catalog.append_table_data(database_name="sales", table_name="orders", body=orders([2]))
    with pytest.raises(PermissionDenied, match="catalog:DeleteTableData"):
        uma.catalog.delete_table_data(database_name="sales", table_name="orders", row_filter="id = 1")
    with pytest.raises(PermissionDenied, match="catalog:GetTableSnapshots"):
        uma.catalog.get_table_snapshots(database_name="sales", table_name="orders")
    with pytest.raises(PermissionDenied, match="catalog:GetTable"):
        plan_scan(uma, "sales", "orders")
    assert [r["id"] for r in rows(home_client)] == [1]

    (done,) = events(home_client, action="catalog:AppendTableData", outcome="Success")
    assert done.principal == "root" and done.request_parameters == {"database_name": "sales", "table_name": "orders"}
    # every Iceberg file was written and read as the caller, through the lake
    writes = events(home_client, action="lake:PutObject", principal="root")
    written = {w.resource for w in writes}
    assert any(r.endswith(".parquet") for r in written) and any(r.endswith(".metadata.json") for r in written)
    assert any(r.endswith(".avro") for r in written)  # manifests and manifest lists
    assert not events(home_client, action="lake:PutObject", principal="uma")


# -- deleting -----------------------------------------------------------------------------------------


def test_delete_table_forgets_both_entries_and_keeps_the_files(home_client: Client) -> None:
    create_managed(home_client, keys=DAY_KEY)
    append(home_client, orders([1]))
    data_file = scan(home_client).files[0].uri
    home_client.catalog.delete_table(database_name="sales", name="orders")
    with pytest.raises(EntityNotFoundException):
        home_client.catalog.get_table(database_name="sales", name="orders")
    with home_client.platform.db.read() as session:
        assert session.execute(select(ICEBERG_TABLES)).all() == []
    assert home_client.fs.exists(data_file)  # Glue's DeleteTable never deletes data
    create_managed(home_client, keys=DAY_KEY)  # the name is free again, at the same location
    assert rows(home_client) == []


def test_a_deleted_database_leaves_no_table_behind(home_client: Client) -> None:
    create_managed(home_client, keys=DAY_KEY)
    append(home_client, orders([1]))
    home_client.catalog.delete_database(name="sales")
    with home_client.platform.db.read() as session:
        assert session.execute(select(ICEBERG_TABLES)).all() == []  # its Iceberg entries went with it
    home_client.catalog.create_database(database_input={"Name": "sales"})
    create_managed(home_client, keys=DAY_KEY)
    assert rows(home_client) == []
    append(home_client, orders([5]))
    assert [r["id"] for r in rows(home_client)] == [5]


def test_a_managed_table_takes_no_glue_partitions(home_client: Client) -> None:
    create_managed(home_client, keys=DAY_KEY)
    with pytest.raises(InvalidInputException, match="managed \\(Iceberg\\) table"):
        home_client.catalog.batch_create_partition(
            database_name="sales", table_name="orders",
            partition_input_list=[{"Values": ["2024-01-01"]}])
    assert home_client.catalog.get_partitions(database_name="sales", table_name="orders").partitions == []


def test_pyiceberg_s_own_create_table_is_refused_for_the_glue_operation(home_client: Client) -> None:
    from crispml.services.catalog.iceberg_catalog import LakeCatalog

    catalog = LakeCatalog(home_client.platform.db, home_client.fs, lambda *_: None)
    with pytest.raises(InvalidInputException, match="CreateTable operation"):
        catalog.create_table(("sales", "orders"), schema=None)
