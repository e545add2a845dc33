"""Model quality metrics, computed with scikit-learn, returned as plain JSON-ready dataclasses.

Classification (binary and multiclass), regression, clustering and anomaly scores. scikit-learn does the
work; what it lacks is written here from the confusion matrix or by hand, each with a test against a
hand-worked case: specificity (true negative rate, Model Monitor's ``true_negative_rate``), SSE, the
residual summary, precision at k. Field names follow SageMaker's model quality metrics, snake_case.

A classifier's metrics are read from one confusion matrix (counted once, with ``bincount``) and a binary
classifier's scores from one ranking (``ranking.py``), with scikit-learn's arithmetic: precision, recall
and F1 as ``precision_recall_fscore_support`` divides the same counts, ROC AUC and average precision from
the ranking, log loss as ``log_loss`` computes it — equal to scikit-learn's results to the last bit (the
tests compare them), without its validation and re-sorting on every call, which cost most of the time on
large test sets. Multiclass scores go to scikit-learn itself.

Conventions: a residual is actual − predicted; MAPE is a fraction (0.1 = 10 %, as scikit-learn returns
it) and ``None`` when a true value is 0 (it is undefined there; scikit-learn would return a huge number);
a binary classifier's positive label is ``True``, or the largest label (``1`` of ``{0, 1}``), unless one
is given. scikit-learn is imported inside the functions so that importing this module stays light.
Threshold sweeps and curves are in ``curves.py``; nothing here reads tables or models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions, MetricNotApplicable
from crispml.services.evaluation.ranking import Ranking, average_precision, rank, roc_auc

__all__ = ["CLASSIFICATION_METRICS", "REGRESSION_METRICS", "AnomalyMetrics", "ClassReport",
           "ClassificationMetrics", "ClusteringMetrics", "RegressionMetrics", "ResidualSummary",
           "anomaly_metrics", "check_metrics", "classification_metrics", "clustering_metrics", "plain",
           "positive_mask", "precision_at_k", "regression_metrics"]

#: SageMaker Autopilot's problem types (``ProblemType``).
CLASSIFICATION = ("BinaryClassification", "MulticlassClassification")
REGRESSION = "Regression"
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "specificity", "f1", "roc_auc", "pr_auc",
                          "log_loss", "confusion_matrix")
REGRESSION_METRICS = ("sse", "mse", "rmse", "mae", "r2", "mape")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        """The metrics as a JSON-ready dict."""
        return asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass
class ClassReport(_Serialisable):
    """One class of a per-class report: the class taken as the positive one."""

    label: Any
    precision: float
    recall: float
    specificity: float
    f1: float
    support: int


@dataclass
class ClassificationMetrics(_Serialisable):
    """A classifier's metrics. Binary: of the positive class; multiclass: macro averages over classes.
    ``roc_auc``, ``pr_auc`` and ``log_loss`` need scores (probabilities) and are ``None`` without them."""

    problem_type: str
    rows: int
    labels: list[Any]
    positive_label: Any
    average: str
    accuracy: float
    precision: float
    recall: float
    specificity: float
    f1: float
    roc_auc: float | None
    pr_auc: float | None
    log_loss: float | None
    confusion_matrix: list[list[int]]
    per_class: list[ClassReport] = field(default_factory=list)


@dataclass
class ResidualSummary(_Serialisable):
    mean: float
    std: float
    quantiles: dict[str, float]
    max_abs: float


@dataclass
class RegressionMetrics(_Serialisable):
    problem_type: str
    rows: int
    sse: float
    mse: float
    rmse: float
    mae: float
    r2: float
    mape: float | None
    residuals: ResidualSummary


@dataclass
class ClusteringMetrics(_Serialisable):
    """Cluster sizes by label, and the silhouette (on a seeded sample of ``silhouette_sample_size`` rows
    when there are more; ``None`` unless there are 2 to rows − 1 clusters)."""

    rows: int
    clusters: int
    cluster_sizes: dict[str, int]
    silhouette: float | None
    silhouette_sample_size: int | None


@dataclass
class AnomalyMetrics(_Serialisable):
    rows: int
    anomalies: int
    precision_at_k: dict[str, float]
    roc_auc: float | None


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON knows."""
    return value.item() if isinstance(value, np.generic) else value


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        raise InvalidPredictions("there are no rows to evaluate: pass at least one row of labels and predictions")
    if len(y_true) != len(y_pred):
        raise InvalidPredictions(f"{len(y_true)} true values but {len(y_pred)} predictions: "
                                 "pass one prediction per row, in the same order")
    return y_true, y_pred


def _continuous(values: np.ndarray) -> bool:
    return values.dtype.kind == "f" and bool(np.any(values != np.round(values)))


def check_metrics(problem_type: str, names: Iterable[str]) -> None:
    """Refuse metrics that do not apply to ``problem_type`` (or that do not exist), naming those that do."""
    known: tuple[str, ...]
    other: tuple[str, ...]
    if problem_type in CLASSIFICATION:
        known, other, kind = CLASSIFICATION_METRICS, REGRESSION_METRICS, "classifier"
    elif problem_type == REGRESSION:
        known, other, kind = REGRESSION_METRICS, CLASSIFICATION_METRICS, "regressor"
    else:
        raise InvalidPredictions(f"unknown problem type {problem_type!r}: use one of "
                                 f"{', '.join((*CLASSIFICATION, REGRESSION))}")
    for name in names:
        if name in other:
            raise MetricNotApplicable(
                f"{name} is not a metric of a {kind} ({problem_type}): ask for one of {', '.join(known)}")
        if name not in known:
            raise InvalidPredictions(f"unknown metric {name!r}: use one of {', '.join(known)}")


def positive_mask(y_true: Any, positive_label: Any = None) -> tuple[np.ndarray, Any]:
    """``y_true == positive`` and the positive label (``True``, or the largest label, unless given)."""
    y_true = np.asarray(y_true)
    if positive_label is None:
        if y_true.dtype.kind == "b":
            return y_true, True
        positive_label = plain(y_true.max())
    return y_true == positive_label, positive_label


def _counted(y_true: np.ndarray, y_pred: np.ndarray,
             labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The confusion matrix (rows: actual label, columns: predicted, in ``labels`` order; a row with either
    label outside ``labels`` left out, as scikit-learn's ``confusion_matrix`` does) and the rows of each label
    as actual and as predicted (all of them, as ``precision_recall_fscore_support`` counts), by ``bincount``."""
    k = len(labels)
    order = np.argsort(labels, kind="stable")
    known = labels[order]

    def index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = np.minimum(np.searchsorted(known, values), k - 1)
        return order[at], known[at] == values

    actual, actual_known = index(y_true)
    if not actual_known.any():
        raise InvalidPredictions(f"none of the labels {[plain(v) for v in labels]} is a true label: pass labels "
                                 "that y_true holds")
    predicted, predicted_known = index(y_pred)
    both = actual_known & predicted_known
    cm = np.bincount(actual[both] * k + predicted[both], minlength=k * k).astype(np.int64).reshape(k, k)
    return cm, np.bincount(actual[actual_known], minlength=k), np.bincount(predicted[predicted_known], minlength=k)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    safe = np.where(denominator == 0, 1.0, denominator.astype(float))
    return np.where(denominator == 0, 0.0, numerator.astype(float) / safe)


def _per_class(cm: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall and F1 of each class (as the positive one), as scikit-learn's
    ``precision_recall_fscore_support`` divides the same counts; its specificity and support, from the
    confusion matrix."""
    tp = np.diag(cm)
    fp, fn = cm.sum(axis=0) - tp, cm.sum(axis=1) - tp
    tn = cm.sum() - tp - fp - fn
    return (_divide(tp, predicted), _divide(tp, actual), _divide(2.0 * tp, 1.0 * actual + predicted),
            _divide(tn, tn + fp), cm.sum(axis=1))


def binary_log_loss(truth: np.ndarray, score: np.ndarray) -> float:
    """scikit-learn's ``log_loss`` of the positive class's probabilities, with its arithmetic (each row a
    probability per class, clipped to [eps, 1 − eps], the log of the true class's summed over the classes,
    the mean over rows) without its validation and label encoding."""
    eps = np.finfo(score.dtype).eps
    probabilities = np.clip(np.concatenate([1 - score[:, None], score[:, None]], axis=1), eps, 1 - eps)
    onehot = np.concatenate([~truth[:, None], truth[:, None]], axis=1).astype(probabilities.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = onehot * np.log(probabilities)
    return float(np.mean(-np.sum(np.where(onehot == 0.0, 0.0, terms), axis=1)))


def classification_metrics(y_true: Any, y_pred: Any, y_score: Any = None, *, labels: Any = None,
                           positive_label: Any = None, ranking: Ranking | None = None) -> ClassificationMetrics:
    """Metrics of a classifier from true labels, predicted labels and, optionally, scores: for two classes
    the probability of the positive class (1-d), for more one column per label in ``labels`` order.
    ``ranking``: a binary classifier's rows already ranked (``ranking.rank``), when the caller reads them
    more than once."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if _continuous(values):
            raise MetricNotApplicable(
                f"{name} holds continuous values (e.g. {plain(values[values != np.round(values)][0])}): "
                "these are a regressor's outputs, ask for regression metrics "
                f"({', '.join(REGRESSION_METRICS)}); a classifier's probabilities go in y_score")
    labels = np.unique(np.concatenate([np.unique(y_true), np.unique(y_pred)])) if labels is None \
        else np.asarray(labels)
    binary = len(labels) <= 2
    cm, actual, predicted = _counted(y_true, y_pred, labels)
    precision, recall, f1, specificity, support = _per_class(cm, actual, predicted)
    score = None if y_score is None else np.asarray(y_score, dtype=float)
    if score is not None and (len(score) != len(y_true) or np.isnan(score).any()):
        raise InvalidPredictions("y_score must hold one score per row and no NaN: "
                                 f"{len(score)} scores for {len(y_true)} rows")
    roc = pr = loss = None
    if binary:
        positive = positive_label if positive_label is not None else \
            (True if y_true.dtype.kind == "b" else plain(labels[-1]))
        at = [plain(v) for v in labels].index(positive) if positive in [plain(v) for v in labels] else -1
        if at < 0:
            raise InvalidPredictions(f"positive label {positive!r} is not among the labels "
                                     f"{[plain(v) for v in labels]}: pass one of them")
        values = [precision[at], recall[at], specificity[at], f1[at]]
        if score is not None and len(labels) == 2:
            if score.ndim != 1:
                raise InvalidPredictions(f"a binary classifier's y_score is one score per row (the positive "
                                         f"class's), not {score.shape[1:]} per row")
            truth = y_true == positive
            ranked = ranking or rank(truth, score)
            roc, pr = roc_auc(ranked), average_precision(ranked)
            if score.min() >= 0 and score.max() <= 1:
                loss = binary_log_loss(truth, score)
    else:
        positive = None
        values = [float(np.mean(v)) for v in (precision, recall, specificity, f1)]
        if score is not None and len(np.unique(y_true)) == len(labels):
            roc = roc_auc_score(y_true, score, multi_class="ovr", labels=labels)
            from sklearn.preprocessing import label_binarize
            pr = average_precision_score(label_binarize(y_true, classes=labels), score, average="macro")
            loss = log_loss(y_true, score, labels=labels)
    per_class = [ClassReport(plain(lab), float(p), float(r), float(s), float(f), int(n))
                 for lab, p, r, s, f, n in zip(labels, precision, recall, specificity, f1, support, strict=True)]
    return ClassificationMetrics(
        problem_type=CLASSIFICATION[0] if binary else CLASSIFICATION[1], rows=len(y_true),
        labels=[plain(v) for v in labels], positive_label=positive, average="binary" if binary else "macro",
        accuracy=np.count_nonzero(y_true == y_pred) / len(y_true), precision=float(values[0]),
        recall=float(values[1]), specificity=float(values[2]), f1=float(values[3]),
        roc_auc=None if roc is None else float(roc), pr_auc=None if pr is None else float(pr),
        log_loss=None if loss is None else float(loss), confusion_matrix=cm.tolist(), per_class=per_class)


def regression_metrics(y_true: Any, y_pred: Any) -> RegressionMetrics:
    """SSE, MSE, RMSE, MAE, R², MAPE and a summary of the residuals (actual − predicted)."""
    from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, mean_squared_error, r2_score

    y_true, y_pred = _pair(y_true, y_pred)
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.dtype.kind not in "iuf" or values.ndim != 1:
            raise MetricNotApplicable(
                f"{name} holds {'class probabilities' if values.ndim > 1 else 'class labels'} "
                f"({values.dtype}), not numbers to regress: ask for classification metrics "
                f"({', '.join(CLASSIFICATION_METRICS)}) instead")
    y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    if np.isnan(y_true).any() or np.isnan(y_pred).any():
        raise InvalidPredictions("true values or predictions hold NaN: drop or fill those rows first")
    residuals = y_true - y_pred
    mse = float(mean_squared_error(y_true, y_pred))
    mape = None if (y_true == 0).any() else float(mean_absolute_percentage_error(y_true, y_pred))
    summary = ResidualSummary(
        mean=float(residuals.mean()), std=float(residuals.std()),
        quantiles={f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, np.quantile(residuals, QUANTILES),
                                                                  strict=True)},
        max_abs=float(np.abs(residuals).max()))
    return RegressionMetrics(problem_type=REGRESSION, rows=len(y_true), sse=float(residuals @ residuals), mse=mse,
                             rmse=mse ** 0.5, mae=float(mean_absolute_error(y_true, y_pred)),
                             r2=float(r2_score(y_true, y_pred)), mape=mape, residuals=summary)


def clustering_metrics(features: Any, cluster_labels: Any, *, sample_size: int = 10_000,
                       seed: int = 0) -> ClusteringMetrics:
    """Cluster sizes and the silhouette (it costs rows², so it is taken on a seeded sample above
    ``sample_size`` rows, as scikit-learn's ``silhouette_score(sample_size=…)`` does)."""
    from sklearn.metrics import silhouette_score

    features, cluster_labels = _pair(features, cluster_labels)
    names, counts = np.unique(cluster_labels, return_counts=True)
    rows = len(cluster_labels)
    sample = sample_size if rows > sample_size else None
    silhouette = None
    if 2 <= len(names) <= rows - 1:
        silhouette = float(silhouette_score(features.reshape(rows, -1), cluster_labels, sample_size=sample,
                                            random_state=seed))
    return ClusteringMetrics(rows=rows, clusters=len(names),
                             cluster_sizes={str(plain(n)): int(c) for n, c in zip(names, counts, strict=True)},
                             silhouette=silhouette, silhouette_sample_size=sample)


def precision_at_k(y_true: Any, scores: Any, k: int) -> float:
    """The share of true anomalies among the ``k`` rows with the highest scores (ties: the earlier row)."""
    truth, scores = _pair(y_true, scores)
    if not 1 <= k <= len(scores):
        raise InvalidPredictions(f"k must be between 1 and the number of rows ({len(scores)}), not {k}")
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return float(np.mean(truth[top].astype(bool)))


def anomaly_metrics(y_true: Any, scores: Any, ks: Iterable[int] = (10, 100)) -> AnomalyMetrics:
    """Precision at each k (those above the row count left out) and ROC AUC of anomaly scores
    against labels (1 or True = anomaly)."""
    from sklearn.metrics import roc_auc_score

    truth, values = _pair(y_true, scores)
    truth = truth.astype(bool)
    at = {str(k): precision_at_k(truth, values, k) for k in ks if k <= len(values)}
    auc = float(roc_auc_score(truth, values)) if 0 < truth.sum() < len(truth) else None
    return AnomalyMetrics(rows=len(truth), anomalies=int(truth.sum()), precision_at_k=at, roc_auc=auc)
