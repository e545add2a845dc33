"""A binary classifier's scores by decision threshold: the sweep, the best threshold, ROC/PR/calibration curves.

A row is predicted positive when its score is at least the threshold. The best threshold is searched over
every distinct score (and +inf: nothing positive), so it is exact, not the best of a grid; among equal
bests the lowest threshold wins. Its counts, and the ROC and precision–recall curves, are read from the
rows ranked once (``ranking``: scikit-learn's arithmetic on one sort); a caller that needs several of these
(an evaluation job) ranks the rows once and passes ``ranking=``. A sweep over a few given thresholds counts
TP/FP/TN/FN from the sorted scores of each class (one ``searchsorted`` per class), which scikit-learn has
no function for. The curves are thinned to at most ``points`` points for storing and drawing; the
calibration curve is scikit-learn's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions
from crispml.services.evaluation.metrics import plain, positive_mask
from crispml.services.evaluation.ranking import Ranking, precision_recall_curve, rank, roc_curve

__all__ = ["Curves", "ThresholdChoice", "ThresholdRow", "best_threshold", "best_threshold_by_cost", "curves",
           "scored", "threshold_sweep"]

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


def scored(y_true: Any, y_score: Any, positive_label: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each row's truth (True = positive) and score as float64; InvalidPredictions unless one score a row, no
    NaN."""
    truth, _ = positive_mask(y_true, positive_label)
    score = np.asarray(y_score, dtype=float)
    if len(score) != len(truth) or len(score) == 0 or score.ndim != 1:
        raise InvalidPredictions(f"{len(score)} scores for {len(truth)} rows: pass one score (the positive "
                                 "class's probability) per row")
    if np.isnan(score).any():
        raise InvalidPredictions("scores hold NaN: drop or fill those rows first")
    return truth, score


def _counts(truth: np.ndarray, score: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """The sweep at the given thresholds."""
    positives, negatives = np.sort(score[truth]), np.sort(score[~truth])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    return _rates(thresholds, tp, fp, len(positives), len(negatives))


def _every_threshold(ranking: Ranking) -> dict[str, np.ndarray]:
    """The sweep at every distinct score and +inf, rising: the ranking's counts, read backwards."""
    thresholds = np.append(ranking.thresholds[::-1], np.inf)
    tp = np.append(ranking.tps[::-1], 0).astype(np.int64)
    fp = np.append(ranking.fps[::-1], 0).astype(np.int64)
    return _rates(thresholds, tp, fp, ranking.positives, ranking.negatives)


def _rates(thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, positives: int,
           negatives: int) -> dict[str, np.ndarray]:
    fn, tn = positives - tp, negatives - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = {
            "accuracy": (tp + tn) / (positives + negatives),
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
    truth, score = scored(y_true, y_score, positive_label)
    if thresholds is None:
        grid = np.linspace(0, 1, 21)
        thresholds = grid if score.min() >= 0 and score.max() <= 1 else np.quantile(score, grid)
    counts = _counts(truth, score, np.asarray(thresholds, dtype=float))
    return [_row(counts, i) for i in range(len(counts["threshold"]))]


def best_threshold(y_true: Any, y_score: Any, metric: str = "f1", *, positive_label: Any = None,
                   ranking: Ranking | None = None) -> ThresholdChoice:
    """The threshold that maximises ``metric`` (one of accuracy, precision, recall, specificity, f1);
    ``ranking``: these rows already ranked (``ranking.rank``), when the caller reads them more than once."""
    if metric not in SWEEP_METRICS:
        raise InvalidPredictions(f"cannot choose a threshold by {metric!r}: use one of {', '.join(SWEEP_METRICS)}"
                                 ", or a cost of false positives and false negatives")
    counts = _every_threshold(ranking or rank(*scored(y_true, y_score, positive_label)))
    at = int(np.argmax(counts[metric]))
    return ThresholdChoice(float(counts["threshold"][at]), metric, float(counts[metric][at]), _row(counts, at))


def best_threshold_by_cost(y_true: Any, y_score: Any, *, cost_fp: float, cost_fn: float,
                           positive_label: Any = None, ranking: Ranking | None = None) -> ThresholdChoice:
    """The threshold of least expected cost per row, ``(cost_fp × FP + cost_fn × FN) / rows``; ``ranking`` as
    for :func:`best_threshold`."""
    if cost_fp < 0 or cost_fn < 0 or cost_fp + cost_fn == 0:
        raise InvalidPredictions("costs of a false positive and a false negative must be ≥ 0, not both 0 "
                                 f"(got {cost_fp} and {cost_fn})")
    ranked = ranking or rank(*scored(y_true, y_score, positive_label))
    counts = _every_threshold(ranked)
    cost = (cost_fp * counts["fp"] + cost_fn * counts["fn"]) / (ranked.positives + ranked.negatives)
    at = int(np.argmin(cost))
    return ThresholdChoice(float(counts["threshold"][at]), "cost", float(cost[at]), _row(counts, at))


def _thin(columns: dict[str, np.ndarray], points: int) -> dict[str, list[float]]:
    size = len(next(iter(columns.values())))
    keep = np.unique(np.linspace(0, size - 1, min(size, points)).round().astype(int))
    return {k: [float(x) for x in v[keep]] for k, v in columns.items()}


def curves(y_true: Any, y_score: Any, *, positive_label: Any = None, points: int = 200,
           bins: int = 10, ranking: Ranking | None = None) -> Curves:
    """ROC (fpr, tpr), precision–recall and calibration (reliability: mean predicted probability against
    the fraction of positives, in ``bins`` equal-width bins; empty bins left out) curves; ``ranking`` as for
    :func:`best_threshold`."""
    from sklearn.calibration import calibration_curve

    truth, score = scored(y_true, y_score, positive_label)
    if truth.all() or not truth.any():
        raise InvalidPredictions("curves need rows of both classes: the test rows hold only one")
    ranking = ranking or rank(truth, score)
    fpr, tpr = roc_curve(ranking)
    precision, recall = precision_recall_curve(ranking)
    calibration: dict[str, list[float]] = {"mean_predicted": [], "fraction_positive": []}
    if score.min() >= 0 and score.max() <= 1:
        fraction, mean = calibration_curve(truth, score, n_bins=bins, strategy="uniform")
        calibration = {"mean_predicted": [float(x) for x in mean], "fraction_positive": [float(x) for x in fraction]}
    return Curves(roc=_thin({"fpr": fpr, "tpr": tpr}, points),
                  pr=_thin({"recall": recall[::-1], "precision": precision[::-1]}, points),
                  calibration=calibration)
