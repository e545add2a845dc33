"""The DuckDB engine reading external tables, called directly as the query service calls it.

CSV, JSON lines and Parquet tables on file:// and s3:// lakes (SQLite and PostgreSQL for the
catalog-heavy cases): catalog types read onto the files (schema-on-read) with the crawler's null
tokens, partitions as columns, pruning visible in the bytes scanned, joins, name resolution, and
the faults: syntax errors, unknown tables and columns, corrupt and deleted files, refused callers,
cancellation.
"""

from __future__ import annotations

import datetime
import math
import threading
from decimal import Decimal

import pyarrow as pa
import pytest

from crispml.core.errors import InvalidArgument, NotFound, PermissionDenied
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryCancelled, QueryFailed
from crispml.services.query.engines.duckdb import DuckDBEngine
from tests.services.query.test_engine_support import (
    BUCKET,
    DB,
    add_partition,
    caller_of,
    chunk_bytes,
    external_table,
    parquet,
    prepare,
    put,
    run,
    setup,
    size_of,
)
from tests.spine.test_spine import add_principal, events

PEOPLE_CSV = (b"id,name,score,born,member\n"
              b"1,ann,2.5,1990-01-31,true\n"
              b"2,NA,,null,\\N\n"
              b'3,"bob, jr",x,1985-12-01,false\n'
              b"4,NaN,NaN,,true\n")


def sales(client: Client) -> dict[int, int]:
    """``lakehouse.sales``: Parquet in partitions year=2022..2024 (one file each); their sizes by year."""
    external_table(client, "sales", "parquet", [("id", "bigint"), ("amount", "double")], keys=[("year", "int")])
    sizes = {}
    for year in (2022, 2023, 2024):
        data = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "amount": [year / 1000, 2.0, 3.0]})
        sizes[year] = put(client, f"sales/year={year}/part-0.parquet", parquet(data))
        add_partition(client, "sales", [str(year)])
    return sizes


def test_a_statement_without_tables_names_its_columns_as_athena_does(local_client: Client) -> None:
    ran = run(local_client, "SELECT 1 AS x, 'a' || 'b', CAST(2.5 AS DECIMAL(10,2)) AS d, ARRAY[1, 2] AS arr, "
                            "DATE '2024-01-02' AS day, 5 / 2 AS half", database=None)
    assert ran.rows == [{"x": 1, "_col1": "ab", "d": Decimal("2.50"), "arr": [1, 2],
                         "day": datetime.date(2024, 1, 2), "half": 2}]  # Trino divides integers as integers
    assert ran.types == {"x": "integer", "_col1": "varchar", "d": "decimal(10,2)", "arr": "array(integer)",
                         "day": "date", "half": "integer"}
    decimal = next(c for c in ran.result.columns if c.name == "d")
    assert (decimal.precision, decimal.scale) == (10, 2)
    assert ran.plan.data_scanned_bytes == 0 and ran.plan.files == [] and ran.query.statement_type == "DML"
    summed = run(local_client, "SELECT sum(x) AS Total, count_if(x > 1) FROM (VALUES 1, 2, 3) AS v(x)", database=None)
    assert summed.rows == [{"total": 6, "_col1": 2}]  # Athena's names are lower-case, its integer sums bigint
    assert summed.types == {"total": "bigint", "_col1": "bigint"}


def test_a_csv_table_reads_its_files_with_the_catalog_types_and_null_tokens(client: Client) -> None:
    setup(client)
    size = put(client, "people/part-0.csv", PEOPLE_CSV)
    external_table(client, "people", "csv", [("id", "bigint"), ("name", "string"), ("score", "double"),
                                             ("born", "date"), ("member", "boolean")],
                   serde={"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"})
    ran = run(client, "SELECT * FROM people ORDER BY id")
    # only the empty field and \N are NULL; 'NA' and 'NaN' in a string column are strings, as Athena keeps them
    assert math.isnan(ran.rows[3].pop("score"))  # Hive reads 'NaN' into a double as NaN
    assert ran.rows == [
        {"id": 1, "name": "ann", "score": 2.5, "born": datetime.date(1990, 1, 31), "member": True},
        {"id": 2, "name": "NA", "score": None, "born": None, "member": None},
        {"id": 3, "name": "bob, jr", "score": None, "born": datetime.date(1985, 12, 1), "member": False},
        {"id": 4, "name": "NaN", "born": None, "member": True},
    ]
    assert ran.types == {"id": "bigint", "name": "varchar", "score": "double", "born": "date", "member": "boolean"}
    assert ran.plan.data_scanned_bytes == size
    assert ran.plan.files == [f"lake://{BUCKET}/people/part-0.csv"] and ran.plan.tables == [f"{DB}.people"]


def test_csv_serde_options_are_honoured(local_client: Client) -> None:
    setup(local_client)
    put(local_client, "semi/a.txt", b"1;'x;y'\n2;z\n")
    put(local_client, "semi/_SUCCESS", b"done")  # Hive's marker files are not data
    external_table(local_client, "semi", "csv", [("n", "int"), ("label", "string")],
                   serde={"field.delim": ";", "quoteChar": "'"})
    ran = run(local_client, "SELECT n, label FROM semi ORDER BY n")
    assert ran.rows == [{"n": 1, "label": "x;y"}, {"n": 2, "label": "z"}]
    assert ran.plan.files == [f"lake://{BUCKET}/semi/a.txt"]


def test_a_json_lines_table_matches_keys_case_insensitively(client: Client) -> None:
    setup(client)
    put(client, "events/e.json", b'{"UserId": 1, "kind": "click", "extra": 5}\n{"UserId": 2}\n')
    external_table(client, "events", "json", [("userid", "bigint"), ("kind", "string")])
    ran = run(client, "SELECT userid, kind FROM events ORDER BY userid")
    assert ran.rows == [{"userid": 1, "kind": "click"}, {"userid": 2, "kind": None}]


def test_partitions_prune_before_any_file_is_read(client: Client) -> None:
    setup(client)
    sizes = sales(client)
    ran = run(client, "SELECT year, sum(amount) AS total, count(*) AS n FROM sales WHERE year = 2024 GROUP BY year")
    assert ran.rows == [{"year": 2024, "total": pytest.approx(2.024 + 5.0), "n": 3}]
    # Athena counts the column chunks read (amount; year is a folder), not the whole file
    assert ran.plan.data_scanned_bytes == chunk_bytes(client, "sales/year=2024/part-0.parquet", {"amount"}) \
        < sizes[2024]
    assert ran.plan.files == [f"lake://{BUCKET}/sales/year=2024/part-0.parquet"]
    assert ran.types["year"] == "integer"

    two = run(client, "SELECT DISTINCT year FROM sales s WHERE s.year >= 2023 AND amount > 1 ORDER BY 1")
    assert [r["year"] for r in two.rows] == [2023, 2024]
    assert two.plan.data_scanned_bytes == sum(chunk_bytes(client, f"sales/year={y}/part-0.parquet", {"amount"})
                                              for y in (2023, 2024))
    # a disjunction with a data column cannot prune
    either = run(client, "SELECT count(*) AS n FROM sales WHERE year = 2024 OR amount > 2.5")
    assert either.rows == [{"n": 5}] and either.plan.data_scanned_bytes == sum(
        chunk_bytes(client, f"sales/year={y}/part-0.parquet", {"amount"}) for y in sizes)


def test_the_null_supplying_side_of_an_outer_join_is_not_pruned(local_client: Client) -> None:
    setup(local_client)
    sizes = sales(local_client)
    put(local_client, "ids/a.csv", b"1\n2\n3\n4\n")
    external_table(local_client, "ids", "csv", [("id", "bigint")])
    sql = ("SELECT i.id, s.year FROM ids i LEFT JOIN sales s ON i.id = s.id AND s.id > 1 "
           "WHERE s.year = 2024 OR s.year IS NULL ORDER BY i.id, s.year")
    ran = run(local_client, sql)
    # id 1 and 4 match nothing; pruning the right side to 2024 would have made ids 2 and 3 unmatched too
    assert ran.rows == [{"id": 1, "year": None}, {"id": 2, "year": 2024}, {"id": 3, "year": 2024},
                        {"id": 4, "year": None}]
    assert ran.plan.data_scanned_bytes == sum(
        chunk_bytes(local_client, f"sales/year={y}/part-0.parquet", {"id"}) for y in sizes) \
        + size_of(local_client, "ids/a.csv")


def test_partition_values_come_from_the_catalog_not_from_folder_names(client: Client) -> None:
    setup(client)
    external_table(client, "logs", "csv", [("msg", "string")], keys=[("day", "date"), ("host", "string")])
    put(client, "logs/day=2024-01-01/host=a/x.csv", b"hello\n")
    put(client, "elsewhere/anything/y.csv", b"moved\nthere\n")
    add_partition(client, "logs", ["2024-01-01", "a"])
    add_partition(client, "logs", ["2024-01-02", "b/c"], location=f"lake://{BUCKET}/elsewhere/")
    ran = run(client, "SELECT day, host, msg FROM logs ORDER BY msg")
    assert ran.rows == [{"day": datetime.date(2024, 1, 1), "host": "a", "msg": "hello"},
                        {"day": datetime.date(2024, 1, 2), "host": "b/c", "msg": "moved"},
                        {"day": datetime.date(2024, 1, 2), "host": "b/c", "msg": "there"}]
    pruned = run(client, "SELECT msg FROM logs WHERE host = 'b/c' AND day > DATE '2024-01-01' ORDER BY msg")
    assert [r["msg"] for r in pruned.rows] == ["moved", "there"]
    assert pruned.plan.files == [f"lake://{BUCKET}/elsewhere/anything/y.csv"]


def test_a_join_of_two_tables(db_client: Client) -> None:
    setup(db_client)
    sales(db_client)
    put(db_client, "names/n.csv", b"id,name\n1,ann\n2,bob\n")
    external_table(db_client, "names", "csv", [("id", "bigint"), ("name", "string")],
                   serde={"skip.header.line.count": "1"})
    ran = run(db_client, "SELECT n.name, sum(s.amount) AS total FROM names n JOIN lakehouse.sales s "
                         "ON n.id = s.id WHERE s.year IN (2023, 2024) GROUP BY n.name ORDER BY n.name")
    assert ran.rows == [{"name": "ann", "total": pytest.approx(2.023 + 2.024)}, {"name": "bob", "total": 4.0}]
    assert ran.plan.tables == [f"{DB}.names", f"{DB}.sales"]
    assert len(ran.plan.files) == 3  # names + two of the three sales partitions


def test_names_resolve_through_the_catalog(local_client: Client) -> None:
    setup(local_client)
    local_client.catalog.create_database(database_input={"Name": "other"})
    put(local_client, "t/a.csv", b"1\n")
    put(local_client, "o/a.csv", b"2\n")
    external_table(local_client, "t", "csv", [("v", "int")])
    external_table(local_client, "t", "csv", [("v", "int")], location=f"lake://{BUCKET}/o/", database="other")
    assert run(local_client, "SELECT v FROM t").rows == [{"v": 1}]
    assert run(local_client, "SELECT v FROM t", database="other").rows == [{"v": 2}]
    assert run(local_client, 'SELECT "t"."v" FROM awsdatacatalog."other"."t"').rows == [{"v": 2}]
    assert run(local_client, "SELECT lakehouse.t.v AS v FROM lakehouse.t").rows == [{"v": 1}]
    # a WITH query shadows the catalog table of the same name
    with_query = run(local_client, "WITH t AS (SELECT 42 AS v) SELECT v FROM t")
    assert with_query.rows == [{"v": 42}] and with_query.plan.tables == []
    both = run(local_client, "SELECT a.v + b.v AS s FROM lakehouse.t a CROSS JOIN other.t b", database=None)
    assert both.rows == [{"s": 3}] and both.query.database == DB


def test_bad_statements_and_names_are_refused_at_prepare(local_client: Client) -> None:
    setup(local_client)
    put(local_client, "orders/a.csv", b"1\n")
    external_table(local_client, "orders", "csv", [("id", "bigint")])
    with pytest.raises(InvalidArgument, match=r"^line 1:7: "):
        prepare(local_client, "SELEC 1")
    with pytest.raises(InvalidArgument, match=r"^line 2:"):
        prepare(local_client, "SELECT *\nFROM orders WHERE")
    with pytest.raises(InvalidArgument, match="one statement"):
        prepare(local_client, "SELECT 1; SELECT 2")
    with pytest.raises(NotFound, match=r"lakehouse\.ordres does not exist; did you mean 'orders'"):
        prepare(local_client, "SELECT * FROM ordres")
    with pytest.raises(NotFound, match=r"database 'lakehose' does not exist; did you mean 'lakehouse'"):
        prepare(local_client, "SELECT * FROM lakehose.orders")
    with pytest.raises(InvalidArgument, match="not qualified"):
        prepare(local_client, "SELECT * FROM orders", database=None)
    with pytest.raises(InvalidArgument, match="no snapshots"):
        prepare(local_client, "SELECT * FROM orders FOR VERSION AS OF 1")
    with pytest.raises(InvalidArgument, match=r"SHOW FUNCTIONS.*SHOW … is one of"):
        prepare(local_client, "SHOW FUNCTIONS")


def test_an_unknown_column_fails_with_the_binder_message(local_client: Client) -> None:
    setup(local_client)
    put(local_client, "orders/a.csv", b"1\n")
    external_table(local_client, "orders", "csv", [("id", "bigint")])
    query = prepare(local_client, "SELECT amount FROM orders")
    with pytest.raises(QueryFailed, match='Binder Error: Referenced column "amount" not found') as failed:
        query.execute(query.plan(), lambda: False)
    assert failed.value.error_type == "InvalidArgument"
    assert "__scan" not in failed.value.message  # the rewritten statement is not shown


def test_a_value_that_fails_while_the_rows_stream_out_is_the_users_error_not_the_engines(
        local_client: Client) -> None:
    """DuckDB's errors met after the first rows (they come through Arrow's stream as a bare OSError) keep their
    class: a bad cast is InvalidArgument, not a retryable Internal failure of the engine."""
    setup(local_client)
    rows = "\n".join(str(i) for i in range(200_000)) + "\nnot a number\n"
    put(local_client, "orders/a.csv", rows.encode())
    external_table(local_client, "orders", "csv", [("id", "string")])
    query = prepare(local_client, "SELECT CAST(id AS INTEGER) AS n FROM orders")
    with pytest.raises(QueryFailed, match="Conversion Error") as failed:
        result = query.execute(query.plan(), lambda: False)
        for _ in result.batches:  # the first batches convert; the last one does not
            pass
    assert failed.value.error_type == "InvalidArgument" and "not a number" in failed.value.message


def test_a_corrupt_file_fails_naming_its_lake_uri(client: Client, home: object) -> None:
    setup(client)
    external_table(client, "broken", "parquet", [("id", "bigint")])
    put(client, "broken/good.parquet", parquet(pa.table({"id": [1]})))
    put(client, "broken/bad.parquet", b"PAR1 this is not parquet at all PAR1")
    query = prepare(client, "SELECT sum(id) FROM broken")
    with pytest.raises(QueryFailed) as failed:
        query.execute(query.plan(), lambda: False)
    assert f"lake://{BUCKET}/broken/bad.parquet" in failed.value.message
    assert str(home) not in failed.value.message and "crispml-query-" not in failed.value.message


def test_deleted_files_fail_the_query_clearly(client: Client) -> None:
    setup(client)
    sales(client)
    client.lake.delete_object(bucket=BUCKET, key="sales/year=2023/part-0.parquet")
    with pytest.raises(QueryFailed, match=r"partition \['2023'\].*no files under "
                                          rf"lake://{BUCKET}/sales/year=2023/") as gone:
        prepare(client, "SELECT * FROM sales").plan()
    assert gone.value.error_type == "NotFound"
    # pruned away, the emptied partition does not matter
    assert run(client, "SELECT count(*) AS n FROM sales WHERE year = 2024").rows == [{"n": 3}]

    query = prepare(client, "SELECT count(*) FROM sales WHERE year = 2022")
    plan = query.plan()
    client.lake.delete_object(bucket=BUCKET, key="sales/year=2022/part-0.parquet")
    with pytest.raises(QueryFailed, match=rf"lake://{BUCKET}/sales/year=2022/part-0.parquet") as between:
        query.execute(plan, lambda: False)
    assert between.value.error_type == "NotFound"

    external_table(client, "empty", "csv", [("id", "bigint")])
    with pytest.raises(QueryFailed, match=rf"no files under lake://{BUCKET}/empty/") as empty:
        prepare(client, "SELECT * FROM empty").plan()
    assert empty.value.error_type == "NotFound"


def test_every_file_read_is_authorized_and_audited_as_the_caller(local_client: Client) -> None:
    setup(local_client)
    sales(local_client)
    before = events(local_client)[-1].event_id
    run(local_client, "SELECT count(*) FROM sales WHERE year > 2022")
    reads = events(local_client, after=before, action="lake:GetObject")
    assert sorted(e.resource.rsplit("/", 2)[-2] for e in reads if e.resource) == ["year=2023", "year=2024"]
    assert {e.principal for e in reads} == {"root"}

    add_principal(local_client, "uma", kind="User", status="Active")
    with pytest.raises(PermissionDenied):
        prepare(local_client.as_principal("uma"), "SELECT * FROM sales")


def test_results_stream_in_batches(local_client: Client) -> None:
    query = prepare(local_client, "SELECT range AS n FROM range(200000)", database=None,
                    engine=DuckDBEngine(batch_rows=50_000))
    reader = query.execute(query.plan(), lambda: False).batches
    sizes = [batch.num_rows for batch in reader]
    assert len(sizes) > 1 and max(sizes) <= 50_000 and sum(sizes) == 200_000


ENDLESS = "SELECT sum(a.range * b.range) AS s FROM range(1000000000) a CROSS JOIN range(1000000000) b"


@pytest.mark.timeout(120)
def test_a_running_statement_is_cancelled(local_client: Client) -> None:
    polls = iter([False])  # the first poll (before starting) says go; every later one says stop
    query = prepare(local_client, ENDLESS, database=None)
    with pytest.raises(QueryCancelled):
        result = query.execute(query.plan(), lambda: next(polls, True))
        result.batches.read_all()

    stopped = prepare(local_client, ENDLESS, database=None)
    timer = threading.Timer(0.2, stopped.interrupt)
    timer.start()
    with pytest.raises(QueryCancelled):
        stopped.execute(stopped.plan(), lambda: False).batches.read_all()
    timer.join()

    early = prepare(local_client, "SELECT 1", database=None)
    with pytest.raises(QueryCancelled):
        early.execute(early.plan(), lambda: True)


def test_the_engine_acts_for_the_caller_it_was_given(local_client: Client) -> None:
    setup(local_client)
    put(local_client, "t/a.csv", b"1\n")
    external_table(local_client, "t", "csv", [("v", "int")])
    caller = caller_of(local_client)
    assert caller.ctx.principal == "root"
    query = DuckDBEngine().prepare(caller, "SELECT v FROM t", DB, output_location=None, query_execution_id="x1")
    assert query.substatement_type == "SELECT" and query.database == DB
    assert query.execute(query.plan(), lambda: False).batches.read_all().to_pylist() == [{"v": 1}]
