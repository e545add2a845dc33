"""Judging models without a label to predict: clusterings (k-means) and anomaly scores (random cut forest).

A clustering model answers each row's cluster (``{"predictions":
[{"closest_cluster": …}]}``, as SageMaker's k-means does); it is judged by the
silhouette of its clusters on the test rows and their sizes. An anomaly
model answers a score per row (``{"scores": [{"score": …}]}``, higher = more
anomalous); with labels (1 = anomaly) it is judged by precision at k and ROC
AUC, without them only the score distribution is reported. The metrics are
the engine's (``metrics.py``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions, MetricNotApplicable
from crispml.services.evaluation.run import BATCH_ROWS, Invoke, csv_rows

UNSUPERVISED = ("Clustering", "AnomalyDetection")
METRICS = {"Clustering": ("silhouette", "cluster_sizes"), "AnomalyDetection": ("precision_at_k", "roc_auc")}


def check(problem_type: str, requested: list[str] | None) -> None:
    for name in requested or []:
        if name not in METRICS[problem_type]:
            raise MetricNotApplicable(f"{name} is not a metric of {problem_type}: ask for one of "
                                      f"{', '.join(METRICS[problem_type])}")


def answers(invoke: Invoke, X: np.ndarray, key: str) -> np.ndarray:
    """The value under ``key`` (``closest_cluster`` or ``score``) of every row's answer, in batches."""
    values: list[float] = []
    for start in range(0, len(X), BATCH_ROWS):
        body, _ = invoke(csv_rows(X[start:start + BATCH_ROWS]), "text/csv", "application/json")
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise InvalidPredictions(f"the model's answer is not JSON: {body[:80]!r}") from exc
        items = answer.get("predictions") or answer.get("scores") if isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise InvalidPredictions(f"the model's answer holds no list of predictions or scores: {body[:80]!r}")
        try:
            values += [float(i[key]) if isinstance(i, dict) else float(i) for i in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidPredictions(f"the model's answers have no {key!r}: {items[:1]!r}; is it a "
                                     f"{'clustering' if key == 'closest_cluster' else 'anomaly'} model?") from exc
    if len(values) != len(X):
        raise InvalidPredictions(f"the model answered {len(values)} values for {len(X)} rows")
    return np.asarray(values)


def judge(problem_type: str, invoke: Invoke, X: np.ndarray, y_true: np.ndarray | None) -> tuple[dict[str, Any],
                                                                                              np.ndarray]:
    """The metrics and each row's answer (its cluster, or its score)."""
    from crispml.services.evaluation import metrics as metric_math

    if problem_type == "Clustering":
        clusters = answers(invoke, X, "closest_cluster")
        return metric_math.clustering_metrics(X, clusters.astype(int)).to_dict(), clusters
    scores = answers(invoke, X, "score")
    quantiles = {str(q): float(v) for q, v in zip((0.5, 0.9, 0.99), np.quantile(scores, (0.5, 0.9, 0.99)),
                                                   strict=True)}
    found: dict[str, Any] = {"rows": len(scores), "score_quantiles": quantiles}
    if y_true is not None:
        found.update(metric_math.anomaly_metrics(y_true, scores).to_dict())
    return found, scores
