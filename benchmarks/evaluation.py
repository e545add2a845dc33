"""Evaluation's metrics and model comparison against the same scikit-learn work in this process.

``python benchmarks/evaluation.py`` measures, each against a baseline in the same run:

1. **The metrics of a binary classifier** on 1,000,000 rows (labels, predictions, scores) through
   ``crispml.services.evaluation.metrics.classification_metrics`` against the same scikit-learn calls made
   directly (``confusion_matrix``, ``precision_recall_fscore_support``, ``accuracy_score``,
   ``roc_auc_score``, ``average_precision_score``, ``log_loss``). Target: ≤ 1.3. This is the engine
   only.
2. **An evaluation job** (the issue's figure): a binary xgboost model (a training job on a 50,000-row
   sample, 100 rounds of depth 6) judged on 1,000,000 test rows × 10 features, one Parquet object in the
   lake read as a lake-prefix channel, ``feature_importance=False``; timed from ``CreateEvaluationJob``
   to ``Completed`` (the call returns when the job has ended) on a temporary embedded home (SQLite +
   file://). Against the same work in this process: the same Parquet file read with pyarrow, the job's
   own model (its ``xgboost-model``, unpacked from ``model.tar.gz`` outside the timing) predicting the
   rows, and the scikit-learn calls of 1. Target: ≤ 1.3. What the job does beyond that (curves,
   thresholds, the HTML report, the predictions Parquet, its records) is inside its time.
3. **The bootstrap comparison** of two classifiers (1,000 resamples, accuracy, precision, recall,
   specificity and f1, McNemar's test) on the same rows, and of two regressors (rmse, mae, r2), whose
   resampling draws rows (no baseline: the time is the figure).

Timings are medians of ``--repeat`` runs. ``--quick`` uses 200,000 rows; ``--only`` picks parts. It asserts
nothing: it reports.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def median_time(work: Callable[[], Any], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def sklearn_calls(y: np.ndarray, pred: np.ndarray, score: np.ndarray) -> None:
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        confusion_matrix,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    labels = np.array([0, 1])
    confusion_matrix(y, pred, labels=labels)
    precision_recall_fscore_support(y, pred, labels=labels, average=None, zero_division=0)
    accuracy_score(y, pred)
    truth = y == 1
    roc_auc_score(truth, score)
    average_precision_score(truth, score)
    log_loss(truth, score, labels=[False, True])


BUCKET = "bench-eval"
FEATURES = 10
TRAIN_ROWS = 50_000
HYPERPARAMETERS = {"objective": "binary:logistic", "num_round": "100", "max_depth": "6", "eta": "0.3",
                   "tree_method": "hist"}


def write_rows(path: Path, rows: int, seed: int) -> None:
    """Synthetic binary rows, label first, as one Parquet file (the same rule for training and test rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, FEATURES))
    weights = np.random.default_rng(0).normal(size=FEATURES)
    logits = X @ weights + 0.5 * np.sin(3 * X[:, 0]) * X[:, 1]
    y = (logits + rng.logistic(size=rows) > 0).astype(np.int64)
    pq.write_table(pa.table({"label": y, **{f"f{i}": X[:, i] for i in range(FEATURES)}}), path)


def in_process(test_file: Path, model_file: Path) -> None:
    """The job's work done here: read the rows, predict with the same model, the same scikit-learn calls."""
    import pyarrow.parquet as pq
    import xgboost as xgb

    table = pq.read_table(test_file)
    y = table.column(0).to_numpy()
    X = np.column_stack([table.column(i).to_numpy() for i in range(1, table.num_columns)])
    model = xgb.Booster(model_file=bytearray(model_file.read_bytes()))  # as the job loads it
    score = model.predict(xgb.DMatrix(X))
    sklearn_calls(y, (score >= 0.5).astype(y.dtype), score)


def job_figures(rows: int, repeat: int) -> tuple[float, float, list[float], list[float]]:
    """(job median, in-process median, job runs, in-process runs), sides interleaved."""
    import crispml

    work = Path(tempfile.mkdtemp(prefix="crispml-bench-evaluation-"))
    try:
        write_rows(work / "train.parquet", TRAIN_ROWS, seed=1)
        write_rows(work / "test.parquet", rows, seed=2)
        with crispml.connect(home=str(work / "home")) as client:
            client.lake.create_bucket(bucket=BUCKET)
            client.fs.put_file(str(work / "train.parquet"), f"{BUCKET}/train/part-0.parquet")
            client.fs.put_file(str(work / "test.parquet"), f"{BUCKET}/test/part-0.parquet")
            channel = {"ContentType": "application/x-parquet",
                       "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix"}}}
            client.training.create_training_job(
                training_job_name="bench-model", algorithm_specification={"AlgorithmName": "xgboost"},
                hyper_parameters=HYPERPARAMETERS,
                input_data_config=[{**channel, "ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": f"lake://{BUCKET}/train/"}}}],
                output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"})
            while (job := client.training.describe_training_job(training_job_name="bench-model")) \
                    .training_job_status not in ("Completed", "Failed", "Stopped"):
                time.sleep(0.1)
            if job.training_job_status != "Completed":
                raise SystemExit(f"the training job ended {job.training_job_status}: {job.failure_reason}")
            with tarfile.open(fileobj=io.BytesIO(client.fs.cat_file(job.model_artifacts.s3_model_artifacts))) as tar:
                tar.extractall(work / "model", filter="data")
            model_file = next((work / "model").rglob("xgboost-model"))
            in_process(work / "test.parquet", model_file)  # imports and caches, outside the timings
            jobs, local = [], []
            for n in range(repeat):
                started = time.perf_counter()
                judged = client.evaluation.create_evaluation_job(
                    evaluation_job_name=f"bench-eval-{n}", model_source={"TrainingJobName": "bench-model"},
                    test_data={"ChannelName": "test", "ContentType": "application/x-parquet", "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"lake://{BUCKET}/test/"}}},
                    problem_type="BinaryClassification", feature_importance=False,
                    output_location=f"lake://{BUCKET}/evaluations/")
                jobs.append(time.perf_counter() - started)
                if judged.status != "Completed" or judged.metrics["rows"] != rows:
                    raise SystemExit(f"the evaluation ended {judged.status}: {judged.failure_reason}")
                started = time.perf_counter()
                in_process(work / "test.parquet", model_file)
                local.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return statistics.median(jobs), statistics.median(local), jobs, local


def main() -> None:
    from crispml.services.evaluation.compare import compare_classifiers, compare_regressors
    from crispml.services.evaluation.metrics import classification_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("metrics", "job", "bootstrap"), action="append",
                        help="run only these parts")
    args = parser.parse_args()
    parts = args.only or ["metrics", "job", "bootstrap"]
    rows = 200_000 if args.quick else 1_000_000
    print(f"rows: {rows:,}")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    score = np.clip(0.35 * y + 0.65 * rng.random(rows), 0, 1)
    pred, pred_b = (score >= 0.5).astype(int), (np.clip(score + rng.normal(0, 0.05, rows), 0, 1) >= 0.5).astype(int)
    if "metrics" in parts:
        sklearn_calls(y[:1000], pred[:1000], score[:1000])  # imports, outside the timings
        baseline = median_time(lambda: sklearn_calls(y, pred, score), args.repeat)
        ours = median_time(lambda: classification_metrics(y, pred, score), args.repeat)
        print(f"binary classifier metrics: crispml {ours:.3f} s, scikit-learn calls {baseline:.3f} s, "
              f"ratio {ours / baseline:.2f} (target ≤ 1.3)")
    if "job" in parts:
        job, local, job_runs, local_runs = job_figures(rows, args.repeat)
        print(f"evaluation job, binary xgboost ({HYPERPARAMETERS['num_round']} rounds) on {rows:,} rows x "
              f"{FEATURES} features: create → Completed {job:.2f} s, in-process read + predict + scikit-learn "
              f"calls {local:.2f} s, ratio {job / local:.2f} (target ≤ 1.3); runs: job "
              f"{', '.join(f'{t:.2f}' for t in job_runs)}, in-process {', '.join(f'{t:.2f}' for t in local_runs)}")
    if "bootstrap" in parts:
        compare = median_time(lambda: compare_classifiers(y, pred, pred_b, ("accuracy", "precision", "recall",
                                                                            "specificity", "f1")), args.repeat)
        yr = rng.normal(size=rows)
        regress = median_time(lambda: compare_regressors(yr, yr + rng.normal(size=rows),
                                                         yr + rng.normal(size=rows)), 1)
        print(f"bootstrap comparison of two classifiers, 1,000 resamples, 5 metrics + McNemar: {compare:.3f} s")
        print(f"bootstrap comparison of two regressors, 1,000 resamples, rmse/mae/r2: {regress:.2f} s")


if __name__ == "__main__":
    main()
