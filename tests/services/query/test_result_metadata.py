"""Result columns as Athena describes them: ``_col<position>`` for unnamed expressions (also ``count(*)``,
after a ``*`` and in derived tables), and ``ResultSetMetadata.ColumnInfo`` types, precision, scale and case
sensitivity as Athena reports them."""

from __future__ import annotations

from typing import Any

from crispml.sdk.client import Client
from tests.services.query.conftest import run_query


def metadata(client: Client, sql: str) -> tuple[list[Any], list[list[str | None]]]:
    execution = run_query(client, sql)
    assert execution.status.state == "SUCCEEDED", execution.status
    page = client.query.get_query_results(query_execution_id=execution.query_execution_id)
    return page.result_set.result_set_metadata.column_info, [[d.var_char_value for d in r.data]
                                                             for r in page.result_set.rows]


def test_unnamed_columns_are_named_by_position(local_client: Client) -> None:
    values = "(VALUES (1, 'a'), (2, 'b')) t(x, y)"
    cases = {
        f"SELECT count(*), max(x) AS top, x + 1, y FROM {values} GROUP BY x, y": ["_col0", "top", "_col2", "y"],
        f"SELECT *, 1, t.*, upper(y) FROM {values}": ["x", "y", "_col2", "x", "y", "_col5"],
        f"SELECT * FROM (SELECT count(*), sum(x) FROM {values})": ["_col0", "_col1"],
        f"WITH c AS (SELECT min(x), 2 AS two FROM {values}) SELECT * FROM c": ["_col0", "two"],
        f"SELECT _col0 * 10 AS tens FROM (SELECT count(*) FROM {values})": ["tens"],
        "SELECT 1 UNION ALL SELECT 2": ["_col0"],
        "SELECT 1 AS Total": ["total"],
    }
    for sql, names in cases.items():
        columns, rows = metadata(local_client, sql)
        assert [c.name for c in columns] == names, sql
        assert [c.label for c in columns] == names, sql
        assert rows[0] == names, sql  # the results file's header


def test_column_types_precision_and_scale_are_athenas(local_client: Client) -> None:
    columns, rows = metadata(local_client, (
        "SELECT CAST(1 AS TINYINT), CAST(1 AS SMALLINT), 1, CAST(1 AS BIGINT), count(*), CAST(1 AS REAL), 1.5e0, "
        "CAST(1.5 AS DECIMAL(5,2)), true, 'x', DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00', ARRAY[1, 2], "
        "MAP(ARRAY['a'], ARRAY[1]), CAST(ROW(1, 'a') AS ROW(a INTEGER, b VARCHAR)), sum(CAST(1 AS BIGINT))"))
    described = [(c.type, c.precision, c.scale, c.case_sensitive, c.nullable) for c in columns]
    assert described == [
        ("tinyint", 3, 0, False, "UNKNOWN"),
        ("smallint", 5, 0, False, "UNKNOWN"),
        ("integer", 10, 0, False, "UNKNOWN"),
        ("bigint", 19, 0, False, "UNKNOWN"),
        ("bigint", 19, 0, False, "UNKNOWN"),
        ("real", 7, 0, False, "UNKNOWN"),
        ("double", 17, 0, False, "UNKNOWN"),
        ("decimal(5,2)", 5, 2, False, "UNKNOWN"),
        ("boolean", 0, 0, False, "UNKNOWN"),
        ("varchar", 2147483647, 0, True, "UNKNOWN"),
        ("date", 0, 0, False, "UNKNOWN"),
        ("timestamp", 3, 0, False, "UNKNOWN"),
        ("array(integer)", 0, 0, False, "UNKNOWN"),
        ("map(varchar, integer)", 0, 0, False, "UNKNOWN"),
        ("row(a integer, b varchar)", 0, 0, False, "UNKNOWN"),
        ("bigint", 19, 0, False, "UNKNOWN"),  # Trino sums bigints into a bigint, not a 128-bit integer
    ]
    assert all((c.catalog_name, c.schema_name, c.table_name) == ("hive", "", "") for c in columns)
    assert rows[1] == ["1", "1", "1", "1", "1", "1.0", "1.5", "1.50", "true", "x", "2024-01-01",
                       "2024-01-01 00:00:00.000", "[1, 2]", "{a=1}", "{a=1, b=a}", "1"]


def test_a_bigint_sum_is_a_bigint_up_to_its_limit_and_fails_past_it(local_client: Client) -> None:
    """DuckDB sums bigints into 128 bits; Athena's result is a bigint, and a sum past its range fails, as
    Trino's overflow does, never a wider or wrong number."""
    columns, rows = metadata(local_client, "SELECT sum(x) AS total, sum(x % 2) AS odd "
                                           "FROM (VALUES (9223372036854775806), (1)) AS t(x)")
    assert [c.type for c in columns] == ["bigint", "bigint"] and rows[1] == ["9223372036854775807", "1"]
    failed = run_query(local_client, "SELECT k, sum(x) AS total FROM (VALUES ('a', 9223372036854775807), "
                                     "('a', 1), ('b', 1)) AS t(k, x) GROUP BY k")
    assert failed.status.state == "FAILED"
    assert failed.status.athena_error is not None and failed.status.athena_error.error_type == "InvalidArgument"
    assert "out of range" in failed.status.athena_error.error_message
