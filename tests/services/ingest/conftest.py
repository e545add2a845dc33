"""Fixtures and helpers of the ingest tests: a home with a lake bucket and a database ``sales``, tables
to load, and reading a table back — a managed table the way the query engine will (plan a scan, read its
Parquet files through the lake), an external table by reading its files under its location."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from crispml.sdk.client import Client
from tests.services.catalog.managed_support import rows as iceberg_rows

BUCKET = "ingest-data"
ORDERS = [("id", "bigint"), ("amount", "double"), ("placed_at", "timestamp")]


@pytest.fixture
def home_client(client: Client) -> Client:
    """A home on the file:// or s3:// lake with the bucket ``ingest-data`` and the database ``sales``."""
    prepare(client)
    return client


@pytest.fixture
def db_home(db_client: Client) -> Client:
    """A home on SQLite or PostgreSQL metadata with the bucket ``ingest-data`` and the database ``sales``."""
    prepare(db_client)
    return db_client


@pytest.fixture
def local_home(local_client: Client) -> Client:
    """The same on the default SQLite + file:// home only (checks that do not depend on the backends)."""
    prepare(local_client)
    return local_client


def prepare(client: Client) -> None:
    client.lake.create_bucket(bucket=BUCKET)
    client.catalog.create_database(database_input={"Name": "sales"})


def managed_table(client: Client, name: str = "orders", columns: list[tuple[str, str]] | None = None,
                  keys: list[tuple[str, str]] | None = None) -> None:
    client.catalog.create_table(database_name="sales", table_input={
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in (columns or ORDERS)],
                              "Location": f"s3://{BUCKET}/tables/{name}/"},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in (keys or [])],
    }, open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE"}})


def external_table(client: Client, name: str, fmt: str, columns: list[tuple[str, str]] | None = None,
                   keys: list[tuple[str, str]] | None = None, serde: dict[str, str] | None = None) -> None:
    client.catalog.create_table(database_name="sales", table_input={
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in (columns or ORDERS)],
                              "Location": f"s3://{BUCKET}/tables/{name}/",
                              "SerdeInfo": {"Parameters": serde or {}}},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in (keys or [])],
        "Parameters": {"classification": fmt},
    })


def job(client: Client, name: str, source: dict[str, Any], table: str = "orders", **fields: Any) -> None:
    mode = fields.pop("write_mode", "APPEND")
    client.ingest.create_job(name=name, source=source,
                             target={"DatabaseName": "sales", "TableName": table, "WriteMode": mode}, **fields)


def run(client: Client, name: str) -> Any:
    """StartJobRun; the run it returns."""
    return client.ingest.start_job_run(job_name=name).job_run


def managed_rows(client: Client, name: str = "orders", key: str = "id") -> list[dict[str, Any]]:
    return iceberg_rows(client, name, key=key)


def external_rows(client: Client, name: str, key: str = "id") -> list[dict[str, Any]]:
    """An external table's rows read from its files (partition values from the folder names, as text)."""
    table = client.catalog.get_table(database_name="sales", name=name).table
    location = (table.storage_descriptor.location or "")[len("lake://"):]
    names = [c.name for c in table.storage_descriptor.columns]
    found: list[dict[str, Any]] = []
    for path in sorted(client.fs.find(location)):
        if path.rsplit("/", 1)[-1].startswith(("_", ".")):
            continue
        parts = dict(unquote(seg).split("=", 1) for seg in path[len(location):].split("/")[:-1] if "=" in seg)
        data = client.fs.cat_file(path)
        for row in _file_rows(data, table.format, names, table):
            found.append({**row, **parts})
    return sorted(found, key=lambda r: r[key])


def _file_rows(data: bytes, fmt: str, names: list[str], table: Any) -> list[dict[str, Any]]:
    if fmt == "parquet":
        return list(pq.read_table(io.BytesIO(data)).to_pylist())
    if fmt == "json":
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    serde = table.storage_descriptor.serde_info.parameters if table.storage_descriptor.serde_info else {}
    skip = int(serde.get("skip.header.line.count", "0"))
    options = pacsv.ReadOptions(column_names=names, skip_rows=skip)
    parse = pacsv.ParseOptions(delimiter=serde.get("separatorChar", ","))
    return list(pacsv.read_csv(io.BytesIO(data), read_options=options, parse_options=parse).to_pylist())


def table_files(client: Client, name: str) -> list[str]:
    table = client.catalog.get_table(database_name="sales", name=name).table
    return sorted(client.fs.find((table.storage_descriptor.location or "")[len("lake://"):]))


def put(client: Client, key: str, data: bytes) -> str:
    """Put an object in the bucket; its s3:// path."""
    client.lake.put_object(bucket=BUCKET, key=key, body=data)
    return f"s3://{BUCKET}/{key}"


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# -- a throw-away source database on the PostgreSQL server ---------------------------------------------


class PgSource:
    """A schema of its own in a database of the test's own (``postgres_url``, dropped after the test)."""

    def __init__(self, url: str) -> None:
        self.schema = f"ingest_{uuid.uuid4().hex[:12]}"
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.conn = psycopg.connect(plain, autocommit=True, connect_timeout=5)
        self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        self.url = plain.replace("postgresql://", "postgresql+psycopg://", 1)

    def execute(self, statement: str, params: Any = None) -> None:
        self.conn.execute(statement.replace("{schema}", self.schema), params)

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}"

    def drop(self) -> None:
        self.conn.close()  # the database goes with postgres_url, sessions and all


@pytest.fixture
def pg_source(postgres_url: str) -> Iterator[PgSource]:
    source = PgSource(postgres_url)
    yield source
    source.drop()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
