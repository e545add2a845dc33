"""Catalog requests and responses: Glue's operations and fields, in snake_case.

``DatabaseInput``, ``TableInput`` and ``PartitionInput`` accept Glue's
PascalCase JSON unchanged (``{"Name": ..., "StorageDescriptor": {...}}``) and
are checked here, once: names lower-cased, locations normalised to
``lake://``, column types known, one format among csv/json/parquet (a table
without a ``classification`` parameter gets the one its SerDe names), CSV
SerDe options well-formed. ``EXTERNAL_TABLE`` is a table over files and
``VIRTUAL_VIEW`` a view (its SQL in ``ViewOriginalText``, as Athena's ``CREATE
VIEW`` stores it; no location, no format, no partition keys); a managed
(Apache Iceberg) table is an ``EXTERNAL_TABLE`` whose ``Parameters`` say
``table_type=ICEBERG`` (CreateTable with ``OpenTableFormatInput`` sets it),
needs a location and columns but no format.
The data operations on managed tables are in ``managed_specs.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from crispml.services.catalog.entities import (
    VIRTUAL_VIEW,
    Column,
    Database,
    Partition,
    PartitionError,
    StorageDescriptor,
    Table,
    TableVersion,
    is_iceberg,
)
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.rules import (
    COMPLEX_TYPES,
    base_type,
    check_column_type,
    check_csv_serde,
    check_location,
    check_name,
    detect_format,
)
from crispml.spine.models import Request, Response, Shape

NextToken = Annotated[str | None, Field(description="Token from the previous page.")]


def _database_name(name: str) -> str:
    return check_name(name, "database name")


def _table_name(name: str) -> str:
    return check_name(name, "table name")


DatabaseName = Annotated[str, AfterValidator(_database_name), Field(description="Database name.")]
TableName = Annotated[str, AfterValidator(_table_name), Field(description="Table name.")]


class EmptyResponse(Response):
    """A catalog operation that returns nothing but success."""


# -- databases -------------------------------------------------------------------------


class DatabaseInput(Shape):
    name: DatabaseName
    description: str | None = Field(None, max_length=2048)
    location_uri: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _normalise(self) -> DatabaseInput:
        if self.location_uri is not None:
            self.location_uri = check_location(self.location_uri)
        return self


class CreateDatabaseRequest(Request):
    database_input: DatabaseInput = Field(description='{"Name": "sales", "Description": "..."}.')


class DatabaseRequest(Request):
    name: DatabaseName


class GetDatabaseResponse(Response):
    database: Database


class GetDatabasesRequest(Request):
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=100, description="Databases per page (1-100).")


class GetDatabasesResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "database_list": ["name", "description", "location_uri", "create_time"]}
    database_list: list[Database]
    next_token: str | None = None


# -- tables ----------------------------------------------------------------------------


class TableInput(Shape):
    """A table definition in Glue's shape; an external table over files in the lake."""

    name: TableName
    description: str | None = Field(None, max_length=2048)
    owner: str | None = None
    retention: int = Field(0, ge=0)
    storage_descriptor: StorageDescriptor = Field(default_factory=StorageDescriptor)
    partition_keys: list[Column] = Field(default_factory=list)
    table_type: str = "EXTERNAL_TABLE"
    parameters: dict[str, str] = Field(default_factory=dict)
    view_original_text: str | None = Field(None, max_length=409600,
                                           description="A view's SQL (Athena: '/* Presto View: <base64> */').")
    view_expanded_text: str | None = Field(None, max_length=409600)
    #: Why no format could be found, for a definition that names none (UpdateTable of a managed table needs
    #: none: the table is Iceberg; every other use calls :meth:`require_format`).
    _format_problem: str | None = PrivateAttr(None)

    def require_format(self) -> None:
        if self._format_problem is not None:
            raise InvalidInputException(self._format_problem)

    @model_validator(mode="after")
    def _check(self) -> TableInput:
        if self.table_type not in ("EXTERNAL_TABLE", VIRTUAL_VIEW):
            raise InvalidInputException(
                f"table {self.name!r}: TableType {self.table_type!r} is not supported; "
                "use EXTERNAL_TABLE (a table over files in the lake) or VIRTUAL_VIEW (a view)"
            )
        sd = self.storage_descriptor
        _check_columns(sd.columns, self.partition_keys)
        if self.table_type == VIRTUAL_VIEW:
            return self._check_view()
        if self.is_iceberg:
            return self._check_iceberg()
        if not sd.location:
            raise InvalidInputException(
                f"table {self.name!r}: an external table needs StorageDescriptor.Location, "
                "the lake prefix of its files (e.g. 'lake://bucket/prefix/')"
            )
        sd.location = check_location(sd.location)
        serde = sd.serde_info
        given = self.parameters.get("classification") or sd.parameters.get("classification")
        if (self.parameters.get("classification") and sd.parameters.get("classification")
                and self.parameters["classification"].lower() != sd.parameters["classification"].lower()):
            raise InvalidInputException(
                f"table {self.name!r}: Parameters and StorageDescriptor.Parameters name different "
                "classifications; give one"
            )
        try:
            found = detect_format(given, serde.serialization_library if serde else None, sd.input_format)
        except InvalidInputException as exc:
            if given is not None:
                raise
            self._format_problem = exc.message
            return self
        self.parameters = {**self.parameters, "classification": found}
        if found == "csv" and serde is not None:
            check_csv_serde(serde.parameters)
        return self

    @property
    def is_iceberg(self) -> bool:
        return is_iceberg(self.parameters)

    def _check_view(self) -> TableInput:
        """A view: its SQL and columns; no files, so no location, format or partition keys."""
        if not self.view_original_text:
            raise InvalidInputException(f"view {self.name!r} needs ViewOriginalText, the SQL of its query")
        if self.partition_keys or self.is_iceberg:
            raise InvalidInputException(f"view {self.name!r} cannot have PartitionKeys or table_type=ICEBERG")
        if self.storage_descriptor.location:
            self.storage_descriptor.location = check_location(self.storage_descriptor.location)
        return self

    def _check_iceberg(self) -> TableInput:
        """A managed table: columns and a location for its data and metadata; Iceberg chooses the format."""
        sd = self.storage_descriptor
        if not sd.location:
            raise InvalidInputException(
                f"table {self.name!r}: an Iceberg table needs StorageDescriptor.Location, the lake prefix for "
                "its data and metadata files (e.g. 'lake://bucket/prefix/')"
            )
        sd.location = check_location(sd.location)
        if not sd.columns:
            raise InvalidInputException(f"table {self.name!r}: an Iceberg table needs at least one column")
        self.parameters = {**self.parameters, "table_type": "ICEBERG"}
        return self


def _check_columns(columns: list[Column], keys: list[Column]) -> None:
    """Names lower-cased and unique over columns and partition keys; types known."""
    seen: set[str] = set()
    for kind, group in (("column", columns), ("partition key", keys)):
        for column in group:
            column.name = _column_name(column.name, kind)
            if column.name in seen:
                raise InvalidInputException(f"{kind} {column.name!r} appears twice; names must be unique")
            seen.add(column.name)
            if not column.type:
                raise InvalidInputException(f"{kind} {column.name!r} needs a Type (e.g. 'string', 'bigint')")
            column.type = check_column_type(column.name, column.type)
            if kind == "partition key" and base_type(column.type) in COMPLEX_TYPES:
                raise InvalidInputException(
                    f"partition key {column.name!r} must have a primitive type, not {column.type!r}"
                )


def _column_name(name: str, kind: str) -> str:
    if not 1 <= len(name) <= 255 or any(ord(c) < 32 for c in name):
        raise InvalidInputException(f"{kind} name {name!r} must be 1-255 characters on one line")
    return name.lower()


class IcebergInput(Shape):
    metadata_operation: Literal["CREATE"] = Field(description="CREATE: make new Iceberg metadata.")
    version: Literal["1", "2"] = Field("2", description="The Iceberg format version (1 or 2).")


class OpenTableFormatInput(Shape):
    iceberg_input: IcebergInput


class CreateTableRequest(Request):
    database_name: DatabaseName
    table_input: TableInput = Field(description="The table in Glue's TableInput shape (file://table.json works).")
    open_table_format_input: OpenTableFormatInput | None = Field(
        None, description='{"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}}: a managed '
                          "(Apache Iceberg) table.")

    @model_validator(mode="before")
    @classmethod
    def _mark_iceberg(cls, data: Any) -> Any:
        """With OpenTableFormatInput the table is an Iceberg one: Glue marks it ``table_type=ICEBERG``."""
        if not isinstance(data, dict):
            return data
        key = "table_input" if "table_input" in data else "TableInput"
        given = data.get(key)
        if data.get("open_table_format_input", data.get("OpenTableFormatInput")) is None or not isinstance(
                given, dict):
            return data
        parameters_key = "parameters" if "parameters" in given else "Parameters"
        parameters = {**(given.get(parameters_key) or {}), "table_type": "ICEBERG"}
        return {**data, key: {**given, parameters_key: parameters}}

    @model_validator(mode="after")
    def _iceberg_needs_its_input(self) -> CreateTableRequest:
        self.table_input.require_format()
        if self.table_input.is_iceberg and self.open_table_format_input is None:
            raise InvalidInputException(
                f"table {self.table_input.name!r} says table_type=ICEBERG: to create an Iceberg table pass "
                'OpenTableFormatInput={"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}} '
                "(registering existing Iceberg metadata is not supported)"
            )
        if self.open_table_format_input is not None and not self.table_input.is_iceberg:
            raise InvalidInputException(
                f"table {self.table_input.name!r}: with OpenTableFormatInput, TableInput.Parameters must hold "
                "table_type=ICEBERG"
            )
        return self


class TableRequest(Request):
    database_name: DatabaseName
    name: TableName


class GetTableResponse(Response):
    table: Table


class GetTablesRequest(Request):
    database_name: DatabaseName
    expression: str | None = Field(
        None, description="Only tables whose names match this pattern ('sales.*'; '*' alone means any run).")
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=100, description="Tables per page (1-100).")


class GetTablesResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "table_list": ["name", "table_type", "version_id", "update_time", "description"]}
    table_list: list[Table]
    next_token: str | None = None


class UpdateTableRequest(Request):
    database_name: DatabaseName
    table_input: TableInput = Field(description="The whole new definition; the old one is kept as a version.")
    skip_archive: bool = Field(False, description="Replace the current version instead of keeping it.")
    version_id: str | None = Field(None, description="Only update if this is still the current version.")


class UpdateTableResponse(Response):
    version_id: str


# -- versions --------------------------------------------------------------------------


class GetTableVersionsRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    next_token: NextToken = None
    max_results: int = Field(100, ge=1, le=100, description="Versions per page (1-100).")


class GetTableVersionsResponse(Response):
    table_versions: list[TableVersion]
    next_token: str | None = None


class TableVersionRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    version_id: str = Field(description="A version id from GetTableVersions.")


class GetTableVersionResponse(Response):
    table_version: TableVersion


# -- partitions ------------------------------------------------------------------------


class PartitionInput(Shape):
    values: list[str] = Field(min_length=1)
    storage_descriptor: StorageDescriptor | None = Field(
        None, description="Default: the table's, located at the Hive folder 'key=value/' under the table.")
    parameters: dict[str, str] = Field(default_factory=dict)
    last_access_time: datetime | None = None

    @model_validator(mode="after")
    def _normalise(self) -> PartitionInput:
        if self.storage_descriptor is not None and self.storage_descriptor.location:
            self.storage_descriptor.location = check_location(self.storage_descriptor.location)
        return self


class PartitionValueList(Shape):
    values: list[str] = Field(min_length=1)


class CreatePartitionRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    partition_input: PartitionInput = Field(description='{"Values": ["2024", "01"]}.')


class BatchCreatePartitionRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    partition_input_list: list[PartitionInput] = Field(min_length=1, max_length=100,
                                                       description="1-100 partitions.")


class BatchPartitionResponse(Response):
    errors: list[PartitionError] = Field(default_factory=list)


class PartitionRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    partition_values: list[str] = Field(min_length=1, description='["2024", "01"].')


class GetPartitionResponse(Response):
    partition: Partition


class BatchDeletePartitionRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    partitions_to_delete: list[PartitionValueList] = Field(min_length=1, max_length=25,
                                                           description='[{"Values": ["2024"]}], 1-25.')


class GetPartitionsRequest(Request):
    database_name: DatabaseName
    table_name: TableName
    expression: str | None = Field(
        None, description="A filter on partition keys: year = '2024' AND month IN ('01', '02').")
    next_token: NextToken = None
    max_results: int = Field(1000, ge=1, le=1000, description="Partitions per page (1-1000).")


class GetPartitionsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"partitions": ["values", "creation_time", "parameters"]}
    partitions: list[Partition]
    next_token: str | None = None
