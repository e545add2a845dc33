"""Loading from SQL databases (a SQLite file and the PostgreSQL server) into catalog tables, on SQLite and
PostgreSQL metadata: full loads, incremental loads by a watermark column, and bad sources — whose errors
never show the password."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crispml.core.errors import InvalidArgument, NotFound, Unavailable
from crispml.sdk.client import Client
from crispml.services.ingest.errors import InvalidInputException
from tests.services.ingest.conftest import (
    PgSource,
    external_rows,
    external_table,
    job,
    managed_rows,
    managed_table,
    run,
    sqlite_url,
)

COLUMNS = [("id", "bigint"), ("amount", "double"), ("updated_at", "timestamp")]
START = datetime(2024, 3, 1, 8, 0, 0)


class Source:
    """A source database with a table ``orders (id, amount, updated_at)`` to fill between runs."""

    def __init__(self, url: str, table: str) -> None:
        self.url = url
        self.table = table
        self.engine = sa.create_engine(url)
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, amount DOUBLE PRECISION, "
                                 "updated_at TIMESTAMP)"))

    def insert(self, ids: range) -> list[dict[str, Any]]:
        rows = [{"id": i, "amount": i * 1.5, "updated_at": START + timedelta(minutes=i)} for i in ids]
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {self.table} (id, amount, updated_at) "
                                 "VALUES (:id, :amount, :updated_at)"), rows)
        return rows

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgresql)])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    if request.param == "sqlite":
        found = Source(sqlite_url(tmp_path / "shop.db"), "orders")
    else:
        pg: PgSource = request.getfixturevalue("pg_source")
        found = Source(pg.url, pg.table("orders"))
    yield found
    found.close()


def expected(ids: range) -> list[dict[str, Any]]:
    return [{"id": i, "amount": i * 1.5, "updated_at": START + timedelta(minutes=i)} for i in ids]


def test_a_full_load_reads_the_whole_table_each_run(db_home: Client, source: Source) -> None:
    managed_table(db_home, columns=COLUMNS)
    source.insert(range(1, 26))
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": source.url, "Table": source.table,
                                               "BatchSize": 10}}, write_mode="OVERWRITE")
    first = run(db_home, "orders")
    assert (first.job_run_state, first.rows_read, first.rows_written) == ("SUCCEEDED", 25, 25)
    assert first.bytes_read > 0 and first.bytes_written > 0 and first.files_read == 0
    assert managed_rows(db_home) == expected(range(1, 26))
    source.insert(range(26, 31))
    assert run(db_home, "orders").rows_written == 30
    assert managed_rows(db_home) == expected(range(1, 31))  # replaced, not added to


@pytest.mark.parametrize("key", ["id", "updated_at"])
def test_an_incremental_load_takes_each_new_row_exactly_once(db_home: Client, source: Source, key: str) -> None:
    managed_table(db_home, columns=COLUMNS)
    source.insert(range(1, 21))
    given = {"Table": source.table} if key == "id" else {
        "Query": f"SELECT id, amount, updated_at FROM {source.table} WHERE amount >= 0"}
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": source.url, "BatchSize": 6, **given}},
        job_bookmark_option="job-bookmark-enable", job_bookmark_keys=[key])
    assert run(db_home, "orders").rows_written == 20
    source.insert(range(21, 28))
    second = run(db_home, "orders")
    assert (second.rows_read, second.rows_written) == (7, 7)
    idle = run(db_home, "orders")
    assert (idle.rows_read, idle.snapshot_id) == (0, None)
    assert managed_rows(db_home) == expected(range(1, 28))  # no duplicates, no gaps
    snapshots = db_home.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots
    assert len(snapshots) == 2  # one commit per run that had rows
    entry = db_home.ingest.get_job_bookmark(job_name="orders").job_bookmark_entry
    mark = json.loads(entry.job_bookmark or "{}")
    assert mark["column"] == key and entry.run_id == second.id and entry.version == 2
    top = "27" if key == "id" else (START + timedelta(minutes=27)).isoformat()
    assert mark["watermark"]["value"].replace(" ", "T").startswith(top)  # SQLite's query rows hold text times
    assert json.loads(second.bookmark_before or "{}")["watermark"]["value"].replace(" ", "T").startswith(
        "20" if key == "id" else (START + timedelta(minutes=20)).isoformat())


def test_pause_reads_what_is_new_without_moving_the_bookmark(db_home: Client, tmp_path: Path) -> None:
    managed_table(db_home, columns=COLUMNS)
    source = Source(sqlite_url(tmp_path / "shop.db"), "orders")
    source.insert(range(1, 4))
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": source.url, "Table": "orders"}},
        job_bookmark_option="job-bookmark-enable", job_bookmark_keys=["id"])
    run(db_home, "orders")
    source.insert(range(4, 6))
    current = db_home.ingest.get_job(job_name="orders").job
    db_home.ingest.update_job(job_name="orders", job_update={
        "Source": current.source.model_dump(), "Target": current.target.model_dump(),
        "JobBookmarkOption": "job-bookmark-pause", "JobBookmarkKeys": ["id"]})
    assert run(db_home, "orders").rows_written == 2
    assert run(db_home, "orders").rows_written == 2  # the bookmark stayed at 3
    assert json.loads(db_home.ingest.get_job_bookmark(job_name="orders").job_bookmark_entry.job_bookmark
                      or "{}")["watermark"]["value"] == "3"
    source.close()


def test_database_rows_into_an_external_table(db_home: Client, source: Source) -> None:
    external_table(db_home, "orders", "json", columns=COLUMNS)
    source.insert(range(1, 6))
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": source.url, "Table": source.table}},
        job_bookmark_option="job-bookmark-enable", job_bookmark_keys=["id"])
    run(db_home, "orders")
    source.insert(range(6, 9))
    run(db_home, "orders")
    assert [r["id"] for r in external_rows(db_home, "orders")] == list(range(1, 9))
    assert external_rows(db_home, "orders")[0]["updated_at"] == "2024-03-01 08:01:00"


# -- bad sources ------------------------------------------------------------------------------------


PASSWORD = "s3cr3t-Pa55"


def test_passwords_are_never_shown_logged_or_audited(db_home: Client) -> None:
    managed_table(db_home, columns=COLUMNS)
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test"  # nothing listens on port 1
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": url, "Table": "orders"}})
    shown = db_home.ingest.get_job(job_name="orders").job.source.database_source
    assert shown is not None and shown.connection_url == "postgresql://postgres:***@127.0.0.1:1/test"
    with pytest.raises(Unavailable) as info:
        run(db_home, "orders")
    assert "cannot connect to the source database postgresql://postgres:***@127.0.0.1:1/test" in info.value.message
    (failed,) = db_home.ingest.get_job_runs(job_name="orders").job_runs
    assert failed.job_run_state == "FAILED" and "cannot connect" in (failed.error_message or "")
    for refused in (f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/test",
                    f"nosuchdb://postgres:{PASSWORD}@127.0.0.1/test"):
        with pytest.raises(InvalidArgument) as bad:
            job(db_home, "bad", {"DatabaseSource": {"ConnectionUrl": refused, "Table": "orders"}})
        assert PASSWORD not in bad.value.message and "***" in bad.value.message
    everything = [e.model_dump_json() for e in db_home.audit.list_events(max_results=1000).events]
    assert any("ingest:CreateJob" in e for e in everything)
    assert not [e for e in everything if PASSWORD in e]
    with db_home.platform.db.read() as session:  # stored once, beside the definition, for the runs
        from crispml.services.ingest.store import JobRow, JobRunRow

        row = session.get(JobRow, "orders")
        assert row is not None and PASSWORD in (row.connection_url or "") and PASSWORD not in row.document
        assert all(PASSWORD not in (r.error_message or "") for r in session.query(JobRunRow))


def test_an_update_keeps_the_stored_password_when_given_back_hidden(db_home: Client, tmp_path: Path) -> None:
    managed_table(db_home, columns=COLUMNS)
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": f"postgresql://postgres:{PASSWORD}@127.0.0.1/x",
                                               "Table": "orders"}})
    current = db_home.ingest.get_job(job_name="orders").job
    db_home.ingest.update_job(job_name="orders", job_update={
        "Description": "nightly", "Source": current.source.model_dump(), "Target": current.target.model_dump()})
    with db_home.platform.db.read() as session:
        from crispml.services.ingest.store import JobRow

        row = session.get(JobRow, "orders")
        assert row is not None and row.connection_url == f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1/x"
    assert db_home.ingest.get_job(job_name="orders").job.description == "nightly"


def test_bad_sources_fail_clearly(db_home: Client, source: Source) -> None:
    managed_table(db_home, columns=COLUMNS)
    source.insert(range(1, 3))
    cases = [
        ({"Table": "no_such_table"}, [], "source table 'no_such_table' does not exist"),
        ({"Query": f"SELECT id, amount AS price FROM {source.table}"}, [],
         "has column 'price', which table sales.orders does not have"),
        ({"Query": f"SELECT id FROM {source.table} WHERE"}, [], "refused to read the source query"),
        ({"Table": source.table}, ["placed_on"], "bookmark key 'placed_on' is not a column"),
    ]
    for number, (given, keys, problem) in enumerate(cases):
        name = f"bad-{number}"
        options: dict[str, Any] = {"job_bookmark_option": "job-bookmark-enable",
                                   "job_bookmark_keys": keys} if keys else {}
        job(db_home, name, {"DatabaseSource": {"ConnectionUrl": source.url, **given}}, **options)
        with pytest.raises(InvalidInputException) as info:
            run(db_home, name)
        assert problem in info.value.message, info.value.message
    assert db_home.catalog.get_table_snapshots(database_name="sales", table_name="orders").snapshots == []


@pytest.mark.parametrize(("fields", "problem"), [
    ({"source": {}}, "exactly one source"),
    ({"source": {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Query": "DELETE FROM t"}}},
     "Query must be one SELECT"),
    ({"source": {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Query": "SELECT 1; DROP TABLE t"}}},
     "Query must be one SELECT"),
    ({"source": {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Table": "a b"}}}, "must be a table name"),
    ({"source": {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Table": "t", "Query": "SELECT 1"}}},
     "either a Table or a Query"),
    ({"job_bookmark_option": "job-bookmark-enable"}, "exactly one JobBookmarkKeys column"),
    ({"job_bookmark_option": "job-bookmark-enable", "job_bookmark_keys": ["id"], "write_mode": "OVERWRITE"},
     "cannot OVERWRITE"),
    ({"job_bookmark_keys": ["id"]}, "need JobBookmarkOption 'job-bookmark-enable'"),
    ({"source": {"FileSource": {"Paths": ["http://example.com/a.csv"], "Format": "csv"}}}, "must be a lake path"),
    ({"source": {"FileSource": {"Paths": ["s3://x/a.csv"], "Format": "csv"}}}, "does not name a valid bucket"),
    ({"source": {"FileSource": {"Paths": ["s3://bucket/a.csv"], "Format": "xml"}}}, "format"),
    ({"source": {"FileSource": {"Paths": ["s3://bucket/a"], "Format": "csv"}}, "job_bookmark_option":
      "job-bookmark-enable", "job_bookmark_keys": ["id"]}, "JobBookmarkKeys apply to database sources"),
    ({"name": "a/b"}, "job name 'a/b'"),
])
def test_bad_job_definitions_are_refused(local_home: Client, fields: dict[str, Any], problem: str) -> None:
    managed_table(local_home, columns=COLUMNS)
    given: dict[str, Any] = {"name": "orders", "source": {"DatabaseSource": {
        "ConnectionUrl": "sqlite:///x.db", "Table": "orders"}}}
    given.update(fields)
    mode = given.pop("write_mode", "APPEND")
    with pytest.raises(InvalidArgument, match=problem):
        local_home.ingest.create_job(target={"DatabaseName": "sales", "TableName": "orders", "WriteMode": mode},
                                     **given)
    assert local_home.ingest.list_jobs().job_names == []


def test_an_unknown_target_table_or_job(db_home: Client) -> None:
    # a missing table is created by the run (test_create_target.py), if it has a database and a place for files
    with pytest.raises(InvalidInputException, match=r"table sales\.nope does not exist, and the job would create "
                                                    "it but has nowhere to put its files"):
        job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Table": "t"}}, table="nope")
    with pytest.raises(NotFound, match="database 'nodb'"):
        db_home.ingest.create_job(name="orders", source={"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db",
                                                                            "Table": "t"}},
                                  target={"DatabaseName": "nodb", "TableName": "t", "Location": "s3://bucket/t/"})
    with pytest.raises(NotFound, match="job 'nope' does not exist"):
        db_home.ingest.start_job_run(job_name="nope")
    managed_table(db_home, columns=COLUMNS)
    job(db_home, "orders", {"DatabaseSource": {"ConnectionUrl": "sqlite:///x.db", "Table": "t"}})
    db_home.catalog.delete_table(database_name="sales", name="orders")  # gone between definition and run
    with pytest.raises(InvalidInputException, match=r"table sales\.orders does not exist, and the job would "
                                                    "create it but has nowhere to put its files"):
        run(db_home, "orders")
    assert db_home.ingest.get_job_runs(job_name="orders").job_runs[0].job_run_state == "FAILED"
