"""Query executions (Athena semantics) on file:// and s3:// lakes: states, statistics, the results CSV in
the lake, GetQueryResults paging, output locations, the bytes-scanned cutoff, bad input, and stopping a
query from another thread. Runs against the real DuckDB engine."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.services.query.errors import InvalidRequestException
from tests.services.query.conftest import (
    DATA_BUCKET,
    ENDLESS,
    ORDERS,
    add_csv_table,
    in_engine,
    joined,
    orders_csv,
    run_query,
    wait,
)

RESULTS = "crispml-query-results"


def rows_of(client: Client, query_id: str, **fields: Any) -> tuple[list[list[str | None]], list[str | None]]:
    """Every row of every page (header first) and the page sizes' tokens."""
    rows: list[list[str | None]] = []
    tokens: list[str | None] = []
    token = None
    while True:
        page = client.query.get_query_results(query_execution_id=query_id, next_token=token, **fields)
        rows += [[d.var_char_value for d in r.data] for r in page.result_set.rows]
        token = page.next_token
        tokens.append(token)
        if token is None:
            return rows, tokens


# -- a SELECT from start to end --------------------------------------------------------------------


def test_a_select_over_a_catalog_table_succeeds_with_results_in_the_lake(
        client: Client, orders: Callable[[Client], str]) -> None:
    table = orders(client)
    started = client.query.start_query_execution(
        query_string=f"SELECT id, customer, amount FROM {table} ORDER BY id",
        query_execution_context={"Database": "shop"})
    query_id = started.query_execution_id
    assert str(uuid.UUID(query_id)) == query_id  # Athena's ids are UUIDs
    execution = wait(client, query_id)

    status = execution.status
    assert (status.state, status.athena_error, status.state_change_reason) == ("SUCCEEDED", None, None)
    assert status.completion_date_time >= status.submission_date_time
    assert (execution.statement_type, execution.substatement_type, execution.work_group) == ("DML", "SELECT", "primary")
    assert execution.query_execution_context.database == "shop"
    assert execution.query_execution_context.catalog == "AwsDataCatalog"
    location = f"lake://{RESULTS}/{query_id}.csv"
    assert execution.result_configuration.output_location == location
    assert execution.statistics.data_scanned_in_bytes == len(orders_csv())
    assert execution.statistics.total_execution_time_in_millis >= execution.statistics.engine_execution_time_in_millis

    # Athena's CSV: header, every value quoted ("" inside), NULL as an empty unquoted field
    assert client.fs.cat(location) == (
        b'"id","customer","amount"\n"1","ann","2.5"\n"2","bob",\n"3","cyd","7.25"\n"4","say ""hi""","1.0"\n')

    page = client.query.get_query_results(query_execution_id=query_id)
    assert page.next_token is None and page.update_count == 0
    values = [[d.var_char_value for d in r.data] for r in page.result_set.rows]
    assert values == [["id", "customer", "amount"], ["1", "ann", "2.5"], ["2", "bob", None],
                      ["3", "cyd", "7.25"], ["4", 'say "hi"', "1.0"]]
    info = page.result_set.result_set_metadata.column_info
    assert [(c.name, c.label, c.type) for c in info] == [
        ("id", "id", "bigint"), ("customer", "customer", "varchar"), ("amount", "amount", "double")]
    assert [(c.precision, c.case_sensitive) for c in info] == [(19, False), (2147483647, True), (17, False)]


def test_the_results_bucket_is_made_once_as_the_caller(client: Client) -> None:
    assert RESULTS not in [b.name for b in client.lake.list_buckets().buckets]
    for _ in range(2):
        assert run_query(client, "SELECT 1 AS one").status.state == "SUCCEEDED"
    assert RESULTS in [b.name for b in client.lake.list_buckets().buckets]
    made = client.audit.list_events(action="lake:CreateBucket").events
    assert [(e.principal, e.outcome) for e in made] == [("root", "Success")]


def test_results_page_through_the_csv_with_the_header_first(client: Client) -> None:
    query_id = run_query(client, "SELECT range AS n, 'row ' || range AS label FROM range(2500) ORDER BY n"
                         ).query_execution_id
    first = client.query.get_query_results(query_execution_id=query_id, max_results=1000)
    assert len(first.result_set.rows) == 1000 and first.next_token
    rows, tokens = rows_of(client, query_id, max_results=700)
    assert len(tokens) == 4 and tokens[-1] is None  # 2501 rows (header included) in pages of 700
    assert rows[0] == ["n", "label"]
    assert rows[1:] == [[str(i), f"row {i}"] for i in range(2500)]
    # every page after the first is one ranged read of the results file
    reads = [e for e in client.audit.list_events(action="lake:GetObject", max_results=100).events
             if query_id in e.resource]
    assert reads and all(e.request_parameters and e.request_parameters.get("range") for e in reads)


def test_values_that_span_lines_or_hold_quotes_survive_paging(client: Client) -> None:
    sql = ("SELECT range AS n, CASE WHEN range % 2 = 0 THEN 'two' || chr(10) || 'lines, \"q\"' "
           "WHEN range % 3 = 0 THEN '' END AS v FROM range(7) ORDER BY n")
    query_id = run_query(client, sql).query_execution_id
    rows, _ = rows_of(client, query_id, max_results=2)
    expected = [["n", "v"]] + [[str(i), 'two\nlines, "q"' if i % 2 == 0 else "" if i % 3 == 0 else None]
                               for i in range(7)]
    assert rows == expected


def test_a_bad_next_token_is_refused(client: Client) -> None:
    one = run_query(client, "SELECT range FROM range(5)").query_execution_id
    other = run_query(client, "SELECT range FROM range(5)").query_execution_id
    token = client.query.get_query_results(query_execution_id=one, max_results=2).next_token
    with pytest.raises(InvalidRequestException, match="NextToken"):
        client.query.get_query_results(query_execution_id=other, next_token=token)
    with pytest.raises(InvalidRequestException, match="NextToken"):
        client.query.get_query_results(query_execution_id=one, next_token="garbage!")
    with pytest.raises(InvalidArgument, match="max_results"):
        client.query.get_query_results(query_execution_id=one, max_results=1001)


# -- failures --------------------------------------------------------------------------------------


def test_bad_sql_and_unknown_tables_are_refused_at_once_and_not_recorded(
        client: Client, orders: Callable[[Client], str]) -> None:
    orders(client)
    with pytest.raises(InvalidArgument, match="line 1"):
        client.query.start_query_execution(query_string="SELEC id FROM shop.orders")
    with pytest.raises(NotFound, match="orders"):
        client.query.start_query_execution(query_string="SELECT * FROM shop.order")
    with pytest.raises(InvalidArgument, match="empty"):
        client.query.start_query_execution(query_string="   ")
    with pytest.raises(InvalidRequestException, match="AwsDataCatalog"):
        client.query.start_query_execution(query_string="SELECT 1", query_execution_context={"Catalog": "other"})
    assert client.query.list_query_executions().query_execution_ids == []


def test_a_statement_failing_while_it_runs_ends_failed_with_its_error(client: Client) -> None:
    execution = run_query(client, "SELECT CAST('not a number' AS INTEGER) AS n")
    status = execution.status
    assert status.state == "FAILED"
    assert status.athena_error is not None
    assert (status.athena_error.error_type, status.athena_error.error_category,
            status.athena_error.retryable) == ("InvalidArgument", 2, False)
    assert "not a number" in status.athena_error.error_message
    assert status.state_change_reason == status.athena_error.error_message
    with pytest.raises(InvalidRequestException, match="FAILED"):
        client.query.get_query_results(query_execution_id=execution.query_execution_id)
    assert not client.fs.exists(execution.result_configuration.output_location)


def test_unknown_executions(client: Client) -> None:
    missing = str(uuid.uuid4())
    for call in (client.query.get_query_execution, client.query.get_query_results,
                 client.query.stop_query_execution):
        with pytest.raises(InvalidRequestException, match=missing) as refused:  # Athena's code for both
            call(query_execution_id=missing)
        assert refused.value.code == "InvalidRequestException"
    with pytest.raises(InvalidArgument, match="query execution id") as malformed:
        client.query.get_query_execution(query_execution_id="../etc")
    assert malformed.value.code == "InvalidRequestException"
    done = run_query(client, "SELECT 1").query_execution_id
    batch = client.query.batch_get_query_execution(query_execution_ids=[done, missing, done])
    assert [e.query_execution_id for e in batch.query_executions] == [done]
    assert [(u.query_execution_id, u.error_code) for u in batch.unprocessed_query_execution_ids] == [
        (missing, "InvalidRequestException")]


# -- where results go --------------------------------------------------------------------------------


def test_output_location_from_the_request_or_the_enforcing_workgroup(client: Client) -> None:
    client.lake.create_bucket(bucket="mine")
    mine = run_query(client, "SELECT 1 AS x", result_configuration={"OutputLocation": "s3://mine/adhoc"})
    assert mine.result_configuration.output_location == f"lake://mine/adhoc/{mine.query_execution_id}.csv"
    assert client.fs.cat(mine.result_configuration.output_location) == b'"x"\n"1"\n'

    client.query.create_work_group(name="team", configuration={
        "ResultConfiguration": {"OutputLocation": "lake://mine/team/"}, "EnforceWorkGroupConfiguration": True})
    enforced = run_query(client, "SELECT 2 AS x", work_group="team",
                         result_configuration={"OutputLocation": "lake://mine/ignored/"})
    assert enforced.result_configuration.output_location == f"lake://mine/team/{enforced.query_execution_id}.csv"
    assert enforced.work_group == "team"

    with pytest.raises(InvalidRequestException, match="bucket 'nowhere', which does not exist"):
        client.query.start_query_execution(query_string="SELECT 1",
                                           result_configuration={"OutputLocation": "lake://nowhere/r/"})
    with pytest.raises(InvalidRequestException, match="lake prefix"):
        client.query.start_query_execution(query_string="SELECT 1",
                                           result_configuration={"OutputLocation": "/tmp/results"})
    client.query.create_work_group(name="bare", configuration={"EnforceWorkGroupConfiguration": True})
    with pytest.raises(InvalidRequestException, match="no output location") as refused:
        client.query.start_query_execution(query_string="SELECT 1", work_group="bare")
    assert refused.value.message.endswith("or set the workgroup's output location with UpdateWorkGroup "
                                          "(ConfigurationUpdates.ResultConfigurationUpdates.OutputLocation)")


# -- the bytes-scanned cutoff -----------------------------------------------------------------------


def test_a_query_over_the_cutoff_fails_with_limit_exceeded_giving_both_numbers(client: Client) -> None:
    body = b"id,amount\n" + b"".join(b"%07d,1.5\n" % i for i in range(1_100_000))  # 12.1 MB
    add_csv_table(client, "big", {"part-0.csv": body}, [("id", "bigint"), ("amount", "double")])
    client.query.create_work_group(name="capped", configuration={
        "BytesScannedCutoffPerQuery": 10_000_000, "ResultConfiguration": {"OutputLocation": f"lake://{DATA_BUCKET}/r/"}})
    execution = run_query(client, "SELECT count(*) FROM shop.big", work_group="capped")
    status = execution.status
    assert status.state == "FAILED"
    assert status.athena_error is not None and status.athena_error.error_type == "LimitExceeded"
    message = status.athena_error.error_message
    assert str(len(body)) in message and "10000000" in message
    assert execution.statistics.data_scanned_in_bytes == len(body)
    assert not client.fs.exists(execution.result_configuration.output_location)

    client.query.update_work_group(work_group="capped",
                                   configuration_updates={"BytesScannedCutoffPerQuery": 20_000_000})
    allowed = run_query(client, "SELECT count(*) AS n FROM shop.big", work_group="capped")
    assert allowed.status.state == "SUCCEEDED"
    page = client.query.get_query_results(query_execution_id=allowed.query_execution_id)
    assert page.result_set.rows[1].data[0].var_char_value == "1100000"


# -- stopping ------------------------------------------------------------------------------------------


def test_stop_from_another_thread_cancels_the_running_query(client: Client) -> None:
    query_id = client.query.start_query_execution(query_string=ENDLESS).query_execution_id
    wait(client, query_id, states=("RUNNING",))
    in_engine(query_id)  # the stop must interrupt a running engine
    stopper = threading.Thread(target=client.query.stop_query_execution, kwargs={"query_execution_id": query_id})
    stopper.start()
    stopper.join()
    # the query would run for hours: its worker ending is the proof that the engine was interrupted
    assert joined(client, query_id, timeout=60)
    # and its watchers ended with it: a daemon thread left inside DuckDB when the interpreter shuts
    # down aborts the process ("FATAL: exception not rethrown")
    left = [t.name for t in threading.enumerate() if query_id in t.name]
    assert left == []
    execution = wait(client, query_id)
    assert execution.status.state == "CANCELLED"
    assert "StopQueryExecution" in (execution.status.state_change_reason or "")
    assert execution.status.completion_date_time is not None
    assert not client.fs.exists(execution.result_configuration.output_location)
    with pytest.raises(InvalidRequestException, match="CANCELLED"):
        client.query.get_query_results(query_execution_id=query_id)


def test_stopping_a_finished_query_changes_nothing(client: Client) -> None:
    done = run_query(client, "SELECT 1")
    client.query.stop_query_execution(query_execution_id=done.query_execution_id)
    after = client.query.get_query_execution(query_execution_id=done.query_execution_id).query_execution
    assert after == done


def test_unqualified_names_resolve_in_the_context_database(client: Client, orders: Callable[[Client], str]) -> None:
    orders(client)
    execution = run_query(client, "SELECT customer FROM orders WHERE amount > 2 ORDER BY id",
                          query_execution_context={"Database": "shop"})
    rows, _ = rows_of(client, execution.query_execution_id)
    assert rows == [["customer"]] + [[c] for _, c, a in ORDERS if a and float(a) > 2]
    with pytest.raises(InvalidArgument, match="not qualified"):
        client.query.start_query_execution(query_string="SELECT customer FROM orders")


# -- writes ----------------------------------------------------------------------------------------------


def test_a_ctas_reports_its_update_count_and_the_table_reads_back(
        client: Client, orders: Callable[[Client], str]) -> None:
    orders(client)
    ctas = run_query(client, "CREATE TABLE shop.priced WITH (format='PARQUET') AS "
                             "SELECT id, customer FROM shop.orders WHERE amount IS NOT NULL")
    assert ctas.status.state == "SUCCEEDED", ctas.status
    assert ctas.substatement_type == "CREATE_TABLE_AS_SELECT"
    written = client.query.get_query_results(query_execution_id=ctas.query_execution_id)
    assert (written.update_count, written.result_set.rows, written.next_token) == (3, [], None)
    rows, _ = rows_of(client, run_query(client, "SELECT id FROM shop.priced ORDER BY id").query_execution_id)
    assert rows == [["id"], ["1"], ["3"], ["4"]]
