"""Evaluation's metrics and model comparison against the same scikit-learn work in this process.

``python benchmarks/evaluation.py`` measures, each against a baseline in the same run:

1. **The metrics of a binary classifier** on 1,000,000 rows (labels, predictions, scores) through
   ``crispml.services.evaluation.metrics.classification_metrics`` against the same scikit-learn calls made
   directly (``confusion_matrix``, ``precision_recall_fscore_support``, ``accuracy_score``,
   ``roc_auc_score``, ``average_precision_score``, ``log_loss``). Target: ≤ 1.3. This is the engine
   only: the evaluation *job* (a model run over a test table, as ``CreateEvaluationJob`` will do) comes
   with the service, and the issue's job-against-in-process figure will be measured then.
2. **The bootstrap comparison** of two classifiers (1,000 resamples, accuracy, precision, recall,
   specificity and f1, McNemar's test) on the same rows, and of two regressors (rmse, mae, r2), whose
   resampling draws rows (no baseline: the time is the figure).

Timings are medians of ``--repeat`` runs. ``--quick`` uses 200,000 rows. It asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
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


def main() -> None:
    from crispml.services.evaluation.compare import compare_classifiers, compare_regressors
    from crispml.services.evaluation.metrics import classification_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = 200_000 if args.quick else 1_000_000
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    score = np.clip(0.35 * y + 0.65 * rng.random(rows), 0, 1)
    pred, pred_b = (score >= 0.5).astype(int), (np.clip(score + rng.normal(0, 0.05, rows), 0, 1) >= 0.5).astype(int)
    sklearn_calls(y[:1000], pred[:1000], score[:1000])  # imports, outside the timings
    baseline = median_time(lambda: sklearn_calls(y, pred, score), args.repeat)
    ours = median_time(lambda: classification_metrics(y, pred, score), args.repeat)
    compare = median_time(lambda: compare_classifiers(y, pred, pred_b, ("accuracy", "precision", "recall",
                                                                        "specificity", "f1")), args.repeat)
    yr = rng.normal(size=rows)
    regress = median_time(lambda: compare_regressors(yr, yr + rng.normal(size=rows), yr + rng.normal(size=rows)), 1)
    print(f"rows: {rows:,}")
    print(f"binary classifier metrics: crispml {ours:.3f} s, scikit-learn calls {baseline:.3f} s, "
          f"ratio {ours / baseline:.2f} (target ≤ 1.3)")
    print(f"bootstrap comparison of two classifiers, 1,000 resamples, 5 metrics + McNemar: {compare:.3f} s")
    print(f"bootstrap comparison of two regressors, 1,000 resamples, rmse/mae/r2: {regress:.2f} s")


if __name__ == "__main__":
    main()
