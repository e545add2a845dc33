"""Lake I/O against plain file copies on the same disk, both measured in one run.

``python benchmarks/lake_io.py`` puts and gets large objects (16 x 64 MiB) and
small objects (10,000 x 1 KiB) through ``lake://`` on the embedded lake
(SQLite + file://), does the same with plain file copies in a folder on the
same disk, and prints each figure with the ratio lake/plain. It also times
listing the 10,000 keys (ListObjectsV2 page by page, ``fs.find``, and a
delimiter listing of 100 folders) against ``os.walk``/``os.scandir``.

Each pair runs the same way: sources are read once beforehand so both sides
start from the page cache, dirty pages are flushed (``os.sync``, untimed) before
every timed pass, targets are removed (untimed) before each pass, and large
objects take the best of ``--repeat`` passes on each side.

``--quick`` runs a small version in about 20 s. ``--output json`` prints the
figures as JSON on stdout (progress goes to stderr). Everything is written under
a fresh folder in ``--workdir`` (default ``/tmp``) that is removed at the end;
with ``--home`` the lake is that home's, and the benchmark's bucket is deleted
at the end. It does not measure s3:// lakes, PostgreSQL, or concurrent clients,
and it asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import crispml
from crispml.core.plugins import redact

MiB = 1024 * 1024
#: The issue's aim for large objects: the lake at least this fraction of a plain copy.
LARGE_AIM = 0.8


@dataclass(frozen=True)
class Plan:
    large_count: int = 16
    large_size: int = 64 * MiB
    small_count: int = 10_000
    small_size: int = 1024
    folders: int = 100
    repeat: int = 2


FULL = Plan(repeat=3)
QUICK = Plan(large_count=4, large_size=64 * MiB, small_count=500, folders=10, repeat=1)


@dataclass
class Figure:
    """One measurement: the lake's and the baseline's rates in ``unit``, and seconds taken."""

    group: str
    name: str
    unit: str
    lake: float
    plain: float | None
    lake_seconds: float
    plain_seconds: float | None
    baseline: str = ""
    note: str = ""
    ratio: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.ratio = self.lake / self.plain if self.plain else None


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def best(passes: int, prepare: Callable[[], None], work: Callable[[], Any]) -> float:
    """The fastest of ``passes`` runs of ``work``, each after an untimed ``prepare`` and sync."""
    return paired(passes, [(prepare, work)])[0]


def paired(passes: int, sides: list[tuple[Callable[[], None], Callable[[], Any]]]) -> list[float]:
    """The fastest time of each side over ``passes`` rounds, sides interleaved (order flipped
    every round) so a busy moment on the machine hits both alike; prepare and sync are untimed."""
    times: list[list[float]] = [[] for _ in sides]
    for round_ in range(passes):
        order = list(range(len(sides)))
        for i in order if round_ % 2 == 0 else reversed(order):
            prepare, work = sides[i]
            prepare()
            os.sync()
            times[i].append(timed(work))
    return [min(t) for t in times]


def read_through(path: Path) -> None:
    """Read a file once into a reused buffer, to bring it into the page cache."""
    buffer = bytearray(8 * MiB)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buffer):
            pass


def empty(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


class Bench:
    def __init__(self, plan: Plan, workdir: Path, client: Any, bucket: str, say: Callable[[str], None]) -> None:
        self.plan, self.work, self.client, self.bucket, self.say = plan, workdir, client, bucket, say
        self.fs, self.lake = client.fs, client.lake
        self.figures: list[Figure] = []
        self.md5_rate = 0.0

    def add(self, group: str, name: str, unit: str, amount: float, lake_s: float, plain_s: float | None,
            **extra: str) -> Figure:
        figure = Figure(group, name, unit, amount / lake_s, amount / plain_s if plain_s else None,
                        lake_s, plain_s, **extra)
        self.figures.append(figure)
        return figure

    # -- large objects --------------------------------------------------------

    def large(self) -> None:
        plan, src = self.plan, self.work / "large-src"
        names = [f"obj-{i:02d}.bin" for i in range(plan.large_count)]
        total_mb = plan.large_count * plan.large_size / 1e6
        self.say(f"large: writing {plan.large_count} x {plan.large_size // MiB} MiB of random sources")
        src.mkdir()
        for name in names:
            with open(src / name, "wb") as out:
                for _ in range(plan.large_size // (8 * MiB)):
                    out.write(os.urandom(8 * MiB))
        for name in names:
            read_through(src / name)
        self.md5_ceiling(src / names[0])

        plain_put, keys = self.work / "large-plain", [f"{self.bucket}/large/{n}" for n in names]

        def clear_lake() -> None:
            if self.fs.exists(f"{self.bucket}/large"):
                self.fs.rm(f"{self.bucket}/large", recursive=True)

        def put_file() -> None:
            for name, key in zip(names, keys, strict=True):
                self.fs.put_file(str(src / name), key)

        def put_object() -> None:
            for name in names:
                with open(src / name, "rb") as body:
                    self.lake.put_object(bucket=self.bucket, key=f"large/{name}", body=body)

        self.say("large: put (plain copy, fs.put_file, put_object)")
        plain_s, file_s, object_s = paired(plan.repeat, [
            (lambda: empty(plain_put), lambda: [shutil.copyfile(src / n, plain_put / n) for n in names]),
            (clear_lake, put_file),
            (clear_lake, put_object),
        ])
        for label, lake_s in (("put  fs.put_file", file_s), ("put  lake.put_object(body=file)", object_s)):
            self.add("large", label, "MB/s", total_mb, lake_s, plain_s, baseline="shutil.copyfile",
                     note=self.aim_note(total_mb / lake_s, total_mb / plain_s, put=True))

        self.say("large: get (plain copy back, fs.get_file)")
        for name, key in zip(names, keys, strict=True):  # warm both sides' stored bytes alike
            read_through(plain_put / name)
            with self.fs.open(key, "rb") as f:
                while f.read(8 * MiB):
                    pass
        plain_get, lake_get = self.work / "large-plain-get", self.work / "large-lake-get"
        plain_s, lake_s = paired(plan.repeat, [
            (lambda: empty(plain_get), lambda: [shutil.copyfile(plain_put / n, plain_get / n) for n in names]),
            (lambda: empty(lake_get),
             lambda: [self.fs.get_file(k, str(lake_get / n)) for n, k in zip(names, keys, strict=True)]),
        ])
        self.add("large", "get  fs.get_file", "MB/s", total_mb, lake_s, plain_s, baseline="shutil.copyfile",
                 note=self.aim_note(total_mb / lake_s, total_mb / plain_s))
        check = names[-1]
        if hashlib.md5((lake_get / check).read_bytes()).hexdigest() != \
                hashlib.md5((src / check).read_bytes()).hexdigest():
            raise SystemExit(f"lake get of {check} returned different bytes; the figures are void")
        for folder in (src, plain_put, plain_get, lake_get):
            shutil.rmtree(folder)
        clear_lake()

    def md5_ceiling(self, path: Path) -> None:
        """Single-core MD5 speed: every put computes the object's ETag, so this bounds lake puts."""
        data = path.read_bytes()
        seconds = min(timed(lambda: hashlib.md5(data).digest()) for _ in range(3))
        figure = self.add("large", "md5 of one source in memory (ETag cost)", "MB/s", len(data) / 1e6,
                          seconds, None, note="one core; the ceiling for any put that computes ETags")
        self.md5_rate = figure.lake

    def aim_note(self, lake: float, plain: float, put: bool = False) -> str:
        if lake >= LARGE_AIM * plain:
            return ""
        ceiling = f"; MD5 alone would be {self.md5_rate / plain:.2f}" if put else ""
        return f"below the {LARGE_AIM:.1f} aim{ceiling}"

    # -- small objects --------------------------------------------------------

    def small_keys(self) -> Iterator[tuple[int, str]]:
        for i in range(self.plan.small_count):
            yield i, f"small/{i % self.plan.folders:03d}/{i:05d}.bin"

    def small(self) -> None:
        plan, count = self.plan, self.plan.small_count
        blob = os.urandom(plan.small_size * count)
        payload = [blob[i * plan.small_size:(i + 1) * plan.small_size] for i in range(count)]
        keys = list(self.small_keys())
        plain = self.work / "small-plain"
        empty(plain)
        for folder in range(plan.folders):
            (plain / f"{folder:03d}").mkdir()

        def plain_put() -> None:
            for i, key in keys:
                with open(plain / key[len("small/"):], "wb") as out:
                    out.write(payload[i])

        def lake_put() -> None:
            for i, key in keys:
                self.fs.pipe_file(f"{self.bucket}/{key}", payload[i])

        def plain_get() -> None:
            for _, key in keys:
                with open(plain / key[len("small/"):], "rb") as f:
                    f.read()

        def lake_get() -> None:
            for _, key in keys:
                self.fs.cat_file(f"{self.bucket}/{key}")

        self.say(f"small: put {count:,} x {plan.small_size} B (plain files, fs.pipe_file)")
        os.sync()
        plain_s = timed(plain_put)
        os.sync()
        lake_s = timed(lake_put)
        self.add("small", f"put  {count:,} x {plan.small_size} B  fs.pipe_file", "objects/s", count,
                 lake_s, plain_s, baseline="open/write/close")
        self.say(f"small: get {count:,} (plain files, fs.cat_file)")
        os.sync()
        plain_s = timed(plain_get)
        lake_s = timed(lake_get)
        self.add("small", f"get  {count:,} x {plan.small_size} B  fs.cat_file", "objects/s", count,
                 lake_s, plain_s, baseline="open/read/close")
        i, key = keys[-1]
        if self.fs.cat_file(f"{self.bucket}/{key}") != payload[i]:
            raise SystemExit(f"lake get of {key} returned different bytes; the figures are void")

    # -- listing ----------------------------------------------------------------

    def listing(self) -> None:
        count, folders, plain = self.plan.small_count, self.plan.folders, self.work / "small-plain"
        self.say(f"listing: {count:,} keys, and {folders} folders with a delimiter")

        def pages() -> int:
            found, token, n = 0, None, 0
            while True:
                page = self.lake.list_objects_v2(bucket=self.bucket, prefix="small/", continuation_token=token)
                found, n = found + page.key_count, n + 1
                if not page.is_truncated:
                    break
                token = page.next_continuation_token
            self._expect(found, count, "list_objects_v2")
            return n

        def walk() -> None:
            self._expect(sum(len(files) for _, _, files in os.walk(plain)), count, "os.walk")

        def find() -> None:
            self._expect(len(self.fs.find(f"{self.bucket}/small")), count, "fs.find")

        def folders_lake() -> None:
            page = self.lake.list_objects_v2(bucket=self.bucket, prefix="small/", delimiter="/")
            self._expect(len(page.common_prefixes), folders, "list_objects_v2 with a delimiter")

        def folders_plain() -> None:
            with os.scandir(plain) as entries:
                self._expect(sum(1 for e in entries if e.is_dir()), folders, "os.scandir")

        page_count = pages()
        plain_s = best(3, lambda: None, walk)
        self.add("listing", f"list_objects_v2, {page_count} pages", "keys/s", count,
                 best(3, lambda: None, pages), plain_s, baseline="os.walk")
        self.add("listing", "fs.find", "keys/s", count, best(3, lambda: None, find), plain_s, baseline="os.walk")
        self.add("listing", f"list_objects_v2 delimiter='/' ({folders} folders)", "prefixes/s", folders,
                 best(3, lambda: None, folders_lake), best(3, lambda: None, folders_plain),
                 baseline="os.scandir")

    @staticmethod
    def _expect(found: int, wanted: int, what: str) -> None:
        if found != wanted:
            raise SystemExit(f"{what} found {found:,} entries, not {wanted:,}; the figures are void")


def render(figures: list[Figure], header: str, console: Console) -> None:
    table = Table(title=header, title_justify="left")
    for column, justify in (("measurement", "left"), ("unit", "left"), ("lake", "right"), ("plain", "right"),
                            ("lake/plain", "right"), ("lake s", "right"), ("plain s", "right"),
                            ("baseline", "left"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    group = None
    for f in figures:
        if group is not None and f.group != group:
            table.add_section()
        group = f.group
        table.add_row(
            f"{f.group}: {f.name}", f.unit, f"{f.lake:,.0f}", f"{f.plain:,.0f}" if f.plain else "-",
            f"{f.ratio:.2f}" if f.ratio is not None else "-", f"{f.lake_seconds:.2f}",
            f"{f.plain_seconds:.2f}" if f.plain_seconds is not None else "-", f.baseline, f.note,
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small run (~20 s) to check the benchmark works")
    parser.add_argument("--home", help="crispml home whose lake to measure (default: a fresh one in the workdir)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(),
                        help="folder for sources and plain copies; a fresh subfolder is made and removed")
    parser.add_argument("--repeat", type=int, help="passes per large-object measurement (best is kept)")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (to inspect it)")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    if args.repeat:
        plan = Plan(**{**asdict(plan), "repeat": args.repeat})
    err = Console(stderr=True)
    work = Path(tempfile.mkdtemp(prefix="crispml-bench-", dir=args.workdir))
    home = Path(args.home) if args.home else work / "home"
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    client = crispml.connect(home=str(home))
    try:
        client.lake.create_bucket(bucket=bucket)
        bench = Bench(plan, work, client, bucket, lambda text: err.log(text))
        bench.large()
        bench.small()
        bench.listing()
    finally:
        if args.home:  # leave the user's home as it was
            with contextlib.suppress(Exception):
                client.fs.rm(bucket, recursive=True)
            with contextlib.suppress(Exception):
                client.lake.delete_bucket(bucket=bucket)
        client.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    setup = {"plan": asdict(plan), "quick": args.quick, "lake_url": client.settings.lake_url,
             "db_url": redact(client.settings.db_url), "workdir": str(work), "cpus": os.cpu_count(),
             "python": sys.version.split()[0], "seconds": round(elapsed, 1)}
    if args.output == "json":
        print(json.dumps({"setup": setup, "figures": [asdict(f) for f in bench.figures]}, indent=2))
        return 0
    header = (f"lake I/O vs plain copies — {plan.large_count} x {plan.large_size // MiB} MiB, "
              f"{plan.small_count:,} x {plan.small_size} B, best of {plan.repeat} (large); "
              f"{os.cpu_count()} CPUs; {elapsed:.0f} s")
    console = Console() if sys.stdout.isatty() else Console(width=170)
    render(bench.figures, header, console)
    console.print(f"lake: {setup['lake_url']}  db: {setup['db_url']}  plain copies: {work}")
    below = [f for f in bench.figures if f.group == "large" and f.note.startswith("below")]
    if below:
        console.print(f"note: large-object lake/plain is below the {LARGE_AIM} aim on {len(below)} row(s); "
                      "the md5 row shows the single-core ETag cost every lake put pays.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
