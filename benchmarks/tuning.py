"""Tuning jobs against bare Optuna in this process, measured in one run.

``python benchmarks/tuning.py`` makes a temporary embedded home (SQLite +
file://) and measures three things on a fixed reference problem —
xgboost on deterministic synthetic data (3,000 training and 1,000 validation
rows × 10 features, CSV in the lake, label first), 40 rounds, minimising
``validation:logloss`` over ``eta``, ``max_depth``, ``min_child_weight``,
``subsample``, ``colsample_bytree`` and ``lambda``:

1. **Search quality**: for each of ``--seeds`` seeds a ``Random`` and a
   ``Bayesian`` tuning job of ``--trials`` trials (2 in parallel). R is the
   median, over seeds, of Random's best objective after all its trials; the
   figure is the median, over seeds, of the number of trials Bayesian needs
   to reach R (a seed that never does counts as trials + 1). Target ≤ 12 (bare
   Optuna TPE: 11.5 on an xgboost problem). The same count for bare Optuna
   (TPE against random, in this process, one trial at a time, same problem) is
   the baseline.
2. **Parallel speed-up**: one Random job of ``--speed-trials`` heavier trials
   (40,000 × 20 rows, 60 rounds) with ``MaxParallelTrainingJobs`` 1, then 2,
   timed from CreateHyperParameterTuningJob to Completed. Target ≥ 1.6. The
   baseline, measured in the same run: bare Optuna running the same fits (one
   thread each) in 1, then 2 new processes sharing one study (a journal
   file), timed from starting them to their end (1.64 when the target was set).
3. **Per-trial overhead**: a Random job of ``--overhead-trials`` trials of
   the reference problem, one at a time on warm workers (the time between the
   first trial's end and the last one's, per trial), against bare Optuna's
   ``study.optimize`` of the same fits in this process with the same threads.
   Target: under 0.5 s a trial.

``--quick`` runs 2 seeds × 15 trials, 6 speed trials and 8 overhead trials.
It prints the machine's load average before and after: on a shared machine the
figures are taken under whatever load there is. It asserts nothing: it
reports. Everything lives under a fresh folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import crispml

BUCKET = "bench-tune"
OUTPUT = f"lake://{BUCKET}/jobs/"
STATIC = {"objective": "binary:logistic", "num_round": "40", "eval_metric": "logloss"}
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
        {"Name": "min_child_weight", "MinValue": "0.1", "MaxValue": "10", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1"},
        {"Name": "colsample_bytree", "MinValue": "0.5", "MaxValue": "1"},
        {"Name": "lambda", "MinValue": "0.01", "MaxValue": "10", "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "8"}]}


@dataclass(frozen=True)
class Plan:
    seeds: int = 5
    trials: int = 40
    speed_trials: int = 12
    overhead_trials: int = 15


FULL = Plan()
QUICK = Plan(seeds=2, trials=15, speed_trials=6, overhead_trials=8)


def make_data(rows: int, features: int, seed: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    weights = rng.normal(size=features)
    logits = X @ weights + 1.5 * np.sin(3 * X[:, 0]) * X[:, 1] + X[:, 2] * X[:, 3]
    y = (logits + rng.logistic(size=rows) > 0).astype(float)
    return X, y


def csv_bytes(X: Any, y: Any) -> bytes:
    import numpy as np

    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in np.column_stack([y, X])).encode()


def objective(data: tuple[Any, Any, Any, Any], rounds: int, threads: int) -> Any:
    """Bare Optuna's objective: the same xgboost fit as a trial's, on arrays already in memory."""
    import xgboost as xgb

    X, y, Xv, yv = data
    dtrain, dvalid = xgb.DMatrix(X, label=y, nthread=threads), xgb.DMatrix(Xv, label=yv, nthread=threads)

    def run(trial: Any) -> float:
        params = {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": threads, "verbosity": 0,
                  "eta": trial.suggest_float("eta", 0.01, 0.5, log=True),
                  "min_child_weight": trial.suggest_float("min_child_weight", 0.1, 10, log=True),
                  "subsample": trial.suggest_float("subsample", 0.5, 1),
                  "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1),
                  "lambda": trial.suggest_float("lambda", 0.01, 10, log=True),
                  "max_depth": trial.suggest_int("max_depth", 1, 8)}
        result: dict[str, Any] = {}
        xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dvalid, "validation")], evals_result=result,
                  verbose_eval=False)
        return float(result["validation"]["logloss"][-1])
    return run


def bare_process(journal: str, arrays: str, trials: int, rounds: int, seed: int) -> None:
    """One of bare Optuna's processes (a fresh interpreter): ``trials`` fits of the study kept in the journal
    file ``journal`` (the trials its parent enqueued, whichever process asks first), on one thread, on the
    arrays saved in ``arrays``."""
    import numpy as np
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loaded = np.load(arrays)
    data = (loaded["X"], loaded["y"], loaded["Xv"], loaded["yv"])
    study = optuna.load_study(study_name="bare", storage=JournalStorage(JournalFileBackend(journal)),
                              sampler=optuna.samplers.RandomSampler(seed))
    study.optimize(objective(data, rounds, 1), n_trials=trials)


class Bench:
    def __init__(self, client: Any, say: Any, folder: Path) -> None:
        self.client, self.say, self.folder = client, say, folder
        self.threads = len(os.sched_getaffinity(0))
        self.count = 0

    def put(self, name: str, rows: int, features: int, seed: int) -> tuple[Any, Any, Any, Any]:
        X, y = make_data(rows + rows // 3, features, seed)
        cut = rows
        self.client.lake.put_object(bucket=BUCKET, key=f"{name}/train/rows.csv", body=csv_bytes(X[:cut], y[:cut]))
        self.client.lake.put_object(bucket=BUCKET, key=f"{name}/validation/rows.csv",
                                    body=csv_bytes(X[cut:], y[cut:]))
        return X[:cut], y[:cut], X[cut:], y[cut:]

    def tune(self, data: str, strategy: str, trials: int, parallel: int, seed: int,
             static: dict[str, str] | None = None, cpus: int | None = None) -> tuple[float, list[Any]]:
        """A tuning job, create → Completed; (seconds, its trials in number order)."""
        self.count += 1
        name = f"b{self.count}-{strategy.lower()[:5]}-s{seed}"
        channels = [{"ChannelName": c, "ContentType": "text/csv",
                     "DataSource": {"S3DataSource": {"S3Uri": f"lake://{BUCKET}/{data}/{c}/"}}}
                    for c in ("train", "validation")]
        started = time.perf_counter()
        self.client.tuning.create_hyper_parameter_tuning_job(
            hyper_parameter_tuning_job_name=name,
            hyper_parameter_tuning_job_config={
                "Strategy": strategy, "RandomSeed": seed, "ParameterRanges": RANGES,
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:logloss"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": trials, "MaxParallelTrainingJobs": parallel}},
            training_job_definition={
                "AlgorithmSpecification": {"AlgorithmName": "xgboost"}, "StaticHyperParameters": static or STATIC,
                "InputDataConfig": channels, "OutputDataConfig": {"S3OutputPath": OUTPUT},
                "ResourceConfig": {"KeepAlivePeriodInSeconds": 60, **({"Cpus": cpus} if cpus else {})}})
        delay = 0.01
        while True:
            job = self.client.tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=name)
            if job.hyper_parameter_tuning_job_status not in ("InProgress", "Stopping"):
                break
            time.sleep(delay)
            delay = min(0.1, max(0.01, 0.01 * (time.perf_counter() - started)))
        seconds = time.perf_counter() - started
        if job.hyper_parameter_tuning_job_status != "Completed":
            raise SystemExit(f"tuning job {name} ended {job.hyper_parameter_tuning_job_status}: {job.failure_reason}")
        listed = self.client.tuning.list_training_jobs_for_hyper_parameter_tuning_job(
            hyper_parameter_tuning_job_name=name, sort_by="Name").training_job_summaries
        return seconds, list(listed)

    # -- bare Optuna, in this process ------------------------------------------------------------------------

    def objective(self, data: tuple[Any, Any, Any, Any], rounds: int, threads: int) -> Any:
        return objective(data, rounds, threads)

    def bare(self, data: tuple[Any, Any, Any, Any], sampler: str, trials: int, seed: int,
             threads: int | None = None) -> tuple[float, list[float]]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        chosen = optuna.samplers.TPESampler(seed=seed) if sampler == "tpe" else optuna.samplers.RandomSampler(seed)
        study = optuna.create_study(direction="minimize", sampler=chosen)
        started = time.perf_counter()
        study.optimize(self.objective(data, 40, threads or self.threads), n_trials=trials)
        return time.perf_counter() - started, [t.value for t in study.trials]

    def bare_parallel(self, data: tuple[Any, Any, Any, Any], trials: int, processes: int, rounds: int) -> float:
        """Seconds for bare Optuna to run ``trials`` fits (one thread each) in ``processes`` new processes sharing
        one study, from starting them to their end: the same start-up, data in memory once a process."""
        import multiprocessing

        import numpy as np
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        work = Path(tempfile.mkdtemp(prefix="bare-", dir=self.folder))
        arrays = str(work / "arrays.npz")
        X, y, Xv, yv = data
        np.savez(arrays, X=X, y=y, Xv=Xv, yv=yv)
        # The same fits however many processes share them: the points a seeded random search asks, enqueued.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        journal = str(work / "journal.log")
        points = optuna.create_study(sampler=optuna.samplers.RandomSampler(0))
        study = optuna.create_study(study_name="bare", direction="minimize",
                                    storage=JournalStorage(JournalFileBackend(journal)))
        space = {"eta": optuna.distributions.FloatDistribution(0.01, 0.5, log=True),
                 "min_child_weight": optuna.distributions.FloatDistribution(0.1, 10, log=True),
                 "subsample": optuna.distributions.FloatDistribution(0.5, 1),
                 "colsample_bytree": optuna.distributions.FloatDistribution(0.5, 1),
                 "lambda": optuna.distributions.FloatDistribution(0.01, 10, log=True),
                 "max_depth": optuna.distributions.IntDistribution(1, 8)}  # objective()'s
        for _ in range(trials):
            study.enqueue_trial(points.ask(space).params)
        spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as trials' workers are
        shares = [trials // processes + (i < trials % processes) for i in range(processes)]
        started = time.perf_counter()
        running = [spawn.Process(target=bare_process, args=(journal, arrays, share, rounds, i))
                   for i, share in enumerate(shares)]
        for process in running:
            process.start()
        for process in running:
            process.join()
        seconds = time.perf_counter() - started
        if any(process.exitcode != 0 for process in running):
            raise SystemExit("a bare Optuna process failed")
        return seconds

    # -- the three figures -------------------------------------------------------------------------------------

    def quality(self, data: tuple[Any, Any, Any, Any], plan: Plan) -> list[dict[str, Any]]:
        curves: dict[str, list[list[float]]] = {"Random": [], "Bayesian": [], "bare random": [], "bare TPE": []}
        for seed in range(plan.seeds):
            for strategy in ("Random", "Bayesian"):
                self.say(f"seed {seed}: {strategy}, {plan.trials} trials, 2 in parallel")
                _, trials = self.tune("ref", strategy, plan.trials, 2, seed)
                curves[strategy].append([t.final_hyper_parameter_tuning_job_objective_metric.value
                                         if t.final_hyper_parameter_tuning_job_objective_metric else float("inf")
                                         for t in trials])
            for sampler in ("random", "tpe"):
                curves[f"bare {'TPE' if sampler == 'tpe' else 'random'}"].append(
                    self.bare(data, sampler, plan.trials, seed)[1])

        def needed(values: list[list[float]], target: float) -> float:
            counts = []
            for run in values:
                best, reached = float("inf"), plan.trials + 1
                for i, v in enumerate(run, 1):
                    best = min(best, v)
                    if best <= target:
                        reached = i
                        break
                counts.append(reached)
            return statistics.median(counts)

        target = statistics.median(min(run) for run in curves["Random"])
        bare_target = statistics.median(min(run) for run in curves["bare random"])
        mine = needed(curves["Bayesian"], target)
        theirs = needed(curves["bare TPE"], bare_target)
        return [{"figure": f"trials Bayesian needs to reach Random's median best-at-{plan.trials} "
                           f"({plan.seeds} seeds; R = {target:.4f})",
                 "measured": mine, "baseline": f"bare Optuna TPE vs random: {theirs}", "target": "≤ 12",
                 "holds": mine <= 12}]

    def speed_up(self, plan: Plan) -> list[dict[str, Any]]:
        data = self.put("speed", 40_000, 20, 1)
        static = {**STATIC, "num_round": "60"}
        times, bare = {}, {}
        for parallel in (1, 2):
            self.say(f"speed: {plan.speed_trials} trials of 40,000 × 20, 60 rounds, {parallel} at a time")
            times[parallel], _ = self.tune("speed", "Random", plan.speed_trials, parallel, 0, static, cpus=1)
        for processes in (1, 2):
            self.say(f"speed: bare Optuna, the same {plan.speed_trials} fits in {processes} process(es)")
            bare[processes] = self.bare_parallel(data, plan.speed_trials, processes, 60)
        ratio = times[1] / times[2]
        baseline = bare[1] / bare[2]
        return [{"figure": f"MaxParallelTrainingJobs 2 over 1 ({plan.speed_trials} trials; {times[1]:.1f} s vs "
                           f"{times[2]:.1f} s)", "measured": round(ratio, 2),
                 "baseline": f"bare Optuna, 2 processes over 1: {baseline:.2f} ({bare[1]:.1f} s vs {bare[2]:.1f} s)",
                 "target": "≥ 1.6", "holds": ratio >= 1.6}]

    def overhead(self, data: tuple[Any, Any, Any, Any], plan: Plan) -> list[dict[str, Any]]:
        self.say(f"overhead: {plan.overhead_trials} trials one at a time, then bare Optuna in this process")
        _, trials = self.tune("ref", "Random", plan.overhead_trials, 1, 99, cpus=1)
        ends = sorted(t.training_end_time for t in trials)
        per_trial = (ends[-1] - ends[0]).total_seconds() / (len(ends) - 1)
        bare_seconds, _ = self.bare(data, "random", plan.overhead_trials, 99, threads=1)
        bare_per_trial = bare_seconds / plan.overhead_trials
        overhead = per_trial - bare_per_trial
        return [{"figure": f"seconds a trial, warm workers ({per_trial:.2f} s) minus bare Optuna in process "
                           f"({bare_per_trial:.2f} s)", "measured": round(overhead, 3),
                 "baseline": f"{bare_per_trial:.3f} s a trial", "target": "< 0.5 s", "holds": overhead < 0.5}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds × 15 trials, 6 speed and 8 overhead trials")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--trials", type=int)
    parser.add_argument("--only", choices=("quality", "speed", "overhead"), action="append")
    parser.add_argument("--output", choices=("table", "json"), default="table")
    parser.add_argument("--workdir", default=tempfile.gettempdir())
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    plan = Plan(seeds=args.seeds or plan.seeds, trials=args.trials or plan.trials, speed_trials=plan.speed_trials,
                overhead_trials=plan.overhead_trials)
    console = Console(stderr=True)
    folder = Path(tempfile.mkdtemp(prefix="crispml-bench-tuning-", dir=args.workdir))
    load_before = os.getloadavg()
    figures: list[dict[str, Any]] = []
    try:
        with crispml.connect(home=str(folder / "home")) as client:
            client.lake.create_bucket(bucket=BUCKET)
            bench = Bench(client, lambda text: console.print(f"[dim]{text}[/dim]"), folder)
            data = bench.put("ref", 3000, 10, 0)
            only = args.only or ["quality", "speed", "overhead"]
            if "overhead" in only:
                figures += bench.overhead(data, plan)
            if "quality" in only:
                figures += bench.quality(data, plan)
            if "speed" in only:
                figures += bench.speed_up(plan)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()
    note = (f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} on {os.cpu_count()} CPUs"
            + (" — measured under load: other work shared the machine" if max(load_before[0], load_after[0]) >
               (os.cpu_count() or 1) else ""))
    if args.output == "json":
        print(json.dumps({"figures": figures, "load": note}, indent=2, default=str))
        return 0
    table = Table(title="crispml tuning jobs against bare Optuna")
    for column in ("figure", "measured", "baseline", "target", "holds"):
        table.add_column(column)
    for f in figures:
        table.add_row(f["figure"], str(f["measured"]), f["baseline"], f["target"], "yes" if f["holds"] else "NO")
    Console().print(table)
    Console().print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
