"""Metrics and curves read from one ranking and one confusion matrix are scikit-learn's, to the last bit.

``metrics``, ``curves`` and ``ranking`` compute what scikit-learn's functions compute, from counts taken once;
each number here is compared with scikit-learn's own call with ``==``, on rows with many tied scores, scores
of float32 precision, one class only, scores outside [0, 1], and a handful of rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from crispml.services.evaluation import ranking
from crispml.services.evaluation.curves import best_threshold, best_threshold_by_cost, curves, threshold_sweep
from crispml.services.evaluation.metrics import binary_log_loss, classification_metrics


def _binary(kind: str, n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    if kind == "ties":
        score = np.round(score, 2)
    elif kind == "float32":
        score = score.astype(np.float32).astype(float)
    elif kind == "negatives only":
        y = np.zeros(n, dtype=int)
    elif kind == "positives only":
        y = np.ones(n, dtype=int)
    elif kind == "margins":  # decision values, not probabilities: no log loss
        score = 4 * score - 2
    elif kind == "few":
        y, score = np.array([1, 0, 1]), np.array([0.2, 0.2, 0.9])
    return y, score


KINDS = ("plain", "ties", "float32", "negatives only", "positives only", "margins", "few")


def _same(ours: Any, theirs: Any) -> bool:
    return bool(np.isnan(theirs) and np.isnan(ours)) if np.isnan(theirs) else ours == theirs


@pytest.mark.parametrize("kind", KINDS)
def test_binary_metrics_are_scikit_learns_exactly(kind: str) -> None:
    y, score = _binary(kind)
    pred = (score >= 0.5).astype(int)
    pred[:2] = [0, 1]  # both labels predicted, so the metrics are binary even with one true class
    m = classification_metrics(y, pred, score)
    labels = np.array([0, 1])
    assert m.confusion_matrix == confusion_matrix(y, pred, labels=labels).tolist()
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, labels=labels, average=None,
                                                               zero_division=0)
    assert (m.precision, m.recall, m.f1) == (precision[1], recall[1], f1[1])
    assert [(c.precision, c.recall, c.f1) for c in m.per_class] == list(zip(precision, recall, f1, strict=True))
    assert m.accuracy == accuracy_score(y, pred)
    truth = y == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of one class; the values are still compared
        assert m.roc_auc is not None and _same(m.roc_auc, roc_auc_score(truth, score))
        assert m.pr_auc == average_precision_score(truth, score)
        if kind == "margins":
            assert m.log_loss is None
        else:
            assert m.log_loss == log_loss(truth, y_proba=score, labels=[False, True])


@pytest.mark.parametrize("kind", [k for k in KINDS if "only" not in k])
def test_curves_are_scikit_learns_exactly(kind: str) -> None:
    y, score = _binary(kind)
    ranked = ranking.rank(y == 1, score)
    fpr, tpr, _ = roc_curve(y, score)
    ours = ranking.roc_curve(ranked)
    np.testing.assert_array_equal(ours[0], fpr)
    np.testing.assert_array_equal(ours[1], tpr)
    precision, recall, _ = precision_recall_curve(y, score)
    ours = ranking.precision_recall_curve(ranked)
    np.testing.assert_array_equal(ours[0], precision)
    np.testing.assert_array_equal(ours[1], recall)
    drawn = curves(y, score, points=10_000)  # not thinned
    assert drawn.roc == {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    assert drawn.pr == {"recall": recall[::-1].tolist(), "precision": precision[::-1].tolist()}


@pytest.mark.parametrize("kind", ("plain", "ties", "few"))
def test_the_best_threshold_is_the_best_row_of_a_sweep_over_every_score(kind: str) -> None:
    # the sweep counts each class's sorted scores at given thresholds: another way to the same counts
    y, score = _binary(kind, n=2000)
    every = threshold_sweep(y, score, np.append(np.unique(score), np.inf))
    for metric in ("accuracy", "precision", "recall", "specificity", "f1"):
        best = best_threshold(y, score, metric)
        values = [getattr(r, metric) for r in every]
        assert best.value == max(values)
        assert best.row == every[values.index(max(values))]  # the lowest of equal bests
    cost = [(5 * r.fp + r.fn) / len(y) for r in every]
    by_cost = best_threshold_by_cost(y, score, cost_fp=5, cost_fn=1)
    assert by_cost.row == every[cost.index(min(cost))] and by_cost.value == min(cost)


def test_multiclass_counts_follow_the_labels_order_and_leave_out_other_labels() -> None:
    rng = np.random.default_rng(4)
    y = rng.choice(["b", "a", "c", "d"], 3000)
    pred = np.where(rng.random(3000) < 0.6, y, rng.choice(["a", "b", "c", "d"], 3000))
    labels = ["c", "a", "b"]  # not sorted, and without "d": its rows are left out of the matrix
    m = classification_metrics(y, pred, labels=labels)
    assert m.confusion_matrix == confusion_matrix(y, pred, labels=labels).tolist()
    # precision, recall and F1 count every row of a class, as scikit-learn does; support, the matrix's rows
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, labels=labels, average=None,
                                                               zero_division=0)
    assert [(c.label, c.precision, c.recall, c.f1) for c in m.per_class] == \
        list(zip(labels, precision, recall, f1, strict=True))
    assert [c.support for c in m.per_class] == [sum(row) for row in m.confusion_matrix]
    assert m.accuracy == accuracy_score(y, pred)


def test_log_loss_clips_certain_wrong_answers_as_scikit_learn_does() -> None:
    truth = np.array([True, False, True, False])
    score = np.array([0.0, 1.0, 1.0, 0.0])  # two certain mistakes: log 0 without the clip
    assert binary_log_loss(truth, score) == log_loss(truth, y_proba=score, labels=[False, True])
    assert np.isfinite(binary_log_loss(truth, score))
