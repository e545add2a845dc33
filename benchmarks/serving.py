"""Serving: an endpoint through the runtime front against the same model in a bare FastAPI app, in one run.

``python benchmarks/serving.py`` trains a binary xgboost model here (100 trees of depth 6 on 10
features), then serves it on 127.0.0.1:

- **crispml**: an endpoint (one variant, one instance, built-in ``xgboost``) on a temporary embedded home
  (SQLite + file://), reached at ``POST /endpoints/{name}/invocations`` on the runtime front, which hands
  each request to the instance process over a kept-alive connection — two hops, two server processes;
- **bare app** (the baseline): a FastAPI app in its own process (uvicorn, one worker, uvloop and httptools,
  no access log) with one ``POST /invocations`` route that parses the CSV body with numpy (``np.loadtxt``),
  predicts with ``xgb.DMatrix`` and ``Booster.predict`` on one thread, as the instance predicts a request
  of a few rows, and answers the scores as CSV;
- **bare app, xgboost threads**: the same app predicting on xgboost's default, every core — what the
  same lines give without the thread setting (each one-row prediction then wakes OpenMP workers, which costs
  more than the model on this 2-core machine, so it measures OpenMP rather than serving: shown, not a target).

The load comes from a second process (this file, ``--load``): ``--connections`` concurrent kept-alive
HTTP/1.1 connections on one uvloop event loop, each sending the next request as soon as the answer to the
last is read, ``--warmup`` seconds whose requests are not counted, then ``--seconds`` measured: every request
answered in them is counted, with its latency. Every target gets the same generator and the same bytes (``Content-Type``
and ``Accept`` ``text/csv``) and answers the same scores (checked first). The targets take turns in
``--rounds`` rounds (the measured time split between them), so a change in the machine's load falls on
every side alike. Figures:

1. **single-row CSV requests** — requests/s, p50 and p99 latency of each, and the ratios against the
   targets: crispml ≥ 0.5× the bare app's throughput, p99 ≤ 2× the bare app's;
2. **100-row CSV requests** — rows/s of each (ratios for information);
3. for each, the CPU time per request of each server process (Linux's ``/proc``), which a busy machine
   disturbs less than the rates: where the time goes.

For reference it prints the figures the issue measured on this machine (bare FastAPI 1,962 requests/s, p99
16 ms; ``mlflow models serve`` 199 requests/s, p99 207 ms). When MLflow is importable here (a benchmark-only
dependency, not in the lock files), it also serves the same model with ``mlflow models serve`` and measures
it with the same generator. The generator and the servers share the machine's cores, as any client on the
same host does: these are figures for 127.0.0.1, not for a network.

``--quick`` measures 3 s per side instead of 10 (about 40 s in all; the full run about 90 s). It asserts
nothing: it reports.
"""

import argparse
import asyncio
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FEATURES = 10
TREES = 100
DEPTH = 6
ENDPOINT = "bench-xgb"
BUCKET = "bench-serving"
#: Measured on this machine by the issue, for reference: (requests/s, p99 ms).
ISSUE_BARE = (1962.0, 16.0)
ISSUE_MLFLOW = (199.0, 207.0)
#: The targets: crispml's throughput ≥ this share of the bare app's, its p99 ≤ this multiple of the bare app's.
TARGET_THROUGHPUT = 0.5
TARGET_P99 = 2.0
OURS, BARE, BARE_THREADS, MLFLOW = "crispml", "bare app", "bare app, xgboost threads", "mlflow models serve"


@dataclass
class Target:
    name: str
    url: str
    #: The server's processes by role, whose CPU time is counted.
    pids: dict[str, int]
    #: Prepended to every request body (MLflow's CSV reader wants a header line).
    header: bytes = b""


@dataclass
class Load:
    """What the load generator measured against one target, over every round."""

    target: str
    rows: int
    latencies_us: list[int] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    #: Every answered request, the warm-ups' too (what the CPU times are divided by).
    answered: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.latencies_us) / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.per_second * self.rows

    def quantile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_us)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000 if ordered else float("nan")

    def cpu_us(self) -> dict[str, float]:
        """CPU time per answered request of each server process, µs (the generator's not included)."""
        return {role: seconds * 1e6 / max(1, self.answered) for role, seconds in self.cpu_seconds.items()}


# -- the load generator (a child process) ----------------------------------------------------------------------


async def _connection(host: str, port: int, request: bytes, warmup_end: float, end: float,
                      latencies: list[int], counts: list[int]) -> None:
    """One kept-alive connection sending ``request`` until ``end``; counts = [answered, errors]."""
    reader, writer = await asyncio.open_connection(host, port)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    clock = time.perf_counter_ns
    end_ns, warmup_end_ns = int(end * 1e9), int(warmup_end * 1e9)
    try:
        while (started := clock()) < end_ns:  # started in time, counted when answered in time
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            finished = clock()
            if head[9:12] != b"200":
                counts[1] += 1
                continue
            counts[0] += 1
            if warmup_end_ns <= finished <= end_ns:
                latencies.append((finished - started) // 1000)
    finally:
        writer.close()


async def _generate(url: str, body: bytes, connections: int, warmup: float, seconds: float) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (f"POST {parts.path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: text/csv\r\n"
               f"accept: text/csv\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[int] = []
    counts = [0, 0]
    start = time.perf_counter_ns() / 1e9
    await asyncio.gather(*(_connection(host, port, request, start + warmup, start + warmup + seconds, latencies,
                                       counts) for _ in range(connections)))
    return {"latencies_us": latencies, "seconds": seconds, "answered": counts[0], "errors": counts[1]}


def load_main(args: argparse.Namespace) -> int:
    import uvloop

    body = Path(args.body).read_bytes()
    print(json.dumps(uvloop.run(_generate(args.load, body, args.connections, args.warmup, args.seconds))))
    return 0


def run_load(target: Target, body_file: Path, seconds: float, args: argparse.Namespace, into: Load) -> None:
    """The generator in its own process against ``target`` for ``seconds`` (after the warm-up), added to
    ``into`` with the CPU time the target's processes spent meanwhile."""
    command = [sys.executable, __file__, "--load", target.url, "--body", str(body_file), "--connections",
               str(args.connections), "--warmup", str(args.warmup), "--seconds", str(seconds)]
    before = {role: cpu_seconds(pid) for role, pid in target.pids.items()}
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.warmup + seconds + 60)
    for role, pid in target.pids.items():
        into.cpu_seconds[role] = into.cpu_seconds.get(role, 0.0) + cpu_seconds(pid) - before[role]
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed against {target.name}: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout)
    into.latencies_us += result["latencies_us"]
    into.seconds += result["seconds"]
    into.answered += result["answered"]
    into.errors += result["errors"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the bare FastAPI app (a child process) ----------------------------------------------------------------------


def bare_main(args: argparse.Namespace) -> int:
    import numpy as np
    import uvicorn
    import xgboost as xgb
    from fastapi import FastAPI, Request, Response

    booster = xgb.Booster(model_file=bytearray(Path(args.bare).read_bytes()))  # as the instance loads it
    threads = args.threads or None  # 0: xgboost's default, every core
    if threads:
        booster.set_param({"nthread": threads})
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        features = np.loadtxt(io.BytesIO(await request.body()), delimiter=",", ndmin=2, dtype=np.float32)
        scores = booster.predict(xgb.DMatrix(features, nthread=threads))
        return Response("".join(f"{score!r}\n" for score in scores.tolist()), media_type="text/csv")

    listener = socket.socket(fileno=args.fd)
    server = uvicorn.Server(uvicorn.Config(app, loop="uvloop", http="httptools", workers=1, access_log=False,
                                           log_level="warning"))
    server.run(sockets=[listener])
    return 0


def start_bare(name: str, model_file: Path, threads: int) -> tuple[subprocess.Popen[bytes], Target]:
    """The bare app predicting on ``threads`` (0: every core), on a socket bound here (its port is known before
    it starts), once it answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--bare", str(model_file), "--fd", str(listener.fileno()),
                                "--threads", str(threads)], pass_fds=[listener.fileno()])
    listener.close()
    wait_ping(f"http://127.0.0.1:{port}/ping", process)
    return process, Target(name, f"http://127.0.0.1:{port}/invocations", {"app": process.pid})


def start_mlflow(booster: Any, folder: Path) -> tuple[subprocess.Popen[bytes], Target]:
    """The same model served by ``mlflow models serve`` (MLflow's scoring server), once it answers."""
    import mlflow.xgboost  # type: ignore[import-not-found]

    mlflow.xgboost.save_model(booster, str(folder / "mlflow-model"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", str(folder / "mlflow-model"),
                                "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(f"http://127.0.0.1:{port}/ping", process, timeout=120)
    header = ",".join(f"f{i}" for i in range(FEATURES)).encode() + b"\n"
    return process, Target(MLFLOW, f"http://127.0.0.1:{port}/invocations", {"server": process.pid}, header)


def wait_ping(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server behind {url} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, body, {"Content-Type": "text/csv", "Accept": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return bytes(answer.read())


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the run -----------------------------------------------------------------------------------------------------


def train(folder: Path) -> tuple[Any, Path, Any]:
    """A binary xgboost model (TREES trees of depth DEPTH on FEATURES features), saved as ``xgboost-model``;
    (booster, its file, feature rows to send)."""
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, FEATURES)).astype(np.float32)
    y = (X @ rng.normal(size=FEATURES) + 0.5 * np.sin(3 * X[:, 0]) * X[:, 1] + rng.logistic(size=len(X)) > 0)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": DEPTH, "eta": 0.3, "tree_method": "hist"},
                        xgb.DMatrix(X, label=y.astype(np.float32)), TREES)
    model_file = folder / "xgboost-model"
    model_file.write_bytes(bytes(booster.save_raw("ubj")))
    return booster, model_file, X


def csv_rows(X: Any) -> bytes:
    return "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in X.tolist()).encode()


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create_endpoint(client: Any, model_file: Path) -> Target:
    """The endpoint (one variant, one instance of the built-in xgboost), once in service."""
    client.lake.create_bucket(bucket=BUCKET)
    client.fs.pipe_file(f"lake://{BUCKET}/model/model.tar.gz", tar_gz({"xgboost-model": model_file.read_bytes()}))
    client.registry.create_model(model_name=ENDPOINT, primary_container={
        "Image": "xgboost", "ModelDataUrl": f"lake://{BUCKET}/model/model.tar.gz"})
    client.serving.create_endpoint_config(endpoint_config_name=ENDPOINT, production_variants=[
        {"VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1, "InitialVariantWeight": 1}])
    client.serving.create_endpoint(endpoint_name=ENDPOINT, endpoint_config_name=ENDPOINT)
    deadline = time.monotonic() + 120
    while (endpoint := client.serving.describe_endpoint(endpoint_name=ENDPOINT)).endpoint_status != "InService":
        if endpoint.endpoint_status == "Failed" or time.monotonic() > deadline:
            raise SystemExit(f"the endpoint is {endpoint.endpoint_status}: {endpoint.failure_reason}")
        time.sleep(0.1)
    return Target(OURS, f"{endpoint.runtime_url}/invocations", {
        "front": client.serving.describe_runtime().pid, "instance": endpoint.production_variants[0].instances[0].pid})


def line(load: Load) -> str:
    cpu = " + ".join(f"{role} {us:,.0f}" for role, us in load.cpu_us().items())
    return (f"  {load.target:<26} {load.per_second:7,.0f} requests/s {load.rows_per_second:9,.0f} rows/s   "
            f"p50 {load.quantile_ms(0.5):7.2f} ms  p99 {load.quantile_ms(0.99):7.2f} ms   CPU µs/request: {cpu}"
            + (f"   {load.errors} errors" if load.errors else ""))


def compare(ours: Load, bare: Load, targets: bool) -> str:
    throughput, p99 = ours.per_second / bare.per_second, ours.quantile_ms(0.99) / bare.quantile_ms(0.99)
    if not targets:
        return f"  crispml / bare app: throughput {throughput:.2f}×, p99 {p99:.2f}×"
    return (f"  crispml / bare app: throughput {throughput:.2f}× (target ≥ {TARGET_THROUGHPUT}×: "
            f"{'met' if throughput >= TARGET_THROUGHPUT else 'NOT met'}), p99 {p99:.2f}× (target ≤ {TARGET_P99}×: "
            f"{'met' if p99 <= TARGET_P99 else 'NOT met'})")


def measure(args: argparse.Namespace) -> int:
    import crispml

    work = Path(tempfile.mkdtemp(prefix="crispml-bench-serving-", dir=args.workdir))
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    processes: list[subprocess.Popen[bytes]] = []
    client: Any = None
    try:
        booster, model_file, X = train(work)
        client = crispml.connect(home=str(work / "home"))
        targets = [create_endpoint(client, model_file)]
        for name, threads in ((BARE, 1), (BARE_THREADS, 0)):
            process, target = start_bare(name, model_file, threads)
            processes.append(process)
            targets.append(target)
        mlflow_note = "MLflow is not installed here: its figures above are the issue's, not measured in this run"
        if importlib.util.find_spec("mlflow") is not None:
            process, target = start_mlflow(booster, work)
            processes.append(process)
            targets.append(target)
            mlflow_note = "MLflow measured in this run (mlflow models serve --env-manager local; its workers' CPU " \
                          "time is not counted)"
        print(f"model: binary xgboost, {TREES} trees of depth {DEPTH} on {FEATURES} features; load: "
              f"{args.connections} kept-alive connections from one process, per side {args.seconds:g} s measured in "
              f"{args.rounds} round(s), each after {args.warmup:g} s of warm-up; {os.cpu_count()} CPUs", flush=True)
        for rows in (1, 100):
            body = csv_rows(X[:rows])
            files = {t.name: work / f"{i}-{rows}.csv" for i, t in enumerate(targets)}
            for t in targets:
                files[t.name].write_bytes(t.header + body)
            answers = {t.name: post(t.url, files[t.name].read_bytes()) for t in targets if t.name != MLFLOW}
            if len(set(answers.values())) != 1:
                raise SystemExit(f"the targets answer {rows} rows differently: {answers}")
            loads = {t.name: Load(t.name, rows) for t in targets}
            for _ in range(args.rounds):
                for t in targets:
                    run_load(t, files[t.name], args.seconds / args.rounds, args, loads[t.name])
            print(f"\n{'single-row' if rows == 1 else f'{rows}-row'} CSV requests:")
            for load in loads.values():
                print(line(load))
            print(compare(loads[OURS], loads[BARE], targets=rows == 1), flush=True)
        print(f"\nfor reference, the issue's figures on this machine: a bare FastAPI app {ISSUE_BARE[0]:,.0f} "
              f"requests/s, p99 {ISSUE_BARE[1]:g} ms; mlflow models serve {ISSUE_MLFLOW[0]:,.0f} requests/s, "
              f"p99 {ISSUE_MLFLOW[1]:g} ms (single-row)")
        print(mlflow_note)
        load = (load_before, os.getloadavg()[0])
        print(f"{time.perf_counter() - started:.0f} s in all; load average {load[0]:.2f} → {load[1]:.2f}")
    finally:
        for process in processes:
            stop(process)
        if client is not None:
            client.serving.stop_runtime()
            client.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per side instead of 10")
    parser.add_argument("--seconds", type=float, help="measured seconds per side (default 10, --quick 3)")
    parser.add_argument("--rounds", type=int, default=2, help="turns the sides take (the seconds split between)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of load not counted, per round")
    parser.add_argument("--connections", type=int, default=16, help="concurrent kept-alive connections")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="a fresh subfolder is made and removed")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (to inspect it)")
    parser.add_argument("--load", metavar="URL", help=argparse.SUPPRESS)  # the generator's process
    parser.add_argument("--body", help=argparse.SUPPRESS)
    parser.add_argument("--bare", metavar="MODEL", help=argparse.SUPPRESS)  # the bare app's process
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 3.0 if args.quick else 10.0
    if args.load:
        return load_main(args)
    if args.bare:
        return bare_main(args)
    return measure(args)


if __name__ == "__main__":
    raise SystemExit(main())
