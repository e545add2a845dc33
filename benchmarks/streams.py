"""Streams throughput against raw SQLite inserts on the same disk, both measured in one run.

``python benchmarks/streams.py`` puts batches of 500 records of 200 bytes with
``PutRecords`` on streams of 1 and 4 shards — embedded (records in the home's
SQLite metadata DB) and on Redis Streams (``--redis``, default
redis://127.0.0.1:6379/0; skipped with a note if unreachable) — then reads them
all back with ``GetRecords`` (Limit 10,000), and measures Firehose's delivery
latency with a 1 s buffering interval (``benchmarks/firehose.py``'s measurement:
PutRecord to the object listable in the lake). In the same run it measures the
floor: the same rows inserted with Python's ``sqlite3`` ``executemany``, 500
per transaction, into a table of the same shape in a SQLite file on the same
disk with the metadata DB's pragmas (WAL, synchronous=NORMAL). It prints each
figure with its ratio to that floor (the aim for embedded puts is at least
0.5), a put's time per PutRecords call, and Kinesis's own per-shard limits for
reference: 1,000 records/s (or 1 MiB/s) written and 2 MiB/s read per shard.
The notes say which reply parser the Redis client uses (hiredis when installed).

Every PutRecords call goes through the whole path a user's call takes: request
validation, authorization, the put, and the audit record. Sides are
interleaved (order flipped every round) and each keeps its best pass, so a busy
moment on the machine hits all alike.

``--quick`` runs a small version in about 20 s. ``--output json`` prints the
figures as JSON on stdout (progress goes to stderr). Everything is written under
a fresh folder in ``--workdir`` (default ``/tmp``), removed at the end. It does
not measure PostgreSQL or concurrent producers; it asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import crispml
from crispml.core.errors import CrispmlError
from crispml.core.plugins import redact

#: The issue's aim for embedded PutRecords: at least this fraction of raw SQLite inserts.
AIM = 0.5
#: Kinesis's per-shard limits, for reference.
KINESIS_WRITE_RECORDS = 1_000
KINESIS_READ_BYTES = 2 * 1024 * 1024
BATCH = 500
RECORD = 200


@dataclass(frozen=True)
class Plan:
    batches: int = 200  # PutRecords calls per pass (x 500 records)
    repeat: int = 3


FULL = Plan()
QUICK = Plan(batches=60, repeat=2)


@dataclass
class Figure:
    """One measurement: records per second, the floor's rate, and seconds taken."""

    group: str
    name: str
    records_per_s: float
    seconds: float
    raw_per_s: float | None = None
    kinesis_per_s: float | None = None
    note: str = ""
    ms_per_call: float | None = None
    ratio: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.records_per_s / self.raw_per_s if self.raw_per_s else None


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def interleaved(passes: int, sides: list[Callable[[], Any]]) -> list[float]:
    """The fastest time of each side over ``passes`` rounds, order flipped every round."""
    times: list[list[float]] = [[] for _ in sides]
    for round_ in range(passes):
        order = list(range(len(sides)))
        for i in order if round_ % 2 == 0 else reversed(order):
            times[i].append(timed(sides[i]))
    return [min(t) for t in times]


class RawSqlite:
    """The floor: the stream's rows inserted with sqlite3's executemany, one transaction per batch."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE records (shard_key INTEGER NOT NULL, counter BIGINT NOT NULL, arrival_ms BIGINT NOT NULL,"
            " partition_key VARCHAR(256) NOT NULL, data BLOB NOT NULL, PRIMARY KEY (shard_key, counter))"
            " WITHOUT ROWID")
        self.counter = 0

    def put(self, batches: int, keys: list[str], payload: bytes) -> None:
        for _ in range(batches):
            now = int(time.time() * 1000)
            rows = [(1, self.counter + i, now, keys[i], payload) for i in range(BATCH)]
            self.counter += BATCH
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class Bench:
    def __init__(self, plan: Plan, client: Any, raw: RawSqlite, say: Callable[[str], None]) -> None:
        self.plan, self.client, self.raw, self.say = plan, client, raw, say
        self.streams = client.streams
        self.payload = os.urandom(RECORD)
        self.keys = [f"user-{i:05d}" for i in range(BATCH)]
        self.batch = [{"Data": self.payload, "PartitionKey": k} for k in self.keys]
        self.figures: list[Figure] = []
        self.written: dict[str, int] = {}
        self.costs: dict[str, float] = {}

    def stream(self, name: str, shards: int, store: str) -> str:
        self.streams.create_stream(stream_name=name, shard_count=shards, record_store=store)
        self.written[name] = 0
        return name

    def put(self, name: str) -> Callable[[], None]:
        def work() -> None:
            for _ in range(self.plan.batches):
                result = self.streams.put_records(stream_name=name, records=self.batch)
                if result.failed_record_count:
                    raise SystemExit(f"{result.failed_record_count} records failed on {name}; the figures are void")
            self.written[name] += self.plan.batches * BATCH
        return work

    def writes(self, targets: list[tuple[str, str, int]]) -> None:
        """PutRecords on each (label, stream, shards), interleaved with the raw floor."""
        count = self.plan.batches * BATCH
        self.say(f"put: {len(targets)} streams and raw sqlite3, {count:,} records each, best of {self.plan.repeat}")
        times = interleaved(self.plan.repeat, [lambda: self.raw.put(self.plan.batches, self.keys, self.payload)]
                            + [self.put(name) for _, name, _ in targets])
        raw_rate = count / times[0]
        calls = 200
        spine_s = min(timed(lambda: [self.streams.list_streams(limit=1) for _ in range(calls)]) for _ in range(3))
        self.costs = {"raw_batch_ms": 1000 * times[0] / self.plan.batches,
                      "put_records_ms": 1000 * min(times[1:]) / self.plan.batches,
                      "spine_call_ms": 1000 * spine_s / calls}
        self.figures.append(Figure("put", "raw sqlite3 executemany, 500 rows per transaction (the floor)",
                                   raw_rate, times[0]))
        for (label, _, shards), seconds in zip(targets, times[1:], strict=True):
            rate = count / seconds
            embedded = label.startswith("embedded")
            note = "" if not embedded or rate >= AIM * raw_rate else f"below the {AIM} aim"
            self.figures.append(Figure("put", f"PutRecords {label}, {shards} shard{'s' * (shards > 1)}", rate,
                                       seconds, raw_rate, KINESIS_WRITE_RECORDS * shards, note,
                                       1000 * seconds / self.plan.batches))

    def reads(self, targets: list[tuple[str, str, int]]) -> None:
        for label, name, shards in targets:
            self.say(f"get: read back {self.written[name]:,} records from {label}, {shards} shard(s)")
            seconds = timed(lambda name=name: self.read_all(name))  # type: ignore[misc]
            per_shard = KINESIS_READ_BYTES / RECORD
            self.figures.append(Figure("get", f"GetRecords {label}, {shards} shard{'s' * (shards > 1)}, Limit 10,000",
                                       self.written[name] / seconds, seconds, None, per_shard * shards))

    def read_all(self, name: str) -> None:
        found = 0
        for shard in self.streams.list_shards(stream_name=name).shards:
            iterator = self.streams.get_shard_iterator(stream_name=name, shard_id=shard.shard_id,
                                                       shard_iterator_type="TRIM_HORIZON").shard_iterator
            while iterator:
                page = self.streams.get_records(shard_iterator=iterator, limit=10_000)
                found += len(page.records)
                if not page.records and page.millis_behind_latest == 0:
                    break
                iterator = page.next_shard_iterator
        if found != self.written[name]:
            raise SystemExit(f"read {found:,} records from {name}, wrote {self.written[name]:,}; the figures are void")


def delivery_latency(work: Path, records: int, err: Console) -> dict[str, Any]:
    """Firehose's delivery latency at a 1 s interval, as ``benchmarks/firehose.py`` measures it."""
    spec = importlib.util.spec_from_file_location("bench_firehose", Path(__file__).with_name("firehose.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures: dict[str, Any] = module.measure(work, records, 0.02, 0.1, err)
    return figures


def redis_parser() -> str:
    """Which reply parser the redis client uses: hiredis (C) when installed, else redis-py's own."""
    import redis.utils

    return "hiredis" if redis.utils.HIREDIS_AVAILABLE else "Python (hiredis not installed)"


def redis_reachable(url: str) -> str | None:
    """None if Redis answers at ``url``, else why not."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed (pip install 'crispml[redis]')"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, ValueError) as exc:
        return f"Redis at {redact(url)} is not reachable ({exc})"
    return None


def render(figures: list[Figure], header: str, console: Console) -> None:
    table = Table(title=header, title_justify="left")
    for column, justify in (("measurement", "left"), ("records/s", "right"), ("MB/s", "right"),
                            ("vs raw", "right"), ("Kinesis limit rec/s", "right"), ("s", "right"),
                            ("ms/call", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    group = None
    for f in figures:
        if group is not None and f.group != group:
            table.add_section()
        group = f.group
        table.add_row(f"{f.group}: {f.name}", f"{f.records_per_s:,.0f}", f"{f.records_per_s * RECORD / 1e6:,.1f}",
                      f"{f.ratio:.2f}" if f.ratio is not None else "-",
                      f"{f.kinesis_per_s:,.0f}" if f.kinesis_per_s else "-", f"{f.seconds:.2f}",
                      f"{f.ms_per_call:.2f}" if f.ms_per_call is not None else "-", f.note)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run (~20 s) to check the benchmark works")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis for the Redis record store")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="folder for the home and the raw SQLite file; a fresh subfolder is made and removed")
    parser.add_argument("--repeat", type=int, help="passes per put measurement (best is kept)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    if args.repeat:
        plan = Plan(**{**asdict(plan), "repeat": args.repeat})
    err = Console(stderr=True)
    work = Path(tempfile.mkdtemp(prefix="crispml-bench-streams-", dir=args.workdir))
    started = time.perf_counter()
    client = crispml.connect(home=str(work / "home"))
    raw = RawSqlite(work / "raw.db")
    suffix = uuid.uuid4().hex[:8]
    redis_problem = redis_reachable(args.redis)
    notes: list[str] = []
    bench = Bench(plan, client, raw, lambda text: err.log(text))
    try:
        targets = [("embedded", bench.stream(f"bench-e1-{suffix}", 1, "embedded"), 1),
                   ("embedded", bench.stream(f"bench-e4-{suffix}", 4, "embedded"), 4)]
        if redis_problem is None:
            targets += [("redis", bench.stream(f"bench-r1-{suffix}", 1, args.redis), 1),
                        ("redis", bench.stream(f"bench-r4-{suffix}", 4, args.redis), 4)]
            notes.append(f"Redis reply parser: {redis_parser()}")
        else:
            notes.append(f"Redis skipped: {redis_problem}")
        bench.writes(targets)
        bench.reads(targets)
        err.log("delivery: Firehose PutRecord → object in the lake, IntervalInSeconds 1")
        delivery = delivery_latency(work / "delivery", 60 if args.quick else 300, err)
    finally:
        for name in list(bench.written):
            with contextlib.suppress(CrispmlError):  # frees the Redis keys
                client.streams.delete_stream(stream_name=name)
        client.close()
        raw.close()
        shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    costs = bench.costs
    notes.append(f"per call: raw insert of {BATCH} rows {costs['raw_batch_ms']:.2f} ms; fastest PutRecords of {BATCH} "
                 f"{costs['put_records_ms']:.2f} ms; a call that does almost nothing (ListStreams) "
                 f"{costs['spine_call_ms']:.2f} ms — the validation, authorization and audit record every call pays")
    if delivery.get("delivered"):
        notes.append(f"delivery: Firehose PutRecord → object listable, IntervalInSeconds 1: median "
                     f"{delivery['median_s']:.2f} s, p95 {delivery['p95_s']:.2f} s, max {delivery['max_s']:.2f} s over "
                     f"{delivery['delivered']} records in {delivery['objects']} objects (the interval is the floor)")
    else:
        notes.append(f"delivery: none of {delivery['records']} records was delivered within 30 s")
    setup = {"plan": asdict(plan), "quick": args.quick, "batch": BATCH, "record_bytes": RECORD,
             "redis": redact(args.redis) if redis_problem is None else None,
             "redis_parser": redis_parser() if redis_problem is None else None, "workdir": str(work),
             "cpus": os.cpu_count(), "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
             "seconds": round(elapsed, 1)}
    if args.output == "json":
        print(json.dumps({"setup": setup, "figures": [asdict(f) for f in bench.figures], "costs": bench.costs,
                          "delivery": delivery, "notes": notes}, indent=2))
        return 0
    header = (f"streams — PutRecords of {BATCH} x {RECORD} B, {plan.batches * BATCH:,} records per pass, best of "
              f"{plan.repeat}; {os.cpu_count()} CPUs; {elapsed:.0f} s")
    console = Console() if sys.stdout.isatty() else Console(width=170)
    render(bench.figures, header, console)
    console.print(f"vs raw: records/s over raw sqlite3 executemany into the same table shape on the same disk "
                  f"(aim >= {AIM} for embedded puts). Kinesis limit: {KINESIS_WRITE_RECORDS:,} records/s written and "
                  f"{KINESIS_READ_BYTES // 2**20} MiB/s read per shard.")
    for note in notes:
        console.print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
