"""Partition operations: create (one, or up to 100 with an error per partition),
get, list (filtered by an expression on the keys), delete (one, or up to 25).

A partition's values must match the table's partition keys in number (and
integral or date keys must get such values). A partition given without a
storage descriptor gets the table's, located at the Hive folder of its values
under the table (``lake://b/sales/year=2024/month=01/``) — what Athena's
``ALTER TABLE ADD PARTITION`` does; one with a descriptor but no location gets
that folder too. Partitions are listed in the order they were added.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.hive import partition_path
from crispml.services.catalog.core import CatalogCore, decode_token, dumps, encode_token, loads, table_crn
from crispml.services.catalog.entities import ErrorDetail, Partition, PartitionError, is_iceberg
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
)
from crispml.services.catalog.expressions import compile_expression
from crispml.services.catalog.hot import HotStatements
from crispml.services.catalog.rules import check_partition_value
from crispml.services.catalog.specs import (
    BatchCreatePartitionRequest,
    BatchDeletePartitionRequest,
    BatchPartitionResponse,
    CreatePartitionRequest,
    EmptyResponse,
    GetPartitionResponse,
    GetPartitionsRequest,
    GetPartitionsResponse,
    PartitionInput,
    PartitionRequest,
)
from crispml.services.catalog.store import PartitionRow, TableRow
from crispml.spine.operations import operation

_SCAN_BATCH = 1000


def values_hash(values: list[str]) -> str:
    return hashlib.sha256(json.dumps(values).encode("utf-8")).hexdigest()


def _error(values: list[str], exc: CrispmlError) -> PartitionError:
    return PartitionError(partition_values=values,
                          error_detail=ErrorDetail(error_code=exc.code, error_message=exc.message))


class PartitionOps(CatalogCore):
    # -- helpers -------------------------------------------------------------------------

    def _keys(self, session: Session, table: TableRow) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        """The table's partition keys as (name, type), and its current definition."""
        document = loads(self._version_row(session, table).document)
        return [(k["name"], k["type"]) for k in document.get("partition_keys", [])], document

    @staticmethod
    def _check_values(table: TableRow, keys: list[tuple[str, str]], values: list[str]) -> None:
        if not keys:
            raise InvalidInputException(f"table {table.database}.{table.name} has no partition keys")
        if len(values) != len(keys):
            raise InvalidInputException(
                f"table {table.database}.{table.name} is partitioned by {', '.join(k for k, _ in keys)} "
                f"({len(keys)} keys), but {len(values)} values were given: {values}"
            )
        for (key, type_), value in zip(keys, values, strict=True):
            check_partition_value(key, type_, value)

    def _new_row(self, table: TableRow, keys: list[tuple[str, str]], document: dict[str, Any],
                 given: PartitionInput) -> PartitionRow:
        self._check_values(table, keys, given.values)
        table_sd = document["storage_descriptor"]
        folder = table_sd["location"] + partition_path([k for k, _ in keys], given.values)
        if given.storage_descriptor is None:
            sd = {**table_sd, "location": folder}
        else:
            sd = given.storage_descriptor.model_dump(mode="json")
            sd["location"] = sd.get("location") or folder
        return PartitionRow(
            table_id=table.table_id, values_hash=values_hash(given.values),
            partition_values=json.dumps(given.values), storage_descriptor=dumps(sd),
            parameters=dumps(given.parameters), created_at=self.clock.now(),
            last_access_time=given.last_access_time,
        )

    def _create(self, ctx: CallContext, database: str, name: str,
                inputs: list[PartitionInput]) -> list[PartitionError]:
        """Add partitions in one transaction; return why any were not added."""
        self._check_buckets(ctx, [p.storage_descriptor.location for p in inputs if p.storage_descriptor])

        def work(session: Session) -> list[PartitionError]:
            table = self._table(session, database, name)
            keys, document = self._keys(session, table)
            if is_iceberg(document.get("parameters", {})):
                raise InvalidInputException(
                    f"table {database}.{name} is a managed (Iceberg) table: it partitions its own data by its "
                    "partition keys, so it takes no Glue partitions; write rows with AppendTableData instead")
            wanted = {values_hash(p.values) for p in inputs}
            taken = set(session.scalars(select(PartitionRow.values_hash).where(
                PartitionRow.table_id == table.table_id, PartitionRow.values_hash.in_(wanted))))
            errors: list[PartitionError] = []
            for given in inputs:
                try:
                    row = self._new_row(table, keys, document, given)
                    if row.values_hash in taken:
                        raise AlreadyExistsException(
                            f"partition {given.values} of {table.database}.{table.name} already exists")
                except CrispmlError as exc:
                    errors.append(_error(given.values, exc))
                    continue
                taken.add(row.values_hash)
                session.add(row)
            return errors

        return self._writing(work)

    def _partition_row(self, session: Session, table: TableRow, values: list[str]) -> PartitionRow:
        row = session.scalars(select(PartitionRow).where(
            PartitionRow.table_id == table.table_id, PartitionRow.values_hash == values_hash(values))).first()
        if row is None:
            raise EntityNotFoundException(
                f"table {table.database}.{table.name} has no partition {values}; "
                "list them with 'crispml catalog get-partitions'"
            )
        return row

    # -- operations ----------------------------------------------------------------------

    @operation("CreatePartition", resource=lambda r: table_crn(r.database_name, r.table_name))
    def create_partition(self, ctx: CallContext, request: CreatePartitionRequest) -> EmptyResponse:
        """Add one partition to a table."""
        errors = self._create(ctx, request.database_name, request.table_name, [request.partition_input])
        if errors:
            detail = errors[0].error_detail
            cls = AlreadyExistsException if detail.error_code == AlreadyExistsException.code \
                else InvalidInputException
            raise cls(detail.error_message)
        return EmptyResponse()

    @operation("BatchCreatePartition", resource=lambda r: table_crn(r.database_name, r.table_name))
    def batch_create_partition(self, ctx: CallContext, request: BatchCreatePartitionRequest) -> BatchPartitionResponse:
        """Add up to 100 partitions; those that cannot be added come back as Errors."""
        return BatchPartitionResponse(errors=self._create(
            ctx, request.database_name, request.table_name, request.partition_input_list))

    @operation("GetPartition", resource=lambda r: table_crn(r.database_name, r.table_name), mutating=False)
    def get_partition(self, ctx: CallContext, request: PartitionRequest) -> GetPartitionResponse:
        """Show one partition, by its values."""
        with self._reading() as session:
            table = self._table(session, request.database_name, request.table_name)
            row = self._partition_row(session, table, request.partition_values)
            return GetPartitionResponse(partition=self._partition_entity(table, row))

    @operation("GetPartitions", resource=lambda r: table_crn(r.database_name, r.table_name), mutating=False)
    def get_partitions(self, ctx: CallContext, request: GetPartitionsRequest) -> GetPartitionsResponse:
        """List a table's partitions, optionally filtered by an expression on its keys."""
        after = decode_token(request.next_token)
        found: list[Partition] = []
        last_seq: int | None = None
        more = False
        if request.expression is None:  # every query planning a partitioned table: plain SQL (hot.py)
            listed = self.db.statements(HotStatements).partitions(
                request.database_name, request.table_name, int(after) if after is not None else 0,
                request.max_results + 1)
            if listed is not None:
                table, rows = listed
                found = [self._partition_entity(table, row) for row in rows[:request.max_results]]
                more = len(rows) > request.max_results
                return GetPartitionsResponse(partitions=found, next_token=encode_token(
                    rows[request.max_results - 1].seq) if more else None)
        with self._reading() as session:
            table = self._table(session, request.database_name, request.table_name)
            # the keys (a read of the table's definition) only for an expression: a query's planning lists all
            matches = compile_expression(request.expression, self._keys(session, table)[0]) \
                if request.expression else None
            position = int(after) if after is not None else 0
            while not more:
                batch = list(session.scalars(select(PartitionRow).where(
                    PartitionRow.table_id == table.table_id, PartitionRow.seq > position,
                ).order_by(PartitionRow.seq).limit(_SCAN_BATCH)))
                for row in batch:
                    if matches is not None and not matches(json.loads(row.partition_values)):
                        continue
                    if len(found) == request.max_results:
                        more = True
                        break
                    found.append(self._partition_entity(table, row))
                    last_seq = row.seq
                if len(batch) < _SCAN_BATCH:
                    break
                position = batch[-1].seq
        return GetPartitionsResponse(partitions=found,
                                     next_token=encode_token(last_seq) if more and last_seq else None)

    @operation("DeletePartition", resource=lambda r: table_crn(r.database_name, r.table_name))
    def delete_partition(self, ctx: CallContext, request: PartitionRequest) -> EmptyResponse:
        """Delete one partition (its files in the lake stay)."""
        def work(session: Session) -> None:
            table = self._table(session, request.database_name, request.table_name)
            session.delete(self._partition_row(session, table, request.partition_values))

        self._writing(work)
        return EmptyResponse()

    @operation("BatchDeletePartition", resource=lambda r: table_crn(r.database_name, r.table_name))
    def batch_delete_partition(self, ctx: CallContext, request: BatchDeletePartitionRequest) -> BatchPartitionResponse:
        """Delete up to 25 partitions; those that do not exist come back as Errors."""
        def work(session: Session) -> list[PartitionError]:
            table = self._table(session, request.database_name, request.table_name)
            errors: list[PartitionError] = []
            for item in request.partitions_to_delete:
                try:
                    row = self._partition_row(session, table, item.values)
                except EntityNotFoundException as exc:
                    errors.append(_error(item.values, exc))
                    continue
                session.execute(delete(PartitionRow).where(PartitionRow.seq == row.seq))
            return errors

        return BatchPartitionResponse(errors=self._writing(work))
