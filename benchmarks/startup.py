"""How long the command line takes to start, against a bare Python start measured in the same run.

``python benchmarks/startup.py`` makes a home the way the demo does (SQLite +
file:// in a fresh folder, with a bucket, an object and a catalog database —
not the whole demo), then times, end to end as a child process each, what a
user types: ``crispml --version``, ``crispml --help``, ``python -c "import
crispml"``, ``crispml lake ls`` and ``crispml catalog get-databases``, next to
two baselines: ``python -c pass`` (the interpreter's own start) and ``python -c
"import typer"`` (the CLI library's). Rounds run every command once, the order
reversed every other round so a busy moment on the machine hits all alike; the
table shows each command's median and best, its ratio to ``python -c pass``,
and the issue's target (0.3 s to start or show help, 0.5 s for a command on
the embedded home). A last untimed pass runs each command under ``python -X
importtime`` and names the engines it imported, to say where the time went.

``--quick`` runs 3 rounds instead of 9. ``--output json`` prints the figures as
JSON on stdout (progress on stderr). Everything lives under a fresh folder in
``--workdir`` that is removed at the end. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

import crispml

#: Libraries a quick command should not need; an import of any of them is named in the table.
HEAVY = ("sqlalchemy", "alembic", "pyiceberg", "duckdb", "pyarrow", "sqlglot", "pandas", "fsspec",
         "sklearn", "xgboost", "lightgbm", "scipy", "optuna", "fastapi", "uvicorn", "plotly")


@dataclass(frozen=True)
class Probe:
    name: str
    argv: list[str]
    target: float | None  # seconds; None for the baselines


@dataclass
class Figure:
    name: str
    median: float
    best: float
    target: float | None
    ratio: float  # median / python -c pass's median
    heavy: list[str]

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "baseline"
        return "ok" if self.median <= self.target else "over"


def probes(python: str) -> list[Probe]:
    script = Path(python).with_name("crispml")
    cli = [str(script)] if os.access(script, os.X_OK) else [python, "-m", "crispml"]
    return [
        Probe("python -c pass", [python, "-c", "pass"], None),
        Probe('python -c "import typer"', [python, "-c", "import typer"], None),
        Probe("crispml --version", [*cli, "--version"], 0.3),
        Probe("crispml --help", [*cli, "--help"], 0.3),
        Probe('python -c "import crispml"', [python, "-c", "import crispml"], 0.3),
        Probe("crispml lake ls lake://demo-raw", [*cli, "lake", "ls", "lake://demo-raw"], 0.5),
        Probe("crispml catalog get-databases", [*cli, "catalog", "get-databases"], 0.5),
    ]


def make_home(home: Path) -> None:
    """A home like the demo's, in small: a bucket with an object, and a catalog database."""
    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket="demo-raw")
        client.lake.put_object(bucket="demo-raw", key="penguins/raw/penguins.csv",
                               body=b"species,island,bill_length_mm\nAdelie,Torgersen,39.1\n")
        client.catalog.create_database(database_input={"Name": "demo"})


def run_once(probe: Probe, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(probe.argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{probe.name} failed (exit {proc.returncode}); the figures are void:\n"
                         + proc.stderr.decode("utf-8", "replace")[-2000:])
    return elapsed


def heavy_imports(probe: Probe, env: dict[str, str]) -> list[str]:
    """The libraries of HEAVY the command imports (one untimed run under -X importtime)."""
    proc = subprocess.run(probe.argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=120, check=False)
    modules = {line.split("|")[-1].strip().split(".")[0]
               for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in modules]


def measure(rounds: int, env: dict[str, str], say: Console) -> list[Figure]:
    plan = probes(sys.executable)
    times: dict[str, list[float]] = {p.name: [] for p in plan}
    for probe in plan:  # one untimed run each: the page cache and .pyc files warm for every command alike
        run_once(probe, env)
    for round_ in range(rounds):
        say.log(f"round {round_ + 1} of {rounds}")
        for probe in plan if round_ % 2 == 0 else reversed(plan):
            times[probe.name].append(run_once(probe, env))
    base = statistics.median(times[plan[0].name])
    return [Figure(p.name, statistics.median(times[p.name]), min(times[p.name]), p.target,
                   statistics.median(times[p.name]) / base, heavy_imports(p, env)) for p in plan]


def render(figures: list[Figure], header: str, console: Console) -> None:
    table = Table(title=header, title_justify="left")
    for column, justify in (("command", "left"), ("median s", "right"), ("best s", "right"),
                            ("× python -c pass", "right"), ("target s", "right"), ("", "left"),
                            ("heavy libraries imported", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in figures:
        table.add_row(f.name, f"{f.median:.3f}", f"{f.best:.3f}", f"{f.ratio:.1f}",
                      f"{f.target:.1f}" if f.target is not None else "-", f.verdict, ", ".join(f.heavy) or "-")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 9")
    parser.add_argument("--rounds", type=int, help="rounds (each command once per round)")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="a fresh subfolder is made and removed")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (to inspect it)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    err = Console(stderr=True)

    work = Path(tempfile.mkdtemp(prefix="crispml-bench-startup-", dir=args.workdir))
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    try:
        home = work / "home"
        err.log(f"making a home in {home}")
        make_home(home)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISPML_", "PYTHON"))}
        env.update(CRISPML_HOME=str(home), COLUMNS="120")
        figures = measure(rounds, env, err)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load = (load_before, os.getloadavg()[0])

    setup = {"rounds": rounds, "quick": args.quick, "cpus": os.cpu_count(), "python": sys.version.split()[0],
             "load_1min": [round(x, 2) for x in load], "seconds": round(elapsed, 1)}
    if args.output == "json":
        print(json.dumps({"setup": setup, "figures": [{**asdict(f), "verdict": f.verdict} for f in figures]},
                         indent=2))
        return 0
    header = (f"command-line start, end to end — median of {rounds} rounds; {os.cpu_count()} CPUs, "
              f"load {load[0]:.2f} → {load[1]:.2f}; {elapsed:.0f} s")
    console = Console() if sys.stdout.isatty() else Console(width=160)
    render(figures, header, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
