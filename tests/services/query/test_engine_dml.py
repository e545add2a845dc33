"""UPDATE, MERGE INTO, OPTIMIZE and VACUUM on Iceberg tables through the DuckDB engine and the query
service: each is one commit (one new snapshot, untouched files kept), reports the rows it changed as
Athena's UpdateCount, and is refused on external tables."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.fixtures.homes import once_on_sqlite
from tests.services.query.conftest import run_query
from tests.services.query.test_engine_support import BUCKET, DB, external_table, prepare, put, run, setup


def items(client: Client, *, batches: list[list[int]] | None = None) -> None:
    """``lakehouse.items`` (Iceberg, partitioned by grp): one commit per batch of ids (v = 'v<id>')."""
    setup(client)
    client.catalog.create_table(database_name=DB, table_input={
        "Name": "items",
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "v", "Type": "string"},
                                          {"Name": "n", "Type": "double"}],
                              "Location": f"lake://{BUCKET}/items/"},
        "PartitionKeys": [{"Name": "grp", "Type": "string"}]},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
    for ids in batches if batches is not None else [[1, 2, 3], [4, 5, 6]]:
        client.catalog.append_table_data(database_name=DB, table_name="items", body=pa.table({
            "id": pa.array(ids, pa.int64()), "v": [f"v{i}" for i in ids], "n": [i * 1.5 for i in ids],
            "grp": ["a" if i % 2 else "b" for i in ids]}))


def snapshots(client: Client) -> list[Any]:
    """The table's snapshots, newest first."""
    return list(client.catalog.get_table_snapshots(database_name=DB, table_name="items").snapshots)


def rows(client: Client) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in run(client, "SELECT id, v, n, grp FROM items ORDER BY id").rows]


def files(client: Client) -> set[str]:
    return set(run(client, "SELECT count(*) FROM items").plan.files)


def test_update_changes_the_matching_rows_in_one_commit(db_client: Client) -> None:
    items(db_client)
    before, files_before = snapshots(db_client), files(db_client)
    query = prepare(db_client, "UPDATE items SET v = upper(v) || '!', n = n * 2 WHERE id IN (2, 4) OR v IS NULL")
    assert (query.statement_type, query.substatement_type) == ("DML", "UPDATE")
    result = query.execute(query.plan(), lambda: False)
    assert result.batches.read_all().to_pylist() == [{"rows": 2}] and result.written_table == f"{DB}.items"
    assert rows(db_client) == [(1, "v1", 1.5, "a"), (2, "V2!", 6.0, "b"), (3, "v3", 4.5, "a"),
                               (4, "V4!", 12.0, "b"), (5, "v5", 7.5, "a"), (6, "v6", 9.0, "b")]
    after = snapshots(db_client)
    assert len(after) == len(before) + 1 and after[0].is_current and after[0].operation == "overwrite"
    assert after[0].parent_snapshot_id == before[0].snapshot_id
    # only the two files of partition b (one per commit) were rewritten; partition a's files are kept
    now = files(db_client)
    assert len(files_before - now) == 2 and len(now - files_before) >= 1
    assert {f for f in files_before if "grp=a" in f} <= now
    # time travel still shows the rows before the UPDATE
    old = run(db_client, f"SELECT v FROM items FOR VERSION AS OF {before[0].snapshot_id} WHERE id = 2")
    assert old.rows == [{"v": "v2"}]


def test_update_with_no_matching_row_commits_nothing(local_client: Client) -> None:
    items(local_client)
    before = snapshots(local_client)
    assert run(local_client, "UPDATE items SET v = 'x' WHERE id > 100").rows == [{"rows": 0}]
    assert snapshots(local_client) == before


def test_update_reads_other_tables_in_its_condition(local_client: Client) -> None:
    items(local_client)
    put(local_client, "chosen/a.csv", b"3\n5\n")
    external_table(local_client, "chosen", "csv", [("id", "bigint")])
    ran = run(local_client, "UPDATE items SET v = 'chosen' WHERE id IN (SELECT id FROM chosen)")
    assert ran.rows == [{"rows": 2}]
    assert [r[1] for r in rows(local_client)] == ["v1", "v2", "chosen", "v4", "chosen", "v6"]


MERGE = ("MERGE INTO items AS t USING (SELECT * FROM (VALUES (1, 'one', 'a'), (4, NULL, 'b'), (7, 'seven', 'a'), "
         "(8, 'skip', 'b')) AS s(id, v, grp)) AS s ON t.id = s.id "
         "WHEN MATCHED AND s.v IS NULL THEN DELETE "
         "WHEN MATCHED THEN UPDATE SET v = s.v, n = t.n + 100 "
         "WHEN NOT MATCHED AND s.v <> 'skip' THEN INSERT (id, v, grp) VALUES (s.id, s.v, s.grp)")


def test_merge_updates_deletes_and_inserts_in_one_commit(client: Client) -> None:
    items(client)
    before = snapshots(client)
    query = prepare(client, MERGE)
    assert (query.statement_type, query.substatement_type) == ("DML", "MERGE")
    result = query.execute(query.plan(), lambda: False)
    assert result.batches.read_all().to_pylist() == [{"rows": 3}]  # 1 updated, 1 deleted, 1 inserted
    assert rows(client) == [(1, "one", 101.5, "a"), (2, "v2", 3.0, "b"), (3, "v3", 4.5, "a"),
                            (5, "v5", 7.5, "a"), (6, "v6", 9.0, "b"), (7, "seven", None, "a")]
    after = snapshots(client)
    assert len(after) == len(before) + 1
    assert after[0].summary["total-records"] == "6"


def test_merge_from_a_table_with_insert_of_every_column(local_client: Client) -> None:
    items(local_client, batches=[[1, 2]])
    put(local_client, "changes/a.csv", b"2,two,20.0,b\n9,nine,90.0,a\n")
    external_table(local_client, "changes", "csv", [("id", "bigint"), ("v", "string"), ("n", "double"),
                                                     ("grp", "string")])
    ran = run(local_client, "MERGE INTO items USING changes ON items.id = changes.id "
                            "WHEN MATCHED THEN UPDATE SET v = changes.v "
                            "WHEN NOT MATCHED THEN INSERT VALUES (changes.id, changes.v, changes.n, changes.grp)")
    assert ran.rows == [{"rows": 2}]
    assert rows(local_client) == [(1, "v1", 1.5, "a"), (2, "two", 3.0, "b"), (9, "nine", 90.0, "a")]


def test_merge_into_an_empty_table_inserts(local_client: Client) -> None:
    items(local_client, batches=[])
    ran = run(local_client, "MERGE INTO items t USING (SELECT 1 AS id, 'x' AS v) s ON t.id = s.id "
                            "WHEN NOT MATCHED THEN INSERT (id, v, grp) VALUES (s.id, s.v, 'a')")
    assert ran.rows == [{"rows": 1}]
    assert rows(local_client) == [(1, "x", None, "a")]


@once_on_sqlite
def test_merge_refuses_a_target_row_matched_twice(db_client: Client) -> None:
    items(db_client)
    before = snapshots(db_client)
    query = prepare(db_client, "MERGE INTO items t USING (SELECT * FROM (VALUES (1), (1)) AS s(id)) s "
                               "ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 'twice'")
    with pytest.raises(QueryFailed, match="matched more than one source row") as failed:
        query.execute(query.plan(), lambda: False)
    assert failed.value.error_type == "InvalidArgument"
    assert snapshots(db_client) == before


@once_on_sqlite
@pytest.mark.parametrize("sql", [
    "UPDATE orders SET customer = 'x'",
    "MERGE INTO orders t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "OPTIMIZE orders REWRITE DATA USING BIN_PACK",
    "VACUUM orders",
])
def test_dml_on_an_external_table_says_it_needs_an_iceberg_table(db_client: Client, sql: str) -> None:
    setup(db_client)
    put(db_client, "orders/a.csv", b"1,ann\n")
    external_table(db_client, "orders", "csv", [("id", "bigint"), ("customer", "string")])
    with pytest.raises(InvalidArgument, match="needs an Iceberg table \\(table_type=ICEBERG\\)"):
        prepare(db_client, sql)


@once_on_sqlite
@pytest.mark.parametrize(("sql", "problem"), [
    ("UPDATE items SET nope = 1", "has no column 'nope'"),
    ("UPDATE items SET grp = 'c'", "'grp' is a partition column"),
    ("UPDATE items SET v = 'a', v = 'b'", "column 'v' is set twice"),
    ("MERGE INTO items t USING (SELECT 1 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, v) VALUES (1)",
     "INSERT gives 1 values for 2 columns"),
])
def test_bad_dml_is_refused_naming_the_problem(db_client: Client, sql: str, problem: str) -> None:
    items(db_client)
    before = snapshots(db_client)
    with pytest.raises(QueryFailed, match=problem) as failed:
        run(db_client, sql)
    assert failed.value.error_type == "InvalidArgument"
    assert snapshots(db_client) == before


@once_on_sqlite
def test_optimize_and_vacuum_statements_must_be_well_formed(db_client: Client) -> None:
    items(db_client)
    with pytest.raises(InvalidArgument, match="REWRITE DATA USING BIN_PACK"):
        prepare(db_client, "OPTIMIZE items")
    with pytest.raises(InvalidArgument, match="VACUUM takes the form"):
        prepare(db_client, "VACUUM items now please")


def test_optimize_bin_packs_each_partitions_files_into_one(client: Client) -> None:
    items(client, batches=[[1, 2], [3, 4], [5], [6]])
    before, files_before = snapshots(client), files(client)
    assert len(files_before) == 6  # grp a: 1, 3, 5; grp b: 2, 4, 6 — one file each
    expected = rows(client)
    ran = run(client, "OPTIMIZE items REWRITE DATA USING BIN_PACK WHERE grp = 'a'")
    assert ran.rows == [{"rows": 3}]
    now = files(client)
    assert len(now) == 4 and {f for f in files_before if "grp=b" in f} <= now
    assert rows(client) == expected
    after = snapshots(client)
    assert len(after) == len(before) + 1 and after[0].summary["crispml.data-change"] == "false"
    assert run(client, "OPTIMIZE items REWRITE DATA USING BIN_PACK").rows == [{"rows": 3}]  # now grp b
    assert len(files(client)) == 2
    assert run(client, "OPTIMIZE items REWRITE DATA USING BIN_PACK").rows == [{"rows": 0}]  # nothing left to pack
    assert rows(client) == expected


def test_vacuum_expires_old_snapshots_and_deletes_their_files(client: Client, clock: FixedClock) -> None:
    items(client)
    run(client, "UPDATE items SET v = 'new' WHERE id = 1")
    replaced = set(run(client, f"SELECT count(*) FROM items FOR VERSION AS OF {snapshots(client)[1].snapshot_id}")
                   .plan.files) - files(client)
    assert replaced
    table = client.catalog.get_table(database_name=DB, name="items").table
    # snapshots younger than the default five days are kept
    assert run(client, "VACUUM items").rows == [{"rows": 0}]
    assert len(snapshots(client)) == 3
    table_input: dict[str, Any] = {
        "Name": "items", "StorageDescriptor": {"Columns": [{"Name": c.name, "Type": c.type} for c in
                                                          table.storage_descriptor.columns],
                                               "Location": table.storage_descriptor.location},
        "PartitionKeys": [{"Name": k.name, "Type": k.type} for k in table.partition_keys],
        "Parameters": {**table.parameters, "vacuum_max_snapshot_age_seconds": "0"}}
    client.catalog.update_table(database_name=DB, table_input=table_input)
    clock.advance(hours=1)
    run(client, "VACUUM items")
    left = snapshots(client)
    assert len(left) == 1 and left[0].is_current
    for uri in replaced:
        bucket, key = uri.removeprefix("lake://").split("/", 1)
        assert not [o for o in client.lake.list_objects_v2(bucket=bucket, prefix=key).contents]
    assert rows(client)[0] == (1, "new", 1.5, "a") and len(rows(client)) == 6


def test_the_query_service_reports_dml_as_athena_does(db_client: Client) -> None:
    items(db_client)
    execution = run_query(db_client, "UPDATE lakehouse.items SET v = 'x' WHERE grp = 'a'")
    assert execution.status.state == "SUCCEEDED", execution.status
    assert (execution.statement_type, execution.substatement_type) == ("DML", "UPDATE")
    results = db_client.query.get_query_results(query_execution_id=execution.query_execution_id)
    assert results.update_count == 3 and results.result_set.rows == []
    merged = run_query(db_client, MERGE.replace("INTO items", "INTO lakehouse.items"))
    assert (merged.status.state, merged.substatement_type) == ("SUCCEEDED", "MERGE")
    assert db_client.query.get_query_results(query_execution_id=merged.query_execution_id).update_count == 3
    failed = run_query(db_client, "UPDATE lakehouse.items SET nope = 1")
    assert failed.status.state == "FAILED"
    assert failed.status.athena_error.error_type == "InvalidArgument"
    assert "has no column 'nope'" in failed.status.state_change_reason
