"""Training jobs against the same work done in this process, measured in one run.

``python benchmarks/training.py`` makes a temporary embedded home (SQLite +
file://) and measures three things, each against a baseline in the same run:

1. **xgboost, one fit**: 1,000,000 × 20 synthetic rows (binary label), 100
   rounds, as a training job (built-in ``xgboost``, the data one Parquet file
   in the lake, label first, read in ``FastFile`` mode so nothing is copied)
   against the same fit here: read the same file with pandas, ``xgb.train``
   with the job's params and threads, the train metric evaluated every round
   as the job reports it. The job is timed as a client sees it: from
   ``CreateTrainingJob`` to ``Completed`` in ``DescribeTrainingJob``, on a new
   worker (cold) and on a kept one (warm, ``KeepAlivePeriodInSeconds`` on the
   previous job). Target: job / in-process ≤ 1.3.
2. **Start-up overhead**: an empty script job (``pass``, TrainingImage
   ``python``), create → Completed, cold and from a warm pool. Target: warm
   under 0.3 s.
3. **5-fold cross-validation** (``KFold``) as a job against scikit-learn's
   ``cross_validate`` of ``XGBClassifier`` with the same params here. The job
   also fits the final model on every row, so the baseline does too
   (``cross_validate`` + one ``fit``); the figure without it is shown.
   Target: ≤ 1.2.

The client polls ``DescribeTrainingJob`` every 10 ms, then every 1 % of the
time waited (at most 0.1 s), so the figures are the platform's, not a poll
interval's, within 1 %. Timings are medians of ``--repeat`` runs
(sides interleaved). ``--quick`` uses 200,000 rows and fewer runs (about a
minute). ``--output json`` prints the figures as JSON. Everything lives under
a fresh folder in ``--workdir`` that is removed at the end. It asserts
nothing: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import crispml

BUCKET = "bench-train"
OUTPUT = f"lake://{BUCKET}/jobs/"
KEEP_ALIVE = 120
#: DescribeTrainingJob every 10 ms, stretching to 1 % of the time waited so far (at most 0.1 s): a call
#: costs the client 0.8 ms of CPU (its audit event included), so polling every 10 ms takes about 7 % of a
#: core from a fit that uses both; the figure is then late by at most 1 %.
POLL = 0.01
POLL_SHARE = 0.01
POLL_MAX = 0.1


@dataclass(frozen=True)
class Plan:
    rows: int = 1_000_000
    features: int = 20
    rounds: int = 100
    cv_rows: int = 200_000
    cv_rounds: int = 50
    repeat: int = 3
    empty_repeat: int = 10


FULL = Plan()
QUICK = Plan(rows=200_000, cv_rows=50_000, repeat=2, empty_repeat=5)


@dataclass
class Figure:
    name: str
    seconds: float
    baseline: str
    baseline_seconds: float | None
    target: str
    runs: list[float]

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else None


class Bench:
    def __init__(self, client: Any, plan: Plan, say: Callable[[str], None]) -> None:
        self.client, self.plan, self.say = client, plan, say
        self.threads = len(os.sched_getaffinity(0))
        self.count = 0

    # -- jobs -------------------------------------------------------------------------------------------------

    def name(self, kind: str) -> str:
        self.count += 1
        return f"bench-{kind}-{self.count}"

    def run_job(self, request: dict[str, Any]) -> tuple[float, Any]:
        """CreateTrainingJob, then DescribeTrainingJob (see POLL) until it ends; (seconds, job)."""
        training = self.client.training
        started = time.perf_counter()
        training.create_training_job(**request)
        while True:
            job = training.describe_training_job(training_job_name=request["training_job_name"])
            if job.training_job_status in ("Completed", "Failed", "Stopped"):
                elapsed = time.perf_counter() - started
                break
            time.sleep(min(POLL_MAX, max(POLL, POLL_SHARE * (time.perf_counter() - started))))
        if job.training_job_status != "Completed":
            raise SystemExit(f"job {job.training_job_name} ended {job.training_job_status}: {job.failure_reason}")
        return elapsed, job

    def xgb_request(self, kind: str, uri: str, hyperparameters: dict[str, str], keep: int | None,
                    **extra: Any) -> dict[str, Any]:
        return {"training_job_name": self.name(kind), "algorithm_specification": {
                    "AlgorithmName": "xgboost", "TrainingInputMode": "FastFile"},
                "hyper_parameters": hyperparameters,
                "input_data_config": [{"ChannelName": "train", "ContentType": "application/x-parquet",
                                       "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}],
                "output_data_config": {"S3OutputPath": OUTPUT},
                "resource_config": {"KeepAlivePeriodInSeconds": keep} if keep else {}, **extra}

    # -- 1. one fit ---------------------------------------------------------------------------------------------

    def hyperparameters(self, rounds: int) -> dict[str, str]:
        return {"objective": "binary:logistic", "num_round": str(rounds), "eval_metric": "logloss",
                "tree_method": "hist", "max_depth": "6", "eta": "0.3"}

    def params(self) -> dict[str, Any]:
        return {"objective": "binary:logistic", "eval_metric": ["logloss"], "tree_method": "hist", "max_depth": 6,
                "eta": 0.3, "nthread": self.threads, "verbosity": 1}

    def in_process_fit(self, path: Path) -> float:
        import numpy as np
        import pandas as pd
        import xgboost as xgb

        started = time.perf_counter()
        table = pd.read_parquet(path).to_numpy(dtype=np.float32)
        X, y = np.ascontiguousarray(table[:, 1:]), table[:, 0]
        dtrain = xgb.DMatrix(X, label=y, nthread=self.threads)
        xgb.train(self.params(), dtrain, num_boost_round=self.plan.rounds, evals=[(dtrain, "train")],
                  verbose_eval=False)
        return time.perf_counter() - started

    def one_fit(self, path: Path, uri: str) -> list[Figure]:
        plan = self.plan
        hps = self.hyperparameters(plan.rounds)
        self.say(f"xgboost on {plan.rows:,} × {plan.features}, {plan.rounds} rounds: a cold job")
        cold, _ = self.run_job(self.xgb_request("xgb-cold", uri, hps, KEEP_ALIVE))
        warm_runs, local_runs = [], []
        for i in range(plan.repeat):
            self.say(f"  round {i + 1} of {plan.repeat}: in process, then a job on the warm worker")
            local_runs.append(self.in_process_fit(path))
            seconds, _ = self.run_job(self.xgb_request("xgb-warm", uri, hps, last(i, plan.repeat)))
            warm_runs.append(seconds)
        local = statistics.median(local_runs)
        what = f"xgboost {plan.rows:,}×{plan.features}, {plan.rounds} rounds"
        return [Figure(f"{what}: job, new worker", cold, "in process", local, "≤ 1.3×", [cold]),
                Figure(f"{what}: job, warm worker", statistics.median(warm_runs), "in process", local, "≤ 1.3×",
                       warm_runs)]

    # -- 2. start-up ----------------------------------------------------------------------------------------------

    def empty(self, folder: Path) -> list[Figure]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.py").write_text("pass\n")

        def request(kind: str, keep: int | None = KEEP_ALIVE) -> dict[str, Any]:
            return {"training_job_name": self.name(kind), "algorithm_specification": {"TrainingImage": "python"},
                    "hyper_parameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": str(folder)},
                    "output_data_config": {"S3OutputPath": OUTPUT},
                    "resource_config": {"KeepAlivePeriodInSeconds": keep} if keep else {}}
        self.say("an empty script job: cold, then warm")
        cold_runs, warm_runs = [], []
        for _ in range(2):  # a new worker each time: its pool key differs (cpus) from the kept one's
            cold_runs.append(self.run_job({**request("empty-cold"), "resource_config": {"Cpus": 1}})[0])
        for i in range(self.plan.empty_repeat):
            warm_runs.append(self.run_job(request("empty-warm", last(i, self.plan.empty_repeat)))[0])
        warm_runs = warm_runs[1:]  # the first one starts the pool's worker
        return [Figure("empty script job: new worker", statistics.median(cold_runs), "-", None, "-", cold_runs),
                Figure("empty script job: warm worker", statistics.median(warm_runs), "-", None, "< 0.3 s",
                       warm_runs)]

    # -- 3. cross-validation ----------------------------------------------------------------------------------

    def in_process_cv(self, path: Path) -> tuple[float, float]:
        import numpy as np
        import pandas as pd
        import xgboost as xgb
        from sklearn.model_selection import KFold, cross_validate

        started = time.perf_counter()
        table = pd.read_parquet(path).to_numpy(dtype=np.float32)
        X, y = np.ascontiguousarray(table[:, 1:]), table[:, 0]
        model = xgb.XGBClassifier(n_estimators=self.plan.cv_rounds, tree_method="hist", max_depth=6,
                                  learning_rate=0.3, n_jobs=self.threads, eval_metric="logloss")
        cross_validate(model, X, y, cv=KFold(5), scoring=("neg_log_loss", "accuracy"))
        cv_only = time.perf_counter() - started
        model.fit(X, y)
        return time.perf_counter() - started, cv_only

    def cross_validation(self, path: Path, uri: str) -> list[Figure]:
        plan = self.plan
        hps = {**self.hyperparameters(plan.cv_rounds), "eval_metric": "logloss,error"}
        cv = {"Strategy": "KFold", "Folds": 5}
        self.say(f"5-fold CV on {plan.cv_rows:,} rows, {plan.cv_rounds} rounds")
        self.run_job(self.xgb_request("cv-first", uri, hps, KEEP_ALIVE, cross_validation=cv))  # the pool's worker
        job_runs, local_runs, cv_only_runs = [], [], []
        for i in range(plan.repeat):
            self.say(f"  round {i + 1} of {plan.repeat}: in process, then a job on the warm worker")
            local, cv_only = self.in_process_cv(path)
            local_runs.append(local)
            cv_only_runs.append(cv_only)
            job_runs.append(self.run_job(self.xgb_request("cv", uri, hps, last(i, plan.repeat),
                                                          cross_validation=cv))[0])
        what = f"5-fold CV {plan.cv_rows:,}×{plan.features}, {plan.cv_rounds} rounds"
        job = statistics.median(job_runs)
        return [Figure(f"{what} + final fit: job, warm worker", job, "cross_validate + fit",
                       statistics.median(local_runs), "≤ 1.2×", job_runs),
                Figure(f"{what}: (baseline without the final fit)", job, "cross_validate",
                       statistics.median(cv_only_runs), "-", job_runs)]


def last(i: int, total: int) -> int | None:
    """The keep-alive of run ``i`` of ``total``: none for the last, so its worker leaves with it."""
    return None if i == total - 1 else KEEP_ALIVE


def write_data(path: Path, rows: int, features: int, seed: int) -> None:
    """Synthetic binary data, label first, as one Parquet file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    weights = rng.normal(size=features)
    logits = X @ weights + 0.5 * np.sin(3 * X[:, 0]) * X[:, 1]
    y = (logits + rng.logistic(size=rows) > 0).astype(np.float32)
    columns = {"label": y, **{f"f{i}": X[:, i] for i in range(features)}}
    pq.write_table(pa.table(columns), path)


def render(figures: list[Figure], header: str, console: Console) -> None:
    table = Table(title=header, title_justify="left")
    for column in ("what", "median s", "baseline", "baseline s", "ratio", "target", "runs s"):
        table.add_column(column, justify="left" if column in ("what", "baseline", "runs s") else "right")
    for f in figures:
        table.add_row(f.name, f"{f.seconds:.3f}", f.baseline,
                      f"{f.baseline_seconds:.3f}" if f.baseline_seconds else "-",
                      f"{f.ratio:.2f}" if f.ratio else "-", f.target, " ".join(f"{r:.3f}" for r in f.runs))
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200,000 rows and fewer runs, to check it works")
    parser.add_argument("--repeat", type=int, help="runs per side (the median is kept)")
    parser.add_argument("--only", choices=("fit", "empty", "cv"), action="append", help="run only these parts")
    parser.add_argument("--workdir", default=tempfile.gettempdir(), help="a fresh subfolder is made and removed")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (to inspect it)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repeat:
        plan = Plan(**{**asdict(plan), "repeat": args.repeat})
    parts = args.only or ["fit", "empty", "cv"]
    err = Console(stderr=True)

    def say(text: str) -> None:
        err.log(text)

    work = Path(tempfile.mkdtemp(prefix="crispml-bench-training-", dir=args.workdir))
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    figures: list[Figure] = []
    try:
        home = work / "home"
        fit_file, cv_file = work / "fit.parquet", work / "cv.parquet"
        say(f"writing {plan.rows:,} + {plan.cv_rows:,} synthetic rows; a home in {home}")
        write_data(fit_file, plan.rows, plan.features, seed=1)
        write_data(cv_file, plan.cv_rows, plan.features, seed=2)
        with crispml.connect(home=str(home)) as client:
            client.lake.create_bucket(bucket=BUCKET)
            client.fs.put_file(str(fit_file), f"{BUCKET}/fit/part-0.parquet")
            client.fs.put_file(str(cv_file), f"{BUCKET}/cv/part-0.parquet")
            bench = Bench(client, plan, say)
            if "fit" in parts:
                figures += bench.one_fit(fit_file, f"lake://{BUCKET}/fit/")
            if "empty" in parts:
                figures += bench.empty(work / "empty")
            if "cv" in parts:
                figures += bench.cross_validation(cv_file, f"lake://{BUCKET}/cv/")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    load = (load_before, os.getloadavg()[0])
    setup = {"plan": asdict(plan), "quick": args.quick, "cpus": len(os.sched_getaffinity(0)),
             "python": sys.version.split()[0], "load_1min": [round(x, 2) for x in load], "seconds": round(elapsed, 1)}
    if args.output == "json":
        print(json.dumps({"setup": setup, "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}, indent=2))
        return 0
    header = (f"training jobs against the same work in process — {setup['cpus']} CPUs, load {load[0]:.2f} → "
              f"{load[1]:.2f}; {elapsed:.0f} s")
    console = Console() if sys.stdout.isatty() else Console(width=170)
    render(figures, header, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
