"""Firehose delivery latency with a 1 s buffering interval, on the real clock.

``python benchmarks/firehose.py`` creates a delivery stream (IntervalInSeconds
1, SizeInMBs 5: the interval decides) in a fresh home (SQLite metadata DB,
file:// lake), then puts N small JSON records one by one with ``PutRecord``, a
short gap apart. Deliveries run as they would under the server's control loop
— a background thread calling the service's ``deliver_due()`` every
``--tick`` seconds — and inside PutRecord when a put finds its buffer due. A
watcher thread lists the destination prefix with ``ListObjectsV2`` every 10 ms
and reads each new object. A record's latency is the time from its PutRecord
call to the first listing that shows the object holding it. It prints the
median, p95 and max over the records, and how many objects were written.

The floor is the interval itself: a record that opens a buffer waits about
1 s, one that arrives just before the buffer is due hardly waits; so a median
near half the interval and a p95 a little over it are what the design gives.
It compares nothing and asserts nothing: it reports. ``--quick`` runs a small
version; ``--output json`` prints the figures as JSON on stdout (progress goes
to stderr). Everything is written under a fresh folder in ``--workdir``
(default ``/tmp``), removed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import crispml
from crispml.sdk.client import Client

BUCKET = "bench-landing"
STREAM = "bench-latency"
PREFIX = "latency/"


def _deliverer(client: Client, tick: float, stop: threading.Event) -> None:
    """The control loop's part: deliver what is due, every ``tick`` seconds."""
    firehose: Any = client.platform.service("firehose")
    while not stop.is_set():
        firehose.deliver_due()
        stop.wait(tick)


def _watcher(client: Client, seen: dict[int, float], stop: threading.Event) -> None:
    """Note when each record first shows up in a listed object."""
    known: set[str] = set()
    while not stop.is_set():
        page = client.lake.list_objects_v2(bucket=BUCKET, prefix=PREFIX)
        now = time.monotonic()
        for item in page.contents:
            if item.key in known:
                continue
            known.add(item.key)
            body = client.lake.get_object(bucket=BUCKET, key=item.key).body.read()
            for line in body.splitlines():
                seen.setdefault(json.loads(line)["i"], now)
        stop.wait(0.01)


def measure(work: Path, records: int, gap: float, tick: float, err: Console) -> dict[str, Any]:
    client = crispml.connect(home=str(work / "home"))
    try:
        client.lake.create_bucket(bucket=BUCKET)
        client.firehose.create_delivery_stream(delivery_stream_name=STREAM, extended_s3_destination_configuration={
            "BucketARN": f"lake://{BUCKET}", "Prefix": PREFIX,
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 1}})
        stop, seen, put_at = threading.Event(), {}, {}
        threads = [threading.Thread(target=_deliverer, args=(client, tick, stop), daemon=True),
                   threading.Thread(target=_watcher, args=(client, seen, stop), daemon=True)]
        for thread in threads:
            thread.start()
        err.print(f"putting {records} records, {gap * 1000:.0f} ms apart …")
        for i in range(records):
            put_at[i] = time.monotonic()
            client.firehose.put_record(delivery_stream_name=STREAM, record={"Data": json.dumps({"i": i})})
            time.sleep(gap)
        deadline = time.monotonic() + 30
        while len(seen) < records and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        latencies = sorted(seen[i] - put_at[i] for i in put_at if i in seen)
        objects = len(client.lake.list_objects_v2(bucket=BUCKET, prefix=PREFIX).contents)
    finally:
        client.close()
    if not latencies:
        return {"records": records, "delivered": 0}
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return {"records": records, "delivered": len(latencies), "objects": objects, "interval_s": 1.0,
            "tick_s": tick, "gap_s": gap, "median_s": statistics.median(latencies), "p95_s": p95,
            "max_s": latencies[-1], "min_s": latencies[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, help="records to put (default 300; 60 with --quick)")
    parser.add_argument("--gap", type=float, default=0.02, help="seconds between puts (default 0.02)")
    parser.add_argument("--tick", type=float, default=0.1, help="seconds between deliver_due() calls (default 0.1)")
    parser.add_argument("--quick", action="store_true", help="a small run (a few seconds)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="where the temporary home goes")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    records = args.records or (60 if args.quick else 300)
    err = Console(stderr=True)
    work = Path(tempfile.mkdtemp(prefix="crispml-bench-firehose-", dir=args.workdir))
    try:
        figures = measure(work, records, args.gap, args.tick, err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.output == "json":
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return 0
    console = Console() if sys.stdout.isatty() else Console(width=120)
    table = Table(title="Firehose delivery latency, IntervalInSeconds=1 (PutRecord → object listable)",
                  title_justify="left")
    for column in ("records", "delivered", "objects", "median", "p95", "max"):
        table.add_column(column, justify="right")
    if figures.get("delivered"):
        table.add_row(str(figures["records"]), str(figures["delivered"]), str(figures["objects"]),
                      f"{figures['median_s']:.3f} s", f"{figures['p95_s']:.3f} s", f"{figures['max_s']:.3f} s")
    else:
        table.add_row(str(records), "0", "-", "-", "-", "-")
    console.print(table)
    console.print(f"[dim]deliver_due() every {args.tick} s in a background thread, puts {args.gap} s apart; "
                  "this compares nothing: the 1 s interval is the floor it shows.[/dim]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
