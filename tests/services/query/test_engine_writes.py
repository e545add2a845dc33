"""Statements that write, through the DuckDB engine: CTAS in each format (files in the lake, the table
and its partitions in the catalog, queried again), INSERT INTO external tables, and what is refused."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from crispml.core.errors import AlreadyExists, InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.test_engine_support import (
    BUCKET,
    DB,
    OUTPUT,
    add_partition,
    external_table,
    parquet,
    prepare,
    put,
    run,
    setup,
)


def orders(client: Client) -> None:
    """``lakehouse.orders``: a CSV table (id, customer, amount, day) with a missing amount."""
    setup(client)
    put(client, "orders/a.csv", b"1,ann,2.5,2024-01-01\n2,bob,NA,2024-01-01\n3,cyd,7.25,2024-01-02\n")
    external_table(client, "orders", "csv", [("id", "bigint"), ("customer", "string"), ("amount", "double"),
                                             ("day", "date")])


def keys_under(client: Client, prefix: str) -> list[str]:
    return sorted(o.key for o in client.lake.list_objects_v2(bucket=BUCKET, prefix=prefix).contents)


def test_ctas_writes_partitioned_parquet_and_registers_table_and_partitions(client: Client) -> None:
    orders(client)
    query = prepare(client, "CREATE TABLE daily WITH (format='PARQUET', partitioned_by=ARRAY['day']) AS "
                            "SELECT id, upper(customer) AS customer, amount, day FROM orders")
    assert (query.statement_type, query.substatement_type) == ("DDL", "CREATE_TABLE_AS_SELECT")
    result = query.execute(query.plan(), lambda: False)
    assert result.written_table == f"{DB}.daily"
    assert [(c.name, c.type) for c in result.columns] == [("rows", "bigint")]
    assert result.batches.read_all().to_pylist() == [{"rows": 3}]

    qid = query.query_execution_id
    prefix = f"results/tables/{qid}/"
    written = keys_under(client, prefix)
    assert [k.rsplit("/", 1)[0] for k in written] == [f"{prefix}day=2024-01-01", f"{prefix}day=2024-01-02"]
    assert all(k.endswith(".parquet") for k in written)

    table = client.catalog.get_table(database_name=DB, name="daily").table
    assert table.storage_descriptor.location == f"{OUTPUT}tables/{qid}/"
    assert [(c.name, c.type) for c in table.storage_descriptor.columns] == [
        ("id", "bigint"), ("customer", "string"), ("amount", "double")]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "date")]
    assert table.format == "parquet"
    partitions = client.catalog.get_partitions(database_name=DB, table_name="daily").partitions
    assert sorted(p.values[0] for p in partitions) == ["2024-01-01", "2024-01-02"]

    again = run(client, "SELECT id, customer, amount FROM daily WHERE day = DATE '2024-01-01' ORDER BY id")
    assert again.rows == [{"id": 1, "customer": "ANN", "amount": 2.5}, {"id": 2, "customer": "BOB", "amount": None}]
    assert len(again.plan.files) == 1 and "day=2024-01-01/" in again.plan.files[0]


@pytest.mark.parametrize("fmt", ["JSON", "TEXTFILE"])
def test_ctas_in_text_formats_reads_back_the_same_rows(client: Client, fmt: str) -> None:
    orders(client)
    run(client, f"CREATE TABLE copy WITH (format='{fmt}', external_location='lake://{BUCKET}/copies/{fmt}/') AS "
                "SELECT id, customer, amount, day FROM orders")
    written = keys_under(client, f"copies/{fmt}/")
    assert len(written) == 1 and written[0].endswith(".json" if fmt == "JSON" else ".csv")
    table = client.catalog.get_table(database_name=DB, name="copy").table
    assert table.format == ("json" if fmt == "JSON" else "csv")
    rows = run(client, "SELECT * FROM copy ORDER BY id").rows
    assert rows == run(client, "SELECT * FROM orders ORDER BY id").rows
    assert rows[1] == {"id": 2, "customer": "bob", "amount": None, "day": datetime.date(2024, 1, 1)}


def test_ctas_maps_engine_types_to_hive_types(local_client: Client) -> None:
    setup(local_client)
    sql = ("CREATE TABLE typed AS SELECT CAST(1 AS INTEGER) AS i, CAST(2 AS SMALLINT) AS s, 3 AS b, "
           "CAST(1.5 AS REAL) AS f, CAST(12.34 AS DECIMAL(10,2)) AS d, 'x' AS v, true AS ok, "
           "DATE '2024-02-03' AS day, TIMESTAMP '2024-02-03 04:05:06' AS ts, ARRAY['a', 'b'] AS tags, "
           "CAST(ROW(1, 'z') AS ROW(n INTEGER, w VARCHAR)) AS rec, MAP(ARRAY['k'], ARRAY[1]) AS m, "
           "CAST(9 AS HUGEINT) AS big")
    run(local_client, sql, database=DB)
    table = local_client.catalog.get_table(database_name=DB, name="typed").table
    assert {c.name: c.type for c in table.storage_descriptor.columns} == {
        "i": "int", "s": "smallint", "b": "int", "f": "float", "d": "decimal(10,2)", "v": "string",
        "ok": "boolean", "day": "date", "ts": "timestamp", "tags": "array<string>",
        "rec": "struct<n:int,w:string>", "m": "map<string,int>", "big": "bigint"}
    back = run(local_client, "SELECT * FROM typed")
    assert back.rows == [{"i": 1, "s": 2, "b": 3, "f": 1.5, "d": Decimal("12.34"), "v": "x", "ok": True,
                          "day": datetime.date(2024, 2, 3), "ts": datetime.datetime(2024, 2, 3, 4, 5, 6),
                          "tags": ["a", "b"], "rec": {"n": 1, "w": "z"}, "m": [("k", 1)], "big": 9}]
    assert back.types["rec"] == "row(n integer, w varchar)" and back.types["m"] == "map(varchar, integer)"


def test_ctas_refusals_write_nothing(local_client: Client) -> None:
    orders(local_client)
    with pytest.raises(AlreadyExists, match=r"table lakehouse\.orders already exists"):
        prepare(local_client, "CREATE TABLE orders AS SELECT 1 AS a")
    with pytest.raises(InvalidArgument, match="format 'ORC' is not supported"):
        prepare(local_client, "CREATE TABLE t WITH (format='ORC') AS SELECT 1 AS a")
    with pytest.raises(InvalidArgument, match="'bucket_count' is not supported"):
        prepare(local_client, "CREATE TABLE t WITH (bucketed_by=ARRAY['a'], bucket_count=4) AS SELECT 1 AS a")
    with pytest.raises(InvalidArgument, match="needs a location"):
        prepare(local_client, "CREATE TABLE t AS SELECT 1 AS a", output=None)
    with pytest.raises(InvalidArgument, match="external_location"):
        prepare(local_client, "CREATE TABLE t WITH (external_location='/tmp/x') AS SELECT 1 AS a")

    put(local_client, "taken/file.csv", b"1\n")
    occupied = prepare(local_client, f"CREATE TABLE t WITH (external_location='lake://{BUCKET}/taken/') "
                                     "AS SELECT id FROM orders")
    with pytest.raises(QueryFailed, match="is not empty") as failed:
        occupied.execute(occupied.plan(), lambda: False)
    assert failed.value.error_type == "AlreadyExists"

    for sql, message in [
        ("CREATE TABLE t WITH (partitioned_by=ARRAY['id']) AS SELECT id, customer FROM orders", "last columns"),
        ("CREATE TABLE t AS SELECT id, id FROM orders", "appears twice"),
        ("CREATE TABLE t AS SELECT NULL AS nothing", "has no type"),
    ]:
        query = prepare(local_client, sql)
        with pytest.raises(QueryFailed, match=message):
            query.execute(query.plan(), lambda: False)
    names = [t.name for t in local_client.catalog.get_tables(database_name=DB).table_list]
    assert names == ["orders"]
    assert keys_under(local_client, "results/") == []


def test_ctas_on_each_metadata_database(db_client: Client) -> None:
    orders(db_client)
    run(db_client, "CREATE TABLE lakehouse.by_customer WITH (partitioned_by=ARRAY['customer']) AS "
                   "SELECT sum(amount) AS total, customer FROM orders GROUP BY customer")
    partitions = db_client.catalog.get_partitions(database_name=DB, table_name="by_customer").partitions
    assert sorted(p.values[0] for p in partitions) == ["ann", "bob", "cyd"]
    assert run(db_client, "SELECT customer, total FROM by_customer WHERE customer <> 'bob' ORDER BY 1").rows == [
        {"customer": "ann", "total": 2.5}, {"customer": "cyd", "total": 7.25}]


def test_insert_into_an_external_table_adds_files_and_partitions(client: Client) -> None:
    setup(client)
    external_table(client, "sales", "parquet", [("id", "bigint"), ("amount", "double")], keys=[("year", "int")])
    put(client, "sales/year=2024/a.parquet", parquet(pa.table({"id": pa.array([1], pa.int64()), "amount": [1.0]})))
    add_partition(client, "sales", ["2024"])
    query = prepare(client, "INSERT INTO sales SELECT 2, 2.5, 2024 UNION ALL SELECT 3, 3.5, 2025")
    assert (query.statement_type, query.substatement_type) == ("DML", "INSERT")
    result = query.execute(query.plan(), lambda: False)
    assert result.batches.read_all().to_pylist() == [{"rows": 2}] and result.written_table == f"{DB}.sales"
    assert run(client, "SELECT * FROM sales ORDER BY id").rows == [
        {"id": 1, "amount": 1.0, "year": 2024}, {"id": 2, "amount": 2.5, "year": 2024},
        {"id": 3, "amount": 3.5, "year": 2025}]
    assert len(keys_under(client, "sales/year=2024/")) == 2
    partitions = client.catalog.get_partitions(database_name=DB, table_name="sales").partitions
    assert sorted(p.values[0] for p in partitions) == ["2024", "2025"]

    put(client, "notes/a.csv", b"id,text\n1,first\n")
    external_table(client, "notes", "csv", [("id", "bigint"), ("text", "string")],
                   serde={"separatorChar": ",", "skip.header.line.count": "1"})
    run(client, "INSERT INTO notes (text, id) VALUES ('second, with a comma', 2)")
    assert run(client, "SELECT * FROM notes ORDER BY id").rows == [
        {"id": 1, "text": "first"}, {"id": 2, "text": "second, with a comma"}]


def test_insert_and_delete_refusals(local_client: Client) -> None:
    orders(local_client)
    with pytest.raises(InvalidArgument, match="only Iceberg tables"):
        prepare(local_client, "DELETE FROM orders WHERE id = 1")
    too_few = prepare(local_client, "INSERT INTO orders VALUES (1, 'x')")
    with pytest.raises(QueryFailed, match="gives 2 values per row, but the table has 4 columns"):
        too_few.execute(too_few.plan(), lambda: False)
    unknown = prepare(local_client, "INSERT INTO orders (id, nope) VALUES (1, 'x')")
    with pytest.raises(QueryFailed, match="has no column 'nope'"):
        unknown.execute(unknown.plan(), lambda: False)
    assert keys_under(local_client, "orders/") == ["orders/a.csv"]


@pytest.mark.parametrize("fmt", ["PARQUET", "TEXTFILE"])
def test_a_ctas_without_rows_makes_an_empty_table(local_client: Client, fmt: str) -> None:
    orders(local_client)
    created = run(local_client, f"CREATE TABLE none WITH (format='{fmt}') AS SELECT id, customer FROM orders "
                                "WHERE id > 100")
    assert created.rows == [{"rows": 0}]
    again = run(local_client, "SELECT id, customer FROM none")
    assert again.rows == [] and again.types == {"id": "bigint", "customer": "varchar"}
    inserted = run(local_client, "INSERT INTO orders SELECT * FROM orders WHERE id > 100")
    assert inserted.rows == [{"rows": 0}] and keys_under(local_client, "orders/") == ["orders/a.csv"]
