"""Helpers of the engine's tests (no tests here): a lake bucket and database, external tables over
CSV / JSON / Parquet files, and running a statement through the engine as a caller.

The engine is called directly, as the query service calls it: ``prepare`` → ``plan`` → ``execute``,
with a :class:`~crispml.services.query.engines.base.Caller` acting as the client's principal.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crispml.sdk.client import Client
from crispml.services.catalog.service import CatalogService
from crispml.services.lake.service import LakeService
from crispml.services.query.engines.base import Caller, EngineResult, ExecutionPlan
from crispml.services.query.engines.duckdb import DuckDBEngine, DuckDBQuery

BUCKET = "engine-data"
DB = "lakehouse"
OUTPUT = f"lake://{BUCKET}/results/"

_ids = iter(range(1, 1_000_000))


def caller_of(client: Client) -> Caller:
    """The client's principal as code inside a service sees it."""
    return Caller(client.context(), client.platform.peer(CatalogService), client.platform.peer(LakeService))


def setup(client: Client) -> None:
    """The bucket and the database the tables live in."""
    client.lake.create_bucket(bucket=BUCKET)
    client.catalog.create_database(database_input={"Name": DB})


def put(client: Client, key: str, body: bytes) -> int:
    client.lake.put_object(bucket=BUCKET, key=key, body=body)
    return len(body)


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def external_table(client: Client, name: str, fmt: str, columns: list[tuple[str, str]], *,
                   keys: list[tuple[str, str]] | None = None, serde: dict[str, str] | None = None,
                   location: str | None = None, database: str = DB) -> None:
    """An external table ``database.name`` over ``lake://BUCKET/<name>/`` (or ``location``)."""
    client.catalog.create_table(database_name=database, table_input={
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in columns],
                              "Location": location or f"lake://{BUCKET}/{name}/",
                              "SerdeInfo": {"Parameters": serde or {}}},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in keys or []],
        "Parameters": {"classification": fmt},
    })


def add_partition(client: Client, table: str, values: list[str], location: str | None = None) -> None:
    given: dict[str, Any] = {"Values": values}
    if location is not None:
        given["StorageDescriptor"] = {"Location": location}
    response = client.catalog.batch_create_partition(database_name=DB, table_name=table,
                                                     partition_input_list=[given])
    assert not response.errors, response.errors


@dataclass
class Ran:
    query: DuckDBQuery
    plan: ExecutionPlan
    result: EngineResult
    rows: list[dict[str, Any]]

    @property
    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.result.columns}


def prepare(client: Client, sql: str, *, database: str | None = DB, engine: DuckDBEngine | None = None,
            output: str | None = OUTPUT) -> DuckDBQuery:
    return (engine or DuckDBEngine()).prepare(caller_of(client), sql, database, output_location=output,
                                              query_execution_id=f"q{next(_ids):05d}")


def run(client: Client, sql: str, *, database: str | None = DB, engine: DuckDBEngine | None = None,
        output: str | None = OUTPUT, cancelled: Callable[[], bool] = lambda: False) -> Ran:
    """prepare → plan → execute, reading every row."""
    query = prepare(client, sql, database=database, engine=engine, output=output)
    plan = query.plan()
    result = query.execute(plan, cancelled)
    return Ran(query, plan, result, result.batches.read_all().to_pylist())


def size_of(client: Client, key: str) -> int:
    return int(client.lake.head_object(bucket=BUCKET, key=key).content_length)


def chunk_bytes(client: Client, key: str, columns: set[str] | None, groups: list[int] | None = None) -> int:
    """What Athena counts for reading ``columns`` (None: all) of a Parquet object: its footer and those
    columns' chunks in every row group (or in ``groups``), computed here from the object's own footer."""
    metadata = pq.read_metadata(io.BytesIO(client.lake.get_object(bucket=BUCKET, key=key).body.read()))
    total = metadata.serialized_size + 8
    for group in range(metadata.num_row_groups) if groups is None else groups:
        for position in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(position)
            if columns is None or chunk.path_in_schema.split(".")[0] in columns:
                total += chunk.total_compressed_size
    return int(total)
