"""The sealed SQL engine: a statement reads catalog tables through the lake, and nothing else.

Hostile statements — file readers with every path form, the lake's own folders, the metadata DB,
engine state, statements that act on DuckDB itself, macros, comments and case tricks — are refused
at StartQueryExecution with InvalidArgument naming the function or statement, and nothing is read or
written: no GetObject or PutObject event, the lake's objects, the catalog's tables, the query history
and the files around the home unchanged. Pure refusals run once; what the backend changes (a table
still reads its files, and only those, on file:// and s3:// lakes, SQLite and PostgreSQL metadata) runs
on each. The second layer — every DuckDB database the engine opens can reach only the files its
statement resolved to — is checked on the engine's own connections. Query timeouts and memory limits
end a query FAILED with the reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from crispml.core.clock import FixedClock
from crispml.core.errors import CrispmlError, InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from crispml.services.query.engines.duckdb import DuckDBEngine
from tests.services.query.conftest import DATA_BUCKET, ENDLESS, run_query, wait
from tests.services.query.test_engine_support import prepare
from tests.spine.test_spine import add_principal, events

#: What the files the statements aim at hold; no message may show it.
MARKER = "s3cr3t-marker"
PRIVATE = "private-bucket"


@dataclass
class Target:
    """A home with catalog tables, a second bucket, and files outside the lake to aim at."""

    client: Client
    home: Path
    secret: Path  # a CSV outside the lake
    secret_json: Path
    out: Path  # where COPY/EXPORT would write
    blob_dir: str  # the lake's folder on disk (file:// lakes)

    def snapshot(self) -> tuple[object, ...]:
        """What a refused statement must leave unchanged: lake objects, tables, query history, files."""
        lake = self.client.lake
        objects = sorted((b.name, o.key, o.etag) for b in lake.list_buckets().buckets
                         for o in lake.list_objects_v2(bucket=b.name).contents)
        tables = sorted(t.name for d in self.client.catalog.get_databases().database_list
                        for t in self.client.catalog.get_tables(database_name=d.name).table_list)
        history = tuple(self.client.query.list_query_executions().query_execution_ids)
        files = sorted(str(p) for p in self.home.parent.rglob("*") if p.is_file() and ".tmp" not in p.parts)
        return objects, tables, history, files, _digest(self.secret), self.out.exists()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def target(local_client: Client, home: Path, orders: Callable[[Client], str]) -> Target:
    orders(local_client)
    local_client.lake.create_bucket(bucket=PRIVATE)
    local_client.lake.put_object(bucket=PRIVATE, key="hidden/data.csv", body=f"a,b\n{MARKER},1\n".encode())
    outside = home.parent / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text(f"name,value\n{MARKER},42\n")
    secret_json = outside / "secret.json"
    secret_json.write_text(f'{{"name": "{MARKER}"}}\n')
    return Target(local_client, home, secret, secret_json, outside / "stolen.csv", str(home / "lake"))


#: (statement with {secret} {json} {home} {lake} {out} {meta} placeholders, the name the refusal gives)
HOSTILE = [
    # file readers, every path form
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("SELECT * FROM read_csv('{secret}')", "read_csv"),
    ("SELECT * FROM read_csv_auto('{secret}')", "read_csv_auto"),
    ("SELECT * FROM read_csv(['{secret}', '{secret}'])", "read_csv"),
    ("SELECT * FROM read_text('{secret}')", "read_text"),
    ("SELECT * FROM read_blob('{secret}')", "read_blob"),
    ("SELECT * FROM read_json('{json}')", "read_json"),
    ("SELECT * FROM read_json_auto('{json}')", "read_json_auto"),
    ("SELECT * FROM read_ndjson_objects('{json}')", "read_ndjson_objects"),
    ("SELECT * FROM read_parquet('{lake}/**/*.parquet')", "read_parquet"),
    ("SELECT * FROM parquet_scan('{lake}/*/*')", "parquet_scan"),
    ("SELECT * FROM parquet_metadata('{lake}/*/*')", "parquet_metadata"),
    ("SELECT * FROM parquet_schema('{secret}')", "parquet_schema"),
    ("SELECT * FROM sniff_csv('{secret}')", "sniff_csv"),
    ("SELECT * FROM read_csv('file://{secret}')", "read_csv"),
    ("SELECT * FROM read_text('outside/secret.csv')", "read_text"),
    ("SELECT * FROM read_text('../outside/secret.csv')", "read_text"),
    ("SELECT * FROM read_text('~/.bashrc')", "read_text"),
    ("SELECT * FROM read_csv('{lake}/" + DATA_BUCKET + "/*/*')", "read_csv"),
    ("SELECT * FROM read_csv('{lake}/" + PRIVATE + "/*/*')", "read_csv"),
    ("SELECT * FROM read_csv('lake://" + PRIVATE + "/hidden/data.csv')", "read_csv"),
    ("SELECT * FROM read_csv('s3://" + PRIVATE + "/hidden/data.csv')", "read_csv"),
    ("SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')", "read_csv"),
    ("SELECT * FROM read_blob('{meta}')", "read_blob"),
    ("SELECT * FROM sqlite_scan('{meta}', 'principals')", "sqlite_scan"),
    ("SELECT * FROM read_duckdb('{meta}')", "read_duckdb"),
    ("SELECT * FROM glob('{home}/*')", "glob"),
    ("SELECT * FROM '{secret}'", "file cannot be read as a table"),
    # where the reader hides: subqueries, CTEs, joins, LATERAL, predicates, CTAS, INSERT
    ("SELECT * FROM (SELECT * FROM read_csv('{secret}')) AS t", "read_csv"),
    ("WITH s AS (SELECT * FROM read_text('{secret}')) SELECT * FROM s", "read_text"),
    ("SELECT * FROM shop.orders o JOIN read_csv('{secret}') r ON true", "read_csv"),
    ("SELECT * FROM shop.orders, LATERAL read_blob('{secret}')", "read_blob"),
    ("SELECT * FROM shop.orders WHERE customer IN (SELECT name FROM read_csv('{secret}'))", "read_csv"),
    ("CREATE TABLE shop.stolen AS SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    ("CREATE TABLE shop.stolen WITH (format='TEXTFILE') AS SELECT * FROM read_text('{secret}')", "read_text"),
    ("INSERT INTO shop.orders SELECT 9, name, 1.0 FROM read_csv('{secret}')", "read_csv"),
    # comments, case, quoting, schema prefixes
    ("SeLeCt * FrOm ReAd_CsV('{secret}')", "read_csv"),
    ("SELECT * FROM read_csv/* a comment */('{secret}')", "read_csv"),
    ("SELECT * FROM read_csv -- a comment\n('{secret}')", "read_csv"),
    ('SELECT * FROM "read_text"(\'{secret}\')', "read_text"),
    ("SELECT * FROM main.read_text('{secret}')", "read_text"),
    ("SELECT * FROM system.main.read_blob('{secret}')", "read_blob"),
    # engine state and SQL run from data
    ("SELECT * FROM query('SELECT * FROM read_csv(''{secret}'')')", "query"),
    ("SELECT * FROM query_table('orders')", "query_table"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
    ("SELECT * FROM duckdb_extensions()", "duckdb_extensions"),
    ("SELECT * FROM duckdb_secrets()", "duckdb_secrets"),
    ("SELECT * FROM pragma_version()", "pragma_version"),
    ("SELECT * FROM pragma_database_size()", "pragma_database_size"),
    ("SELECT current_setting('allowed_paths')", "current_setting"),
    ("SELECT current_query()", "current_query"),
    ("SELECT getenv('HOME')", "getenv"),
    ("SELECT * FROM histogram('{secret}', name)", "histogram"),
    # statements that act on DuckDB itself
    ("COPY shop.orders TO '{out}'", "COPY"),
    ("COPY (SELECT 1) TO '{out}' (FORMAT csv)", "COPY"),
    ("EXPORT DATABASE '{out}'", "EXPORT"),
    ("IMPORT DATABASE '{home}'", "IMPORT"),
    ("PRAGMA version", "PRAGMA"),
    ("PRAGMA show_tables", "PRAGMA"),
    ("SET enable_external_access = true", "SET"),
    ("SET GLOBAL allowed_directories = ['/']", "SET"),
    ("RESET memory_limit", "RESET"),
    ("CALL pragma_version()", "CALL"),
    ("CREATE MACRO steal(p) AS TABLE SELECT * FROM read_csv(p)", "CREATE MACRO"),
    ("CREATE OR REPLACE TEMP MACRO steal(p) AS TABLE SELECT 1", "MACRO"),
    ("CREATE FUNCTION f(x) AS x + 1", "FUNCTION"),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "SECRET"),
    ("ATTACH '{meta}' AS m", "ATTACH"),
    ("ATTACH 'sqlite:{meta}' AS m (TYPE sqlite)", "ATTACH"),
    ("DETACH m", "DETACH"),
    ("USE memory", "USE"),
    ("LOAD httpfs", "LOAD"),
    ("INSTALL httpfs FROM 'http://127.0.0.1:9'", "INSTALL"),
    ("FORCE INSTALL httpfs", "FORCE"),
    ("/* hidden */ load 'httpfs'", "LOAD"),
    ("SELECT 1; COPY (SELECT 1) TO '{out}'", "COPY"),
    ("PREPARE steal FROM COPY (SELECT 1) TO '{out}'", "COPY"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'", "COPY"),
    ("EXPLAIN SELECT * FROM read_text('{secret}')", "read_text"),
]


def sql(client: Client, text: str) -> list[tuple[str | None, ...]]:
    """Run ``text`` to its end; its rows (header left out), every value as text."""
    execution = run_query(client, text)
    assert execution.status.state == "SUCCEEDED", execution.status.state_change_reason
    if execution.statement_type != "DML" or execution.substatement_type != "SELECT":
        return []
    rows: list[tuple[str | None, ...]] = []
    token = None
    while True:
        page = client.query.get_query_results(query_execution_id=execution.query_execution_id, next_token=token)
        rows += [tuple(d.var_char_value for d in r.data) for r in page.result_set.rows]
        token = page.next_token
        if token is None:
            return rows[1:]


def _statement(template: str, target: Target) -> str:
    return template.format(secret=target.secret, json=target.secret_json, home=target.home, lake=target.blob_dir,
                           out=target.out, meta=target.home / "meta.db")


def test_the_suite_holds_at_least_forty_hostile_statements() -> None:
    assert len(HOSTILE) >= 40 and len({sql for sql, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("template", "named"), HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_a_hostile_statement_is_refused_and_reads_and_writes_nothing(target: Target, template: str,
                                                                      named: str) -> None:
    client = target.client
    sql = _statement(template, target)
    before = target.snapshot()
    last = events(client)[-1].event_id
    with pytest.raises(CrispmlError) as refused:
        client.query.start_query_execution(query_string=sql, query_execution_context={"Database": "shop"})
    error = refused.value
    assert isinstance(error, InvalidArgument), f"{type(error).__name__}: {error.message}"
    assert named.lower() in error.message.lower(), error.message
    assert MARKER not in error.message and str(target.secret) not in error.message
    assert str(target.home) not in error.message and "/etc/passwd" not in error.message
    assert target.snapshot() == before
    lake_events = [e.action for e in events(client, after=last) if e.action.startswith("lake:")]
    assert not [a for a in lake_events if a in ("lake:GetObject", "lake:PutObject", "lake:DeleteObject")]


def test_a_ctas_of_a_local_file_copies_nothing_into_the_lake(target: Target) -> None:
    """The issue's case: CREATE TABLE … AS SELECT * FROM read_csv('/etc/passwd') made a lake table of it."""
    client = target.client
    before = target.snapshot()
    with pytest.raises(InvalidArgument, match=r"read_csv\(\) is not allowed"):
        client.query.start_query_execution(
            query_string=f"CREATE TABLE shop.passwd AS SELECT * FROM read_csv('{target.secret}')")
    assert target.snapshot() == before
    assert "passwd" not in {t.name for t in client.catalog.get_tables(database_name="shop").table_list}


@pytest.mark.parametrize("reader", ["read_csv('lake://{bucket}/hidden/data.csv')",
                                    "read_text('s3://{bucket}/hidden/data.csv')",
                                    "read_blob('{lake}/{bucket}/hidden/data.csv')"])
def test_a_caller_who_may_not_read_a_bucket_is_refused_before_any_lookup(target: Target, reader: str) -> None:
    """uma may read nothing; her statement is refused for what it names, before a table or file is looked up."""
    add_principal(target.client, "uma", kind="User", status="Active")
    last = events(target.client)[-1].event_id
    sql = f"SELECT * FROM {reader.format(bucket=PRIVATE, lake=target.blob_dir)}"
    with pytest.raises(InvalidArgument, match=r"function read_\w+\(\) is not allowed") as refused:
        prepare(target.client.as_principal("uma"), sql)
    assert MARKER not in refused.value.message and PRIVATE not in refused.value.message
    assert events(target.client, after=last) == []  # not even a catalog lookup


def test_the_allowed_table_functions_still_run(local_client: Client) -> None:
    assert sql(local_client, "SELECT count(*) AS n, sum(x) AS s FROM UNNEST(sequence(1, 4)) AS t(x)") == [("4", "10")]
    assert sql(local_client, "SELECT count(*) FROM range(7)") == [("7",)]
    # a string or a column that merely looks like a refused function's call is not one
    assert sql(local_client, "SELECT 'read_csv(x)' AS query, 1 AS glob") == [("read_csv(x)", "1")]
    # an aggregate that shares its name with a table macro is still an aggregate
    counted = "SELECT cardinality(map_keys(histogram(x))) FROM UNNEST(ARRAY[1, 1, 2]) AS t(x)"
    assert sql(local_client, counted) == [("2",)]


# -- the backend matters: tables still read their files, and only through the lake ---------------------


def test_a_table_reads_its_files_through_the_lake_as_before(client: Client, orders: Callable[[Client], str]) -> None:
    orders(client)
    last = events(client)[-1].event_id
    rows = sql(client, "SELECT id, customer FROM shop.orders WHERE amount > 2 ORDER BY id")
    assert rows == [("1", "ann"), ("3", "cyd")]
    reads = [e.resource for e in events(client, after=last, action="lake:GetObject")]
    assert any(r and r.endswith("orders/part-0.csv") for r in reads)


def test_a_ctas_and_an_insert_still_write_under_the_seal(db_client: Client, orders: Callable[[Client], str]) -> None:
    orders(db_client)
    sql(db_client, "CREATE TABLE shop.big WITH (format='TEXTFILE', external_location='lake://"
        f"{DATA_BUCKET}/big/') AS SELECT id, customer FROM shop.orders WHERE id > 2")
    sql(db_client, "INSERT INTO shop.big SELECT id, customer FROM shop.orders WHERE id = 1")
    assert [r[0] for r in sql(db_client, "SELECT id FROM shop.big ORDER BY id")] == ["1", "3", "4"]


# -- the second layer: every DuckDB database is sealed to its statement's files --------------------------


def _refused(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    with pytest.raises(duckdb.Error) as raised:
        con.execute(sql).fetchall()
    return str(raised.value)


def test_the_shared_database_reaches_no_file_and_its_seal_cannot_be_changed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text(f"a\n{MARKER}\n")
    engine = DuckDBEngine()
    con = engine.connection()
    try:
        assert "disabled by configuration" in _refused(con, f"SELECT * FROM read_csv('{secret}')")
        assert "disabled" in _refused(con, "LOAD httpfs")
        assert "locked" in _refused(con, "SET lock_configuration = false")
        assert "enable_external_access" in _refused(con, "SET enable_external_access = true") \
            or "locked" in _refused(con, "SET enable_external_access = true")
        assert con.execute("SELECT 5 / 2").fetchall() == [(2,)]  # Trino's integer division, set before the lock
        assert con.execute("SELECT current_setting('autoinstall_known_extensions'), "
                           "current_setting('autoload_known_extensions')").fetchall() == [(False, False)]
    finally:
        con.close()
        engine.close()


def test_a_statement_database_reaches_exactly_its_files(tmp_path: Path) -> None:
    mine, neighbour = tmp_path / "mine.csv", tmp_path / "neighbour.csv"
    mine.write_text("a\n1\n")
    neighbour.write_text(f"a\n{MARKER}\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    engine = DuckDBEngine()
    con = engine.connection(paths=[str(mine)], scratch=str(scratch))
    try:
        assert con.execute(f"SELECT a FROM read_csv('{mine}')").fetchall() == [(1,)]
        assert "disabled by configuration" in _refused(con, f"SELECT * FROM read_csv('{neighbour}')")
        assert "disabled by configuration" in _refused(con, f"SELECT * FROM glob('{tmp_path}/*')")
        con.execute(f"COPY (SELECT 1 AS a) TO '{scratch}/out.csv'")  # its scratch folder: writes go there
        assert (scratch / "out.csv").exists()
        assert "disabled by configuration" in _refused(con, f"COPY (SELECT 1) TO '{tmp_path}/elsewhere.csv'")
        assert "locked" in _refused(con, f"SET allowed_paths = ['{neighbour}']")
    finally:
        con.close()
        engine.close()
    assert not (tmp_path / "elsewhere.csv").exists()


def test_an_executing_statement_cannot_reach_a_file_beside_its_own(client: Client, home: Path,
                                                                      orders: Callable[[Client], str]) -> None:
    """A statement's database, while it runs, allows its table's files and no other object — neither by
    its ``lake://`` URI (read through the lake's filesystem on an s3:// lake) nor by its path on disk."""
    orders(client)
    client.lake.put_object(bucket=DATA_BUCKET, key="orders-neighbour/x.csv", body=f"a\n{MARKER}\n".encode())
    query = prepare(client, "SELECT count(*) AS n FROM orders", database="shop")
    result = query.execute(query.plan(), lambda: False)
    try:
        assert query._con is not None
        con = query._con.cursor()  # the statement's own database, while its rows are still being read
        aims = [f"lake://{DATA_BUCKET}/orders-neighbour/x.csv"]
        aims += [str(p) for p in home.rglob("*") if p.is_file() and p.read_bytes().endswith(MARKER.encode() + b"\n")]
        for aim in aims:
            message = _refused(con, f"SELECT * FROM read_csv('{aim}')")
            assert "disabled by configuration" in message or "No files found" in message, message
            assert MARKER not in message
    finally:
        assert result.batches.read_all().to_pylist() == [{"n": 4}]


def test_a_refusal_of_the_sealed_database_is_reported_without_the_path(tmp_path: Path) -> None:
    from crispml.services.query.engines.duckdb.errors import translate

    engine = DuckDBEngine()
    con = engine.connection()
    try:
        with pytest.raises(duckdb.Error) as raised:
            con.execute(f"SELECT * FROM read_csv('{tmp_path}/secret.csv')")
    finally:
        con.close()
        engine.close()
    failed = translate(raised.value, {})
    assert isinstance(failed, QueryFailed) and failed.error_type == "InvalidArgument"
    assert str(tmp_path) not in failed.message and "outside the tables it reads" in failed.message


# -- time and memory ----------------------------------------------------------------------------------------


@pytest.fixture
def timed_group(local_client: Client) -> Iterator[str]:
    local_client.query.create_work_group(name="short", configuration={
        "ResultConfiguration": {"OutputLocation": "lake://crispml-query-results/short/"},
        "QueryTimeoutInMinutes": 1})
    sql(local_client, "SELECT 1")  # makes the results bucket
    yield "short"


@pytest.mark.parametrize("statement", [ENDLESS, "SELECT * FROM range(10000000000)"], ids=["sum", "rows"])
def test_a_query_past_its_workgroup_timeout_ends_failed_with_the_reason(local_client: Client, clock: FixedClock,
                                                                        timed_group: str, statement: str) -> None:
    """Statements that read no bytes pass any bytes-scanned cutoff; the timeout stops them (the platform clock
    moves past it, the watcher interrupts the engine)."""
    query = local_client.query
    started = query.start_query_execution(query_string=statement, work_group=timed_group).query_execution_id
    wait(local_client, started, states=("RUNNING",))
    clock.advance(seconds=59)
    assert query.get_query_execution(query_execution_id=started).query_execution.status.state == "RUNNING"
    clock.advance(seconds=2)
    execution = wait(local_client, started)
    assert execution.status.state == "FAILED"
    assert execution.status.athena_error.error_type == "LimitExceeded"
    assert "QueryTimeoutInMinutes of 1 minutes" in execution.status.state_change_reason


def test_a_huge_string_fails_at_once_naming_the_limit(local_client: Client) -> None:
    """``repeat('x', 2000000000)`` reads no bytes, and DuckDB builds it in one piece (2 GB, deaf to interrupts
    and to its memory limit): it fails before it starts building."""
    execution = run_query(local_client, "SELECT repeat('x', 2000000000)")
    assert execution.status.state == "FAILED"
    assert "repeat() would build a string of more than 33554432 bytes" in execution.status.state_change_reason
    padded = run_query(local_client, "SELECT lpad('x', 1000000000, 'y')")
    assert "lpad() would build a string" in padded.status.state_change_reason
    assert sql(local_client, "SELECT repeat('ab', 3), rpad('a', 3, 'b')") == [("ababab", "abb")]


def test_the_timeout_is_kept_validated_and_defaults_to_athenas(local_client: Client) -> None:
    query = local_client.query
    assert query.get_work_group(work_group="primary").work_group.configuration.query_timeout() == 30
    query.create_work_group(name="t", configuration={"QueryTimeoutInMinutes": 5})
    assert query.get_work_group(work_group="t").work_group.configuration.query_timeout_in_minutes == 5
    query.update_work_group(work_group="t", configuration_updates={"QueryTimeoutInMinutes": 7})
    assert query.get_work_group(work_group="t").work_group.configuration.query_timeout_in_minutes == 7
    for bad in (0, 100_000):
        with pytest.raises(InvalidArgument, match="QueryTimeoutInMinutes must be 1-1440"):
            query.create_work_group(name="bad", configuration={"QueryTimeoutInMinutes": bad})


def test_a_query_over_its_memory_limit_fails_with_limit_exceeded(local_client: Client) -> None:
    engine = DuckDBEngine(memory_limit="32MB", threads=1)
    query = prepare(local_client, "SELECT list(range) AS l FROM range(20000000)", database=None, engine=engine)
    try:
        with pytest.raises(QueryFailed) as failed:
            query.execute(query.plan(), lambda: False).batches.read_all()
    finally:
        engine.close()
    assert failed.value.error_type == "LimitExceeded"
    assert "memory" in failed.value.message and "Possible solutions" not in failed.value.message
    assert os.linesep not in failed.value.message
