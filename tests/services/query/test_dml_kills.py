"""Statements killed mid-way: an UPDATE or a MERGE on an Iceberg table killed at each moment of its commit
leaves the table at its last commit (or, killed after the commit, at the new one) and the next statement
works; a CTAS (Parquet or Iceberg) killed at each moment leaves nothing that stops its retry, which then
makes the whole table. The statement runs in a child process, held at the moment by a wrapped function
until the test SIGKILLs it; on SQLite and PostgreSQL metadata, file and s3 lakes.

Each case starts a Python process (~5 s of a core), so the matrix is every moment on one backend and a chosen
few on the others (:func:`cases`):

- SQLite + file://: every moment of every statement.
- PostgreSQL + s3://, where both parts differ from the first: the moments that matter most, the last before a
  commit (``metadata``: files and metadata written, the swap not made; ``registered``: the table in the catalog,
  its data not).
- SQLite + s3:// and PostgreSQL + file://, each differing in one part only, which the previous backend already
  combines: one such moment per kind of statement (DML at ``metadata``, a Parquet CTAS at ``registered``, an
  Iceberg CTAS at ``metadata``).
- Off SQLite + file://, the DML cases run the MERGE only: an UPDATE commits through the same functions (the
  same moments), and the SQLite + file:// cases run both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import crispml
from crispml.sdk.client import Client
from tests.fixtures.forkserver import spawn
from tests.services.query.conftest import run_query

BUCKET = "kill-data"
DB = "killdb"

pytestmark = pytest.mark.kill


#: The backends: metadata DB and lake, with their marks.
BACKENDS = {"sqlite-file": [], "postgresql-s3": [pytest.mark.postgresql, pytest.mark.s3],
            "sqlite-s3": [pytest.mark.s3], "postgresql-file": [pytest.mark.postgresql]}


#: The moments run on each backend but SQLite + file:// (which runs every moment); see the module docstring.
OTHER_MOMENTS = {"postgresql-s3": ("metadata", "registered"),
                 "sqlite-s3": ("merge-metadata", "parquet-registered", "iceberg-metadata"),
                 "postgresql-file": ("merge-metadata", "parquet-registered", "iceberg-metadata")}


def cases(moments: list[tuple[Any, ...]], names: list[str], statement: str = "") -> list[Any]:
    """Every moment on SQLite + file://; on the other backends, the moments of :data:`OTHER_MOMENTS` (``names``
    prefixed with ``statement``, as ``merge-metadata``; a DML statement other than the MERGE runs on SQLite +
    file:// only)."""
    found = []
    for backend, marks in BACKENDS.items():
        for moment, name in zip(moments, names, strict=True):
            full = f"{statement}-{name}" if statement else name
            if backend == "sqlite-file" or (statement in ("", "merge") and full.endswith(OTHER_MOMENTS[backend])):
                found.append(pytest.param(tuple(backend.split("-")), *moment, marks=marks, id=f"{backend}-{name}"))
    return found


@pytest.fixture
def settings(request: pytest.FixtureRequest, home: Path, sqlite_template: Path) -> dict[str, Any]:
    """How to open the home: metadata DB and lake, as keyword arguments of ``crispml.connect``."""
    from tests.fixtures.homes import seed_home

    database, lake = request.param
    found: dict[str, Any] = {"home": str(home)}
    if database == "postgresql":
        found["db_url"] = request.getfixturevalue("postgres_home_url")
    else:
        seed_home(home, sqlite_template)
    if lake == "s3":
        s3 = request.getfixturevalue("s3_lake_url")
        found.update(lake_url=s3.url, **s3.kwargs)
    return found


@pytest.fixture
def opened(settings: dict[str, Any]) -> Iterator[Client]:
    client = crispml.connect(**settings)
    client.lake.create_bucket(bucket=BUCKET)
    client.catalog.create_database(database_input={"Name": DB})
    yield client
    client.close()


def iceberg_table(client: Client) -> None:
    """``killdb.items`` (Iceberg, partitioned by grp) with ids 1..6 in two commits."""
    client.catalog.create_table(database_name=DB, table_input={
        "Name": "items",
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "v", "Type": "string"}],
                              "Location": f"lake://{BUCKET}/items/"},
        "PartitionKeys": [{"Name": "grp", "Type": "string"}]},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})
    for ids in ([1, 2, 3], [4, 5, 6]):
        client.catalog.append_table_data(database_name=DB, table_name="items", body=pa.table({
            "id": pa.array(ids, pa.int64()), "v": [f"v{i}" for i in ids], "grp": ["a" if i % 2 else "b" for i in ids]}))


def state(client: Client) -> tuple[Any, list[dict[str, Any]]]:
    """The table's current snapshot and its rows."""
    snapshots = client.catalog.get_table_snapshots(database_name=DB, table_name="items").snapshots
    current = next(s.snapshot_id for s in snapshots if s.is_current)
    execution = run_query(client, "SELECT id, v, grp FROM killdb.items ORDER BY id")
    assert execution.status.state == "SUCCEEDED", execution.status
    rows = client.query.get_query_results(query_execution_id=execution.query_execution_id).result_set.rows
    return current, [[d.var_char_value for d in r.data] for r in rows[1:]]


#: Python run by the child: wrap ``target`` (module:Class.attr or module:function) so that, at ``when``
#: (before/after the call), it writes ``marker`` and waits forever; then run ``sql`` and wait for it.
_CHILD = textwrap.dedent("""
    import importlib, json, pathlib, sys, threading, time
    import crispml

    settings, target, when, marker, sql = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    module_name, _, attr = target.partition(":")
    owner = importlib.import_module(module_name)
    holder, name = (owner, attr) if "." not in attr else (getattr(owner, attr.split(".")[0]), attr.split(".")[1])
    import inspect
    raw = inspect.getattr_static(holder, name)
    real = raw.__func__ if isinstance(raw, staticmethod) else raw

    def hold():
        pathlib.Path(marker).write_text("held")
        threading.Event().wait()  # held here until the test kills this process

    def wrapped(*args, **kwargs):
        if when == "before":
            hold()
        result = real(*args, **kwargs)
        if when == "after":
            hold()
        return result

    setattr(holder, name, staticmethod(wrapped) if isinstance(raw, staticmethod) else wrapped)
    with crispml.connect(**settings) as client:
        qid = client.query.start_query_execution(query_string=sql).query_execution_id
        while client.query.get_query_execution(query_execution_id=qid).query_execution.status.state in (
                "QUEUED", "RUNNING"):
            time.sleep(0.05)
""")


def killed_at(settings: dict[str, Any], target: str, when: str, sql: str, tmp_path: Path) -> None:
    """Run ``sql`` in a child process held at ``target`` (``when``: before/after it runs); SIGKILL it there."""
    marker = tmp_path / f"held-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])}
    child = spawn(["-c", _CHILD, json.dumps(settings), target, when, str(marker), sql], env=env,
                  stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, f"the statement never reached {target}"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


UPDATE = "UPDATE killdb.items SET v = v || '!' WHERE id IN (2, 3)"
MERGE = ("MERGE INTO killdb.items t USING (SELECT * FROM (VALUES (1, 'one', 'a'), (4, NULL, 'b'), (7, 'seven', 'a')) "
         "AS s(id, v, grp)) s ON t.id = s.id WHEN MATCHED AND s.v IS NULL THEN DELETE WHEN MATCHED THEN UPDATE SET "
         "v = s.v WHEN NOT MATCHED THEN INSERT (id, v, grp) VALUES (s.id, s.v, s.grp)")
BEFORE = [["1", "v1", "a"], ["2", "v2", "b"], ["3", "v3", "a"], ["4", "v4", "b"], ["5", "v5", "a"], ["6", "v6", "b"]]
AFTER = {
    UPDATE: [["1", "v1", "a"], ["2", "v2!", "b"], ["3", "v3!", "a"], ["4", "v4", "b"], ["5", "v5", "a"],
             ["6", "v6", "b"]],
    MERGE: [["1", "one", "a"], ["2", "v2", "b"], ["3", "v3", "a"], ["5", "v5", "a"], ["6", "v6", "b"],
            ["7", "seven", "a"]],
}
CATALOG = "crispml.services.catalog"
ENGINE = "crispml.services.query.engines.duckdb"
#: Moments of a DML statement's commit: (function, before/after it, whether the commit has happened).
DML_MOMENTS = [
    (f"{ENGINE}.dml:RowChanges._replace", "after", False),          # rows computed, nothing written
    ("pyiceberg.io.pyarrow:write_file", "after", False),             # new data files written
    (f"{CATALOG}.iceberg_catalog:LakeCatalog._write_metadata", "after", False),  # metadata written, no swap
    (f"{CATALOG}.managed:ManagedTables._point_glue_at", "before", False),  # inside the swap's transaction
    (f"{CATALOG}.iceberg_catalog:LakeCatalog.commit_table", "after", True),  # committed, not yet reported
]


@pytest.mark.parametrize(("settings", "target", "when", "committed", "sql"), [
    pytest.param(*case.values[:4], sql, marks=case.marks, id=f"{case.id}-{name}")
    for sql, name in ((UPDATE, "update"), (MERGE, "merge"))
    for case in cases(DML_MOMENTS, ["computed", "data-files", "metadata", "swap", "committed"], name)],
    indirect=["settings"])
def test_dml_killed_mid_commit_leaves_the_last_commit(opened: Client, settings: dict[str, Any], tmp_path: Path,
                                                       sql: str, target: str, when: str, committed: bool) -> None:
    iceberg_table(opened)
    before = state(opened)
    assert before[1] == BEFORE
    killed_at(settings, target, when, sql, tmp_path)
    after = state(opened)
    if committed:
        assert after[0] != before[0] and after[1] == AFTER[sql]
        return
    assert after == before  # same snapshot, same rows
    # and the next statement works: the same one, committed now
    execution = run_query(opened, sql)
    assert execution.status.state == "SUCCEEDED", execution.status
    assert state(opened)[1] == AFTER[sql]


CTAS_PARQUET = ("CREATE TABLE killdb.copy WITH (format='PARQUET', partitioned_by=ARRAY['grp'], "
                f"external_location='lake://{BUCKET}/copy/') AS SELECT id, v, grp FROM killdb.items")
CTAS_ICEBERG = ("CREATE TABLE killdb.copy WITH (table_type='ICEBERG', partitioned_by=ARRAY['grp'], "
                f"location='lake://{BUCKET}/copy/') AS SELECT id, v, grp FROM killdb.items")
CTAS_MOMENTS = {
    CTAS_PARQUET: [
        (f"{ENGINE}.writes:_copy", "after", "written"),                               # claimed, files local
        (f"{ENGINE}.writes:Write._upload", "after", "uploaded"),                      # files in the lake
        (f"{ENGINE}.writes:Write._add_partitions", "before", "registered"),           # table, no partitions
        (f"{ENGINE}.claims:release", "before", "complete"),                           # all done but the claim
    ],
    CTAS_ICEBERG: [
        (f"{ENGINE}.writes:Write._append", "before", "registered"),                   # table with no snapshot
        (f"{CATALOG}.iceberg_catalog:LakeCatalog._write_metadata", "after", "metadata"),  # rows, no swap
        (f"{ENGINE}.claims:release", "before", "complete"),
    ],
}


@pytest.mark.parametrize(("settings", "sql", "target", "when"), [
    case for sql, moments in CTAS_MOMENTS.items() for case in cases(
        [(sql, target, when) for target, when, _ in moments],
        [f"{'parquet' if sql == CTAS_PARQUET else 'iceberg'}-{name}" for _, _, name in moments])],
    indirect=["settings"])
def test_a_killed_ctas_leaves_nothing_that_stops_its_retry(opened: Client, settings: dict[str, Any],
                                                           tmp_path: Path, sql: str, target: str, when: str) -> None:
    iceberg_table(opened)
    killed_at(settings, target, when, sql, tmp_path)
    retry = run_query(opened, sql)
    assert retry.status.state == "SUCCEEDED", retry.status
    execution = run_query(opened, "SELECT id, v, grp FROM killdb.copy ORDER BY id")
    assert execution.status.state == "SUCCEEDED", execution.status
    rows = opened.query.get_query_results(query_execution_id=execution.query_execution_id).result_set.rows
    assert [[d.var_char_value for d in r.data] for r in rows[1:]] == BEFORE
    keys = [o.key for o in opened.lake.list_objects_v2(bucket=BUCKET, prefix="copy/").contents]
    assert not [k for k in keys if "_crispml_ctas_" in k]  # no claim is left
    if sql == CTAS_PARQUET:  # and only the retry's files: nothing of the killed statement's
        assert all(k.rsplit("/", 1)[-1].startswith(retry.query_execution_id) for k in keys), keys
