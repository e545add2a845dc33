"""Fixtures of the query service's tests: a catalog table over CSV files in the lake, waiting for a query,
running ``crispml`` in this process, and a child process acting on the same home.

Shared with the engine's tests by name only; the engine's own fixtures live in its test files.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from crispml.sdk.client import Client
from crispml.services.query.service import QueryService
from tests.cli.support import Result, Run
from tests.fixtures.forkserver import Child, spawn

DATA_BUCKET = "query-data"
DB = "shop"
#: The rows of shop.orders: id, customer, amount (NULL where empty).
ORDERS = [(1, "ann", "2.5"), (2, "bob", ""), (3, "cyd", "7.25"), (4, 'say "hi"', "1")]
#: A query that runs for many minutes unless it is stopped (in constant memory: a stop that failed
#: shows as a failed test, and the process still ends, later).
ENDLESS = "SELECT sum(range % 7) AS s FROM range(250000000000)"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def orders_csv() -> bytes:
    lines = ["id,customer,amount"] + [f'{i},"{c.replace(chr(34), chr(34) * 2)}",{a}' for i, c, a in ORDERS]
    return ("\n".join(lines) + "\n").encode()


def add_csv_table(client: Client, name: str, files: dict[str, bytes],
                  columns: list[tuple[str, str]]) -> None:
    """An external CSV table ``shop.<name>`` over ``files`` (key under the table's prefix → bytes)."""
    lake = client.lake
    if DATA_BUCKET not in {b.name for b in lake.list_buckets().buckets}:
        lake.create_bucket(bucket=DATA_BUCKET)
    if DB not in {d.name for d in client.catalog.get_databases().database_list}:
        client.catalog.create_database(database_input={"Name": DB})
    for key, body in files.items():
        lake.put_object(bucket=DATA_BUCKET, key=f"{name}/{key}", body=body)
    client.catalog.create_table(database_name=DB, table_input={
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in columns],
                              "Location": f"lake://{DATA_BUCKET}/{name}/",
                              "SerdeInfo": {"Parameters": {"field.delim": ","}}},
        "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
    })


@pytest.fixture
def orders() -> Callable[[Client], str]:
    """Adds ``shop.orders`` (see :data:`ORDERS`) to a client's home; returns its CSV's size in bytes."""

    def add(client: Client) -> str:
        add_csv_table(client, "orders", {"part-0.csv": orders_csv()},
                      [("id", "bigint"), ("customer", "string"), ("amount", "double")])
        return "shop.orders"

    return add


def joined(client: Client, query_id: str, timeout: float = 120) -> bool:
    """Wait for this process's worker of a query to end; True if it has."""
    service = client.platform.service("query")
    assert isinstance(service, QueryService)
    return service.join(query_id, timeout)


def wait(client: Client, query_id: str, *, states: tuple[str, ...] = TERMINAL, timeout: float = 120) -> Any:
    """Poll GetQueryExecution until the query is in one of ``states``; then, if it ended, wait for its
    worker thread too (so the test leaves nothing running)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = client.query.get_query_execution(query_execution_id=query_id).query_execution
        if execution.status.state in states:
            break
        assert time.monotonic() < deadline, f"query {query_id} still {execution.status.state}"
        time.sleep(0.02)
    if execution.status.state in TERMINAL:
        assert joined(client, query_id, timeout), "the query's worker did not end"
    return execution


def in_engine(query_id: str, timeout: float = 120) -> None:
    """Wait until this process's worker of a query is inside DuckDB (its thread's stack has reached the
    engine's ``to_arrow_reader`` call), so a stop now interrupts a running engine, not one about to start."""
    deadline = time.monotonic() + timeout
    while True:
        worker = next((t for t in threading.enumerate() if t.name == f"query-{query_id}"), None)
        frame = sys._current_frames().get(worker.ident) if worker is not None and worker.ident else None
        while frame is not None and frame.f_code.co_name != "to_arrow_reader":
            frame = frame.f_back
        if frame is not None:
            return
        assert worker is None or worker.is_alive(), f"the worker of query {query_id} ended"
        assert time.monotonic() < deadline, f"query {query_id} never reached the engine"
        time.sleep(0.01)


def run_query(client: Client, sql: str, **fields: Any) -> Any:
    """Start ``sql`` and wait for it to end; the finished QueryExecution."""
    started = client.query.start_query_execution(query_string=sql, **fields)
    return wait(client, started.query_execution_id)


Cli = Callable[..., Result]


@pytest.fixture
def cli(run: Run) -> Cli:
    """Run ``crispml --home HOME ARGS`` in this process; returns its exit code and output."""
    return run


def child(script: str, *args: str, db_url: str | None = None) -> Child:
    """A Python child process running ``script`` (dedented) with ``args``, its stdout a text pipe (forked from
    the worker's warm parent: tests/fixtures/forkserver.py)."""
    env_prefix = "import os\n" + (f"os.environ['CRISPML_DB_URL'] = {db_url!r}\n" if db_url else "")
    return spawn(["-c", env_prefix + textwrap.dedent(script), *args], stdout=subprocess.PIPE, text=True)
