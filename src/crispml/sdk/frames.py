"""``client.query.read_sql(sql, …)``: a query's results as a pandas DataFrame or a pyarrow Table.

What awswrangler's ``athena.read_sql_query(sql, database, ctas_approach=False)``
does for Athena: start the query, wait for it, and read its results CSV from
the lake (through ``client.fs``, so the read is authorized and audited as the
client's ``GetObject``) with the column types of ``GetQueryResults``'
``ResultSetMetadata``, not row by row through ``GetQueryResults``.

Types, Athena → Arrow → pandas (awswrangler's choices):

=========================  ======================  ==================================
Athena                     ``read_sql_arrow``      ``read_sql``
=========================  ======================  ==================================
tinyint/smallint/integer   int8/int16/int32        Int8/Int16/Int32 (nullable)
bigint                     int64                   Int64 (nullable)
real / double              float32 / float64       float32 / float64 (NULL is NaN)
boolean                    bool                    boolean (nullable)
varchar / char             string                  string
date                       date32                  ``datetime.date`` objects
timestamp                  timestamp[ms]           datetime64[ns]
decimal(p,s)               decimal128(p,s)         ``decimal.Decimal`` objects
varbinary                  binary                  ``bytes`` objects
array / map / row, other   string (Athena's text)  string
=========================  ======================  ==================================

``params`` are the values of the query's ``?`` placeholders, sent as
StartQueryExecution's ``ExecutionParameters`` (awswrangler's
``paramstyle="qmark"``): Python values become SQL literals here (``'it''s'``,
``42``, ``DATE '2024-01-01'``, ``NULL``) and are bound into the statement by
the query service, never pasted into its text. Named (``:name``) parameters
are not offered.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crispml.core.errors import InvalidArgument
from crispml.sdk.queries import run_query

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def sql_literal(value: Any) -> str:
    """A Python value as the SQL literal an ExecutionParameters value is."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise InvalidArgument(f"parameter {value!r} has no SQL literal; pass a finite number or None")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return f"DECIMAL '{value}'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.replace(tzinfo=None).isoformat(sep=' ', timespec='milliseconds')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise InvalidArgument(f"parameter {value!r} ({type(value).__name__}) has no SQL literal; pass str, int, float, "
                          "bool, Decimal, date, datetime or None")


def _parameters(params: Sequence[Any] | None) -> list[str] | None:
    if params is None:
        return None
    if isinstance(params, dict):
        raise InvalidArgument("params are the values of the query's '?' placeholders, in order (a list), not a "
                              "dict: write 'WHERE id = ?' and pass params=[42]")
    if isinstance(params, str | bytes):
        raise InvalidArgument("params is a list of values, one per '?' in the query: params=['books']")
    return [sql_literal(v) for v in params] or None


def _arrow_type(athena: str) -> pa.DataType:
    import pyarrow as pa

    kind = athena.split("(", 1)[0].strip().lower()
    simple = {"tinyint": pa.int8(), "smallint": pa.int16(), "integer": pa.int32(), "int": pa.int32(),
              "bigint": pa.int64(), "real": pa.float32(), "float": pa.float32(), "double": pa.float64(),
              "boolean": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("ms"),
              "varbinary": pa.binary()}
    if kind in simple:  # "timestamp with time zone" is not: it stays text
        return simple[kind]
    if kind == "decimal":
        precision, _, scale = athena[athena.index("(") + 1:athena.rindex(")")].partition(",")
        return pa.decimal128(int(precision), int(scale or 0))
    return pa.string()


def read_sql_arrow(client: Any, sql: str, *, database: str | None = None, workgroup: str = "primary",
                   params: Sequence[Any] | None = None) -> pa.Table:
    """Run ``sql`` and return its rows as a pyarrow Table typed from the result metadata (see the module doc).

    A statement that returns no rows (CTAS, INSERT, PREPARE …) gives an empty table without columns.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    run = run_query(client, sql, database=database, workgroup=workgroup, parameters=_parameters(params))
    first = client.query.get_query_results(query_execution_id=run.query_execution_id, max_results=1)
    columns = first.result_set.result_set_metadata.column_info
    if not columns or first.update_count or not first.result_set.rows:
        return pa.table({})
    names = [f"c{i}" for i in range(len(columns))]
    types = [_arrow_type(c.type) for c in columns]
    # varbinary is printed as hex by Athena: read it as text, decode below
    read_types = {n: pa.string() if t == pa.binary() else t for n, t in zip(names, types, strict=True)}
    location = run.execution.result_configuration.output_location
    with client.fs.open(location, "rb") as body:
        table = pacsv.read_csv(
            body, read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pacsv.ConvertOptions(column_types=read_types, null_values=[""],
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))
    arrays = []
    for name, kind in zip(names, types, strict=True):
        array = table.column(name)
        if kind == pa.binary():
            array = pa.array([None if v is None else bytes.fromhex(v.replace(" ", "")) for v in array.to_pylist()],
                             pa.binary())
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])


def read_sql(client: Any, sql: str, *, database: str | None = None, workgroup: str = "primary",
             params: Sequence[Any] | None = None) -> pd.DataFrame:
    """Run ``sql`` and return its rows as a pandas DataFrame with awswrangler's dtypes (see the module doc)."""
    import pandas as pd
    import pyarrow as pa

    table = read_sql_arrow(client, sql, database=database, workgroup=workgroup, params=params)
    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype()}
    frame: pd.DataFrame = table.to_pandas(types_mapper=nullable.get, date_as_object=True,
                                          coerce_temporal_nanoseconds=True)
    return frame
