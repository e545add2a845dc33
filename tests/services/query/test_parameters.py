"""``?`` parameters (StartQueryExecution's ExecutionParameters) and prepared statements in SQL (PREPARE,
EXECUTE … USING, DEALLOCATE PREPARE), run by the real engine over a catalog table: values bound as literals
in the statement's tree, in text order, with Athena's checks; bad input refused before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crispml.sdk.client import Client
from crispml.services.query.errors import InvalidRequestException, ResourceNotFoundException
from tests.fixtures.homes import once_on_sqlite
from tests.services.query.conftest import Cli, run_query

SHOP = {"query_execution_context": {"Database": "shop"}}


def rows(client: Client, query_id: str) -> list[list[str | None]]:
    """The data rows of a finished query (the header left out)."""
    page = client.query.get_query_results(query_execution_id=query_id)
    return [[d.var_char_value for d in r.data] for r in page.result_set.rows][1:]


def succeeded(client: Client, sql: str, **fields: Any) -> Any:
    execution = run_query(client, sql, **fields)
    assert execution.status.state == "SUCCEEDED", execution.status
    return execution


# -- ExecutionParameters ----------------------------------------------------------------------------------


def test_execution_parameters_are_bound_in_order_as_literals(
        local_client: Client, orders: Callable[[Client], str]) -> None:
    orders(local_client)
    execution = succeeded(local_client, "SELECT id, customer FROM orders WHERE customer <> ? AND id > ? ORDER BY id",
                          execution_parameters=["'bob'", "1"], **SHOP)
    assert rows(local_client, execution.query_execution_id) == [["3", "cyd"], ["4", 'say "hi"']]
    assert execution.execution_parameters == ["'bob'", "1"]
    assert execution.query == "SELECT id, customer FROM orders WHERE customer <> ? AND id > ? ORDER BY id"
    # a '?' in a string or a comment is no parameter
    execution = succeeded(local_client, "SELECT '?' AS q, ? AS v -- why?", execution_parameters=["'x'"])
    assert rows(local_client, execution.query_execution_id) == [["?", "x"]]


def test_parameters_in_a_cte_and_the_main_query_follow_the_text_order(
        local_client: Client, orders: Callable[[Client], str]) -> None:
    orders(local_client)
    # sqlglot keeps a WITH clause after the SELECT in its tree; the values must still go in text order
    execution = succeeded(
        local_client, "WITH c AS (SELECT * FROM orders WHERE id >= ?) SELECT customer FROM c WHERE id <= ? ORDER BY id",
        execution_parameters=["2", "3"], **SHOP)
    assert rows(local_client, execution.query_execution_id) == [["bob"], ["cyd"]]


def test_typed_literals_keep_their_types(local_client: Client) -> None:
    execution = succeeded(local_client, "SELECT ? AS d, ? AS t, ? AS n, ? AS b, ? AS z, ? AS neg",
                          execution_parameters=["DATE '2024-02-29'", "TIMESTAMP '2024-01-02 03:04:05.678'",
                                                "DECIMAL '12.50'", "true", "NULL", "-7"])
    page = local_client.query.get_query_results(query_execution_id=execution.query_execution_id)
    types = [c.type for c in page.result_set.result_set_metadata.column_info]
    assert types[:4] == ["date", "timestamp", "decimal(4,2)", "boolean"]
    assert rows(local_client, execution.query_execution_id) == [
        ["2024-02-29", "2024-01-02 03:04:05.678", "12.50", "true", None, "-7"]]


def test_a_value_that_is_not_a_literal_cannot_change_the_statement(
        local_client: Client, orders: Callable[[Client], str]) -> None:
    orders(local_client)
    before = local_client.query.list_query_executions().query_execution_ids
    for value in ("'x' OR 1 = 1", "customer", "(SELECT 1)", "1; DROP TABLE orders", "lower('a')", "x'"):
        with pytest.raises(InvalidRequestException, match="ExecutionParameters value 1"):
            local_client.query.start_query_execution(query_string="SELECT id FROM orders WHERE customer = ?",
                                                     execution_parameters=[value], **SHOP)
    assert local_client.query.list_query_executions().query_execution_ids == before  # nothing was recorded
    # quotes inside a string literal stay inside it
    execution = succeeded(local_client, "SELECT id FROM orders WHERE customer = ?",
                          execution_parameters=["'x'' OR ''1''=''1'"], **SHOP)
    assert rows(local_client, execution.query_execution_id) == []
    execution = succeeded(local_client, "SELECT id FROM orders WHERE customer = ?",
                          execution_parameters=["'say \"hi\"'"], **SHOP)
    assert rows(local_client, execution.query_execution_id) == [["4"]]


@once_on_sqlite
def test_the_count_of_values_must_match_the_parameters(db_client: Client) -> None:
    query = db_client.query
    with pytest.raises(InvalidRequestException, match=r"2 parameter.* but 1 value"):
        query.start_query_execution(query_string="SELECT ? + ?", execution_parameters=["1"])
    with pytest.raises(InvalidRequestException, match=r"1 parameter.* but no values"):
        query.start_query_execution(query_string="SELECT ?")
    with pytest.raises(InvalidRequestException, match=r"0 parameter.* but 1 value"):
        query.start_query_execution(query_string="SELECT 1", execution_parameters=["1"])
    with pytest.raises(InvalidRequestException, match="1-1000 values"):
        query.start_query_execution(query_string="SELECT 1", execution_parameters=[])


# -- PREPARE / EXECUTE / DEALLOCATE PREPARE ------------------------------------------------------------------


def test_prepare_execute_and_deallocate_in_sql(db_client: Client, orders: Callable[[Client], str]) -> None:
    orders(db_client)
    query = db_client.query
    prepared = succeeded(db_client, "PREPARE by_customer FROM SELECT id FROM orders WHERE customer = ?", **SHOP)
    assert (prepared.statement_type, prepared.substatement_type) == ("UTILITY", "PREPARE")
    page = query.get_query_results(query_execution_id=prepared.query_execution_id)
    assert (page.update_count, page.result_set.rows) == (0, [])
    stored = query.get_prepared_statement(statement_name="by_customer", work_group="primary").prepared_statement
    assert stored.query_statement == "SELECT id FROM orders WHERE customer = ?"

    executed = succeeded(db_client, "EXECUTE by_customer USING 'cyd'", **SHOP)
    assert rows(db_client, executed.query_execution_id) == [["3"]]
    assert executed.query == "EXECUTE by_customer USING 'cyd'"
    executed = succeeded(db_client, "EXECUTE by_customer", execution_parameters=["'ann'"], **SHOP)
    assert rows(db_client, executed.query_execution_id) == [["1"]]

    # PREPARE of a name in use replaces the statement
    succeeded(db_client, "PREPARE by_customer FROM SELECT customer FROM orders WHERE id = ?", **SHOP)
    executed = succeeded(db_client, "EXECUTE by_customer USING 2", **SHOP)
    assert rows(db_client, executed.query_execution_id) == [["bob"]]

    with pytest.raises(InvalidRequestException, match="both in USING and in ExecutionParameters"):
        query.start_query_execution(query_string="EXECUTE by_customer USING 1", execution_parameters=["2"], **SHOP)
    with pytest.raises(InvalidRequestException, match=r"1 parameter.* but 2 value"):
        query.start_query_execution(query_string="EXECUTE by_customer USING 1, 2", **SHOP)

    deallocated = succeeded(db_client, "DEALLOCATE PREPARE by_customer")
    assert deallocated.substatement_type == "DEALLOCATE"
    with pytest.raises(ResourceNotFoundException, match="by_customer"):
        query.get_prepared_statement(statement_name="by_customer", work_group="primary")
    with pytest.raises(ResourceNotFoundException, match="by_customer"):
        query.start_query_execution(query_string="EXECUTE by_customer USING 1", **SHOP)


def test_prepared_statements_belong_to_the_workgroup_the_sql_runs_in(local_client: Client) -> None:
    query = local_client.query
    local_client.lake.create_bucket(bucket="other-results")
    query.create_work_group(name="other", configuration={
        "ResultConfiguration": {"OutputLocation": "lake://other-results/"}})
    succeeded(local_client, "PREPARE mine FROM SELECT ? AS v", work_group="other")
    assert [s.statement_name for s in query.list_prepared_statements(work_group="other").prepared_statements] == [
        "mine"]
    assert query.list_prepared_statements(work_group="primary").prepared_statements == []
    with pytest.raises(ResourceNotFoundException, match="mine"):
        query.start_query_execution(query_string="EXECUTE mine USING 1")
    executed = succeeded(local_client, "EXECUTE mine USING 'hello'", work_group="other")
    assert rows(local_client, executed.query_execution_id) == [["hello"]]


@pytest.mark.parametrize(("sql", "message"), [
    ("PREPARE FROM SELECT 1", "needs a statement name"),
    ("PREPARE 9lives FROM SELECT 1", "needs a statement name"),
    ("PREPARE \"a b\" FROM SELECT 1", "must be 1-256 letters"),
    ("PREPARE p SELECT 1", "PREPARE needs a statement"),
    ("PREPARE p FROM SELEC 1", "cannot be parsed"),
    ("PREPARE p FROM EXECUTE q", "cannot be a EXECUTE"),
    ("EXECUTE p USING", "EXECUTE takes its values after USING"),
    ("EXECUTE p USING 1 FROM t", "literal values"),
    ("EXECUTE p USING upper('a')", "not a SQL literal"),
    ("DEALLOCATE p", "DEALLOCATE needs PREPARE"),
    ("DEALLOCATE PREPARE p extra", "unexpected 'extra'"),
    ("DEALLOCATE PREPARE missing", "does not exist"),
    ("PREPARE p FROM SELECT ?", None),  # fine, but not with values:
])
def test_bad_prepared_statement_sql_is_refused(local_client: Client, sql: str, message: str | None) -> None:
    query = local_client.query
    if message is None:
        with pytest.raises(InvalidRequestException, match="takes no ExecutionParameters"):
            query.start_query_execution(query_string=sql, execution_parameters=["1"])
        return
    with pytest.raises((InvalidRequestException, ResourceNotFoundException), match=message):
        query.start_query_execution(query_string=sql)
    assert query.list_prepared_statements(work_group="primary").prepared_statements == []


def test_prepare_execute_and_deallocate_are_audited_as_the_prepared_statement_operations(
        local_client: Client) -> None:
    succeeded(local_client, "PREPARE audited FROM SELECT ? AS v")
    succeeded(local_client, "PREPARE audited FROM SELECT ? + 1 AS v")  # replaces: an update
    succeeded(local_client, "EXECUTE audited USING 1")
    succeeded(local_client, "DEALLOCATE PREPARE audited")
    resource = "workgroup/primary/prepared-statement/audited"
    for action in ("CreatePreparedStatement", "UpdatePreparedStatement", "GetPreparedStatement",
                   "DeletePreparedStatement"):
        (event,) = local_client.audit.list_events(action=f"query:{action}").events
        assert (event.principal, event.outcome) == (local_client.principal, "Success")
        assert event.resource.endswith(resource), event.resource


def test_crispml_sql_passes_parameters_in_order(cli: Cli) -> None:
    result = cli("sql", "SELECT ? AS word, ? + 1 AS n", "-p", "'it''s'", "--parameter", "41", "-o", "csv")
    assert result.code == 0, result.err
    assert result.out == '"word","n"\n"it\'s","42"\n'
    refused = cli("sql", "SELECT ?", "-p", "upper('a')")
    assert refused.code == 2 and "not a SQL literal" in refused.err and "Traceback" not in refused.err
