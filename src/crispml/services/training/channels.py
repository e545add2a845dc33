"""Channels: what each reads, pinned when the job starts, and the files the job finds.

``pin`` runs in CreateTrainingJob, as the caller, before anything is
recorded: a lake prefix becomes its list of objects with their ETags, a
managed (Iceberg) table its current snapshot id (or the one asked for), an
external table the files of its partitions with their ETags. A missing table
or column, or a channel with nothing in it, is refused there. The pins are
the job's lineage, and ``materialize`` (in the job's worker, as the job's
creator) reads exactly them: the snapshot by id, the files by name — and a
file whose ETag has changed since fails the job, naming it, rather than
training on other bytes.

A lake prefix's objects arrive as files under ``input/data/<channel>/``:
copied in ``File`` mode; in ``FastFile`` mode, linked to the lake's own
files on a ``file://`` lake (nothing is copied, so a large data set starts
training at once), and copied on an ``s3://`` lake or for an encrypted
object, where no local file exists to link to. A table is written out once
in the channel's content type — CSV with the label first and no header, as
SageMaker's built-ins read it, or Parquet, JSON lines, LibSVM — because its
rows must be converted whatever the mode.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crispml.core.context import CallContext
from crispml.services.catalog.service import CatalogService, GetPartitionsRequest, TableRequest
from crispml.services.lake.service import LakeService, ListObjectsV2Request
from crispml.services.training.entities import Channel, ChannelLineage, PinnedFile
from crispml.services.training.errors import ValidationException
from crispml.services.training.specs import base_content_type

if TYPE_CHECKING:
    import pyarrow as pa

    from crispml.services.catalog.service import Table
    from crispml.spine.operations import Service

#: At most this many objects in one channel.
MAX_FILES = 100_000


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("lake://"):].partition("/")
    return bucket, key


def list_prefix(service: Service, ctx: CallContext, uri: str) -> list[PinnedFile]:
    """Every object whose key starts with ``uri``'s key (folders' marker objects left out)."""
    bucket, prefix = split_uri(uri)
    lake = service.peer(LakeService)
    files: list[PinnedFile] = []
    token: str | None = None
    while True:
        page = lake.list_objects_v2(ctx, ListObjectsV2Request(bucket=bucket, prefix=prefix, continuation_token=token))
        files += [PinnedFile(uri=f"lake://{bucket}/{o.key}", e_tag=o.etag, size=o.size)
                  for o in page.contents if not o.key.endswith("/")]
        if len(files) > MAX_FILES:
            raise ValidationException(f"{uri} holds more than {MAX_FILES:,} objects; narrow the prefix")
        token = page.next_continuation_token
        if not page.is_truncated or not token:
            return files


def pin(service: Service, ctx: CallContext, channel: Channel) -> ChannelLineage:
    """What ``channel`` reads, as of now (see the module docstring)."""
    name = channel.channel_name
    source = channel.data_source
    if source.s3_data_source is not None:
        s3 = source.s3_data_source
        if s3.s3_data_type == "ManifestFile":
            files = _manifest(service, ctx, s3.s3_uri)
        else:
            files = list_prefix(service, ctx, s3.s3_uri)
        if not files:
            raise ValidationException(f"channel {name!r} is empty: no objects under {s3.s3_uri}")
        return ChannelLineage(channel_name=name, source=s3.s3_uri, files=files)
    spec = source.catalog_data_source
    assert spec is not None
    catalog = service.peer(CatalogService)
    table = catalog.get_table(ctx, TableRequest(database_name=spec.database_name, name=spec.table_name)).table
    _check_columns(name, table, spec.label_column, spec.columns)
    qualified = f"{spec.database_name}.{spec.table_name}"
    if table.is_iceberg:
        scan = catalog.plan_scan(ctx, spec.database_name, spec.table_name, snapshot_id=spec.snapshot_id)
        rows = sum(f.record_count for f in scan.files)
        if scan.snapshot_id is None or (rows == 0 and not scan.has_deletes):
            raise ValidationException(f"channel {name!r} is empty: table {qualified} has no rows")
        return ChannelLineage(channel_name=name, source=f"table/{qualified}", snapshot_id=scan.snapshot_id,
                              files=[PinnedFile(uri=f.uri, e_tag="", size=f.size_bytes) for f in scan.files],
                              rows=None if scan.has_deletes else rows)
    if spec.snapshot_id is not None:
        raise ValidationException(f"channel {name!r}: table {qualified} is external; SnapshotId is for managed "
                                  "(Iceberg) tables")
    files = []
    for location in _locations(service, ctx, table):
        files += list_prefix(service, ctx, location)
    files = [f for f in files if not Path(split_uri(f.uri)[1]).name.startswith(("_", "."))]
    if not files:
        raise ValidationException(f"channel {name!r} is empty: table {qualified} has no files")
    return ChannelLineage(channel_name=name, source=f"table/{qualified}", files=files)


def _check_columns(channel: str, table: Table, label: str | None, columns: list[str] | None) -> None:
    known = [c.name for c in table.storage_descriptor.columns] + [k.name for k in table.partition_keys]
    wanted = ([label] if label else []) + list(columns or [])
    missing = [c for c in wanted if c.lower() not in {k.lower() for k in known}]
    if missing:
        raise ValidationException(
            f"channel {channel!r}: table {table.database_name}.{table.name} has no column "
            f"{', '.join(repr(m) for m in missing)} (columns: {', '.join(known)})")


def _locations(service: Service, ctx: CallContext, table: Table) -> list[str]:
    """The folders an external table's files are in: its partitions' locations, or its own."""
    if not table.partition_keys:
        location = table.storage_descriptor.location
        return [location] if location else []
    catalog = service.peer(CatalogService)
    locations: list[str] = []
    token: str | None = None
    while True:
        page = catalog.get_partitions(ctx, GetPartitionsRequest(database_name=table.database_name,
                                                                table_name=table.name, next_token=token))
        locations += [p.storage_descriptor.location for p in page.partitions if p.storage_descriptor.location]
        token = page.next_token
        if not token:
            return [loc if loc.endswith("/") else loc + "/" for loc in locations]


def _manifest(service: Service, ctx: CallContext, uri: str) -> list[PinnedFile]:
    """SageMaker's manifest file: ``[{"prefix": "s3://bucket/p/"}, "key-1", "key-2", …]``."""
    fs = service.peer(LakeService).filesystem(ctx)
    try:
        entries = json.loads(fs.cat_file(uri))
        base = entries[0]["prefix"]
        names = [str(e) for e in entries[1:]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ValidationException(
            f"{uri} is not a manifest file ([{{\"prefix\": \"s3://bucket/prefix/\"}}, \"relative/key\", …])"
        ) from exc
    base = "lake://" + base.split("://", 1)[1] if "://" in base else base
    files = []
    for name in names:
        info = fs.info(base + name)
        files.append(PinnedFile(uri=base + name, e_tag=str(info.get("ETag", "")), size=int(info.get("size", 0))))
    return files


# In the job's worker: the files of each channel --------------------------------------------------------------


def materialize(service: Service, ctx: CallContext, channel: Channel, pinned: ChannelLineage, folder: Path,
                mode: str) -> int:
    """Put ``channel``'s pinned data under ``folder``; returns the bytes copied (0 when linked)."""
    folder.mkdir(parents=True, exist_ok=True)
    if channel.data_source.catalog_data_source is not None:
        return _write_table(service, ctx, channel, pinned, folder)
    lake = service.peer(LakeService)
    s3 = channel.data_source.s3_data_source
    if s3 is not None and s3.s3_data_type == "ManifestFile":  # files land relative to their common folder
        source = os.path.commonpath([f.uri.rsplit("/", 1)[0] for f in pinned.files]).replace(":/", "://", 1) + "/"
    else:
        source = pinned.source if pinned.source.endswith("/") else pinned.source.rsplit("/", 1)[0] + "/"
    targets = [folder / _relative(f.uri, source) for f in pinned.files]
    if mode == "FastFile":
        real = lake.readable_paths(ctx, [split_uri(f.uri) for f in pinned.files])
        if all(isinstance(p, str) for p in real):
            for pinned_file, path, target in zip(pinned.files, real, targets, strict=True):
                assert isinstance(path, str)
                _check_size(pinned_file, os.path.getsize(path))
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(path, target)
            return 0
    fs = lake.filesystem(ctx)
    copied = 0
    for pinned_file, target in zip(pinned.files, targets, strict=True):
        info = fs.info(pinned_file.uri)
        etag = str(info.get("ETag", ""))
        if pinned_file.e_tag and etag and etag != pinned_file.e_tag:
            raise ValidationException(f"{pinned_file.uri} changed since the job was pinned (ETag "
                                      f"{pinned_file.e_tag} → {etag}); start a new job to train on it")
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(pinned_file.uri, str(target))
        copied += pinned_file.size
    return copied


def _relative(uri: str, source: str) -> str:
    rest = uri[len(source):] if uri.startswith(source) else uri.rsplit("/", 1)[-1]
    return rest or uri.rsplit("/", 1)[-1]


def _check_size(pinned: PinnedFile, size: int) -> None:
    if size != pinned.size:
        raise ValidationException(f"{pinned.uri} changed since the job was pinned ({pinned.size} → {size} bytes); "
                                  "start a new job to train on it")


def _write_table(service: Service, ctx: CallContext, channel: Channel, pinned: ChannelLineage, folder: Path) -> int:
    spec = channel.data_source.catalog_data_source
    assert spec is not None
    rows = table_rows(service, ctx, channel, pinned)
    return write_rows(rows, folder, base_content_type(channel.content_type) or "text/csv",
                      labelled=spec.label_column is not None)


def table_rows(service: Service, ctx: CallContext, channel: Channel, pinned: ChannelLineage) -> pa.Table:
    """A table channel's pinned rows, its label (if any) first, then its feature columns."""
    spec = channel.data_source.catalog_data_source
    assert spec is not None
    catalog = service.peer(CatalogService)
    table = catalog.get_table(ctx, TableRequest(database_name=spec.database_name, name=spec.table_name)).table
    if pinned.snapshot_id is not None:
        rows = catalog.plan_scan(ctx, spec.database_name, spec.table_name, snapshot_id=pinned.snapshot_id).to_arrow()
    else:
        rows = _read_external(service, ctx, table, pinned)
    rows = _select(rows, spec.label_column, spec.columns)
    pinned.rows = rows.num_rows
    return rows


def prefix_rows(service: Service, ctx: CallContext, channel: Channel, pinned: ChannelLineage) -> pa.Table:
    """A lake-prefix channel's pinned files as rows: CSV without a header (columns ``_0``, ``_1``, … with the
    label first, as SageMaker's built-ins read it) or Parquet."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    kind = base_content_type(channel.content_type) or "text/csv"
    if kind not in ("text/csv", "application/x-parquet"):
        raise ValidationException(f"channel {channel.channel_name!r}: rows are read from text/csv or "
                                  f"application/x-parquet files, not {kind}")
    fs = service.peer(LakeService).filesystem(ctx)
    parts = []
    for f in pinned.files:
        with fs.open(f.uri, "rb") as handle:
            try:
                if kind == "text/csv":
                    data = pcsv.read_csv(handle, read_options=pcsv.ReadOptions(autogenerate_column_names=True))
                    data = data.rename_columns([f"_{i}" for i in range(data.num_columns)])
                else:
                    data = pq.read_table(handle)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ValidationException(f"{f.uri} cannot be read as {kind}: {exc}") from exc
        parts.append(data)
    try:
        rows = pa.concat_tables(parts, promote_options="default")
    except pa.ArrowInvalid as exc:
        raise ValidationException(f"channel {channel.channel_name!r}: its files do not share columns: {exc}") from exc
    pinned.rows = rows.num_rows
    return rows


def _select(rows: pa.Table, label: str | None, columns: list[str] | None) -> pa.Table:
    by_lower = {name.lower(): name for name in rows.column_names}
    chosen = [by_lower[c.lower()] for c in columns] if columns else [
        n for n in rows.column_names if not label or n.lower() != label.lower()]
    first = [by_lower[label.lower()]] if label else []
    order = first + [c for c in chosen if not label or c.lower() != label.lower()]
    return rows.select(order)


def _read_external(service: Service, ctx: CallContext, table: Table, pinned: ChannelLineage) -> pa.Table:
    """The rows of an external table's pinned files, typed as the catalog says (partition keys added)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    schema = service.peer(CatalogService).arrow_schema(table)
    columns = [c.name for c in table.storage_descriptor.columns]
    keys = [k.name for k in table.partition_keys]
    fmt = table.format or "csv"
    fs = service.peer(LakeService).filesystem(ctx)
    parts = []
    for f in pinned.files:
        info = fs.info(f.uri)
        if f.e_tag and str(info.get("ETag", "")) not in ("", f.e_tag):
            raise ValidationException(f"{f.uri} changed since the job was pinned; start a new job to train on it")
        with fs.open(f.uri, "rb") as handle:
            try:
                if fmt == "parquet":
                    data = pq.read_table(handle)
                elif fmt == "json":
                    data = pjson.read_json(handle)
                else:
                    options = table.csv_options
                    data = pcsv.read_csv(handle, read_options=pcsv.ReadOptions(
                        column_names=columns, skip_rows=int(options["skip"])),
                        parse_options=pcsv.ParseOptions(delimiter=options["delim"], quote_char=options["quote"]),
                        convert_options=pcsv.ConvertOptions(
                            column_types={c: schema.field(c).type for c in columns},
                            null_values=["", "\\N"], strings_can_be_null=True))
            except (pa.ArrowInvalid, OSError) as exc:
                raise ValidationException(f"{f.uri} cannot be read as {fmt} for table "
                                          f"{table.database_name}.{table.name}: {exc}") from exc
        by_lower = {n.lower(): n for n in data.column_names}
        arrays = []
        for c in columns:
            source = by_lower.get(c.lower())
            target = schema.field(c).type
            arrays.append(data.column(source).cast(target, safe=False) if source else pa.nulls(data.num_rows, target))
        values = _partition_values(f.uri, keys)
        for k in keys:
            target = schema.field(k).type
            value = values.get(k)
            arrays.append(pa.array([value] * data.num_rows, pa.string()).cast(target, safe=False))
        parts.append(pa.table(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _partition_values(uri: str, keys: list[str]) -> dict[str, str | None]:
    from urllib.parse import unquote

    values: dict[str, str | None] = {}
    for segment in uri.split("/"):
        key, sep, value = segment.partition("=")
        if sep and key in keys:
            values[key] = None if value == "__HIVE_DEFAULT_PARTITION__" else unquote(value)
    return values


def write_rows(rows: pa.Table, folder: Path, content_type: str, *, labelled: bool) -> int:
    """``rows`` as one file of ``content_type`` in ``folder`` (label first, when ``labelled``); its size."""
    import pyarrow.parquet as pq

    if content_type == "application/x-parquet":
        target = folder / "part-00000.parquet"
        pq.write_table(rows, target)
    elif content_type == "text/csv":
        target = folder / "part-00000.csv"
        with target.open("w", newline="") as out:  # quoted only where needed, as SageMaker's readers expect
            writer = csv.writer(out, lineterminator="\n")
            for batch in rows.to_batches(max_chunksize=65_536):
                writer.writerows(zip(*(column.to_pylist() for column in batch.columns), strict=True))
    elif content_type == "application/jsonlines":
        target = folder / "part-00000.jsonl"
        with target.open("w") as out:
            for record in rows.to_pylist():
                out.write(json.dumps(record, default=str) + "\n")
    elif content_type == "text/libsvm":
        target = folder / "part-00000.libsvm"
        _write_libsvm(rows, target, labelled=labelled)
    else:
        raise ValidationException(f"a table channel cannot be written as {content_type}; use text/csv, "
                                  "application/x-parquet, application/jsonlines or text/libsvm")
    return target.stat().st_size


def _write_libsvm(rows: pa.Table, target: Path, *, labelled: bool) -> None:
    columns = [rows.column(i).to_pylist() for i in range(rows.num_columns)]
    with target.open("w") as out:
        for r in range(rows.num_rows):
            values: list[Any] = [col[r] for col in columns]
            label = values.pop(0) if labelled else 0
            features = " ".join(f"{i + 1}:{v}" for i, v in enumerate(values) if v not in (None, 0, 0.0))
            out.write(f"{label} {features}".rstrip() + "\n")
