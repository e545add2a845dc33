"""One delivery: a batch of buffered records through the processor, partitioning and conversion, into
objects of the lake (or rows of a managed table), with failed records in the error output.

The steps, as Firehose takes them: the processor (``processor.py``) transforms
records, drops some and fails some; dynamic partitioning groups the Ok records
by their partition keys (from the MetadataExtraction query over the
transformed data, or the processor's ``metadata.partitionKeys``); each group
becomes one object — JSON lines (each record's bytes, with a newline added to
a record that does not end with one), GZIP-compressed when asked, or Parquet
with the catalog table's schema (``convert.py``). A managed-table destination
appends all Ok rows in one ``AppendTableData`` commit. Records that failed a
step are written, one JSON document per line, under the error prefix of their
step (``processing-failed``, ``partitioning-failed``,
``format-conversion-failed``) with the reason and the raw data in base64::

    {"attemptsMade": 1, "arrivalTimestamp": 1700000000000, "errorCode": "…", "errorMessage": "…",
     "attemptEndingTimestamp": 1700000000100, "rawData": "<base64>", …}

(``lambdaArn`` for processing failures; ``sequenceNumber``,
``subSequenceNumber`` and ``dataCatalogTable`` for conversion failures.)
Every write goes through the lake's (and the catalog's) operations as the
delivery stream's principal. If any write fails, the whole delivery raises and
its records stay buffered: the next delivery writes them again, so an object
written before the failure may be written twice (at least once, never lost).
A table that cannot be read (deleted, renamed) fails the delivery the same
way, rather than sending every record to the error output.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.names import crn
from crispml.services.catalog.service import AppendTableDataRequest, CatalogService, TableRequest
from crispml.services.firehose.buffer import Buffered, StreamInfo, record_id_text
from crispml.services.firehose.config import DeliveryPlan
from crispml.services.firehose.convert import ConversionError, RecordConverter, arrow_schema, parquet_bytes
from crispml.services.firehose.errors import DeliveryFailedException
from crispml.services.firehose.partitioning import PartitionError, check_value
from crispml.services.firehose.prefixes import object_name
from crispml.services.firehose.processor import Input, invoke
from crispml.services.firehose.rules import delivery_stream_crn
from crispml.services.lake.service import LakeService, PutObjectRequest

PROCESSING_FAILED = "processing-failed"
PARTITIONING_FAILED = "partitioning-failed"
CONVERSION_FAILED = "format-conversion-failed"


@dataclass
class Ready:
    """A record on its way to the destination: its (transformed) data and partition keys."""

    record: Buffered
    data: bytes
    lambda_keys: dict[str, str] = field(default_factory=dict)
    query_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class Failed:
    record: Buffered
    kind: str  # the error-output-type
    code: str
    message: str
    raw: bytes
    attempts: int = 1


@dataclass
class Outcome:
    """What one delivery wrote."""

    objects: list[str] = field(default_factory=list)
    delivered: int = 0
    failed: int = 0
    dropped: int = 0


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Delivery:
    """Delivers batches of one delivery stream through the lake and the catalog, as ``ctx``'s caller (the
    stream's principal)."""

    def __init__(self, lake: LakeService, catalog: CatalogService, ctx: CallContext, stream: StreamInfo,
                 plan: DeliveryPlan, now_ms: int) -> None:
        self.lake = lake
        self.catalog = catalog
        self.ctx = ctx
        self.stream = stream
        self.plan = plan
        self.now_ms = now_ms
        self._converter: RecordConverter | None = None

    def run(self, batch: list[Buffered]) -> Outcome:
        """Deliver ``batch``: every record ends delivered, dropped, or in the error output — or this raises."""
        outcome = Outcome()
        ready, failed, outcome.dropped = self._process(batch)
        ready, unpartitioned = self._partition(ready)
        failed += unpartitioned
        writes: list[tuple[str, bytes]] = []
        if self.plan.kind == "iceberg":
            rows, unconverted = self._convert(ready)
            failed += unconverted
            outcome.delivered = len(rows)
            if rows:
                self._append(rows)
        else:
            for group in self._groups(ready):
                data, unconverted = self._encode(group)
                failed += unconverted
                if data is not None:
                    writes.append((self._data_key(group), data))
                    outcome.delivered += len(group) - len(unconverted)
        writes += self._error_objects(failed)
        outcome.failed = len(failed)
        for key, data in writes:
            self.lake.put_object(self.ctx, PutObjectRequest(bucket=self.plan.bucket, key=key, body=data))
            outcome.objects.append(f"lake://{self.plan.bucket}/{key}")
        return outcome

    # -- steps ---------------------------------------------------------------------------

    def _process(self, batch: list[Buffered]) -> tuple[list[Ready], list[Failed], int]:
        spec = self.plan.processor
        if spec is None:
            return [Ready(r, r.data) for r in batch], [], 0
        inputs = [Input(record_id_text(self.stream.stream_id, r.record_id), r.arrival_ms, r.data, r.source)
                  for r in batch]
        source = crn("streams", f"stream/{self.stream.source_stream}") if self.stream.source_stream else None
        results = invoke(spec, inputs, stream_arn=delivery_stream_crn(self.stream.name), source_arn=source)
        ready, failed, dropped = [], [], 0
        for record, given in zip(batch, inputs, strict=True):
            result = results[given.record_id]
            if result.result == "Ok":
                ready.append(Ready(record, result.data, lambda_keys=result.partition_keys))
            elif result.result == "Dropped":
                dropped += 1
            else:
                failed.append(Failed(record, PROCESSING_FAILED, result.error_code, result.error_message,
                                     record.data, result.attempts))
        return ready, failed, dropped

    def _partition(self, ready: list[Ready]) -> tuple[list[Ready], list[Failed]]:
        if not self.plan.dynamic_partitioning:
            return ready, []
        wanted_lambda = self.plan.keys.prefix.keys("partitionKeyFromLambda")
        kept, failed = [], []
        for item in ready:
            try:
                if self.plan.extraction is not None:
                    item.query_keys = self.plan.extraction.evaluate(item.data)
                missing = [k for k in wanted_lambda if k not in item.lambda_keys]
                if missing:
                    raise PartitionError(f"the processor gave no partition key {', '.join(missing)} "
                                         "(metadata.partitionKeys)")
                for key in wanted_lambda:
                    check_value(key, item.lambda_keys[key])
            except PartitionError as exc:
                failed.append(Failed(item.record, PARTITIONING_FAILED, "DynamicPartitioning.MetadataExtractionFailed",
                                     str(exc), item.data))
                continue
            kept.append(item)
        return kept, failed

    def _groups(self, ready: list[Ready]) -> list[list[Ready]]:
        groups: dict[tuple[tuple[str, str], ...], list[Ready]] = defaultdict(list)
        used_lambda = self.plan.keys.prefix.keys("partitionKeyFromLambda")
        for item in ready:
            key = tuple(sorted(item.query_keys.items())) + tuple((k, item.lambda_keys[k]) for k in used_lambda)
            groups[key].append(item)
        return list(groups.values())

    def _data_key(self, group: list[Ready]) -> str:
        first = group[0]
        when = _time(first.record.arrival_ms)
        prefix = self.plan.keys.data_prefix(when, query_keys=first.query_keys, lambda_keys=first.lambda_keys)
        extension = ".parquet" if self.plan.conversion is not None else (
            ".gz" if self.plan.compression == "GZIP" else "")
        return prefix + object_name(self.stream.name, when, extension)

    def _encode(self, group: list[Ready]) -> tuple[bytes | None, list[Failed]]:
        """A group's object bytes (None if no record of it remains) and the records that did not convert."""
        if self.plan.conversion is None:
            return self._compressed(b"".join(i.data if i.data.endswith(b"\n") else i.data + b"\n" for i in group)), []
        rows, failed = self._convert(group)
        if not rows:
            return None, failed
        converter = self._converter
        assert converter is not None
        return parquet_bytes(converter.table(rows), self.plan.conversion.compression), failed

    def _compressed(self, data: bytes) -> bytes:
        return gzip.compress(data, mtime=0) if self.plan.compression == "GZIP" else data

    # -- conversion ----------------------------------------------------------------------

    def _schema_table(self) -> tuple[str, str]:
        if self.plan.table is not None:
            return self.plan.table
        assert self.plan.conversion is not None
        return self.plan.conversion.database, self.plan.conversion.table

    def _converter_now(self) -> RecordConverter:
        if self._converter is None:
            database, name = self._schema_table()
            try:
                table = self.catalog.get_table(self.ctx, TableRequest(database_name=database, name=name)).table
            except CrispmlError as exc:  # a table that cannot be read: the records wait for it, buffered
                raise DeliveryFailedException(
                    f"Firehose {self.stream.name} cannot read the schema of table {database}.{name}: {exc.message}; "
                    "its records stay buffered until the table can be read") from exc
            columns = list(table.storage_descriptor.columns)
            if self.plan.kind == "iceberg":
                columns += table.partition_keys
            schema = arrow_schema([(c.name, c.type or "string") for c in columns])
            insensitive = self.plan.conversion.case_insensitive if self.plan.conversion is not None else True
            self._converter = RecordConverter(schema, case_insensitive=insensitive)
        return self._converter

    def _convert(self, items: list[Ready]) -> tuple[list[dict[str, Any]], list[Failed]]:
        converter = self._converter_now()
        rows, failed = [], []
        for item in items:
            try:
                rows.append(converter.row(item.data))
            except ConversionError as exc:
                failed.append(Failed(item.record, CONVERSION_FAILED, "DataFormatConversion.MalformedData", str(exc),
                                     item.data))
        return rows, failed

    def _append(self, rows: list[dict[str, Any]]) -> None:
        database, name = self._schema_table()
        converter = self._converter_now()
        self.catalog.append_table_data(self.ctx, AppendTableDataRequest(database_name=database, table_name=name,
                                                                        body=converter.table(rows)))

    # -- the error output ----------------------------------------------------------------

    def _error_objects(self, failed: list[Failed]) -> list[tuple[str, bytes]]:
        by_kind: dict[str, list[Failed]] = defaultdict(list)
        for item in failed:
            by_kind[item.kind].append(item)
        objects = []
        for kind, items in by_kind.items():
            when = _time(items[0].record.arrival_ms)
            key = self.plan.keys.error_prefix_for(kind, when) + object_name(
                self.stream.name, when, ".gz" if self.plan.compression == "GZIP" else "")
            lines = b"".join(json.dumps(self._error_document(i), separators=(",", ":")).encode() + b"\n"
                             for i in items)
            objects.append((key, self._compressed(lines)))
        return objects

    def _error_document(self, item: Failed) -> dict[str, Any]:
        document: dict[str, Any] = {
            "attemptsMade": item.attempts, "arrivalTimestamp": item.record.arrival_ms,
            "errorCode": item.code, "errorMessage": item.message, "attemptEndingTimestamp": self.now_ms,
            "rawData": base64.b64encode(item.raw).decode("ascii"),
        }
        if item.kind == PROCESSING_FAILED and self.plan.processor is not None:
            document["lambdaArn"] = self.plan.processor.handler
        if item.kind == CONVERSION_FAILED:
            database, name = self._schema_table()
            document.update({
                "sequenceNumber": (item.record.source or {}).get("sequenceNumber"), "subSequenceNumber": None,
                "dataCatalogTable": {"catalogId": None, "databaseName": database, "tableName": name,
                                     "region": None, "versionId": "LATEST", "catalogArn": None},
            })
        return document
