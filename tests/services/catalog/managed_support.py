"""Helpers of the managed (Iceberg) table tests: Glue inputs, and reading a table back the way the
query engine will — plan a scan, then read its Parquet files through the lake with pyarrow."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from crispml.sdk.client import Client
from crispml.services.catalog.iceberg import IcebergScan
from crispml.services.catalog.service import CatalogService
from tests.services.catalog.conftest import BUCKET

#: Glue's OpenTableFormatInput for a new Iceberg table.
ICEBERG: dict[str, Any] = {"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}}


def iceberg_input(name: str = "orders", *, columns: list[tuple[str, str]] | None = None,
                  keys: list[tuple[str, str]] | None = None, location: str | None = None,
                  **extra: Any) -> dict[str, Any]:
    """A TableInput in Glue's PascalCase shape, for CreateTable with OpenTableFormatInput."""
    cols = columns if columns is not None else [("id", "bigint"), ("amount", "double")]
    return {
        "Name": name,
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in cols],
                              "Location": location or f"s3://{BUCKET}/{name.lower()}"},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in (keys or [])],
        **extra,
    }


def create_managed(client: Client, name: str = "orders", **kwargs: Any) -> None:
    client.catalog.create_table(database_name="sales", table_input=iceberg_input(name, **kwargs),
                                open_table_format_input=ICEBERG)


def table_input_of(client: Client, name: str = "orders") -> dict[str, Any]:
    """GetTable's answer as the TableInput to change and give back to UpdateTable (as a Glue user does)."""
    table = client.catalog.get_table(database_name="sales", name=name).table
    given: dict[str, Any] = table.model_dump(mode="json", include={
        "name", "description", "storage_descriptor", "partition_keys", "parameters", "table_type"})
    return given


def plan_scan(client: Client, database: str, name: str, **at: Any) -> IcebergScan:
    """The catalog's scan of a managed table as the client's principal (what the query engine calls)."""
    return client.platform.peer(CatalogService).plan_scan(client.context(), database, name, **at)


def scan(client: Client, name: str = "orders", **at: Any) -> IcebergScan:
    return plan_scan(client, "sales", name, **at)


def read_files(client: Client, found: IcebergScan) -> pa.Table:
    """The scan's files read with pyarrow through the lake, fitted by name to the scan's schema."""
    parts = []
    for ref in found.files:
        with client.fs.open(ref.uri, "rb") as handle:
            data = pq.read_table(handle)
        assert data.num_rows == ref.record_count
        columns = [data.column(f.name).cast(f.type) if f.name in data.column_names else pa.nulls(len(data), f.type)
                   for f in found.arrow_schema]
        parts.append(pa.Table.from_arrays(columns, schema=found.arrow_schema))
    return pa.concat_tables(parts) if parts else found.arrow_schema.empty_table()


def rows(client: Client, name: str = "orders", key: str = "id", **at: Any) -> list[dict[str, Any]]:
    """The table's rows (now, or at a snapshot), sorted by ``key``; pyiceberg's own read must agree."""
    found = scan(client, name, **at)
    assert not found.has_deletes  # pyiceberg writes copy-on-write: files alone are the table
    data = read_files(client, found)
    assert sorted(data.to_pylist(), key=lambda r: r[key]) == sorted(found.to_arrow().to_pylist(),
                                                                    key=lambda r: r[key])
    return sorted(data.to_pylist(), key=lambda r: r[key])


def after_this_millisecond(moment: datetime | None = None) -> None:
    """Wait until the wall clock (which stamps Iceberg snapshots) has moved past ``moment`` (default: now),
    so two commits never share a millisecond; no duration is asserted."""
    edge = (moment.timestamp() if moment is not None else time.time()) * 1000
    while time.time() * 1000 <= edge + 1:
        time.sleep(0.001)
