"""The demo's phases, in CRISP-DM order. Each takes the shared state, does its
work through the SDK (so every step is authorized and audited), prints what it
did, and returns a report section. Later capabilities add phases here.
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from crispml.core.errors import NotFound
from crispml.demo.dataset import Dataset
from crispml.demo.report import Section
from crispml.render import table_of
from crispml.sdk.client import Client
from crispml.sdk.queries import QueryRun, run_query

RAW_BUCKET = "demo-raw"


@dataclass
class DemoState:
    client: Client
    console: Console
    dataset: Dataset
    started: datetime
    facts: dict[str, Any] = field(default_factory=dict)


class _ProgressReader:
    """A file wrapper that advances a progress bar as PutObject streams it."""

    def __init__(self, handle: Any, progress: Progress, task: Any) -> None:
        self._handle, self._progress, self._task = handle, progress, task

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(size)
        self._progress.advance(self._task, len(data))
        return data


def data_understanding_ingest(state: DemoState) -> Section:
    """Data in the lake (S3): create a bucket, upload the raw data, list it, read it back."""
    lake, out, ds = state.client.lake, state.console, state.dataset
    try:
        lake.head_bucket(bucket=RAW_BUCKET)
        out.print(f"  bucket [bold]{RAW_BUCKET}[/bold] exists; reusing it")
    except NotFound:
        lake.create_bucket(bucket=RAW_BUCKET)
        out.print(f"  created bucket [bold]{RAW_BUCKET}[/bold]")
    size = ds.file.stat().st_size if hasattr(ds.file, "stat") else len(ds.file.read_bytes())
    with Progress(TextColumn("  uploading {task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=out, transient=True) as progress, ds.file.open("rb") as handle:
        task = progress.add_task(ds.file.name, total=size)
        put = lake.put_object(
            bucket=RAW_BUCKET, key=ds.key, body=_ProgressReader(handle, progress, task),
            metadata={"source": "palmerpenguins", "license": ds.license, "target": ds.target},
            tagging="dataset=penguins&stage=raw",
        )
    out.print(f"  uploaded lake://{RAW_BUCKET}/{ds.key} ({put.size:,} bytes, ETag {put.etag})")
    listing = lake.list_objects_v2(bucket=RAW_BUCKET)
    out.print(table_of([{"key": o.key, "size": o.size, "storage_class": o.storage_class,
                         "last_modified": o.last_modified} for o in listing.contents],
                       title=f"lake://{RAW_BUCKET}/"))
    frame = pd.read_csv(f"lake://{RAW_BUCKET}/{ds.key}", storage_options=state.client.storage_options)
    missing = {c: int(n) for c, n in frame.isna().sum().items() if n}
    target_counts = {("missing" if pd.isna(k) else str(k)): int(v)
                     for k, v in frame[ds.target].value_counts(dropna=False).items()}
    kinds = {c: ("numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical") for c in frame.columns}
    out.print(f"  read back through lake:// with pandas: {frame.shape[0]} rows × {frame.shape[1]} columns; "
              f"{sum(missing.values())} missing values; target '{ds.target}': {target_counts}")
    state.facts.update(rows=frame.shape[0], columns=frame.shape[1], missing=sum(missing.values()))
    return Section(
        title="1 · Data in the lake (S3)",
        text=f"The raw {ds.name} data set ({ds.source}, {ds.license}) was uploaded to "
             f"lake://{RAW_BUCKET}/{ds.key} and read back through the lake:// filesystem.",
        tables=[
            ("Objects in lake://demo-raw/", [{"key": o.key, "size": o.size, "etag": o.etag,
                                              "storage_class": o.storage_class} for o in listing.contents]),
            ("Columns", [{"column": c, "kind": k, "missing": missing.get(c, 0)} for c, k in kinds.items()]),
            ("First rows", frame.head(5).astype(object).where(frame.head(5).notna(), None).to_dict("records")),
        ],
        bars=[(f"Target '{ds.target}' (including missing)", {k: float(v) for k, v in target_counts.items()}),
              ("Missing values per column", {k: float(v) for k, v in missing.items()})],
    )


CRAWLER = "demo-raw-crawler"
DATABASE = "demo"


def data_understanding_catalog(state: DemoState) -> Section:
    """The catalog (Glue): a crawler discovers the raw data's schema and registers a table."""
    catalog, out = state.client.catalog, state.console
    try:
        catalog.get_crawler(name=CRAWLER)
        out.print(f"  crawler [bold]{CRAWLER}[/bold] exists; running it again")
    except NotFound:
        catalog.create_crawler(
            name=CRAWLER, role="demo", database_name=DATABASE,
            targets={"S3Targets": [{"Path": f"lake://{RAW_BUCKET}/{state.dataset.name}/"}]},
        )
        out.print(f"  created crawler [bold]{CRAWLER}[/bold] over lake://{RAW_BUCKET}/{state.dataset.name}/")
    catalog.start_crawler(name=CRAWLER)
    crawler = catalog.get_crawler(name=CRAWLER).crawler
    metrics = catalog.get_crawler_metrics(crawler_name_list=[CRAWLER]).crawler_metrics_list[0]
    out.print(f"  crawl {crawler.last_crawl.status.lower() if crawler.last_crawl else 'done'}: "
              f"{metrics.tables_created} table(s) created, {metrics.tables_updated} updated")
    table = catalog.get_table(database_name=DATABASE, name=state.dataset.name).table
    columns = [{"column": c.name, "type": c.type} for c in table.storage_descriptor.columns]
    out.print(table_of(columns, title=f"{DATABASE}.{table.name} ({table.parameters.get('classification')}, "
                                       f"{table.storage_descriptor.location})"))
    state.facts.update(table=f"{DATABASE}.{table.name}")
    return Section(
        title="2 · The catalog (Glue crawler)",
        text=f"The crawler {CRAWLER} read a sample of lake://{RAW_BUCKET}/{state.dataset.name}/ and registered "
             f"the table {DATABASE}.{table.name} with the types it inferred (NA counts as missing, not text).",
        tables=[("Columns of " + f"{DATABASE}.{table.name}", columns)],
    )


CURATED_BUCKET = "demo-curated"
CLEAN_TABLE = "penguins_clean"


def _sql(state: DemoState, sql: str) -> QueryRun:
    """Run one statement through the query service (Athena) and wait for it."""
    return run_query(state.client, sql, database=DATABASE)


def data_preparation_sql(state: DemoState) -> Section:
    """SQL over the lake (Athena): explore the crawled table in place, then write a cleaned Parquet copy (CTAS)."""
    out, lake, catalog = state.console, state.client.lake, state.client.catalog
    table = state.facts.get("table", f"{DATABASE}.{state.dataset.name}")
    columns = [c.name for c in catalog.get_table(database_name=DATABASE, name=state.dataset.name)
               .table.storage_descriptor.columns]
    counts_sql = (f"SELECT species, island, count(*) AS penguins FROM {table} "
                  "GROUP BY species, island ORDER BY species, island")
    counts_run = _sql(state, counts_sql)
    counts, stats = counts_run.records(), counts_run.statistics
    out.print(table_of(counts, title=f"penguins per species and island ({stats.data_scanned_in_bytes:,} bytes "
                                     f"scanned, {stats.engine_execution_time_in_millis} ms)"))
    # the raw file writes a missing value as "NA": Athena reads it as NULL in a typed column, but keeps the
    # string "NA" in a string column (only an empty field or \N is NULL), so the SQL says what is missing
    present = {c: f"NULLIF(CAST(\"{c}\" AS varchar), 'NA')" for c in columns}
    missing_sql = "SELECT " + ", ".join(f'count(*) - count({present[c]}) AS "{c}"' for c in columns) + f" FROM {table}"
    (missing,) = _sql(state, missing_sql).records()
    missing = {c: int(v) for c, v in missing.items() if int(v)}
    out.print(f"  missing values per column (SQL): {missing}")

    with contextlib.suppress(NotFound):  # a re-run replaces the cleaned table (DROP TABLE + its files, in Athena)
        catalog.delete_table(database_name=DATABASE, name=CLEAN_TABLE)
    try:
        lake.head_bucket(bucket=CURATED_BUCKET)
        if state.client.fs.exists(f"{CURATED_BUCKET}/{CLEAN_TABLE}"):
            state.client.fs.rm(f"{CURATED_BUCKET}/{CLEAN_TABLE}", recursive=True)
    except NotFound:
        lake.create_bucket(bucket=CURATED_BUCKET)
    kept = [c for c in columns if c != "species"] + ["species"]  # Athena: partition columns come last
    ctas = (f"CREATE TABLE {DATABASE}.{CLEAN_TABLE} WITH (format = 'PARQUET', "
            f"external_location = 'lake://{CURATED_BUCKET}/{CLEAN_TABLE}/', partitioned_by = ARRAY['species']) "
            f"AS SELECT {', '.join(kept)} FROM {table} WHERE " + " AND ".join(f"{present[c]} IS NOT NULL"
                                                                               for c in columns))
    clean_rows = _sql(state, ctas).update_count
    out.print(f"  CTAS wrote {clean_rows} complete rows to lake://{CURATED_BUCKET}/{CLEAN_TABLE}/ as Parquet, "
              f"partitioned by species, and registered {DATABASE}.{CLEAN_TABLE}")
    pruned_run = _sql(state, f"SELECT count(*) AS adelie FROM {DATABASE}.{CLEAN_TABLE} WHERE species = 'Adelie'")
    pruned, pruned_stats = pruned_run.records(), pruned_run.statistics
    all_stats = _sql(state, f"SELECT count(*) AS penguins FROM {DATABASE}.{CLEAN_TABLE}").statistics
    out.print(f"  partition pruning: counting Adelie penguins scanned {pruned_stats.data_scanned_in_bytes:,} of "
              f"{all_stats.data_scanned_in_bytes:,} bytes ({pruned[0]['adelie']} penguins)")
    state.facts.update(clean_table=f"{DATABASE}.{CLEAN_TABLE}", clean_rows=clean_rows)
    return Section(
        title="3 · SQL over the lake (Athena)",
        text=f"Queries ran over {table}'s CSV file in place (schema-on-read, no load step). A CTAS statement "
             f"wrote the {clean_rows} complete rows as Parquet partitioned by species to "
             f"lake://{CURATED_BUCKET}/{CLEAN_TABLE}/ and registered {DATABASE}.{CLEAN_TABLE}; a filter on the "
             f"partition key then read {pruned_stats.data_scanned_in_bytes:,} of "
             f"{all_stats.data_scanned_in_bytes:,} bytes.",
        tables=[("Penguins per species and island", counts),
                ("SQL", [{"statement": counts_sql}, {"statement": ctas}])],
        bars=[("Missing values per column (SQL)", {k: float(v) for k, v in missing.items()})],
    )


EVENTS_BUCKET = "demo-events"
EVENTS_STREAM = "demo-sightings"
EVENTS_DELIVERY = "demo-sightings-to-lake"
EVENTS_TABLE = "sightings"
EVENTS_CRAWLER = "demo-events-crawler"
EVENT_COUNT = 1_000
SIGHTING_COLUMNS = [("event_id", "bigint"), ("species", "string"), ("island", "string"),
                    ("body_mass_g", "double"), ("seen_at", "timestamp")]


def _sightings(count: int, start: datetime) -> list[dict[str, Any]]:
    """Deterministic synthetic field sightings of penguins, one JSON event each."""
    rng = random.Random(2014)
    kinds = [("Adelie", ("Torgersen", "Biscoe", "Dream"), 3700.0), ("Chinstrap", ("Dream",), 3730.0),
             ("Gentoo", ("Biscoe",), 5080.0)]
    events = []
    for i in range(count):
        species, islands, mass = kinds[rng.randrange(3)]
        events.append({"event_id": i, "species": species, "island": rng.choice(islands),
                       "body_mass_g": round(rng.gauss(mass, 400.0), 1),
                       "seen_at": (start + timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    return events


def _fresh_events_home(state: DemoState) -> None:
    """A re-run starts the streaming phase from scratch: no stream, delivery stream, files or tables left."""
    client = state.client
    with contextlib.suppress(NotFound):
        client.firehose.delete_delivery_stream(delivery_stream_name=EVENTS_DELIVERY, allow_force_delete=True)
    with contextlib.suppress(NotFound):
        client.streams.delete_stream(stream_name=EVENTS_STREAM, enforce_consumer_deletion=True)
    with contextlib.suppress(NotFound):
        client.catalog.delete_table(database_name=DATABASE, name=EVENTS_TABLE)
    with contextlib.suppress(NotFound):
        client.catalog.delete_crawler(name=EVENTS_CRAWLER)
    try:
        client.lake.head_bucket(bucket=EVENTS_BUCKET)
        if client.fs.exists(EVENTS_BUCKET) and client.fs.ls(EVENTS_BUCKET):
            client.fs.rm(f"{EVENTS_BUCKET}/", recursive=True)
    except NotFound:
        client.lake.create_bucket(bucket=EVENTS_BUCKET)


def data_understanding_streams(state: DemoState) -> Section:
    """Streaming ingest (Kinesis → Firehose): events through a stream and a delivery stream into the lake as
    Parquet, then crawled and queried."""
    client, out = state.client, state.console
    _fresh_events_home(state)
    client.catalog.create_table(database_name=DATABASE, table_input={
        "Name": EVENTS_TABLE, "Parameters": {"classification": "parquet"},
        "StorageDescriptor": {"Columns": [{"Name": n, "Type": t} for n, t in SIGHTING_COLUMNS],
                              "Location": f"lake://{EVENTS_BUCKET}/{EVENTS_TABLE}/"}})
    client.streams.create_stream(stream_name=EVENTS_STREAM, shard_count=2)
    client.firehose.create_delivery_stream(
        delivery_stream_name=EVENTS_DELIVERY, delivery_stream_type="KinesisStreamAsSource",
        kinesis_stream_source_configuration={"KinesisStreamARN": f"crn:crispml:streams:::stream/{EVENTS_STREAM}"},
        extended_s3_destination_configuration={
            "BucketARN": f"lake://{EVENTS_BUCKET}", "ErrorOutputPrefix": "errors/",
            "Prefix": f"{EVENTS_TABLE}/day=!{{timestamp:yyyy-MM-dd}}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"DatabaseName": DATABASE, "TableName": EVENTS_TABLE},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}})
    out.print(f"  stream [bold]{EVENTS_STREAM}[/bold] (2 shards) → delivery stream [bold]{EVENTS_DELIVERY}[/bold] "
              f"→ Parquet in lake://{EVENTS_BUCKET}/{EVENTS_TABLE}/ with the columns of {DATABASE}.{EVENTS_TABLE}")

    events = _sightings(EVENT_COUNT, state.started)
    per_shard: dict[str, int] = {}
    with Progress(TextColumn("  producing {task.description}"), BarColumn(), TextColumn("{task.completed:,}"),
                  console=out, transient=True) as progress:
        task = progress.add_task("sightings", total=len(events))
        for first in range(0, len(events), 100):
            batch = events[first:first + 100]
            put = client.streams.put_records(stream_name=EVENTS_STREAM, records=[
                {"Data": json.dumps(e).encode(), "PartitionKey": e["species"]} for e in batch])
            for entry in put.records:
                if entry.shard_id:
                    per_shard[entry.shard_id] = per_shard.get(entry.shard_id, 0) + 1
            progress.advance(task, len(batch))
    out.print(f"  put {len(events):,} events with PutRecords, partition key = species: "
              f"{', '.join(f'{n} on {s}' for s, n in sorted(per_shard.items()))}")
    (delivery,) = client.firehose.flush_delivery_stream(delivery_stream_name=EVENTS_DELIVERY, force=True).deliveries
    objects = [o for o in client.lake.list_objects_v2(bucket=EVENTS_BUCKET).contents]
    out.print(f"  the delivery stream read the stream from TRIM_HORIZON and delivered {delivery.records_delivered:,} "
              f"records in {len(objects)} Parquet object(s): " + ", ".join(o.key for o in objects[:3]))

    client.catalog.create_crawler(name=EVENTS_CRAWLER, role="demo", database_name=DATABASE,
                                  targets={"S3Targets": [{"Path": f"lake://{EVENTS_BUCKET}/{EVENTS_TABLE}/"}]})
    client.catalog.start_crawler(name=EVENTS_CRAWLER)
    table = client.catalog.get_table(database_name=DATABASE, name=EVENTS_TABLE).table
    days = client.catalog.get_partitions(database_name=DATABASE, table_name=EVENTS_TABLE).partitions
    out.print(f"  crawler {EVENTS_CRAWLER} registered {len(days)} partition(s) of {DATABASE}.{EVENTS_TABLE} by "
              f"{', '.join(k.name for k in table.partition_keys)}")
    run = _sql(state, "SELECT species, count(*) AS sightings, CAST(round(avg(body_mass_g)) AS bigint) AS mean_mass_g "
                      f"FROM {EVENTS_TABLE} GROUP BY species ORDER BY species")
    rows = run.records()
    out.print(table_of(rows, title=f"{DATABASE}.{EVENTS_TABLE}: sightings per species (SQL over the Parquet)"))
    state.facts.update(events_delivered=delivery.records_delivered,
                       events_counted=sum(int(r["sightings"]) for r in rows))
    return Section(
        title="4 · Streaming ingest (Kinesis → Firehose)",
        text=f"{len(events):,} synthetic sightings went through the stream {EVENTS_STREAM} (2 shards, partition key "
             f"= species) and the delivery stream {EVENTS_DELIVERY}, which converted them to Parquet with the "
             f"columns of {DATABASE}.{EVENTS_TABLE}; a crawler added the day partitions and SQL counted them.",
        tables=[("Sightings per species", rows),
                ("Delivered objects", [{"key": o.key, "size": o.size} for o in objects])],
        bars=[("Sightings per species", {r["species"]: float(r["sightings"]) for r in rows}),
              ("Records per shard", {k: float(v) for k, v in sorted(per_shard.items())})],
    )


PHASES = [data_understanding_ingest, data_understanding_catalog, data_preparation_sql, data_understanding_streams]
