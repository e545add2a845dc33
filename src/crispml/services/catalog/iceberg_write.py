"""Writing managed (Iceberg) tables: data files written ahead of the commit, appends, and one-snapshot overwrites.

pyiceberg's ``Table.append`` writes its data files and commits in one call,
and ``Table.overwrite`` commits a delete snapshot and then an append
snapshot — two snapshots for one overwrite, so time travel would show the
table emptied, a state that was never current. Here:

- :func:`data_files` writes an append's Parquet files before the commit lock
  is taken (the slow part, done by each writer in parallel), and
  :func:`fast_append` then commits them under the lock as one ``append``
  snapshot (:func:`same_layout` says whether files written for one state of
  the table still fit the state found under the lock);
- :func:`overwrite` commits one ``overwrite`` snapshot: the data files the
  filter matches whole are dropped, those it matches in part are rewritten
  with the rows it does not match (copy-on-write, as pyiceberg's delete
  does), and the new rows are added — all in one snapshot producer.

These use pyiceberg's snapshot producers and its Arrow file writer
(``_dataframe_to_data_files``, ``ArrowScan``), the pieces its own
``append``/``overwrite``/``delete`` are built from; only their assembly into
one snapshot is ours.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.expressions.visitors import bind
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files, _expression_to_complementary_pyarrow
from pyiceberg.table.snapshots import Operation

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table as IcebergTable


def data_files(table: IcebergTable, data: pa.Table) -> list[DataFile]:
    """Write ``data`` (already conformed to the table's schema) as Parquet data files of ``table``."""
    if data.num_rows == 0:
        return []
    return list(_dataframe_to_data_files(table_metadata=table.metadata, write_uuid=uuid.uuid4(), df=data,
                                         io=table.io))


def same_layout(written_for: IcebergTable, now: IcebergTable) -> bool:
    """Whether files written for ``written_for`` still fit ``now`` (same schema, same partition spec)."""
    before, after = written_for.metadata, now.metadata
    return (before.current_schema_id, before.default_spec_id) == (after.current_schema_id, after.default_spec_id)


def fast_append(table: IcebergTable, files: list[DataFile], properties: dict[str, str]) -> None:
    """Commit ``files`` to ``table`` as one append snapshot (a snapshot with no files when there are none)."""
    with table.transaction() as transaction, \
            transaction.update_snapshot(snapshot_properties=properties).fast_append() as append:
        for file in files:
            append.append_data_file(file)


def overwrite(table: IcebergTable, data: pa.Table, predicate: BooleanExpression | None, properties: dict[str, str],
              *, case_sensitive: bool = False) -> None:
    """Replace the rows ``predicate`` matches (all rows when None) with ``data``, in one snapshot."""
    matches: BooleanExpression = AlwaysTrue() if predicate is None else predicate
    with table.transaction() as transaction:
        metadata = transaction.table_metadata
        schema = metadata.schema()
        commit_uuid = uuid.uuid4()
        counter = itertools.count(0)
        with transaction.update_snapshot(snapshot_properties=properties).overwrite(commit_uuid=commit_uuid) as snap:
            # the isolation pyiceberg's own overwrite asks for: a rival's change to matching rows is a conflict
            snap._isolation_operation = Operation.OVERWRITE
            snap.delete_by_predicate(matches, case_sensitive)
            keep: Any = None
            if predicate is not None:
                keep = _expression_to_complementary_pyarrow(bind(schema, matches, case_sensitive), schema)
            for task in transaction._scan(row_filter=matches, case_sensitive=case_sensitive).plan_files():
                if keep is None:
                    snap.delete_data_file(task.file)
                    continue
                rows = ArrowScan(table_metadata=metadata, io=table.io, projected_schema=schema,
                                 row_filter=AlwaysTrue()).to_table(tasks=[task])
                kept = rows.filter(keep)
                if len(kept) == len(rows):
                    continue  # the file's statistics allowed a match, its rows hold none
                snap.delete_data_file(task.file)
                if len(kept):
                    for file in _dataframe_to_data_files(io=table.io, df=kept, table_metadata=metadata,
                                                         write_uuid=commit_uuid, counter=counter):
                        snap.append_data_file(file)
            if data.num_rows:
                for file in _dataframe_to_data_files(table_metadata=metadata, write_uuid=commit_uuid, df=data,
                                                     io=table.io, counter=counter):
                    snap.append_data_file(file)
