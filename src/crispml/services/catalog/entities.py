"""Catalog value objects: Glue's shapes in snake_case (AWS PascalCase accepted as input).

``Column``, ``SerDeInfo`` and ``StorageDescriptor`` appear both in requests
(inside ``TableInput`` and ``PartitionInput``) and in what operations return,
so they are defined once here; the checks that a request must pass live in
``specs.py``, not here, so that stored definitions always read back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from crispml.spine.models import Shape


class Column(Shape):
    name: str
    type: str | None = None
    comment: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)


class SerDeInfo(Shape):
    name: str | None = None
    serialization_library: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)


class Order(Shape):
    column: str
    sort_order: int = Field(ge=0, le=1)


class StorageDescriptor(Shape):
    """Where and how a table's (or a partition's) files are stored."""

    columns: list[Column] = Field(default_factory=list)
    location: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    compressed: bool = False
    number_of_buckets: int = -1
    serde_info: SerDeInfo | None = None
    bucket_columns: list[str] = Field(default_factory=list)
    sort_columns: list[Order] = Field(default_factory=list)
    parameters: dict[str, str] = Field(default_factory=dict)
    stored_as_sub_directories: bool = False


class Database(BaseModel):
    name: str
    description: str | None = None
    location_uri: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    create_time: datetime


class Table(BaseModel):
    """One version of a table's definition."""

    name: str
    database_name: str
    description: str | None = None
    owner: str | None = None
    create_time: datetime
    update_time: datetime
    retention: int = 0
    storage_descriptor: StorageDescriptor
    partition_keys: list[Column] = Field(default_factory=list)
    table_type: str
    parameters: dict[str, str] = Field(default_factory=dict)
    created_by: str | None = None
    version_id: str

    @property
    def format(self) -> str:
        """The table's file format (``csv``, ``json`` or ``parquet``), from its ``classification``."""
        return (self.parameters.get("classification")
                or self.storage_descriptor.parameters.get("classification") or "").lower()


class TableVersion(BaseModel):
    table: Table
    version_id: str


class Partition(BaseModel):
    values: list[str]
    database_name: str
    table_name: str
    creation_time: datetime
    last_access_time: datetime | None = None
    storage_descriptor: StorageDescriptor
    parameters: dict[str, str] = Field(default_factory=dict)


class ErrorDetail(BaseModel):
    error_code: str
    error_message: str


class PartitionError(BaseModel):
    """Why one partition of a batch was not created or deleted."""

    partition_values: list[str]
    error_detail: ErrorDetail
