"""The demo's phases, in CRISP-DM order. Each takes the shared state, does its
work through the SDK (so every step is authorized and audited), prints what it
did, and returns a report section. Later capabilities add phases here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from crispml.cli.render import table_of
from crispml.core.errors import NotFound
from crispml.demo.dataset import Dataset
from crispml.demo.report import Section
from crispml.sdk.client import Client

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


PHASES = [data_understanding_ingest, data_understanding_catalog]
