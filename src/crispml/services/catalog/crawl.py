"""One crawl: discover what a crawler's targets hold, then bring the catalog in line with it.

Every read of the lake and every change to the catalog goes through the
platform's operations as the principal that started the crawler (the context of
its ``StartCrawler``), so the crawl can read and change no
more than its caller could, and each read and write is in the audit record
under that principal. (Glue runs a crawler as its IAM role; the role is
stored but, until roles can be assumed, the caller's identity is used.)

What changes, by the crawler's policies:

- a table found for the first time is created (named ``TablePrefix`` + the
  folder's name) with Glue's crawler parameters, and its partitions added;
- a known table whose schema, format or location changed is updated under
  ``UPDATE_IN_DATABASE`` (UpdateTable keeps the previous version) or only
  reported under ``LOG``; new partitions are added either way;
- a table this crawler made whose files are gone is deleted
  (``DELETE_FROM_DATABASE``), marked ``DEPRECATED_BY_CRAWLER``
  (``DEPRECATE_IN_DATABASE``) or reported (``LOG``); under
  ``DELETE_FROM_DATABASE`` vanished partitions of found tables go as well.

Files that cannot be read are recorded in the crawl's summary and the crawl
goes on; a refused read or write (no permission) fails the crawl. Between
tables the crawl reports to ``checkpoint``, which also says whether a stop was
asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from crispml.core.context import CallContext
from crispml.core.errors import AlreadyExists, Conflict, InvalidArgument
from crispml.services.catalog.classify import CsvClassifier, DiscoveredTable, discover
from crispml.services.catalog.core import CatalogCore, loads
from crispml.services.catalog.crawler_store import ClassifierRow
from crispml.services.catalog.entities import VIRTUAL_VIEW, CrawlSummary, StorageDescriptor, UnreadableFile
from crispml.services.catalog.specs import (
    BatchCreatePartitionRequest,
    BatchDeletePartitionRequest,
    CreateDatabaseRequest,
    CreateTableRequest,
    DatabaseInput,
    PartitionInput,
    PartitionValueList,
    TableInput,
    TableRequest,
    UpdateTableRequest,
)
from crispml.services.catalog.store import DatabaseRow, PartitionRow, TableRow, TableVersionRow
from crispml.services.lake.service import LakeService

if TYPE_CHECKING:
    from crispml.services.catalog.service import CatalogService
    from crispml.services.lake.service import LakeFileSystem

DEPRECATED = "DEPRECATED_BY_CRAWLER"
UPDATED_BY = "UPDATED_BY_CRAWLER"
_TEXT_FORMATS = ("org.apache.hadoop.mapred.TextInputFormat",
                 "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
_IO_FORMATS = {
    "csv": _TEXT_FORMATS, "json": _TEXT_FORMATS,
    "parquet": ("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
}
_SKIPPED = (InvalidArgument, AlreadyExists, Conflict)  # one table's trouble: report it and go on


class CrawlCancelled(Exception):
    """StopCrawler was called while this crawl ran."""


class CrawlReadNothing(InvalidArgument):
    """Every file under the crawler's targets was unreadable: the crawl fails, saying so."""


@dataclass
class _Known:
    """A table of the crawler's database as it stands before the crawl."""

    document: dict[str, Any]
    partitions: dict[str, list[str]]  # location → values


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Glue exclusion pattern: ``*`` within one folder level, ``**`` across levels, ``?`` one character."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


class _ExcludingLake:
    """The lake filesystem leaving out files that match a target's exclusion patterns (what the crawl's
    discovery calls of it: ``find``, ``open``, ``cat_file``, … pass through)."""

    def __init__(self, fs: LakeFileSystem, exclusions: dict[str, list[re.Pattern[str]]]) -> None:
        self._fs = fs
        self.exclusions = exclusions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def find(self, path: str, *args: Any, **kwargs: Any) -> Any:
        found = self._fs.find(path, *args, **kwargs)
        root = self._fs._strip_protocol(path)
        patterns = self.exclusions.get(root)
        if not patterns or not isinstance(found, dict):
            return found
        return {p: info for p, info in found.items()
                if not any(rx.fullmatch(p[len(root) + 1:]) for rx in patterns)}


def _stripped(location: str) -> str:
    return location[len("lake://"):].rstrip("/")


class CrawlRun:
    """One crawl of one crawler; :meth:`run` does it and fills :attr:`summary`."""

    def __init__(self, catalog: CatalogService, ctx: CallContext, crawl_id: str, definition: dict[str, Any],
                 checkpoint: Callable[[], bool]) -> None:
        self.core: CatalogCore = catalog
        self.catalog = catalog
        self.lake = catalog.peer(LakeService)
        self.ctx = ctx
        self.crawl_id = crawl_id
        self.crawler: str = definition["name"]
        self.database: str = definition["database_name"]
        self.prefix: str = definition.get("table_prefix") or ""
        self.update = definition["schema_change_policy"]["update_behavior"]
        self.delete = definition["schema_change_policy"]["delete_behavior"]
        self.new_only = definition["recrawl_policy"]["recrawl_behavior"] == "CRAWL_NEW_FOLDERS_ONLY"
        self.targets: list[dict[str, Any]] = definition["targets"]["s3_targets"]
        self.classifier_names: list[str] = definition.get("classifiers") or []
        self.checkpoint = checkpoint
        self.summary = CrawlSummary()

    def note(self, message: str) -> None:
        self.summary.messages.append(message)

    # -- the crawl ---------------------------------------------------------------------

    def run(self) -> None:
        """Discover, then create, update and delete tables and partitions; raise CrawlCancelled on a stop."""
        known = self._ensure_database_and_read()
        fs = _ExcludingLake(self.lake.filesystem(self.ctx), {
            _stripped(t["path"]): [glob_regex(p) for p in t.get("exclusions") or []] for t in self.targets})
        locations = [loc for table in known.values()
                     for loc in (table.document["storage_descriptor"]["location"], *table.partitions)]
        result = discover(fs, [_stripped(t["path"]) + "/" for t in self.targets], self._classifiers(),
                          [_stripped(loc) + "/" for loc in locations], new_folders_only=self.new_only)
        self.summary.files_sampled, self.summary.files_skipped = result.files_sampled, result.files_skipped
        self.summary.unreadable = [UnreadableFile(path=fs.unstrip_protocol(u.path), reason=u.reason)
                                   for u in result.unreadable]
        unread = [u for u in self.summary.unreadable if not u.reason.startswith("target not readable")]
        if unread and not result.files_sampled and not result.files_skipped:
            first = unread[0]
            raise CrawlReadNothing(
                f"the crawl read none of the {len(unread)} file(s) under its targets, so no table was made or "
                f"changed; the first, {first.path}: {first.reason} (see GetCrawler's LastCrawl for every file)")
        if self.checkpoint():
            raise CrawlCancelled
        found: set[str] = set()
        for table in result.tables:
            name = self.prefix + table.name
            found.add(name)
            clash = _key_clash(table)
            if clash:
                self.note(f"table {self.database}.{name} not crawled: {clash}")
                continue
            try:
                self._apply(name, table, known.get(name))
            except _SKIPPED as exc:
                self.note(f"table {self.database}.{name} left as it was: {exc}")
            if self.checkpoint():
                raise CrawlCancelled
        if not self.new_only:
            unlisted = {u.path.rstrip("/") for u in result.unreadable if u.reason.startswith("target not readable")}
            self._delete_missing(known, found, unlisted)

    def _ensure_database_and_read(self) -> dict[str, _Known]:
        """The crawler's database (created if missing, as Glue does) and its tables now."""
        with self.core.db.read() as session:
            exists = session.get(DatabaseRow, self.database) is not None
        if not exists:
            self.catalog.create_database(self.ctx, CreateDatabaseRequest(
                database_input=DatabaseInput(name=self.database)))
            self.note(f"created database {self.database}")
            return {}
        known: dict[str, _Known] = {}
        with self.core.db.read() as session:
            for row in session.scalars(select(TableRow).where(TableRow.database == self.database)):
                version = session.get(TableVersionRow, (row.table_id, row.version_id))
                if version is None or loads(version.document).get("table_type") == VIRTUAL_VIEW:
                    continue  # a view has no files for a crawler to follow
                partitions = {loads(p.storage_descriptor).get("location", ""): loads(p.partition_values)
                              for p in session.scalars(select(PartitionRow).where(
                                  PartitionRow.table_id == row.table_id))}
                known[row.name] = _Known(loads(version.document), partitions)
        return known

    def _classifiers(self) -> list[CsvClassifier]:
        chain = []
        with self.core.db.read() as session:
            for name in self.classifier_names:
                row = session.get(ClassifierRow, name)
                if row is None:
                    self.note(f"classifier {name!r} does not exist any more; crawling without it")
                    continue
                doc = loads(row.document)
                chain.append(CsvClassifier(
                    name=doc["name"], delimiter=doc["delimiter"], quote_symbol=doc["quote_symbol"],
                    contains_header=doc["contains_header"], header=tuple(doc.get("header") or ()),
                    disable_value_trimming=doc["disable_value_trimming"],
                    allow_single_column=doc["allow_single_column"]))
        return chain

    # -- one table ---------------------------------------------------------------------

    def _definition(self, name: str, table: DiscoveredTable) -> dict[str, Any]:
        """The table as this crawl found it: a checked TableInput, as JSON (compared with what is known)."""
        parameters = {
            "classification": table.classification, "CrawlerSchemaSerializerVersion": "1.0",
            "CrawlerSchemaDeserializerVersion": "1.0", UPDATED_BY: self.crawler,
            "compressionType": table.compression, "typeOfData": "file", "objectCount": str(len(table.files)),
        }
        if table.classification == "csv":
            parameters["delimiter"] = table.serde_parameters.get("separatorChar", ",")
            parameters["areColumnsQuoted"] = "false"
            if "skip.header.line.count" in table.serde_parameters:
                parameters["skip.header.line.count"] = table.serde_parameters["skip.header.line.count"]
        input_format, output_format = _IO_FORMATS[table.classification]
        return TableInput.model_validate({
            "Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": parameters,
            "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in table.partition_keys],
            "StorageDescriptor": {
                "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
                "Location": f"lake://{table.location}", "InputFormat": input_format,
                "OutputFormat": output_format, "Compressed": table.compression != "none", "Parameters": parameters,
                "SerdeInfo": {"SerializationLibrary": table.serde_library,
                              "Parameters": dict(table.serde_parameters)},
            },
        }).model_dump(mode="json")

    def _apply(self, name: str, table: DiscoveredTable, known: _Known | None) -> None:
        found = self._definition(name, table)
        if known is None:
            self.catalog.create_table(self.ctx, CreateTableRequest(database_name=self.database,
                                                                   table_input=TableInput(**found)))
            self.summary.tables_created += 1
        elif _shape(found) != _shape(known.document) or DEPRECATED in known.document.get("parameters", {}):
            if self.update == "UPDATE_IN_DATABASE":
                kept = {k: v for k, v in known.document.get("parameters", {}).items() if k != DEPRECATED}
                found["parameters"] = {**kept, **found["parameters"]}
                found["description"] = known.document.get("description")
                self.catalog.update_table(self.ctx, UpdateTableRequest(database_name=self.database,
                                                                       table_input=TableInput(**found)))
                self.summary.tables_updated += 1
            else:
                self.note(f"table {self.database}.{name} changed in the lake; not updated (UpdateBehavior LOG)")
        self._add_partitions(name, table, found, known)

    def _add_partitions(self, name: str, table: DiscoveredTable, found: dict[str, Any],
                        known: _Known | None) -> None:
        if not table.partition_keys:
            return
        have = set(known.partitions) if known else set()
        new = [p for p in table.partitions if f"lake://{p.location}" not in have]
        for batch in _chunks(new, 100):
            inputs = [PartitionInput(values=list(p.values), storage_descriptor=StorageDescriptor(
                          **{**found["storage_descriptor"], "location": f"lake://{p.location}"}))
                      for p in batch]
            errors = self.catalog.batch_create_partition(self.ctx, BatchCreatePartitionRequest(
                database_name=self.database, table_name=name, partition_input_list=inputs)).errors
            self.summary.partitions_added += len(batch) - len(errors)
            for error in errors:
                if error.error_detail.error_code != "AlreadyExistsException":
                    self.note(f"partition {error.partition_values} of {self.database}.{name} not added: "
                              f"{error.error_detail.error_message}")
        if self.delete == "DELETE_FROM_DATABASE" and known is not None:
            seen = {f"lake://{p.location}" for p in table.partitions}
            gone = [values for location, values in known.partitions.items() if location not in seen]
            for chunk in _chunks(gone, 25):
                self.catalog.batch_delete_partition(self.ctx, BatchDeletePartitionRequest(
                    database_name=self.database, table_name=name,
                    partitions_to_delete=[PartitionValueList(values=v) for v in chunk]))

    # -- tables whose files are gone ---------------------------------------------------------

    def _delete_missing(self, known: dict[str, _Known], found: set[str], unlisted: set[str]) -> None:
        roots = [_stripped(t["path"]) + "/" for t in self.targets if _stripped(t["path"]) not in unlisted]
        for name, table in sorted(known.items()):
            parameters = table.document.get("parameters", {})
            location = _stripped(table.document["storage_descriptor"]["location"]) + "/"
            if (name in found or parameters.get(UPDATED_BY) != self.crawler
                    or not any(location.startswith(root) for root in roots)):
                continue
            if self.delete == "DELETE_FROM_DATABASE":
                self.catalog.delete_table(self.ctx, TableRequest(database_name=self.database, name=name))
            elif self.delete == "DEPRECATE_IN_DATABASE":
                if DEPRECATED in parameters:
                    continue
                document = {**table.document, "parameters": {**parameters, DEPRECATED: self.crawl_id}}
                self.catalog.update_table(self.ctx, UpdateTableRequest(database_name=self.database,
                                                                       table_input=TableInput(**document)))
            else:
                self.note(f"table {self.database}.{name}: its files are gone; kept (DeleteBehavior LOG)")
                continue
            self.summary.tables_deleted += 1


def _key_clash(table: DiscoveredTable) -> str | None:
    """Why a table cannot be registered as found (a file column named like a partition folder key), or None."""
    keys = {k.name.lower() for k in table.partition_keys}
    same = [c.name for c in table.columns if c.name.lower() in keys]
    if not same:
        return None
    return (f"the files have column(s) {', '.join(repr(n) for n in same)} with the name of a partition folder "
            "key; rename the column in the files or the key=value folders (Athena rejects duplicate columns)")


def _shape(document: dict[str, Any]) -> tuple[Any, ...]:
    """What a crawl compares to decide that a table changed."""
    sd = document.get("storage_descriptor", {})
    serde = sd.get("serde_info") or {}
    return (
        [(c["name"], c.get("type")) for c in sd.get("columns", [])],
        [(k["name"], k.get("type")) for k in document.get("partition_keys", [])],
        sd.get("location"), serde.get("serialization_library"), serde.get("parameters") or {},
        (document.get("parameters") or {}).get("classification"),
    )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
