"""Job runs as processes see them: states, one run at a time, stopping, a loader killed mid-load or
mid-commit (a real child process, SIGKILL), listing, and who may do what — on SQLite and PostgreSQL
metadata.

A run is held mid-load without timing tricks: its source query passes each row through a PostgreSQL
function that waits on an advisory lock the test holds, from row 251 on; the first batches arrive, the
rest wait until the test lets go.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import crispml
from crispml.core.errors import PermissionDenied
from crispml.sdk.client import Client
from crispml.services.iam.store import PrincipalRow
from crispml.services.ingest.errors import ConcurrentRunsExceededException, EntityNotFoundException
from tests.fixtures.forkserver import Child, spawn
from tests.services.ingest.conftest import (
    BUCKET,
    PgSource,
    external_rows,
    external_table,
    job,
    managed_rows,
    managed_table,
    put,
    run,
    sqlite_url,
    table_files,
)
from tests.services.ingest.test_database import COLUMNS, Source, expected

_GATE = """
CREATE FUNCTION {schema}.gate(i bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF i > 250 THEN
    PERFORM pg_advisory_lock_shared(%(key)s);
    PERFORM pg_advisory_unlock_shared(%(key)s);
  END IF;
  RETURN true;
END $$
"""


class Gate:
    """A PostgreSQL source whose rows above id 250 wait while the test holds the gate's lock."""

    def __init__(self, pg: PgSource) -> None:
        self.pg = pg
        self.key = random.randrange(1, 2**31)
        self.source = Source(pg.url, pg.table("orders"))
        pg.execute(_GATE.replace("%(key)s", str(self.key)))
        self.query = f"SELECT id, amount, updated_at FROM {pg.table('orders')} WHERE {pg.schema}.gate(id)"

    def close(self) -> None:
        self.pg.conn.execute("SELECT pg_advisory_unlock_all()")

    def hold(self) -> None:
        self.pg.conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))

    def release(self) -> None:
        self.pg.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))


@pytest.fixture
def gate(pg_source: PgSource) -> Iterator[Gate]:
    found = Gate(pg_source)
    yield found
    found.close()
    found.source.close()


def incremental_job(client: Client, url: str, **source: Any) -> None:
    job(client, "orders", {"DatabaseSource": {"ConnectionUrl": url, "BatchSize": 50, **source}},
        job_bookmark_option="job-bookmark-enable", job_bookmark_keys=["id"])


def wait_for(check: Callable[[], bool], what: str, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + 120
    while not check():
        assert alive(), f"the loader ended before {what}"
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.02)


def newest_run(client: Client) -> Any:
    runs = client.ingest.get_job_runs(job_name="orders", max_results=1).job_runs
    return runs[0] if runs else None


def mid_load(client: Client, earlier: int) -> Callable[[], bool]:
    """True once a run after the first ``earlier`` runs is RUNNING with two batches read."""
    def check() -> bool:
        runs = client.ingest.get_job_runs(job_name="orders").job_runs
        return len(runs) > earlier and runs[0].job_run_state == "RUNNING" and runs[0].rows_read >= 100
    return check


def bookmark(client: Client) -> tuple[int, str]:
    entry = client.ingest.get_job_bookmark(job_name="orders").job_bookmark_entry
    return entry.version, json.loads(entry.job_bookmark or "{}")["watermark"]["value"]


def snapshot_ids(client: Client, name: str = "orders") -> list[int]:
    return [s.snapshot_id for s in client.catalog.get_table_snapshots(database_name="sales",
                                                                      table_name=name).snapshots]


# -- one run at a time, and stopping ----------------------------------------------------------------


def test_a_stopped_run_commits_nothing_and_a_job_runs_once_at_a_time(db_home: Client, gate: Gate) -> None:
    managed_table(db_home, columns=COLUMNS)
    gate.source.insert(range(1, 101))
    incremental_job(db_home, gate.pg.url, Query=gate.query)
    first = run(db_home, "orders")
    gate.source.insert(range(101, 401))
    gate.hold()
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(db_home.ingest.start_job_run(job_name="orders")))
    worker.start()
    try:
        wait_for(mid_load(db_home, 1), "the run mid-load", worker.is_alive)
        running = newest_run(db_home)
        with pytest.raises(ConcurrentRunsExceededException, match=f"already has run {running.id} in progress"):
            db_home.ingest.start_job_run(job_name="orders")
        for refused in (db_home.ingest.delete_job, db_home.ingest.reset_job_bookmark):
            with pytest.raises(ConcurrentRunsExceededException, match=running.id):
                refused(job_name="orders")
        stopped = db_home.ingest.batch_stop_job_run(job_name="orders", job_run_ids=[running.id, "jr-nope"])
        assert [s.job_run_id for s in stopped.successful_submissions] == [running.id]
        assert [(e.job_run_id, e.error_detail.error_code) for e in stopped.errors] == [
            ("jr-nope", "EntityNotFoundException")]
        assert db_home.ingest.get_job_run(job_name="orders", run_id=running.id).job_run.job_run_state == "STOPPING"
    finally:
        gate.release()
        worker.join()
    (response,) = outcome
    assert (response.job_run_state, response.job_run.id) == ("STOPPED", running.id)
    assert response.job_run.rows_written == 0 and response.job_run.completed_on is not None
    assert snapshot_ids(db_home) == [first.snapshot_id]
    assert bookmark(db_home) == (1, "100")
    again = db_home.ingest.batch_stop_job_run(job_name="orders", job_run_ids=[running.id])
    assert "has ended (STOPPED)" in again.errors[0].error_detail.error_message
    assert run(db_home, "orders").rows_written == 300
    assert managed_rows(db_home) == expected(range(1, 401))


# -- killed loaders ----------------------------------------------------------------------------------

_LOADER = textwrap.dedent("""
    import os, signal, sys
    import crispml
    from crispml.services.ingest.runs import RunOps

    home, db_url, die_at = sys.argv[1:4]
    if die_at == "finish":  # the commit is made; die before the run is closed
        real = RunOps._finish

        def dying(self, run_id, state, *args):
            if state == "SUCCEEDED":
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, run_id, state, *args)

        RunOps._finish = dying
    with crispml.connect(home=home, db_url=db_url) as client:
        client.ingest.start_job_run(job_name="orders")
""")


def loader(home: Path, db_url: str, die_at: str) -> Child:
    env = {**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])}
    return spawn(["-c", _LOADER, str(home), db_url, die_at], env=env, stderr=subprocess.PIPE)


@pytest.mark.kill
def test_a_loader_killed_mid_load_leaves_table_and_bookmark_and_the_rerun_loads_each_row_once(
        db_home: Client, gate: Gate, home: Path, db_url: str) -> None:
    managed_table(db_home, columns=COLUMNS)
    gate.source.insert(range(1, 101))
    incremental_job(db_home, gate.pg.url, Query=gate.query)
    first = run(db_home, "orders")
    gate.source.insert(range(101, 401))
    gate.hold()
    child = loader(home, db_url, "never")
    try:
        wait_for(mid_load(db_home, 1), "the child mid-load", lambda: child.poll() is None)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        gate.release()
    assert child.returncode == -signal.SIGKILL
    killed = newest_run(db_home)  # reading the run finds its process gone and closes it
    assert killed.job_run_state == "FAILED" and killed.rows_read >= 100 and killed.completed_on is not None
    assert "interrupted: the process running it" in (killed.error_message or "")
    assert snapshot_ids(db_home) == [first.snapshot_id]
    assert managed_rows(db_home) == expected(range(1, 101))
    assert bookmark(db_home) == (1, "100")
    rerun = run(db_home, "orders")
    assert (rerun.rows_written, rerun.job_run_state) == (300, "SUCCEEDED")
    assert managed_rows(db_home) == expected(range(1, 401))  # every row exactly once
    assert [r.job_run_state for r in db_home.ingest.get_job_runs(job_name="orders").job_runs] == [
        "SUCCEEDED", "FAILED", "SUCCEEDED"]


@pytest.mark.kill
def test_a_loader_killed_after_its_commit_is_rolled_forward(db_home: Client, home: Path, db_url: str,
                                                           tmp_path: Path) -> None:
    managed_table(db_home, columns=COLUMNS)
    source = Source(sqlite_url(tmp_path / "shop.db"), "orders")
    source.insert(range(1, 11))
    incremental_job(db_home, source.url, Table="orders")
    run(db_home, "orders")
    source.insert(range(11, 21))
    child = loader(home, db_url, "finish")
    assert child.wait(timeout=120) == -signal.SIGKILL, child.communicate()[1].decode()[-2000:]
    closed = newest_run(db_home)
    assert (closed.job_run_state, closed.rows_written, closed.error_message) == ("SUCCEEDED", 10, None)
    assert closed.snapshot_id == snapshot_ids(db_home)[0] and closed.bytes_written > 0
    assert bookmark(db_home) == (2, "20")  # the bookmark it recorded before committing was kept
    assert run(db_home, "orders").rows_written == 0
    assert managed_rows(db_home) == expected(range(1, 21))
    source.close()


@pytest.mark.kill
def test_an_external_load_killed_while_publishing_is_rolled_back(db_home: Client, home: Path, db_url: str) -> None:
    external_table(db_home, "orders", "parquet", columns=[("id", "bigint"), ("amount", "double")],
                   keys=[("day", "string")])
    put(db_home, "raw/1.json", b'{"id": 1, "amount": 1.0, "day": "d1"}\n')
    job(db_home, "orders", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "json"}},
        job_bookmark_option="job-bookmark-enable")
    run(db_home, "orders")
    before = table_files(db_home, "orders")
    put(db_home, "raw/2.json", b'{"id": 2, "amount": 2.0, "day": "d1"}\n{"id": 3, "amount": 3.0, "day": "d2"}\n')
    child = loader(home, db_url, "finish")  # dies after its files are in the lake
    assert child.wait(timeout=120) == -signal.SIGKILL, child.communicate()[1].decode()[-2000:]
    assert len(db_home.fs.find(f"{BUCKET}/tables/orders")) == len(before) + 2
    closed = newest_run(db_home)
    assert closed.job_run_state == "FAILED" and "files it had added to the table were deleted" in (
        closed.error_message or "")
    assert table_files(db_home, "orders") == before
    rerun = run(db_home, "orders")
    assert (rerun.files_read, rerun.rows_written) == (1, 2)
    assert [r["id"] for r in external_rows(db_home, "orders")] == [1, 2, 3]


# -- listing, updating, deleting ---------------------------------------------------------------------


def test_runs_are_listed_newest_first_a_page_at_a_time(db_home: Client) -> None:
    managed_table(db_home, columns=COLUMNS)
    put(db_home, "raw/a.csv", b"id\n1\n")
    job(db_home, "orders", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "csv"}})
    ids = [run(db_home, "orders").id for _ in range(3)]
    page = db_home.ingest.get_job_runs(job_name="orders", max_results=2)
    assert [r.id for r in page.job_runs] == ids[:0:-1] and page.next_token
    rest = db_home.ingest.get_job_runs(job_name="orders", max_results=2, next_token=page.next_token)
    assert [r.id for r in rest.job_runs] == ids[:1] and rest.next_token is None
    shown = db_home.ingest.get_job_run(job_name="orders", run_id=ids[0]).job_run
    assert (shown.id, shown.job_name, shown.started_by, shown.rows_written) == (ids[0], "orders", "root", 1)
    with pytest.raises(EntityNotFoundException, match="job 'orders' has no run 'jr-nope'"):
        db_home.ingest.get_job_run(job_name="orders", run_id="jr-nope")
    for name in ("b-job", "a-job"):
        job(db_home, name, {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "csv"}})
    first = db_home.ingest.list_jobs(max_results=2)
    assert first.job_names == ["a-job", "b-job"]
    assert db_home.ingest.list_jobs(next_token=first.next_token).job_names == ["orders"]
    db_home.ingest.delete_job(job_name="orders")
    assert db_home.ingest.list_jobs().job_names == ["a-job", "b-job"]
    with pytest.raises(EntityNotFoundException):
        db_home.ingest.get_job_runs(job_name="orders")
    assert [r["id"] for r in managed_rows(db_home)] == [1, 1, 1]  # the table keeps its rows


def test_a_new_source_resets_the_bookmark(db_home: Client, tmp_path: Path) -> None:
    managed_table(db_home, columns=COLUMNS)
    source = Source(sqlite_url(tmp_path / "shop.db"), "orders")
    source.insert(range(1, 4))
    incremental_job(db_home, source.url, Table="orders")
    run(db_home, "orders")
    current = db_home.ingest.get_job(job_name="orders").job
    update = {"Source": current.source.model_dump(), "Target": current.target.model_dump(),
              "JobBookmarkOption": "job-bookmark-enable", "JobBookmarkKeys": ["id"], "Description": "same source"}
    db_home.ingest.update_job(job_name="orders", job_update=update)
    assert bookmark(db_home)[1] == "3"
    update["Source"]["database_source"]["query"], update["Source"]["database_source"]["table"] = (
        "SELECT * FROM orders WHERE id > 1", None)
    db_home.ingest.update_job(job_name="orders", job_update=update)
    assert db_home.ingest.get_job_bookmark(job_name="orders").job_bookmark_entry.job_bookmark is None
    assert run(db_home, "orders").rows_written == 2
    source.close()


# -- who may ----------------------------------------------------------------------------------------


def test_a_principal_without_rights_is_refused_and_changes_nothing(db_home: Client) -> None:
    managed_table(db_home, columns=COLUMNS)
    put(db_home, "raw/a.csv", b"id\n1\n")
    job(db_home, "orders", {"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"], "Format": "csv"}})
    done = run(db_home, "orders")
    with db_home.platform.db.write() as session:
        session.add(PrincipalRow(name="uma", principal_id="AID-UMA", kind="User", status="Active",
                                 account_id=db_home.platform.root.account_id, created_at=db_home.platform.clock.now()))
    uma = db_home.as_principal("uma").ingest
    calls: list[Callable[[], Any]] = [
        lambda: uma.create_job(name="mine", source={"FileSource": {"Paths": [f"s3://{BUCKET}/raw/"],
                                                                   "Format": "csv"}},
                               target={"DatabaseName": "sales", "TableName": "orders"}),
        lambda: uma.start_job_run(job_name="orders"), lambda: uma.get_job(job_name="orders"),
        lambda: uma.get_job_run(job_name="orders", run_id=done.id), lambda: uma.list_jobs(),
        lambda: uma.reset_job_bookmark(job_name="orders"), lambda: uma.delete_job(job_name="orders"),
        lambda: uma.batch_stop_job_run(job_name="orders", job_run_ids=[done.id]),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match=r"user/uma is not authorized to perform ingest:"):
            call()
    assert db_home.ingest.list_jobs().job_names == ["orders"]
    assert [r.id for r in db_home.ingest.get_job_runs(job_name="orders").job_runs] == [done.id]
    assert [r["id"] for r in managed_rows(db_home)] == [1]
