"""Fixtures of the catalog contract suite: the catalog of a fresh home on SQLite and
on PostgreSQL, with a lake bucket for table locations and a helper to build tables."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.sdk.client import Client

BUCKET = "catalog-data"


@pytest.fixture
def catalog(db_client: Client) -> Any:
    """``client.catalog`` on a home whose lake has the bucket ``catalog-data``."""
    db_client.lake.create_bucket(bucket=BUCKET)
    return db_client.catalog


@pytest.fixture
def sales(catalog: Any) -> str:
    """An empty database ``sales``."""
    catalog.create_database(database_input={"Name": "sales"})
    return "sales"


def table_input(name: str = "orders", *, columns: list[tuple[str, str]] | None = None,
                keys: list[tuple[str, str]] | None = None, fmt: str = "csv",
                location: str | None = None, **extra: Any) -> dict[str, Any]:
    """A TableInput in Glue's PascalCase JSON shape."""
    cols = columns if columns is not None else [("id", "bigint"), ("amount", "double")]
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": t} for n, t in cols],
            "Location": location or f"lake://{BUCKET}/{name}/",
        },
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in (keys or [])],
        "Parameters": {"classification": fmt},
        **extra,
    }
