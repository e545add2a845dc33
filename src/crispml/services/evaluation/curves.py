"""A binary classifier's scores by decision threshold: the sweep, the best threshold, ROC/PR/calibration curves.

A row is predicted positive when its score is at least the threshold. The sweep counts TP/FP/TN/FN at each
threshold from the sorted scores of each class (one ``searchsorted`` per class, so a sweep over every
distinct score costs a sort), which scikit-learn has no function for; the best threshold is searched over
every distinct score (and +inf: nothing positive), so it is exact, not the best of a grid. Among equal
bests the lowest threshold wins. The curves come from scikit-learn, thinned to at most ``points`` points
for storing and drawing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions
from crispml.services.evaluation.metrics import plain, positive_mask

__all__ = ["Curves", "ThresholdChoice", "ThresholdRow", "best_threshold", "best_threshold_by_cost", "curves",
           "threshold_sweep"]

SWEEP_METRICS = ("accuracy", "precision", "recall", "specificity", "f1")


@dataclass
class ThresholdRow:
    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: float
    precision: float
    recall: float
    specificity: float
    f1: float


@dataclass
class ThresholdChoice:
    """The threshold chosen, by what (``f1``, or ``cost``), its value there, and the row of the sweep."""

    threshold: float
    criterion: str
    value: float
    row: ThresholdRow

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Curves:
    roc: dict[str, list[float]]
    pr: dict[str, list[float]]
    calibration: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scored(y_true: Any, y_score: Any, positive_label: Any) -> tuple[np.ndarray, np.ndarray]:
    truth, _ = positive_mask(y_true, positive_label)
    score = np.asarray(y_score, dtype=float)
    if len(score) != len(truth) or len(score) == 0 or score.ndim != 1:
        raise InvalidPredictions(f"{len(score)} scores for {len(truth)} rows: pass one score (the positive "
                                 "class's probability) per row")
    if np.isnan(score).any():
        raise InvalidPredictions("scores hold NaN: drop or fill those rows first")
    return truth, score


def _counts(truth: np.ndarray, score: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    positives, negatives = np.sort(score[truth]), np.sort(score[~truth])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    fn, tn = len(positives) - tp, len(negatives) - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = {
            "accuracy": (tp + tn) / len(score),
            "precision": np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0),
            "recall": np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0),
            "specificity": np.where(tn + fp > 0, tn / np.maximum(tn + fp, 1), 0.0),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0),
        }
    return {"threshold": thresholds, "tp": tp, "fp": fp, "tn": tn, "fn": fn, **ratios}


def _row(counts: dict[str, np.ndarray], at: int) -> ThresholdRow:
    return ThresholdRow(**{k: plain(v[at]) for k, v in counts.items()})


def threshold_sweep(y_true: Any, y_score: Any, thresholds: Any = None, *,
                    positive_label: Any = None) -> list[ThresholdRow]:
    """Counts and metrics at each threshold: by default 0, 0.05, …, 1 for scores within [0, 1], otherwise
    21 quantiles of the scores."""
    truth, score = _scored(y_true, y_score, positive_label)
    if thresholds is None:
        grid = np.linspace(0, 1, 21)
        thresholds = grid if score.min() >= 0 and score.max() <= 1 else np.quantile(score, grid)
    counts = _counts(truth, score, np.asarray(thresholds, dtype=float))
    return [_row(counts, i) for i in range(len(counts["threshold"]))]


def _candidates(score: np.ndarray) -> np.ndarray:
    return np.append(np.unique(score), np.inf)


def best_threshold(y_true: Any, y_score: Any, metric: str = "f1", *, positive_label: Any = None) -> ThresholdChoice:
    """The threshold that maximises ``metric`` (one of accuracy, precision, recall, specificity, f1)."""
    if metric not in SWEEP_METRICS:
        raise InvalidPredictions(f"cannot choose a threshold by {metric!r}: use one of {', '.join(SWEEP_METRICS)}"
                                 ", or a cost of false positives and false negatives")
    truth, score = _scored(y_true, y_score, positive_label)
    counts = _counts(truth, score, _candidates(score))
    at = int(np.argmax(counts[metric]))
    return ThresholdChoice(float(counts["threshold"][at]), metric, float(counts[metric][at]), _row(counts, at))


def best_threshold_by_cost(y_true: Any, y_score: Any, *, cost_fp: float, cost_fn: float,
                           positive_label: Any = None) -> ThresholdChoice:
    """The threshold of least expected cost per row, ``(cost_fp × FP + cost_fn × FN) / rows``."""
    if cost_fp < 0 or cost_fn < 0 or cost_fp + cost_fn == 0:
        raise InvalidPredictions("costs of a false positive and a false negative must be ≥ 0, not both 0 "
                                 f"(got {cost_fp} and {cost_fn})")
    truth, score = _scored(y_true, y_score, positive_label)
    counts = _counts(truth, score, _candidates(score))
    cost = (cost_fp * counts["fp"] + cost_fn * counts["fn"]) / len(score)
    at = int(np.argmin(cost))
    return ThresholdChoice(float(counts["threshold"][at]), "cost", float(cost[at]), _row(counts, at))


def _thin(columns: dict[str, np.ndarray], points: int) -> dict[str, list[float]]:
    size = len(next(iter(columns.values())))
    keep = np.unique(np.linspace(0, size - 1, min(size, points)).round().astype(int))
    return {k: [float(x) for x in v[keep]] for k, v in columns.items()}


def curves(y_true: Any, y_score: Any, *, positive_label: Any = None, points: int = 200,
           bins: int = 10) -> Curves:
    """ROC (fpr, tpr), precision–recall and calibration (reliability: mean predicted probability against
    the fraction of positives, in ``bins`` equal-width bins; empty bins left out) curves."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    truth, score = _scored(y_true, y_score, positive_label)
    if truth.all() or not truth.any():
        raise InvalidPredictions("curves need rows of both classes: the test rows hold only one")
    fpr, tpr, _ = roc_curve(truth, score)
    precision, recall, _ = precision_recall_curve(truth, score)
    calibration: dict[str, list[float]] = {"mean_predicted": [], "fraction_positive": []}
    if score.min() >= 0 and score.max() <= 1:
        fraction, mean = calibration_curve(truth, score, n_bins=bins, strategy="uniform")
        calibration = {"mean_predicted": [float(x) for x in mean], "fraction_positive": [float(x) for x in fraction]}
    return Curves(roc=_thin({"fpr": fpr, "tpr": tpr}, points),
                  pr=_thin({"recall": recall[::-1], "precision": precision[::-1]}, points),
                  calibration=calibration)
