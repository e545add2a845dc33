"""SQL over the lake through crispml against DuckDB directly on the same files, in one run.

``python benchmarks/query.py`` writes a deterministic table of 10,000,000 rows
in 8 Hive partitions (``part=0`` … ``part=7``, Parquet) into a lake bucket on
the embedded home (SQLite + file://), registers it with a crawler, and runs
four queries — ``count(*)``, a filtered group-by on one partition, a group-by
over all rows, a top-k — two ways:

- through crispml: ``run_query`` of the SDK — ``StartQueryExecution``, wait for
  ``SUCCEEDED``, ``GetQueryResults`` page by page (the catalog lookup, per-file
  authorization, partition pruning, DuckDB, the result CSV written into the lake
  and read back, as a user sees it);
- through DuckDB directly: ``read_parquet('<dir>/*/*.parquet', hive_partitioning=true)``
  over the very files that were uploaded (same bytes, same partitioning);
- through DuckDB directly with the table's types: the same, but the partition
  key read as the type the catalog gives it (the crawler's ``string``, as
  Glue's does), so that DuckDB does exactly the work crispml asks of it — the
  first baseline infers an integer key, and grouping or sorting on a string key
  costs DuckDB a few percent more.

Each query runs ``--repeat`` times per side, sides interleaved; the table shows
the medians and crispml/DuckDB against both baselines. Issue 13's targets are
judged at the end: a scan-bound query (DuckDB ≥ 50 ms on the same files) within
1.15× DuckDB's time (against each baseline, on its own line), and ``SELECT 1``
through the SDK within 5 ms; the median over the four queries is printed too,
against the first target (≤ 1.25), for the history.
Both sides' answers are compared, so a wrong result voids the figures. It also
prints the fixed cost of a query that reads no table (``SELECT 1``: the
execution's recorded states, authorizations and audit events, the result CSV
written to the lake and read back) — the floor under the short queries' ratios —
and times a crawl of 1,000 small CSV files in 10 partition folders.

``--quick`` runs 1,000,000 rows and 200 files (about a minute). ``--output
json`` prints the figures as JSON on stdout (progress on stderr). Everything
lives under a fresh folder in ``--workdir`` that is removed at the end. It
asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

import crispml
from crispml.sdk.queries import run_query

#: The first target (issue 3): the median over the four queries at most this multiple of DuckDB's; kept so the
#: history stays comparable.
TARGET = 1.25
#: Issue 13's targets: a scan-bound query (DuckDB takes at least SCAN_BOUND_MS on the same files) at most
#: SCAN_TARGET times DuckDB's time, and the fixed cost of ``SELECT 1`` through the SDK at most FIXED_TARGET_MS.
SCAN_BOUND_MS = 50.0
SCAN_TARGET = 1.15
FIXED_TARGET_MS = 5.0
#: Runs of ``SELECT 1`` per side (a few ms each: enough for a median the machine's jitter does not move).
FIXED_RUNS = 200
BUCKET = "bench-query"
DATABASE = "bench"


@dataclass(frozen=True)
class Plan:
    rows: int = 10_000_000
    partitions: int = 8
    crawl_files: int = 1_000
    repeat: int = 5


FULL = Plan()
QUICK = Plan(rows=1_000_000, crawl_files=200, repeat=3)

#: name → SQL over the table, written once with ``{t}`` for the table.
QUERIES = {
    "count(*)": "SELECT count(*) AS n FROM {t}",
    "group-by, one partition": ("SELECT category, count(*) AS n, sum(amount) AS total FROM {t} "
                                "WHERE part = 3 GROUP BY category ORDER BY category"),
    "group-by, all partitions": ("SELECT part, category, count(*) AS n, avg(amount) AS mean FROM {t} "
                                 "GROUP BY part, category ORDER BY part, category"),
    "top-10 by amount": "SELECT id, category, amount FROM {t} ORDER BY amount DESC, id LIMIT 10",
}


@dataclass
class Figure:
    query: str
    crispml_ms: float
    duckdb_ms: float
    crispml_runs: list[float] = field(default_factory=list)
    duckdb_runs: list[float] = field(default_factory=list)
    rows: int = 0
    scanned_bytes: int = 0
    #: DuckDB reading the partition key as the catalog types it (the same work as crispml's)
    typed_ms: float = 0.0
    typed_runs: list[float] = field(default_factory=list)
    ratio: float = field(init=False)
    typed_ratio: float = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.crispml_ms / self.duckdb_ms
        self.typed_ratio = self.crispml_ms / self.typed_ms if self.typed_ms else self.ratio


def write_table(plan: Plan, folder: Path) -> None:
    """The deterministic table as Hive-partitioned Parquet under ``folder`` (DuckDB writes it)."""
    con = duckdb.connect()
    con.execute(f"""
        COPY (
            SELECT i AS id,
                   'c' || lpad(CAST(hash(i) % 40 AS VARCHAR), 2, '0') AS category,
                   CAST(hash(i * 7 + 1) % 1000000 AS DOUBLE) / 100.0 AS amount,
                   CAST(hash(i * 13 + 5) % 100 AS INTEGER) AS quantity,
                   CAST(i % {plan.partitions} AS INTEGER) AS part
            FROM range({plan.rows}) t(i)
        ) TO '{folder}' (FORMAT parquet, PARTITION_BY (part), ROW_GROUP_SIZE 122880)
    """)
    con.close()


def upload(client: Any, folder: Path, prefix: str) -> int:
    total = 0
    for path in sorted(folder.rglob("*.parquet")):
        relative = path.relative_to(folder).as_posix()
        client.fs.put_file(str(path), f"{BUCKET}/{prefix}/{relative}")
        total += path.stat().st_size
    return total


def crawl(client: Any, name: str, prefix: str) -> float:
    """Create a crawler over ``prefix`` and run it; the seconds StartCrawler took."""
    client.catalog.create_crawler(name=name, role="bench", database_name=DATABASE,
                                  targets={"S3Targets": [{"Path": f"lake://{BUCKET}/{prefix}/"}]})
    started = time.perf_counter()
    client.catalog.start_crawler(name=name)
    seconds = time.perf_counter() - started
    metrics = client.catalog.get_crawler_metrics(crawler_name_list=[name]).crawler_metrics_list[0]
    if metrics.tables_created < 1:
        raise SystemExit(f"crawler {name} created no table; the figures are void")
    return seconds


def run_crispml(client: Any, sql: str) -> tuple[list[tuple[Any, ...]], int]:
    """Run ``sql`` the way the SDK does (StartQueryExecution, wait, GetQueryResults page by page);
    the rows as text and the bytes scanned."""
    run = run_query(client, sql, database=DATABASE)
    rows = [tuple(row) for page in run.pages() for row in page.rows]
    return rows, run.statistics.data_scanned_in_bytes


def as_text(rows: list[tuple[Any, ...]]) -> list[tuple[str, ...]]:
    """Rows as Athena's CSV shows them, so DuckDB's typed rows compare with crispml's text."""
    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return repr(value)
        return str(value)

    return [tuple(text(v) for v in row) for row in rows]


def same(left: list[tuple[str, ...]], right: list[tuple[str, ...]]) -> bool:
    """Equal row for row, numbers compared to 9 significant digits (CSV text vs floats)."""
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        for x, y in zip(a, b, strict=True):
            if x == y:
                continue
            try:
                if abs(float(x) - float(y)) > 1e-9 * max(1.0, abs(float(y))):
                    return False
            except ValueError:
                return False
    return True


def key_types(client: Any) -> str:
    """DuckDB's ``hive_types`` for the table's partition keys, as the catalog types them."""
    from crispml.services.query.engines.duckdb.types import duckdb_type

    table = client.catalog.get_table(database_name=DATABASE, name="sales").table
    return "{" + ", ".join(f"'{k.name}': '{duckdb_type(k.type)}'" for k in table.partition_keys) + "}"


def measure(plan: Plan, client: Any, parquet_dir: Path, say: Callable[[str], None]) -> list[Figure]:
    con = duckdb.connect()
    direct_table = f"read_parquet('{parquet_dir}/*/*.parquet', hive_partitioning=true)"
    typed_table = f"read_parquet('{parquet_dir}/*/*.parquet', hive_partitioning=true, hive_types={key_types(client)})"
    figures = []
    for name, template in QUERIES.items():
        sqls = {"ours": template.format(t=f"{DATABASE}.sales"), "direct": template.format(t=direct_table),
                "typed": template.format(t=typed_table)}
        say(f"query: {name}")
        runs: dict[str, list[float]] = {side: [] for side in sqls}
        rows: dict[str, list[tuple[Any, ...]]] = {side: [] for side in sqls}
        scanned = 0
        run_crispml(client, sqls["ours"])  # warm: the catalog, the page cache
        con.execute(sqls["direct"]).fetchall()
        con.execute(sqls["typed"]).fetchall()
        for round_ in range(plan.repeat):
            order = list(sqls)
            for side in order if round_ % 2 == 0 else reversed(order):
                started = time.perf_counter()
                if side == "ours":
                    rows[side], scanned = run_crispml(client, sqls[side])
                else:
                    rows[side] = con.execute(sqls[side]).fetchall()
                runs[side].append((time.perf_counter() - started) * 1000)
        for side in ("direct", "typed"):
            if not same(as_text(rows["ours"]), as_text(rows[side])):
                raise SystemExit(f"{name}: crispml and DuckDB ({side}) disagree ({rows['ours'][:3]} vs "
                                 f"{rows[side][:3]}); the figures are void")
        figures.append(Figure(name, statistics.median(runs["ours"]), statistics.median(runs["direct"]),
                              [round(r, 1) for r in runs["ours"]], [round(r, 1) for r in runs["direct"]],
                              len(rows["ours"]), scanned, statistics.median(runs["typed"]),
                              [round(r, 1) for r in runs["typed"]]))
    con.close()
    return figures


def fixed_cost(plan: Plan, client: Any) -> tuple[float, float]:
    """The medians of ``SELECT 1`` through crispml and in DuckDB (ms): what every query pays before it reads
    a byte — the recorded states, the authorizations and audit events, the result CSV written to the lake and
    read back — the floor under the ratios of the short queries."""
    con = duckdb.connect()
    ours, direct = [], []
    run_crispml(client, "SELECT 1 AS one")
    for _ in range(FIXED_RUNS):
        started = time.perf_counter()
        run_crispml(client, "SELECT 1 AS one")
        ours.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        con.execute("SELECT 1 AS one").fetchall()
        direct.append((time.perf_counter() - started) * 1000)
    con.close()
    return statistics.median(ours), statistics.median(direct)


def crawl_files(plan: Plan, client: Any, say: Callable[[str], None]) -> float:
    """Put ``crawl_files`` small CSV files into 10 partition folders, then time a crawl of them."""
    say(f"crawl: putting {plan.crawl_files:,} small CSV files")
    per_folder = max(1, plan.crawl_files // 10)
    for i in range(plan.crawl_files):
        buffer = io.StringIO()
        buffer.write("id,name,score,seen\n")
        for row in range(20):
            buffer.write(f"{i * 20 + row},name{row},{(i * 31 + row) % 97 / 7:.3f},2026-11-{1 + row % 28:02d}\n")
        folder = f"day={i // per_folder:02d}"
        client.fs.pipe_file(f"{BUCKET}/events/{folder}/file-{i:05d}.csv", buffer.getvalue().encode())
    say("crawl: running the crawler")
    return crawl(client, "bench-events", "events")


def render(figures: list[Figure], fixed: tuple[float, float], crawl_seconds: float, plan: Plan, header: str,
           console: Console) -> None:
    table = Table(title=header, title_justify="left")
    for column in ("query", "crispml ms", "DuckDB ms", "ratio", "DuckDB ms, table's types", "ratio", "rows",
                   "bytes scanned", "target"):
        table.add_column(column, justify="left" if column == "query" else "right")
    for f in figures:
        target = (f"≤ {SCAN_TARGET}: {'met' if max(f.ratio, f.typed_ratio) <= SCAN_TARGET else 'NOT met'}"
                  if scan_bound(f) else f"(DuckDB < {SCAN_BOUND_MS:.0f} ms)")
        table.add_row(f.query, f"{f.crispml_ms:,.1f}", f"{f.duckdb_ms:,.1f}", f"{f.ratio:.2f}", f"{f.typed_ms:,.1f}",
                      f"{f.typed_ratio:.2f}", f"{f.rows:,}", f"{f.scanned_bytes:,}", target)
    console.print(table)
    for line in verdicts(figures, fixed):
        console.print(line)
    console.print(f"crawl of {plan.crawl_files:,} CSV files in 10 partition folders: {crawl_seconds:.2f} s")


def scan_bound(figure: Figure) -> bool:
    return figure.duckdb_ms >= SCAN_BOUND_MS


def verdicts(figures: list[Figure], fixed: tuple[float, float]) -> list[str]:
    """The issue's targets, each with the figure it is judged on and whether it holds."""
    bound = [f for f in figures if scan_bound(f)]
    lines = [f"fixed cost of a query (SELECT 1 through the SDK, no table): crispml {fixed[0]:.1f} ms, DuckDB "
             f"{fixed[1]:.2f} ms — target ≤ {FIXED_TARGET_MS:.0f} ms: "
             f"{'met' if fixed[0] <= FIXED_TARGET_MS else 'NOT met'}"]
    if bound:
        for label, ratio in (("DuckDB inferring the partition key's type", lambda f: f.ratio),
                             ("DuckDB reading it as the table's type", lambda f: f.typed_ratio)):
            worst = max(ratio(f) for f in bound)
            lines.append(f"scan-bound queries (DuckDB ≥ {SCAN_BOUND_MS:.0f} ms), against {label}: worst "
                         f"crispml/DuckDB {worst:.2f} over {len(bound)} — target ≤ {SCAN_TARGET}: "
                         f"{'met' if worst <= SCAN_TARGET else 'NOT met'}")
    else:
        lines.append(f"scan-bound queries: none took {SCAN_BOUND_MS:.0f} ms in DuckDB at this size (run without "
                     "--quick to judge that target)")
    overall = statistics.median(f.ratio for f in figures)
    lines.append(f"history: median crispml/DuckDB over the {len(figures)} original queries {overall:.2f} "
                 f"(the first target, ≤ {TARGET}, which short queries cannot meet)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1M rows and 200 files, to check it works")
    parser.add_argument("--repeat", type=int, help="runs per query and side (the median is kept)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="a fresh subfolder is made and removed")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (to inspect it)")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    if args.repeat:
        plan = Plan(**{**asdict(plan), "repeat": args.repeat})
    err = Console(stderr=True)

    def say(text: str) -> None:
        err.log(text)

    work = Path(tempfile.mkdtemp(prefix="crispml-bench-query-", dir=args.workdir))
    started = time.perf_counter()
    client = crispml.connect(home=str(work / "home"))
    try:
        parquet_dir = work / "sales"
        say(f"writing {plan.rows:,} rows in {plan.partitions} Hive partitions (Parquet)")
        write_table(plan, parquet_dir)
        client.lake.create_bucket(bucket=BUCKET)
        size = upload(client, parquet_dir, "sales")
        say(f"uploaded {size / 1e6:,.1f} MB; crawling")
        crawl(client, "bench-sales", "sales")
        figures = measure(plan, client, parquet_dir, say)
        fixed = fixed_cost(plan, client)
        crawl_seconds = crawl_files(plan, client, say)
    finally:
        client.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    setup = {"plan": asdict(plan), "quick": args.quick, "parquet_bytes": size, "cpus": os.cpu_count(),
             "python": sys.version.split()[0], "duckdb": duckdb.__version__, "seconds": round(elapsed, 1)}
    if args.output == "json":
        print(json.dumps({"setup": setup, "figures": [asdict(f) for f in figures],
                          "median_ratio": statistics.median(f.ratio for f in figures),
                          "targets": verdicts(figures, fixed),
                          "fixed_cost_ms": {"crispml": fixed[0], "duckdb": fixed[1]},
                          "crawl_seconds": crawl_seconds}, indent=2))
        return 0
    header = (f"SQL over the lake: crispml vs DuckDB on the same files — {plan.rows:,} rows, "
              f"{plan.partitions} partitions, medians (ms) of {plan.repeat}; {os.cpu_count()} CPUs; {elapsed:.0f} s")
    console = Console() if sys.stdout.isatty() else Console(width=150)
    render(figures, fixed, crawl_seconds, plan, header, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
