"""A binary classifier's rows ranked by score once: what ROC and precision–recall curves, their areas and the
confusion matrix at every threshold are read from.

Each of scikit-learn's ranking functions (``roc_auc_score``, ``average_precision_score``, ``roc_curve``,
``precision_recall_curve``) validates its input and sorts the scores again; on a million rows the sorts and
checks are most of an evaluation's scoring time. Here the scores are sorted once (:func:`rank`) and each of
those is derived from the same cumulative counts, with scikit-learn's own arithmetic
(``confusion_matrix_at_thresholds``, then each function's few steps): the numbers are scikit-learn's to the
last bit, which the tests hold them to. Not here: sample weights, multiclass scores (scikit-learn computes
those, in ``metrics``), validation (the callers check the rows: one score per row, no NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ranking", "average_precision", "precision_recall_curve", "rank", "roc_auc", "roc_curve"]


@dataclass(frozen=True)
class Ranking:
    """At each distinct score, from the highest down: how many positive (``tps``) and negative (``fps``) rows
    score at least that. Counts are float64, as scikit-learn's are (whole numbers, exact)."""

    thresholds: np.ndarray
    tps: np.ndarray
    fps: np.ndarray

    @property
    def positives(self) -> int:
        return int(self.tps[-1])

    @property
    def negatives(self) -> int:
        return int(self.fps[-1])


def rank(truth: np.ndarray, score: np.ndarray) -> Ranking:
    """The rows ranked: ``truth`` (True = positive) and ``score`` (float64, no NaN), one per row.

    Rows of equal score are counted together, at the end of their run, so the order a sort leaves ties in
    does not matter: the fast unstable sort does (scikit-learn's stable one takes six times as long)."""
    order = np.argsort(score)[::-1]
    ranked = score[order]
    ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)
    tps = np.cumsum(truth[order], dtype=np.float64)[ends]
    return Ranking(thresholds=ranked[ends], tps=tps, fps=1 + ends - tps)


def roc_curve(ranking: Ranking) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates, as scikit-learn's ``roc_curve`` (``drop_intermediate=True``): points
    collinear with their neighbours left out, (0, 0) first, NaN rates when a class has no rows."""
    fps, tps = ranking.fps, ranking.tps
    if len(fps) > 2:
        keep = np.flatnonzero(np.concatenate([[True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]]))
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.concatenate([[0.0], fps]), np.concatenate([[0.0], tps])
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr


def roc_auc(ranking: Ranking) -> float:
    """The area under the ROC curve, as scikit-learn's ``roc_auc_score``; NaN when the rows hold one class."""
    from sklearn.metrics import auc

    if ranking.positives == 0 or ranking.negatives == 0:
        return float("nan")
    return float(auc(*roc_curve(ranking)))


def precision_recall_curve(ranking: Ranking) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall by falling recall, as scikit-learn's ``precision_recall_curve`` (every threshold
    kept, ending at precision 1, recall 0; recall 1 throughout when there is no positive row)."""
    tps, ps = ranking.tps, ranking.tps + ranking.fps
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(ps != 0, np.divide(tps, ps), 0.0)
    recall = np.full(tps.shape, 1.0) if tps[-1] == 0 else tps / tps[-1]
    return np.concatenate([np.flip(precision), [1.0]]), np.concatenate([np.flip(recall), [0.0]])


def average_precision(ranking: Ranking) -> float:
    """Precision averaged over the recall steps, as scikit-learn's ``average_precision_score``."""
    precision, recall = precision_recall_curve(ranking)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
