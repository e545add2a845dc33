"""``client.query.read_sql`` / ``read_sql_arrow``: a query's rows as a pandas DataFrame / pyarrow Table with
the result metadata's types (awswrangler's dtypes), ``params`` as ExecutionParameters, errors as crispml's;
on file:// and s3:// lakes (the results file is read through the lake as the client)."""

from __future__ import annotations

import datetime as dt
import decimal

import pandas as pd
import pyarrow as pa
import pytest

from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.sdk.frames import sql_literal
from crispml.services.query.errors import InvalidRequestException
from tests.services.query.conftest import add_csv_table, orders_csv


def orders(client: Client) -> None:
    """shop.orders of the query service's tests: (1, ann, 2.5), (2, bob, NULL), (3, cyd, 7.25), (4, say "hi", 1)."""
    add_csv_table(client, "orders", {"part-0.csv": orders_csv()},
                  [("id", "bigint"), ("customer", "string"), ("amount", "double")])


TYPED = ("SELECT CAST(x AS BIGINT) AS big, CAST(x AS INTEGER) AS i, x * 1.5e0 AS d, x > 1 AS b, "
         "CAST(x AS VARCHAR) AS s, CAST(DATE '2024-01-01' + x * INTERVAL '1' DAY AS DATE) AS day, "
         "TIMESTAMP '2024-01-01 12:00:00.250' AS ts, CAST(x / 4e0 AS DECIMAL(10,4)) AS dec, ARRAY[x] AS arr "
         "FROM (VALUES (1), (2), (NULL)) t(x) ORDER BY x NULLS LAST")


def test_read_sql_arrow_types_columns_from_the_result_metadata(client: Client) -> None:
    table = client.query.read_sql_arrow(TYPED)
    assert table.schema.names == ["big", "i", "d", "b", "s", "day", "ts", "dec", "arr"]
    assert [str(t) for t in table.schema.types] == [
        "int64", "int32", "double", "bool", "string", "date32[day]", "timestamp[ms]", "decimal128(10, 4)",
        "string"]
    assert table.to_pylist()[0] == {
        "big": 1, "i": 1, "d": 1.5, "b": False, "s": "1", "day": dt.date(2024, 1, 2),
        "ts": dt.datetime(2024, 1, 1, 12, 0, 0, 250000), "dec": decimal.Decimal("0.2500"), "arr": "[1]"}
    assert table.to_pylist()[2] == {
        "big": None, "i": None, "d": None, "b": None, "s": None, "day": None,
        "ts": dt.datetime(2024, 1, 1, 12, 0, 0, 250000), "dec": None, "arr": "[null]"}


def test_read_sql_gives_awswranglers_dtypes(client: Client) -> None:
    frame = client.query.read_sql(TYPED)
    assert isinstance(frame, pd.DataFrame)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "big": "Int64", "i": "Int32", "d": "float64", "b": "boolean", "s": "string", "day": "object",
        "ts": "datetime64[ns]", "dec": "object", "arr": "string"}
    assert frame["big"].tolist() == [1, 2, pd.NA]
    assert frame["day"].tolist()[:2] == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    assert frame["dec"].tolist()[:2] == [decimal.Decimal("0.2500"), decimal.Decimal("0.5000")]
    # an empty string and NULL stay apart; a catalog table through its database
    orders(client)
    frame = client.query.read_sql("SELECT id, customer, amount FROM orders WHERE id = ? AND customer = ?",
                                  database="shop", params=[2, 'say "hi"'])
    assert frame.empty
    frame = client.query.read_sql("SELECT id, customer, amount FROM orders WHERE id <= ? OR customer = ? "
                                  "ORDER BY id", database="shop", params=[2, 'say "hi"'])
    assert frame["id"].tolist() == [1, 2, 4]
    assert frame["customer"].tolist() == ["ann", "bob", 'say "hi"']
    assert frame["amount"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize("lake_settings", ["file"], indirect=True)
def test_read_sql_of_a_statement_without_rows_and_its_errors(client: Client) -> None:
    orders(client)
    assert client.query.read_sql_arrow("PREPARE one FROM SELECT ? AS v").num_columns == 0
    assert client.query.read_sql("EXECUTE one", params=["it's"])["v"].tolist() == ["it's"]
    with pytest.raises(NotFound, match="nope"):
        client.query.read_sql("SELECT * FROM nope", database="shop")
    with pytest.raises(InvalidRequestException, match="1 parameter"):
        client.query.read_sql("SELECT ?", params=[1, 2])
    with pytest.raises(InvalidArgument, match="not a dict"):
        client.query.read_sql("SELECT ?", params={"a": 1})  # type: ignore[arg-type]


def test_python_values_become_sql_literals() -> None:
    assert [sql_literal(v) for v in (None, True, 3, 2.5, "it's", decimal.Decimal("1.20"), dt.date(2024, 2, 29),
                                     dt.datetime(2024, 1, 2, 3, 4, 5, 678000))] == [
        "NULL", "true", "3", "2.5", "'it''s'", "DECIMAL '1.20'", "DATE '2024-02-29'",
        "TIMESTAMP '2024-01-02 03:04:05.678'"]
    with pytest.raises(InvalidArgument, match="no SQL literal"):
        sql_literal(float("nan"))
    with pytest.raises(InvalidArgument, match="no SQL literal"):
        sql_literal(object())
    assert pa.__version__  # pyarrow is what read_sql_arrow returns
