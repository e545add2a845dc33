"""Managed (Iceberg) tables through the DuckDB engine: the catalog plans the snapshot's files, the
engine reads them; time travel with FOR VERSION / FOR TIMESTAMP AS OF, partition pruning by the
files' partition values, INSERT INTO, DELETE FROM and CTAS with table_type='ICEBERG'."""

from __future__ import annotations

import datetime
from typing import Any

import pyarrow as pa
import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.test_engine_support import BUCKET, DB, prepare, run, setup

DAY1, DAY2 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)


def events(client: Client) -> list[Any]:
    """``lakehouse.events`` (Iceberg, partitioned by day) after two appends; its snapshots, oldest first."""
    setup(client)
    client.catalog.create_table(
        database_name=DB,
        table_input={"Name": "events",
                     "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"},
                                                       {"Name": "kind", "Type": "string"}],
                                           "Location": f"lake://{BUCKET}/events/"},
                     "PartitionKeys": [{"Name": "day", "Type": "date"}]},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
    client.catalog.append_table_data(database_name=DB, table_name="events", body=pa.table(
        {"id": pa.array([1, 2], pa.int64()), "kind": ["view", "click"], "day": [DAY1, DAY1]}))
    client.catalog.append_table_data(database_name=DB, table_name="events", body=pa.table(
        {"id": pa.array([3], pa.int64()), "kind": ["view"], "day": [DAY2]}))
    snapshots = client.catalog.get_table_snapshots(database_name=DB, table_name="events").snapshots
    return sorted(snapshots, key=lambda s: s.committed_at)


def test_an_iceberg_table_reads_its_current_snapshot_and_travels_in_time(client: Client) -> None:
    first, second = events(client)
    now = run(client, "SELECT id, kind, day FROM events ORDER BY id")
    assert now.rows == [{"id": 1, "kind": "view", "day": DAY1}, {"id": 2, "kind": "click", "day": DAY1},
                        {"id": 3, "kind": "view", "day": DAY2}]
    assert now.types == {"id": "bigint", "kind": "varchar", "day": "date"}
    assert len(now.plan.files) == 2 and all(f.startswith(f"lake://{BUCKET}/events/") for f in now.plan.files)

    old = run(client, f"SELECT id FROM events FOR VERSION AS OF {first.snapshot_id} ORDER BY id")
    assert old.rows == [{"id": 1}, {"id": 2}] and len(old.plan.files) == 1
    instant = first.committed_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    at = run(client, f"SELECT count(*) AS n FROM events FOR TIMESTAMP AS OF TIMESTAMP '{instant} UTC'")
    assert at.rows == [{"n": 2}]
    assert second.snapshot_id != first.snapshot_id

    query = prepare(client, "SELECT * FROM events FOR VERSION AS OF 12345")
    with pytest.raises(QueryFailed) as unknown:
        query.plan()
    assert unknown.value.error_type == "NotFound" and "12345" in unknown.value.message
    before = prepare(client, "SELECT * FROM events FOR TIMESTAMP AS OF TIMESTAMP '2000-01-01 00:00:00 UTC'")
    with pytest.raises(QueryFailed) as early:
        before.plan()
    assert early.value.error_type == "NotFound"


def test_iceberg_partitions_are_pruned_by_their_values(client: Client) -> None:
    events(client)
    whole = run(client, "SELECT count(*) AS n FROM events")
    one = run(client, "SELECT id FROM events WHERE day = DATE '2024-01-02'")
    assert one.rows == [{"id": 3}] and len(one.plan.files) == 1
    assert 0 < one.plan.data_scanned_bytes < whole.plan.data_scanned_bytes


def test_insert_and_delete_commit_snapshots(db_client: Client) -> None:
    events(db_client)
    insert = prepare(db_client, "INSERT INTO events (id, day, kind) VALUES (4, DATE '2024-01-03', 'buy')")
    result = insert.execute(insert.plan(), lambda: False)
    assert result.batches.read_all().to_pylist() == [{"rows": 1}] and result.written_table == f"{DB}.events"
    run(db_client, "INSERT INTO events SELECT id + 10, kind, day FROM events WHERE kind = 'view'")
    assert run(db_client, "SELECT count(*) AS n FROM events").rows == [{"n": 6}]

    delete = prepare(db_client, "DELETE FROM events WHERE kind = 'view' AND id > 10")
    assert delete.substatement_type == "DELETE"
    deleted = delete.execute(delete.plan(), lambda: False)
    assert deleted.batches.read_all().to_pylist() == [{"rows": 2}]
    assert [r["id"] for r in run(db_client, "SELECT id FROM events ORDER BY id").rows] == [1, 2, 3, 4]
    snapshots = db_client.catalog.get_table_snapshots(database_name=DB, table_name="events").snapshots
    assert len(snapshots) == 5  # two appends, two inserts, one delete
    nothing = run(db_client, "DELETE FROM events WHERE id > 100")
    assert nothing.rows == [{"rows": 0}]


def test_ctas_creates_a_managed_table(client: Client) -> None:
    events(client)
    run(client, "CREATE TABLE daily WITH (table_type='ICEBERG', partitioned_by=ARRAY['day']) AS "
                "SELECT count(*) AS n, day FROM events GROUP BY day")
    table = client.catalog.get_table(database_name=DB, name="daily").table
    assert table.parameters["table_type"] == "ICEBERG"
    assert run(client, "SELECT day, n FROM daily ORDER BY day").rows == [{"day": DAY1, "n": 2},
                                                                         {"day": DAY2, "n": 1}]
    snapshots = client.catalog.get_table_snapshots(database_name=DB, table_name="daily").snapshots
    assert len(snapshots) == 1
    with pytest.raises(InvalidArgument, match="Iceberg tables are written as Parquet"):
        prepare(client, "CREATE TABLE x WITH (table_type='ICEBERG', format='JSON') AS SELECT 1 AS a")

    # Athena's Iceberg CTAS names its folder with location='…' (sqlglot parses it as a node of its own)
    run(client, f"CREATE TABLE placed WITH (table_type='ICEBERG', location='lake://{BUCKET}/placed/', "
                "is_external=false) AS SELECT 1 AS a")
    placed = client.catalog.get_table(database_name=DB, name="placed").table
    assert placed.storage_descriptor.location == f"lake://{BUCKET}/placed/"
    assert run(client, "SELECT a FROM placed").rows == [{"a": 1}]


def test_delete_filters_with_typed_literals_and_refuses_what_iceberg_cannot_express(local_client: Client) -> None:
    events(local_client)
    assert run(local_client, "DELETE FROM events WHERE day = DATE '2024-01-02'").rows == [{"rows": 1}]
    assert [r["id"] for r in run(local_client, "SELECT id FROM events ORDER BY id").rows] == [1, 2]
    query = prepare(local_client, "DELETE FROM events WHERE lower(kind) = 'view'")
    with pytest.raises(QueryFailed, match="not a valid filter") as failed:
        query.execute(query.plan(), lambda: False)
    assert failed.value.error_type == "InvalidArgument"
    assert run(local_client, "SELECT count(*) AS n FROM events").rows == [{"n": 2}]
