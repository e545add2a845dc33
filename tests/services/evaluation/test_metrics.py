"""Metrics against hand-worked cases (the expected numbers are written out, not recomputed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crispml.services.evaluation.curves import best_threshold, best_threshold_by_cost, curves, threshold_sweep
from crispml.services.evaluation.errors import InvalidPredictions, MetricNotApplicable
from crispml.services.evaluation.metrics import (
    anomaly_metrics,
    check_metrics,
    classification_metrics,
    clustering_metrics,
    precision_at_k,
    regression_metrics,
)

# TP = 3, FN = 1, FP = 2, TN = 4  (10 rows)
Y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
P = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_binary_metrics_from_a_known_confusion_matrix() -> None:
    m = classification_metrics(Y, P)
    assert m.confusion_matrix == [[4, 2], [1, 3]]  # rows actual 0, 1; columns predicted 0, 1
    assert m.accuracy == pytest.approx(7 / 10)
    assert m.precision == pytest.approx(3 / 5)
    assert m.recall == pytest.approx(3 / 4)
    assert m.specificity == pytest.approx(4 / 6)
    assert m.f1 == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert m.positive_label == 1 and m.roc_auc is None
    json.dumps(m.to_dict())


def test_scores_give_auc_pr_auc_and_log_loss() -> None:
    # positives scored .9 .4, negatives .6 .1: of the 4 (positive, negative) pairs, 3 are ordered right
    m = classification_metrics([1, 1, 0, 0], [1, 0, 1, 0], [0.9, 0.4, 0.6, 0.1])
    assert m.roc_auc == pytest.approx(3 / 4)
    # precision at each positive, by falling score: 1/1 at .9, 2/3 at .4  → mean 5/6
    assert m.pr_auc == pytest.approx((1 + 2 / 3) / 2)
    assert m.log_loss == pytest.approx(-(np.log(.9) + np.log(.4) + np.log(.4) + np.log(.9)) / 4)


def test_multiclass_per_class_report() -> None:
    y = ["a", "a", "b", "b", "c", "c"]
    p = ["a", "b", "b", "b", "c", "a"]
    m = classification_metrics(y, p)
    assert m.problem_type == "MulticlassClassification" and m.average == "macro"
    by = {c.label: c for c in m.per_class}
    # a: TP 1, FP 1 (the c predicted a), FN 1, TN 3
    assert (by["a"].precision, by["a"].recall, by["a"].specificity, by["a"].support) == (0.5, 0.5, 0.75, 2)
    # b: TP 2, FP 1, FN 0, TN 3
    assert by["b"].precision == pytest.approx(2 / 3) and by["b"].recall == 1 and by["b"].specificity == 0.75
    # c: TP 1, FP 0, FN 1, TN 4
    assert (by["c"].precision, by["c"].recall, by["c"].specificity) == (1.0, 0.5, 1.0)
    assert m.specificity == pytest.approx((0.75 + 0.75 + 1) / 3)
    assert m.accuracy == pytest.approx(4 / 6)


def test_threshold_sweep_by_hand() -> None:
    y = [1, 1, 0, 1, 0, 0]
    s = [0.9, 0.7, 0.6, 0.4, 0.3, 0.1]
    rows = {r.threshold: r for r in threshold_sweep(y, s, [0.5, 0.65])}
    assert (rows[0.5].tp, rows[0.5].fp, rows[0.5].tn, rows[0.5].fn) == (2, 1, 2, 1)
    assert (rows[0.65].tp, rows[0.65].fp, rows[0.65].tn, rows[0.65].fn) == (2, 0, 3, 1)
    assert rows[0.65].precision == 1 and rows[0.65].recall == pytest.approx(2 / 3)
    assert len(threshold_sweep(y, s)) == 21
    # f1 at 0.9: 1/(1+2/2)... candidates: .7 → TP2 FP0 FN1 f1 .8; .4 → TP3 FP1 FN0 f1 6/7
    best = best_threshold(y, s, "f1")
    assert best.threshold == 0.4 and best.value == pytest.approx(6 / 7)
    # a false negative costs 1, a false positive 5: at .7 cost 1·1 = 1; at .4 cost 5·1 = 5; at inf 3
    by_cost = best_threshold_by_cost(y, s, cost_fp=5, cost_fn=1)
    assert by_cost.threshold == 0.7 and by_cost.value == pytest.approx(1 / 6)
    assert best_threshold_by_cost(y, s, cost_fp=1, cost_fn=5).threshold == 0.4


def test_curves_are_thinned_and_start_and_end_right() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    s = np.clip(y * 0.3 + rng.random(5000) * 0.7, 0, 1)
    c = curves(y, s, points=50)
    assert len(c.roc["fpr"]) <= 50 and c.roc["fpr"][0] == 0 and c.roc["tpr"][-1] == 1
    assert 1 <= len(c.calibration["mean_predicted"]) <= 10


def test_regression_metrics_by_hand() -> None:
    m = regression_metrics([1.0, 2.0, 4.0], [2.0, 2.0, 3.0])
    # residuals actual − predicted: -1, 0, 1
    assert m.sse == 2 and m.mse == pytest.approx(2 / 3) and m.rmse == pytest.approx((2 / 3) ** 0.5)
    assert m.mae == pytest.approx(2 / 3)
    # mean 7/3; total sum of squares (16 + 1 + 25)/9 = 42/9 → R² = 1 − 2 / (42/9)
    assert m.r2 == pytest.approx(1 - 2 / (42 / 9))
    assert m.mape == pytest.approx((1 / 1 + 0 + 1 / 4) / 3)
    assert m.residuals.mean == 0 and m.residuals.max_abs == 1 and m.residuals.quantiles["p50"] == 0
    assert m.residuals.std == pytest.approx((2 / 3) ** 0.5)
    assert regression_metrics([0.0, 1.0], [0.5, 1.0]).mape is None


def test_wrong_kind_of_metric_is_refused_with_what_to_ask() -> None:
    with pytest.raises(MetricNotApplicable, match="ask for one of accuracy"):
        check_metrics("BinaryClassification", ["rmse"])
    with pytest.raises(MetricNotApplicable, match="ask for one of sse"):
        check_metrics("Regression", ["f1"])
    with pytest.raises(MetricNotApplicable, match="classification metrics"):
        regression_metrics(["a", "b"], ["a", "a"])
    with pytest.raises(MetricNotApplicable, match="regression metrics"):
        classification_metrics([1.5, 2.25], [1.0, 2.0])
    with pytest.raises(InvalidPredictions, match="2 true values but 3 predictions"):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])


def test_clustering_against_scikit_learn() -> None:
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (40, 2)), rng.normal(6, 1, (60, 2))])
    labels = np.array([0] * 40 + [1] * 60)
    m = clustering_metrics(x, labels)
    assert m.cluster_sizes == {"0": 40, "1": 60} and m.silhouette_sample_size is None
    assert m.silhouette == pytest.approx(silhouette_score(x, labels))
    assert clustering_metrics(x, np.zeros(100, dtype=int)).silhouette is None


def test_precision_at_k_by_hand() -> None:
    truth = [0, 1, 0, 1, 1, 0]
    scores = [0.1, 0.9, 0.8, 0.7, 0.2, 0.3]
    # by score: .9 (1), .8 (0), .7 (1), .3 (0), .2 (1)
    assert precision_at_k(truth, scores, 1) == 1
    assert precision_at_k(truth, scores, 3) == pytest.approx(2 / 3)
    assert precision_at_k(truth, scores, 5) == pytest.approx(3 / 5)
    assert anomaly_metrics(truth, scores, ks=(2, 10)).precision_at_k == {"2": 0.5}
    with pytest.raises(InvalidPredictions, match="between 1 and"):
        precision_at_k(truth, scores, 0)
