"""Query executions on SQLite and PostgreSQL, seen from more than one thread and process: the history's
order and pages, ClientRequestToken idempotency under concurrent starts, a stop from another process,
and a query whose process was killed while it ran."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.query.errors import InvalidRequestException
from tests.services.query.conftest import ENDLESS, child, joined, run_query, wait

TOKEN = "t" * 32


def test_the_history_lists_newest_first_a_page_at_a_time(db_client: Client) -> None:
    ids = [run_query(db_client, f"SELECT {i} AS i").query_execution_id for i in range(5)]
    db_client.query.create_work_group(name="other", configuration={
        "ResultConfiguration": {"OutputLocation": "lake://crispml-query-results/other/"}})
    elsewhere = run_query(db_client, "SELECT 9", work_group="other").query_execution_id

    listed, token, pages = [], None, 0
    while True:
        page = db_client.query.list_query_executions(max_results=2, next_token=token)
        listed += page.query_execution_ids
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert (listed, pages) == (ids[::-1], 3)
    assert db_client.query.list_query_executions(work_group="other").query_execution_ids == [elsewhere]
    with pytest.raises(InvalidRequestException, match="NextToken"):
        db_client.query.list_query_executions(next_token="not-a-token")
    with pytest.raises(InvalidArgument, match="max_results"):
        db_client.query.list_query_executions(max_results=51)

    executions = db_client.query.batch_get_query_execution(query_execution_ids=ids).query_executions
    assert [e.query_execution_id for e in executions] == ids
    assert {e.status.state for e in executions} == {"SUCCEEDED"}


def test_a_client_request_token_starts_the_query_once(db_client: Client) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ids.append(db_client.query.start_query_execution(
                query_string="SELECT 42 AS answer", client_request_token=TOKEN).query_execution_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 1
    assert db_client.query.list_query_executions().query_execution_ids == ids[:1]
    assert wait(db_client, ids[0]).status.state == "SUCCEEDED"
    again = db_client.query.start_query_execution(query_string="SELECT 42 AS answer", client_request_token=TOKEN)
    assert again.query_execution_id == ids[0]
    with pytest.raises(InvalidRequestException, match=ids[0]):
        db_client.query.start_query_execution(query_string="SELECT 43", client_request_token=TOKEN)
    with pytest.raises(InvalidArgument, match="client_request_token"):
        db_client.query.start_query_execution(query_string="SELECT 1", client_request_token="short")
    assert len(db_client.query.list_query_executions().query_execution_ids) == 1


_STOPPER = """
import sys, crispml
with crispml.connect(home=sys.argv[1]) as client:
    seen = client.query.get_query_execution(query_execution_id=sys.argv[2]).query_execution
    print(seen.status.state, flush=True)
    client.query.stop_query_execution(query_execution_id=sys.argv[2])
"""


def test_a_stop_from_another_process_interrupts_the_query_here(db_client: Client, db_url: str) -> None:
    query_id = db_client.query.start_query_execution(query_string=ENDLESS).query_execution_id
    wait(db_client, query_id, states=("RUNNING",))
    stopper = child(_STOPPER, str(db_client.settings.home), query_id, db_url=db_url)
    out, _ = stopper.communicate(timeout=120)
    assert (stopper.returncode, out.split()) == (0, ["RUNNING"])
    # this process's worker noticed through the database and interrupted DuckDB
    assert joined(db_client, query_id, timeout=60)
    execution = wait(db_client, query_id)
    assert execution.status.state == "CANCELLED"


_STARTS_AND_EXITS = """
import sys, crispml
client = crispml.connect(home=sys.argv[1])
sql = "SELECT sum(x) AS total FROM UNNEST(sequence(1, 3000000)) AS t(x)"
print(client.query.start_query_execution(query_string=sql).query_execution_id, flush=True)
"""  # and the interpreter ends here, with the query just handed to a worker thread


def test_a_process_that_started_a_query_finishes_it_before_it_exits(db_client: Client, db_url: str) -> None:
    starter = child(_STARTS_AND_EXITS, str(db_client.settings.home), db_url=db_url)
    out, _ = starter.communicate(timeout=120)
    assert starter.returncode == 0
    query_id = out.strip()
    execution = db_client.query.get_query_execution(query_execution_id=query_id).query_execution
    assert execution.status.state == "SUCCEEDED", execution.status
    rows = db_client.query.get_query_results(query_execution_id=query_id).result_set.rows
    assert [d.var_char_value for d in rows[1].data] == [str(3000000 * 3000001 // 2)]


_STARTER = f"""
import sys, threading, crispml
client = crispml.connect(home=sys.argv[1])
print(client.query.start_query_execution(query_string={ENDLESS!r}).query_execution_id, flush=True)
threading.Event().wait()  # held here until the test kills this process
"""


@pytest.mark.kill
def test_a_query_whose_process_was_killed_is_recovered_as_failed(db_client: Client, db_url: str) -> None:
    starter = child(_STARTER, str(db_client.settings.home), db_url=db_url)
    try:
        assert starter.stdout is not None
        query_id = starter.stdout.readline().strip()
        assert wait(db_client, query_id, states=("RUNNING",)).status.state == "RUNNING"
        assert db_client.query.list_query_executions().query_execution_ids == [query_id]
    finally:
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait(timeout=60)
    execution = db_client.query.get_query_execution(query_execution_id=query_id).query_execution
    status = execution.status
    assert status.state == "FAILED"
    assert status.athena_error is not None
    assert (status.athena_error.error_type, status.athena_error.error_category,
            status.athena_error.retryable) == ("Internal", 1, True)
    assert f":{starter.pid})" in status.athena_error.error_message
    assert status.completion_date_time is not None
    db_client.query.stop_query_execution(query_execution_id=query_id)  # finished: a no-op
    assert db_client.query.get_query_execution(query_execution_id=query_id).query_execution == execution


def test_every_state_change_is_in_the_database(db_client: Client, orders: Callable[[Client], str]) -> None:
    orders(db_client)
    query_id = db_client.query.start_query_execution(
        query_string="SELECT count(*) AS n FROM shop.orders").query_execution_id
    execution = wait(db_client, query_id)
    # a second home object (as another process would open) reads the same record
    from crispml.sdk.client import connect

    with connect(home=str(db_client.settings.home), db_url=db_client.settings.db_url) as other:
        seen: Any = other.query.get_query_execution(query_execution_id=query_id).query_execution
    assert seen == execution
    assert (seen.status.state, seen.statistics.data_scanned_in_bytes > 0) == ("SUCCEEDED", True)
