"""Athena's DDL through the query engine and service: each statement is checked against the catalog's state
afterwards (read through the catalog's own operations), on SQLite and PostgreSQL metadata and on file and s3
lakes where files matter; a caller without the grant changes nothing; bad DDL is InvalidArgument."""

from __future__ import annotations

from pathlib import Path

import pytest

from crispml.core.errors import AlreadyExists, InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.conftest import Cli, run_query
from tests.services.query.test_engine_support import BUCKET, DB, add_partition, external_table, prepare, put, run, setup
from tests.spine.test_spine import add_principal, events


def orders(client: Client) -> None:
    """``lakehouse.orders``: a CSV table partitioned by ``day`` with two partitions."""
    setup(client)
    put(client, "orders/day=2024-01-01/a.csv", b"1,ann,2.5\n2,bob,3\n")
    put(client, "orders/day=2024-01-02/a.csv", b"3,cyd,7.25\n")
    external_table(client, "orders", "csv", [("id", "bigint"), ("customer", "string"), ("amount", "double")],
                   keys=[("day", "string")], serde={"field.delim": ","})
    add_partition(client, "orders", ["2024-01-01"])
    add_partition(client, "orders", ["2024-01-02"])


def column(sql: str, client: Client, name: str | None = None) -> list[str]:
    ran = run(client, sql)
    names = [c.name for c in ran.result.columns]
    assert len(names) == 1 and (name is None or names == [name]), names
    assert [c.type for c in ran.result.columns] == ["string"]
    return [row[names[0]] for row in ran.rows]


def partitions(client: Client, table: str) -> list[tuple[list[str], str | None]]:
    found = client.catalog.get_partitions(database_name=DB, table_name=table).partitions
    return sorted((p.values, p.storage_descriptor.location) for p in found)


def test_show_and_describe_answer_in_athenas_shapes(db_client: Client) -> None:
    orders(db_client)
    db_client.catalog.create_database(database_input={"Name": "lake_two"})
    databases = sorted(d.name for d in db_client.catalog.get_databases().database_list)
    assert column("SHOW DATABASES", db_client, "database_name") == databases
    assert column("SHOW SCHEMAS LIKE 'lake*'", db_client) == sorted(["lakehouse", "lake_two"])
    assert column("SHOW SCHEMAS LIKE 'lakeh*|nothing'", db_client) == ["lakehouse"]

    external_table(db_client, "customers", "csv", [("id", "bigint")])
    assert column("SHOW TABLES", db_client, "tab_name") == ["customers", "orders"]
    assert column("SHOW TABLES IN lakehouse LIKE 'ord*'", db_client) == ["orders"]
    assert column("SHOW TABLES IN lake_two", db_client) == []
    assert column("SHOW COLUMNS IN orders", db_client, "field") == ["id", "customer", "amount", "day"]
    assert column("SHOW COLUMNS FROM orders IN lakehouse", db_client) == ["id", "customer", "amount", "day"]
    assert column("SHOW PARTITIONS lakehouse.orders", db_client, "partition") == ["day=2024-01-01", "day=2024-01-02"]

    described = column("DESCRIBE orders", db_client, "col_name")
    assert [line.split("\t")[0].strip() for line in described[:4]] == ["id", "customer", "amount", "day"]
    assert [line.split("\t")[1].strip() for line in described[:4]] == ["bigint", "string", "double", "string"]
    assert described[4:7] == ["", "# Partition Information", described[6]] and described[6].startswith("# col_name")
    assert described[-1].split("\t")[0].strip() == "day"
    formatted = column("DESCRIBE FORMATTED lakehouse.orders", db_client)
    fields = {line.split("\t")[0].strip(): line.split("\t")[-1].strip() for line in formatted if "\t" in line}
    assert fields["Location:"] == f"lake://{BUCKET}/orders/" and fields["Table Type:"] == "EXTERNAL_TABLE"
    assert fields["Database:"] == DB

    ran = run(db_client, "SHOW TABLES")
    assert (ran.query.statement_type, ran.query.substatement_type) == ("DDL", "SHOW_TABLES")
    assert ran.plan.data_scanned_bytes == 0


def test_create_database_and_external_table_then_repair_alter_and_query(client: Client) -> None:
    setup(client)
    run(client, f"CREATE DATABASE IF NOT EXISTS sales COMMENT 'what we sold' LOCATION 's3://{BUCKET}/sales/' "
                "WITH DBPROPERTIES ('owner'='finance')")
    database = client.catalog.get_database(name="sales").database
    assert (database.description, database.location_uri, database.parameters) == (
        "what we sold", f"lake://{BUCKET}/sales/", {"owner": "finance"})
    run(client, "CREATE DATABASE IF NOT EXISTS sales")  # already there: nothing happens
    with pytest.raises(QueryFailed, match="already exists") as twice:
        run(client, "CREATE DATABASE sales")
    assert twice.value.error_type == "AlreadyExists"

    put(client, "sales/orders/year=2024/month=01/a.csv", b"id|note\n1|x\n2|y\n")
    put(client, "sales/orders/year=2024/month=02/a.csv", b"id|note\n3|z\n")
    put(client, "sales/orders/stray.txt", b"not a partition")
    run(client, f"""
        CREATE EXTERNAL TABLE sales.orders (
          id bigint COMMENT 'order id', note string, extra struct<a:int,b:string>, price decimal(10,2))
        COMMENT 'orders by month'
        PARTITIONED BY (year string, month string)
        ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
        STORED AS TEXTFILE
        LOCATION 's3://{BUCKET}/sales/orders/'
        TBLPROPERTIES ('skip.header.line.count'='1')""")
    table = client.catalog.get_table(database_name="sales", name="orders").table
    sd = table.storage_descriptor
    assert [(c.name, c.type, c.comment) for c in sd.columns] == [
        ("id", "bigint", "order id"), ("note", "string", None), ("extra", "struct<a:int,b:string>", None),
        ("price", "decimal(10,2)", None)]
    assert [(k.name, k.type) for k in table.partition_keys] == [("year", "string"), ("month", "string")]
    assert sd.location == f"lake://{BUCKET}/sales/orders/" and table.description == "orders by month"
    assert sd.serde_info is not None and sd.serde_info.parameters["field.delim"] == "|"
    assert sd.serde_info.serialization_library == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert table.format == "csv" and table.parameters["skip.header.line.count"] == "1"
    assert client.catalog.get_partitions(database_name="sales", table_name="orders").partitions == []

    repaired = column("MSCK REPAIR TABLE sales.orders", client)
    assert "Repair: Added partition to metastore orders:year=2024/month=01" in repaired
    found = client.catalog.get_partitions(database_name="sales", table_name="orders").partitions
    assert sorted(p.values for p in found) == [["2024", "01"], ["2024", "02"]]
    assert column("MSCK REPAIR TABLE sales.orders", client) == []  # nothing left to add
    rows = run(client, "SELECT id, note, month FROM sales.orders ORDER BY id").rows
    assert rows == [{"id": 1, "note": "x", "month": "01"}, {"id": 2, "note": "y", "month": "01"},
                    {"id": 3, "note": "z", "month": "02"}]

    put(client, "elsewhere/b.csv", b"id|note\n9|moved\n")
    run(client, f"ALTER TABLE sales.orders ADD PARTITION (year='2025', month='01') LOCATION "
                f"'s3://{BUCKET}/elsewhere/' PARTITION (year='2025', month='02')")
    found = {tuple(p.values): p.storage_descriptor.location for p in client.catalog.get_partitions(
        database_name="sales", table_name="orders").partitions}
    assert found[("2025", "01")] == f"lake://{BUCKET}/elsewhere/"
    assert found[("2025", "02")] == f"lake://{BUCKET}/sales/orders/year=2025/month=02/"
    assert run(client, "SELECT note FROM sales.orders WHERE year = '2025' AND month = '01'").rows == [
        {"note": "moved"}]
    with pytest.raises(QueryFailed, match=r"partition \(year='2025', month='01'\) of sales.orders already exists"):
        run(client, "ALTER TABLE sales.orders ADD PARTITION (year='2025', month='01')")
    run(client, "ALTER TABLE sales.orders ADD IF NOT EXISTS PARTITION (year='2025', month='01')")

    run(client, "ALTER TABLE sales.orders DROP PARTITION (year='2025', month='02'), PARTITION (year='2024', "
                "month='01')")
    left = client.catalog.get_partitions(database_name="sales", table_name="orders").partitions
    assert sorted(p.values for p in left) == [["2024", "02"], ["2025", "01"]]
    with pytest.raises(QueryFailed, match="does not exist") as missing:
        run(client, "ALTER TABLE sales.orders DROP PARTITION (year='1999', month='01')")
    assert missing.value.error_type == "NotFound"
    run(client, "ALTER TABLE sales.orders DROP IF EXISTS PARTITION (year='1999', month='01')")
    run(client, "ALTER TABLE sales.orders DROP PARTITION (year='2025')")  # a partial spec drops every match
    assert [p.values for p in client.catalog.get_partitions(database_name="sales", table_name="orders").partitions
            ] == [["2024", "02"]]
    assert client.lake.head_object(bucket=BUCKET, key="elsewhere/b.csv")  # dropping a partition keeps its files


def test_show_create_table_makes_the_same_table_again(local_client: Client) -> None:
    setup(local_client)
    statements = {
        "events": f"CREATE EXTERNAL TABLE events (id bigint, tags array<string>, at timestamp) "
                  f"PARTITIONED BY (day date) ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe' WITH "
                  f"SERDEPROPERTIES ('ignore.malformed.json'='true') LOCATION 's3://{BUCKET}/events/'",
        "metrics": f"CREATE EXTERNAL TABLE metrics (name string, value double) COMMENT 'm' STORED AS PARQUET "
                   f"LOCATION 's3://{BUCKET}/metrics/' TBLPROPERTIES ('parquet.compression'='SNAPPY')",
    }
    for name, sql in statements.items():
        run(local_client, sql)
        before = local_client.catalog.get_table(database_name=DB, name=name).table
        text = "\n".join(column(f"SHOW CREATE TABLE {name}", local_client, "createtab_stmt"))
        assert text.startswith(f"CREATE EXTERNAL TABLE `{DB}`.`{name}`(")
        run(local_client, f"DROP TABLE {name}")
        with pytest.raises(NotFound):
            local_client.catalog.get_table(database_name=DB, name=name)
        run(local_client, text)
        after = local_client.catalog.get_table(database_name=DB, name=name).table
        assert after.storage_descriptor == before.storage_descriptor
        assert (after.partition_keys, after.parameters, after.description, after.format) == (
            before.partition_keys, before.parameters, before.description, before.format)
    assert local_client.catalog.get_table(database_name=DB, name="events").table.format == "json"
    assert local_client.catalog.get_table(database_name=DB, name="metrics").table.format == "parquet"


def test_create_iceberg_table_makes_a_managed_table(db_client: Client) -> None:
    setup(db_client)
    run(db_client, f"CREATE TABLE visits (id bigint, page string, day date) PARTITIONED BY (day) "
                   f"LOCATION 's3://{BUCKET}/visits/' TBLPROPERTIES ('table_type'='ICEBERG')")
    table = db_client.catalog.get_table(database_name=DB, name="visits").table
    assert table.is_iceberg
    assert [c.name for c in table.storage_descriptor.columns] == ["id", "page"]
    assert [(k.name, k.type) for k in table.partition_keys] == [("day", "date")]
    assert db_client.catalog.get_table_snapshots(database_name=DB, table_name="visits").snapshots == []
    run(db_client, "INSERT INTO visits VALUES (1, '/home', DATE '2024-03-01'), (2, '/buy', DATE '2024-03-02')")
    assert run(db_client, "SELECT page FROM visits WHERE day = DATE '2024-03-02'").rows == [{"page": "/buy"}]
    text = column("SHOW CREATE TABLE visits", db_client)
    assert text[0] == f"CREATE TABLE `{DB}`.`visits`(" and "PARTITIONED BY (`day`)" in text
    assert "  'table_type'='ICEBERG')" in text
    with pytest.raises(InvalidArgument, match="partition transform"):
        prepare(db_client, f"CREATE TABLE t2 (id bigint, at timestamp) PARTITIONED BY (day(at)) "
                           f"LOCATION 's3://{BUCKET}/t2/' TBLPROPERTIES ('table_type'='ICEBERG')")
    with pytest.raises(InvalidArgument, match="needs LOCATION"):
        prepare(db_client, "CREATE TABLE t2 (id bigint) TBLPROPERTIES ('table_type'='ICEBERG')")
    with pytest.raises(QueryFailed, match="not supported for Iceberg tables"):
        run(db_client, "SHOW PARTITIONS visits")


def test_drop_table_and_database(db_client: Client) -> None:
    orders(db_client)
    run(db_client, "DROP TABLE lakehouse.orders")
    with pytest.raises(NotFound):
        db_client.catalog.get_table(database_name=DB, name="orders")
    assert db_client.lake.head_object(bucket=BUCKET, key="orders/day=2024-01-01/a.csv")  # its files stay
    run(db_client, "DROP TABLE IF EXISTS orders")
    with pytest.raises(QueryFailed, match=r"table lakehouse\.orders does not exist") as missing:
        run(db_client, "DROP TABLE orders")
    assert missing.value.error_type == "NotFound"

    external_table(db_client, "customers", "csv", [("id", "bigint")])
    with pytest.raises(QueryFailed, match=r"database lakehouse is not empty \(it holds customers\)") as held:
        run(db_client, "DROP DATABASE lakehouse")
    assert held.value.error_type == "InvalidArgument"
    assert db_client.catalog.get_table(database_name=DB, name="customers").table
    run(db_client, "DROP DATABASE lakehouse CASCADE", database=None)
    assert DB not in {d.name for d in db_client.catalog.get_databases().database_list}
    run(db_client, "DROP SCHEMA IF EXISTS lakehouse", database=None)
    with pytest.raises(QueryFailed, match="does not exist"):
        run(db_client, "DROP DATABASE lakehouse", database=None)


def test_a_caller_without_the_grant_is_refused_and_nothing_changes(local_client: Client) -> None:
    orders(local_client)
    add_principal(local_client, "uma", kind="User", status="Active")
    uma = local_client.as_principal("uma")
    before = events(local_client)[-1].event_id
    for sql in ["DROP TABLE orders", "CREATE DATABASE uma_db", "ALTER TABLE orders DROP PARTITION (day='2024-01-01')",
                f"CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET LOCATION 's3://{BUCKET}/t/'",
                "MSCK REPAIR TABLE orders", "SHOW TABLES", "DROP DATABASE lakehouse CASCADE"]:
        with pytest.raises(QueryFailed, match="uma is not authorized to perform catalog:") as refused:
            run(uma, sql)
        assert refused.value.error_type == "PermissionDenied", sql
    assert local_client.catalog.get_table(database_name=DB, name="orders").table
    assert [p[0] for p in partitions(local_client, "orders")] == [["2024-01-01"], ["2024-01-02"]]
    assert {d.name for d in local_client.catalog.get_databases().database_list} == {DB}
    with pytest.raises(NotFound):
        local_client.catalog.get_table(database_name=DB, name="t")
    attempts = [e for e in events(local_client, after=before) if e.principal == "uma"]
    assert attempts and all(e.outcome != "Success" and e.error_code == "AccessDenied" for e in attempts)

    run(local_client, "CREATE DATABASE audited")  # the owner's DDL is an audited catalog operation
    created = events(local_client, after=before, action="catalog:CreateDatabase")
    assert [(e.principal, e.resource.rsplit("/", 1)[-1], e.outcome) for e in created if e.principal == "root"] == [
        ("root", "audited", "Success")]


BAD = [
    ("SHOW TABLESPACES", "SHOW … is one of"),
    ("SHOW PARTITIONS", "expected a name"),
    ("SHOW COLUMNS orders", "SHOW COLUMNS IN"),
    ("CREATE TABLE t (a int) LOCATION 's3://b/t/'", "Athena creates external tables"),
    ("CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET", "needs LOCATION"),
    ("CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION 's3://b/t/'", "STORED AS ORC is not supported"),
    ("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/t/'", "needs its columns"),
    ("CREATE EXTERNAL TABLE t (a int) STORED AS PARQUET LOCATION '/tmp/t'", "must be a lake prefix"),
    ("ALTER TABLE orders ADD", "name at least one PARTITION"),
    ("ALTER TABLE orders ADD PARTITION (day)", "expected '='"),
    ("ALTER TABLE orders RENAME TO other", "other changes go through"),
    ("MSCK REPAIR orders", "expected TABLE"),
    ("DROP INDEX i", "statements are not supported"),
    ("EXPLAIN (TYPE IO) SELECT 1", "TYPE IO"),
    ("EXPLAIN DROP TABLE orders", "EXPLAIN explains queries"),
    ("CREATE DATABASE d WITH DBPROPERTIES ('a')", "expected '='"),
]


@pytest.mark.parametrize(("sql", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_ddl_is_invalid_argument_at_submission(local_client: Client, sql: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as refused:
        prepare(local_client, sql)
    assert type(refused.value).__name__ in ("InvalidArgument", "InvalidInputException")


def test_bad_ddl_on_real_tables_fails_naming_the_problem(local_client: Client) -> None:
    orders(local_client)
    external_table(local_client, "flat", "csv", [("id", "bigint")])
    for sql, message in [
        ("SHOW PARTITIONS flat", "table lakehouse.flat is not partitioned"),
        ("ALTER TABLE orders ADD PARTITION (month='01')", "has no partition key 'month'"),
        ("SHOW CREATE VIEW orders", "is a table, not a view"),
        ("DESCRIBE nothing", r"table lakehouse\.nothing does not exist"),
    ]:
        with pytest.raises(QueryFailed, match=message) as failed:
            run(local_client, sql)
        assert failed.value.error_type in ("InvalidArgument", "NotFound"), sql
    assert [p[0] for p in partitions(local_client, "orders")] == [["2024-01-01"], ["2024-01-02"]]


def test_explain_shows_the_engines_plan_over_the_tables_files(local_client: Client) -> None:
    orders(local_client)
    ran = run(local_client, "EXPLAIN SELECT day, sum(amount) FROM orders WHERE id > 1 GROUP BY day")
    assert (ran.query.statement_type, ran.query.substatement_type) == ("UTILITY", "EXPLAIN")
    assert [c.name for c in ran.result.columns] == ["Query Plan"]
    plan = ran.rows[0]["Query Plan"]
    assert "AGGREGATE" in plan.upper() and "/tmp" not in plan
    assert ran.plan.data_scanned_bytes == 0
    analyzed = run(local_client, "EXPLAIN ANALYZE SELECT count(*) FROM orders")
    assert analyzed.plan.data_scanned_bytes > 0 and "Total Time" in analyzed.rows[0]["Query Plan"]
    assert run(local_client, "EXPLAIN (TYPE VALIDATE) SELECT id FROM orders").rows == [{"Valid": "true"}]
    with pytest.raises(NotFound, match="does not exist"):
        prepare(local_client, "EXPLAIN SELECT * FROM missing")


def test_ddl_through_the_service_and_the_cli(local_client: Client, cli: Cli, home: Path) -> None:
    orders(local_client)
    execution = run_query(local_client, "SHOW PARTITIONS orders", query_execution_context={"Database": DB})
    assert (execution.status.state, execution.statement_type, execution.substatement_type) == (
        "SUCCEEDED", "DDL", "SHOW_PARTITIONS")
    results = local_client.query.get_query_results(query_execution_id=execution.query_execution_id)
    assert [c.name for c in results.result_set.result_set_metadata.column_info] == ["partition"]
    values = [[d.var_char_value for d in row.data] for row in results.result_set.rows]
    assert values[-2:] == [["day=2024-01-01"], ["day=2024-01-02"]]
    failed = run_query(local_client, "DROP TABLE lakehouse.nothing")
    assert failed.status.state == "FAILED" and failed.status.athena_error.error_type == "NotFound"

    result = cli("sql", "SHOW TABLES IN lakehouse")
    assert result.code == 0, result.err
    assert result.out.split()[:3] == ["tab_name", result.out.split()[1], "orders"]
    refused = cli("sql", "CREATE TABLE lakehouse.t (a int)")
    assert refused.code == 2 and "Athena creates external tables" in refused.err
    with pytest.raises(AlreadyExists):
        local_client.catalog.create_database(database_input={"Name": DB})
