"""Catalog value objects: Glue's shapes in snake_case (AWS PascalCase accepted as input).

``Column``, ``SerDeInfo`` and ``StorageDescriptor`` appear both in requests
(inside ``TableInput`` and ``PartitionInput``) and in what operations return,
so they are defined once here; the checks that a request must pass live in
``specs.py``, not here, so that stored definitions always read back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from crispml.spine.models import Shape

#: The ``table_type`` parameter of a managed (Apache Iceberg) table, as Glue and Athena write it.
ICEBERG = "ICEBERG"
#: The ``TableType`` of a view (Athena's ``CREATE VIEW`` stores one in Glue with its SQL in ``ViewOriginalText``).
VIRTUAL_VIEW = "VIRTUAL_VIEW"


def is_iceberg(parameters: dict[str, str]) -> bool:
    """Whether a table's ``Parameters`` mark it as a managed (Iceberg) table (``table_type=ICEBERG``)."""
    return parameters.get("table_type", "").upper() == ICEBERG

#: How a crawl ended (its crawler's ``LastCrawl.Status``), and a crawl's state.
LastCrawlStatus = Literal["SUCCEEDED", "CANCELLED", "FAILED"]
CrawlState = Literal["RUNNING", "COMPLETED", "STOPPED", "FAILED"]


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
    view_original_text: str | None = None
    view_expanded_text: str | None = None

    @property
    def is_view(self) -> bool:
        """A view (``TableType`` ``VIRTUAL_VIEW``): its SQL is in ``view_original_text``, it has no files."""
        return self.table_type == VIRTUAL_VIEW

    @property
    def is_iceberg(self) -> bool:
        """A managed (Iceberg) table: ``Parameters`` hold ``table_type=ICEBERG`` and its ``metadata_location``."""
        return is_iceberg(self.parameters)

    @property
    def format(self) -> str:
        """The table's file format (``csv``, ``json`` or ``parquet``), from its ``classification``."""
        return (self.parameters.get("classification")
                or self.storage_descriptor.parameters.get("classification") or "").lower()

    @property
    def csv_options(self) -> dict[str, str]:
        """How its CSV files are written: ``delim``, ``quote``, ``skip`` (header lines) and ``escape`` if set —
        the SerDe's parameters first, then the storage descriptor's, then the table's."""
        sd = self.storage_descriptor
        serde = dict(sd.serde_info.parameters) if sd.serde_info is not None else {}
        merged = {**dict(self.parameters or {}), **dict(sd.parameters or {}), **serde}
        delimiter = merged.get("field.delim") or merged.get("separatorChar") or merged.get("delimiter") or ","
        options = {
            "delim": "\t" if delimiter in ("\\t", "\t") else delimiter,
            "quote": merged.get("quoteChar", '"'),
            "skip": merged.get("skip.header.line.count", "0"),
        }
        if merged.get("escapeChar"):
            options["escape"] = merged["escapeChar"]
        return options


class TableSnapshot(BaseModel):
    """One snapshot of a managed (Iceberg) table: the state one commit left it in."""

    snapshot_id: int
    parent_snapshot_id: int | None = None
    committed_at: datetime
    operation: str  # append | overwrite | delete | replace
    summary: dict[str, str] = Field(default_factory=dict)  # Iceberg's: added-records, total-records, ...
    is_current: bool = False


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


# -- crawlers ---------------------------------------------------------------------------


class S3Target(Shape):
    """A lake prefix to crawl (``s3://bucket/prefix/`` or ``lake://…``) and glob patterns to leave out."""

    path: str
    exclusions: list[str] = Field(default_factory=list)


class CrawlerTargets(Shape):
    s3_targets: list[S3Target] = Field(default_factory=list)


class SchemaChangePolicy(Shape):
    update_behavior: Literal["LOG", "UPDATE_IN_DATABASE"] = "UPDATE_IN_DATABASE"
    delete_behavior: Literal["LOG", "DELETE_FROM_DATABASE", "DEPRECATE_IN_DATABASE"] = "DEPRECATE_IN_DATABASE"


class RecrawlPolicy(Shape):
    recrawl_behavior: Literal["CRAWL_EVERYTHING", "CRAWL_NEW_FOLDERS_ONLY"] = "CRAWL_EVERYTHING"


class LastCrawlInfo(BaseModel):
    """How the crawler's last finished crawl ended (Glue ``LastCrawlInfo``)."""

    status: LastCrawlStatus
    error_message: str | None = None
    message_prefix: str  # the crawl's id: ListCrawls shows its unreadable files and messages
    start_time: datetime


class Crawler(BaseModel):
    name: str
    role: str
    targets: CrawlerTargets
    database_name: str
    description: str | None = None
    classifiers: list[str] = Field(default_factory=list)
    recrawl_policy: RecrawlPolicy
    schema_change_policy: SchemaChangePolicy
    state: Literal["READY", "RUNNING", "STOPPING"]
    table_prefix: str | None = None
    crawl_elapsed_time: int = 0  # milliseconds, while running
    creation_time: datetime
    last_updated: datetime
    last_crawl: LastCrawlInfo | None = None
    version: int


class CrawlerMetrics(BaseModel):
    crawler_name: str
    time_left_seconds: float = 0.0
    still_estimating: bool = False
    last_runtime_seconds: float = 0.0
    median_runtime_seconds: float = 0.0
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0


class UnreadableFile(BaseModel):
    path: str
    reason: str


class CrawlSummary(BaseModel):
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    files_sampled: int = 0
    files_skipped: int = 0
    unreadable: list[UnreadableFile] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)


class Crawl(BaseModel):
    """One run of a crawler (Glue ``CrawlerHistory``)."""

    crawl_id: str
    state: CrawlState
    start_time: datetime
    end_time: datetime | None = None
    error_message: str | None = None
    summary: CrawlSummary


class CsvClassifierInfo(BaseModel):
    """A custom CSV classifier as stored (Glue ``CsvClassifier`` in a ``Classifier``)."""

    name: str
    delimiter: str
    quote_symbol: str
    contains_header: Literal["PRESENT", "ABSENT", "UNKNOWN"]
    header: list[str] = Field(default_factory=list)
    disable_value_trimming: bool = False
    allow_single_column: bool = False
    creation_time: datetime
    last_updated: datetime
    version: int


class Classifier(BaseModel):
    csv_classifier: CsvClassifierInfo
