"""Two models on the same test rows: metric deltas (B − A) with paired bootstrap intervals, and McNemar's test.

The bootstrap is paired (a resample draws rows, both models' outputs with them) and percentile (the
interval is the quantiles of the resampled deltas). Two ways to draw, both exact, vectorised with numpy:

- **classifiers**: every metric of a confusion matrix depends only on how many rows fall in each cell of
  (truth, A's prediction, B's prediction) — 8 cells for two classes. Drawing n rows with replacement is
  then the same as drawing the cells' counts from a multinomial with the cells' shares, so 1,000 resamples
  cost 1,000 multinomial draws of 8 counts, whatever the row count. Multiclass: accuracy only, over the
  4 cells of (A right, B right).
- **regressors**: row weights (how often each row is drawn: a ``bincount`` of one resample's random row
  indices), a chunk of resamples at a time, then the sums the metrics need (squared and absolute errors,
  y, y²) as one matrix product. Each resample is counted on its own (its n counts stay in cache, where one
  ``bincount`` of a whole chunk into chunk × n bins took about twice as long), from indices drawn as 32-bit
  integers when the rows allow (the seed gives the same indices as 64-bit ones, in half the memory).

McNemar's test (scipy) uses the rows exactly one model gets right: the exact binomial test when there
are fewer than 25 of them, the chi-square with continuity correction otherwise. It does not compare
ROC AUC or log loss (their bootstrap needs a sort per resample); that is left for later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions, MetricNotApplicable
from crispml.services.evaluation.metrics import positive_mask

__all__ = ["Comparison", "McNemar", "MetricDelta", "compare_classifiers", "compare_regressors", "mcnemar"]

#: Below this many discordant rows McNemar's p comes from the exact binomial test.
EXACT_BELOW = 25
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae", "sse"})
Counts = dict[str, np.ndarray]


@dataclass
class MetricDelta:
    metric: str
    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    confidence: float


@dataclass
class McNemar:
    """Rows only A gets right, rows only B gets right, the chi-square statistic (``None`` when exact), p."""

    only_a_right: int
    only_b_right: int
    statistic: float | None
    p_value: float
    method: str


@dataclass
class Comparison:
    rows: int
    resamples: int
    seed: int
    deltas: list[MetricDelta]
    mcnemar: McNemar | None
    verdicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(correct_a: Any, correct_b: Any) -> McNemar:
    """McNemar's test on which rows each model gets right."""
    from scipy.stats import binomtest, chi2

    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b))
    discordant = only_a + only_b
    if discordant == 0:
        return McNemar(only_a, only_b, None, 1.0, "exact")
    if discordant < EXACT_BELOW:
        return McNemar(only_a, only_b, None, float(binomtest(min(only_a, only_b), discordant, 0.5).pvalue), "exact")
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return McNemar(only_a, only_b, float(statistic), float(chi2.sf(statistic, 1)), "chi2")


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.where(bottom > 0, top / np.maximum(bottom, 1), 0.0)


CONFUSION_METRICS: dict[str, Callable[[Counts], np.ndarray]] = {
    "accuracy": lambda c: _ratio(c["tp"] + c["tn"], c["tp"] + c["tn"] + c["fp"] + c["fn"]),
    "precision": lambda c: _ratio(c["tp"], c["tp"] + c["fp"]),
    "recall": lambda c: _ratio(c["tp"], c["tp"] + c["fn"]),
    "specificity": lambda c: _ratio(c["tn"], c["tn"] + c["fp"]),
    "f1": lambda c: _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
}


def _binary_counts(cells: np.ndarray) -> tuple[Counts, Counts]:
    """Confusion counts of A and of B from cell counts (…, 8), cell = 4·truth + 2·A + B."""
    def model(bit: int) -> Counts:
        pred = np.array([(cell >> bit) & 1 for cell in range(8)], dtype=bool)
        truth = np.arange(8) >= 4
        return {name: cells[..., mask].sum(axis=-1) for name, mask in
                (("tp", truth & pred), ("fp", ~truth & pred), ("tn", ~truth & ~pred), ("fn", truth & ~pred))}
    return model(1), model(0)


def _interval(name: str, a: float, b: float, deltas: np.ndarray, confidence: float) -> MetricDelta:
    low, high = np.quantile(deltas, [(1 - confidence) / 2, (1 + confidence) / 2])
    return MetricDelta(name, a, b, b - a, float(low), float(high), confidence)


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1 or not 0 < confidence < 1:
        raise InvalidPredictions(f"resamples must be ≥ 1 and confidence within (0, 1), not {resamples} and "
                                 f"{confidence}")


def compare_classifiers(y_true: Any, pred_a: Any, pred_b: Any, metrics: Sequence[str] = ("accuracy", "f1"), *,
                        positive_label: Any = None, resamples: int = 1000, confidence: float = 0.95,
                        seed: int = 0) -> Comparison:
    """Deltas B − A of confusion-matrix metrics with paired bootstrap intervals, McNemar's test, verdicts.
    Two classes: accuracy, precision, recall, specificity, f1; more: accuracy only."""
    _check(resamples, confidence)
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not len(y_true) == len(pred_a) == len(pred_b) or len(y_true) == 0:
        raise InvalidPredictions(f"{len(y_true)} true labels, {len(pred_a)} predictions of A, {len(pred_b)} of B: "
                                 "compare both models on the same non-empty rows")
    for name in metrics:
        if name in LOWER_IS_BETTER or name not in CONFUSION_METRICS:
            raise MetricNotApplicable(f"cannot compare classifiers on {name!r}: use one of "
                                      f"{', '.join(CONFUSION_METRICS)} (regressors: compare_regressors)")
    right_a, right_b = pred_a == y_true, pred_b == y_true
    rng = np.random.default_rng(seed)
    n = len(y_true)
    if len(np.unique(np.concatenate([y_true, pred_a, pred_b]))) <= 2:
        truth, positive = positive_mask(y_true, positive_label)
        cells = np.bincount(4 * truth + 2 * (pred_a == positive) + (pred_b == positive), minlength=8)
        drawn = rng.multinomial(n, cells / n, size=resamples)
        (a, b), (a_drawn, b_drawn) = _binary_counts(cells), _binary_counts(drawn)
        deltas = [_interval(m, float(CONFUSION_METRICS[m](a)), float(CONFUSION_METRICS[m](b)),
                            CONFUSION_METRICS[m](b_drawn) - CONFUSION_METRICS[m](a_drawn), confidence)
                  for m in metrics]
    else:
        if set(metrics) != {"accuracy"}:
            raise MetricNotApplicable("with more than two classes only accuracy is compared: pass "
                                      "metrics=('accuracy',)")
        cells = np.bincount(2 * right_a + right_b, minlength=4)
        drawn = rng.multinomial(n, cells / n, size=resamples)
        deltas = [_interval("accuracy", float(right_a.mean()), float(right_b.mean()),
                            (drawn[:, 1] - drawn[:, 2]) / n, confidence)]
    test = mcnemar(right_a, right_b)
    return Comparison(n, resamples, seed, deltas, test, [verdict(d, test) for d in deltas])


def _regression_values(sums: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Metrics of A and B from sums (…, 6): e_a², e_b², |e_a|, |e_b|, y, y²."""
    total = sums[..., 5] - sums[..., 4] ** 2 / n
    out = {}
    for side, (sq, ab) in (("a", (0, 2)), ("b", (1, 3))):
        out[f"mse_{side}"] = sums[..., sq] / n
        out[f"rmse_{side}"] = np.sqrt(sums[..., sq] / n)
        out[f"mae_{side}"] = sums[..., ab] / n
        out[f"r2_{side}"] = 1 - sums[..., sq] / np.where(total > 0, total, np.nan)
    return out


def compare_regressors(y_true: Any, pred_a: Any, pred_b: Any, metrics: Sequence[str] = ("rmse", "mae", "r2"), *,
                       resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                       chunk: int = 8) -> Comparison:
    """Deltas B − A of regression metrics (mse, rmse, mae, r2) with paired bootstrap intervals."""
    _check(resamples, confidence)
    for name in metrics:
        if name not in ("mse", "rmse", "mae", "r2"):
            raise MetricNotApplicable(f"cannot compare regressors on {name!r}: use mse, rmse, mae or r2 "
                                      "(classifiers: compare_classifiers)")
    y, a, b = (np.asarray(v, dtype=float) for v in (y_true, pred_a, pred_b))
    n = len(y)
    if not n == len(a) == len(b) or n == 0:
        raise InvalidPredictions("compare both models on the same non-empty rows: "
                                 f"{n} true values, {len(a)} predictions of A, {len(b)} of B")
    columns = np.column_stack([(y - a) ** 2, (y - b) ** 2, np.abs(y - a), np.abs(y - b), y, y * y])
    rng = np.random.default_rng(seed)
    index = np.int32 if n <= np.iinfo(np.int32).max else np.int64
    sums = np.empty((resamples, 6))
    weights = np.empty((min(chunk, resamples), n))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        rows = rng.integers(0, n, size=(size, n), dtype=index)
        for k in range(size):
            weights[k] = np.bincount(rows[k], minlength=n)
        sums[start:start + size] = weights[:size] @ columns
    point, drawn = _regression_values(columns.sum(axis=0), n), _regression_values(sums, n)
    deltas = [_interval(m, float(point[f"{m}_a"]), float(point[f"{m}_b"]), drawn[f"{m}_b"] - drawn[f"{m}_a"],
                        confidence) for m in metrics]
    return Comparison(n, resamples, seed, deltas, None, [verdict(d, None) for d in deltas])


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def verdict(delta: MetricDelta, test: McNemar | None = None) -> str:
    """One sentence: which model is better on the metric, by how much, how sure (the interval; McNemar's p
    on accuracy). Better means higher, except for errors (mse, rmse, mae), where lower is better."""
    level = f"{delta.confidence * 100:g} % CI"
    figures = f"{delta.delta:+.3f} ({level} {delta.ci_low:+.3f} to {delta.ci_high:+.3f})"
    if test is not None and delta.metric == "accuracy":
        figures += f", McNemar {_p(test.p_value)}"
    if delta.ci_low <= 0 <= delta.ci_high:
        return f"No clear difference between B and A on {delta.metric}: {figures}"
    b_better = (delta.delta < 0) if delta.metric in LOWER_IS_BETTER else (delta.delta > 0)
    first, second = ("B", "A") if b_better else ("A", "B")
    return f"{first} is better than {second} on {delta.metric}: {figures}"
