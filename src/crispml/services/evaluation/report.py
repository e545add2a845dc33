"""One self-contained HTML file per evaluation: metrics tables and charts drawn as inline SVG.

Opens from disk with no server and no network (no scripts, no fonts, no CDN): ROC and PR curves, the
confusion matrix as a heatmap, the calibration (reliability) curve, residual plots for a regressor
(residual against predicted, histogram), feature importance bars, and a header naming the model version
and the data snapshot. It draws what it is given; computing metrics and curves is ``metrics``/``curves``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crispml.core.htmlpage import BLUE, bars, esc, figure, fmt, page, table
from crispml.services.evaluation.curves import Curves
from crispml.services.evaluation.metrics import ClassificationMetrics, RegressionMetrics

__all__ = ["EvaluationReport", "render", "write_report"]

SIZE, PAD = 320, 40
#: At most this many points in a scatter plot (a seeded sample of the rows beyond it).
SCATTER_POINTS = 2000


@dataclass
class EvaluationReport:
    title: str
    model_version: str
    data_snapshot: str
    classification: ClassificationMetrics | None = None
    curves: Curves | None = None
    regression: RegressionMetrics | None = None
    #: Actual and predicted values of a regressor, for the residual plots.
    y_true: Any = None
    y_pred: Any = None
    feature_importance: dict[str, float] = field(default_factory=dict)


def _axes(x_label: str, y_label: str) -> list[str]:
    end = SIZE - PAD
    return [f'<line x1="{PAD}" y1="{end}" x2="{end}" y2="{end}" stroke="#555"/>',
            f'<line x1="{PAD}" y1="{PAD / 2}" x2="{PAD}" y2="{end}" stroke="#555"/>',
            f'<text x="{SIZE / 2}" y="{SIZE - 8}" font-size="11" text-anchor="middle">{esc(x_label)}</text>',
            f'<text x="12" y="{SIZE / 2}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {SIZE / 2})">{esc(y_label)}</text>']


def _scale(values: np.ndarray, low: float, high: float, flip: bool) -> np.ndarray:
    span = (high - low) or 1.0
    unit = (values - low) / span
    return PAD + (SIZE - 1.5 * PAD) * unit if not flip else SIZE - PAD - (SIZE - 1.5 * PAD) * unit


def _line(caption: str, xs: list[float], ys: list[float], x_label: str, y_label: str,
          diagonal: bool = False) -> str:
    parts = _axes(x_label, y_label)
    px, py = _scale(np.asarray(xs, dtype=float), 0, 1, False), _scale(np.asarray(ys, dtype=float), 0, 1, True)
    if diagonal:
        parts.append(f'<line x1="{PAD}" y1="{SIZE - PAD}" x2="{SIZE - PAD / 2}" y2="{PAD / 2}" stroke="#bbb" '
                     'stroke-dasharray="4"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(px, py, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    return figure(caption, SIZE, SIZE, parts)


def _heatmap(caption: str, labels: list[Any], matrix: list[list[int]]) -> str:
    k = len(labels)
    cell = (SIZE - 2 * PAD) / max(k, 1)
    top = max((v for row in matrix for v in row), default=0) or 1
    parts = [f'<text x="{SIZE / 2}" y="14" font-size="11" text-anchor="middle">predicted</text>',
             '<text x="10" y="{0}" font-size="11" transform="rotate(-90 10 {0})">actual</text>'.format(SIZE / 2)]
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            x, y = PAD + j * cell, PAD + i * cell
            shade = 0.1 + 0.9 * value / top
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" fill="{BLUE}" '
                         f'fill-opacity="{shade:.2f}" stroke="#fff"/>'
                         f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2:.1f}" font-size="12" '
                         f'text-anchor="middle">{value:,}</text>')
    for i, label in enumerate(labels):
        parts.append(f'<text x="{PAD + (i + .5) * cell:.1f}" y="{PAD - 6}" font-size="11" '
                     f'text-anchor="middle">{esc(label)}</text>'
                     f'<text x="{PAD - 4}" y="{PAD + (i + .5) * cell:.1f}" font-size="11" '
                     f'text-anchor="end">{esc(label)}</text>')
    return figure(caption, SIZE, SIZE, parts)


def _residual_plots(y_true: Any, y_pred: Any) -> list[str]:
    actual, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residual = actual - predicted
    if len(residual) > SCATTER_POINTS:
        keep = np.random.default_rng(0).choice(len(residual), SCATTER_POINTS, replace=False)
        predicted, residual = predicted[keep], residual[keep]
    px = _scale(predicted, float(predicted.min()), float(predicted.max()), False)
    low, high = float(residual.min()), float(residual.max())
    py = _scale(residual, low, high, True)
    zero = _scale(np.array([0.0]), low, high, True)[0]
    scatter = [*_axes("predicted", "residual (actual − predicted)"),
               f'<line x1="{PAD}" y1="{zero:.1f}" x2="{SIZE - PAD / 2}" y2="{zero:.1f}" stroke="#bbb"/>',
               *(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.5" fill="{BLUE}" fill-opacity="0.5"/>'
                 for x, y in zip(px, py, strict=True))]
    counts, edges = np.histogram(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float), bins=30)
    width = (SIZE - 1.5 * PAD) / len(counts)
    top = counts.max() or 1
    histogram = [*_axes(f"residual ({fmt(float(edges[0]))} to {fmt(float(edges[-1]))})", "rows")]
    for i, count in enumerate(counts):
        height = (SIZE - 1.5 * PAD) * count / top
        histogram.append(f'<rect x="{PAD + i * width:.1f}" y="{SIZE - PAD - height:.1f}" width="{width:.1f}" '
                         f'height="{height:.1f}" fill="{BLUE}" stroke="#fff"/>')
    return [figure("Residuals against predicted", SIZE, SIZE, scatter),
            figure("Residual histogram", SIZE, SIZE, histogram)]


def render(report: EvaluationReport) -> str:
    """The report as one HTML document."""
    body = [table("Evaluated", [{"model_version": report.model_version, "data_snapshot": report.data_snapshot}])]
    if (metrics := report.classification) is not None:
        scalars = {k: v for k, v in metrics.to_dict().items() if not isinstance(v, list | dict)}
        body += ["<section><h2>Classification</h2>", table("Metrics", [scalars]),
                 table("Per class", [c.to_dict() for c in metrics.per_class]),
                 _heatmap("Confusion matrix", metrics.labels, metrics.confusion_matrix), "</section>"]
    if (curves := report.curves) is not None:
        body += ["<section><h2>Curves</h2>",
                 _line("ROC curve", curves.roc["fpr"], curves.roc["tpr"], "false positive rate",
                       "true positive rate", diagonal=True),
                 _line("Precision–recall curve", curves.pr["recall"], curves.pr["precision"], "recall", "precision")]
        if curves.calibration["mean_predicted"]:
            body.append(_line("Calibration (reliability)", curves.calibration["mean_predicted"],
                              curves.calibration["fraction_positive"], "mean predicted probability",
                              "fraction of positives", diagonal=True))
        body.append("</section>")
    if (regression := report.regression) is not None:
        scalars = {k: v for k, v in regression.to_dict().items() if not isinstance(v, dict)}
        body += ["<section><h2>Regression</h2>", table("Metrics", [scalars]),
                 table("Residuals", [{**regression.residuals.quantiles, "mean": regression.residuals.mean,
                                      "std": regression.residuals.std, "max_abs": regression.residuals.max_abs}])]
        if report.y_true is not None and report.y_pred is not None:
            body += _residual_plots(report.y_true, report.y_pred)
        body.append("</section>")
    if report.feature_importance:
        ranked = dict(sorted(report.feature_importance.items(), key=lambda kv: -abs(kv[1])))
        body += ["<section><h2>Feature importance</h2>", bars("Importance", ranked), "</section>"]
    return page(report.title, body)


def write_report(path: Path, report: EvaluationReport) -> Path:
    """Write the report to ``path`` (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path
