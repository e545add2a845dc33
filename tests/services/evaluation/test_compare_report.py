"""Model comparison (bootstrap intervals, McNemar) and the HTML report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from crispml.services.evaluation.compare import compare_classifiers, compare_regressors, mcnemar
from crispml.services.evaluation.curves import curves
from crispml.services.evaluation.metrics import classification_metrics, regression_metrics
from crispml.services.evaluation.report import EvaluationReport, write_report


def _classifiers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.where(rng.random(n) < 0.80, y, 1 - y), np.where(rng.random(n) < 0.85, y, 1 - y)


def test_bootstrap_interval_covers_the_true_delta_and_repeats_with_a_seed() -> None:
    y, a, b = _classifiers(4000, 3)
    first = compare_classifiers(y, a, b, ("accuracy", "f1"), seed=7)
    accuracy = first.deltas[0]
    assert accuracy.delta == pytest.approx((b == y).mean() - (a == y).mean())
    assert accuracy.ci_low < 0.05 < accuracy.ci_high  # the true delta of the generating process
    assert first.verdicts[0].startswith("B is better than A on accuracy: +")
    assert first.to_dict() == compare_classifiers(y, a, b, ("accuracy", "f1"), seed=7).to_dict()
    assert first.to_dict() != compare_classifiers(y, a, b, ("accuracy", "f1"), seed=8).to_dict()
    f1 = first.deltas[1]
    assert f1.a == pytest.approx(classification_metrics(y, a).f1)


def test_the_cell_bootstrap_matches_resampling_rows() -> None:
    """The multinomial draw of cells has the spread of drawing rows with replacement."""
    y, a, b = _classifiers(500, 4)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 500, (4000, 500))
    by_rows = ((b[rows] == y[rows]).mean(axis=1) - (a[rows] == y[rows]).mean(axis=1))
    cells = compare_classifiers(y, a, b, ("accuracy",), resamples=4000, seed=1).deltas[0]
    low, high = np.quantile(by_rows, [0.025, 0.975])
    assert cells.ci_low == pytest.approx(low, abs=0.006) and cells.ci_high == pytest.approx(high, abs=0.006)


def test_no_clear_difference_between_equal_models() -> None:
    y, a, _ = _classifiers(300, 5)
    result = compare_classifiers(y, a, a.copy(), ("accuracy",))
    assert result.verdicts == ["No clear difference between B and A on accuracy: +0.000 "
                               "(95 % CI +0.000 to +0.000), McNemar p = 1.000"]


def test_regressors_interval_covers_the_delta() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=3000)
    a, b = y + rng.normal(scale=1.0, size=3000), y + rng.normal(scale=0.5, size=3000)
    result = compare_regressors(y, a, b, ("rmse", "r2"), resamples=300)
    rmse = result.deltas[0]
    assert rmse.a == pytest.approx(regression_metrics(y, a).rmse)
    assert rmse.ci_low < -0.5 < rmse.ci_high  # the true rmse difference is 0.5 − 1.0
    assert result.verdicts[0].startswith("B is better than A on rmse: -")


def test_the_regressor_bootstrap_is_resampling_rows() -> None:
    """Counting how often each row is drawn gives the intervals drawing the rows themselves gives (the same
    draws: the seed's generator, row after row of indices), in chunks that do not divide the resamples."""
    rng = np.random.default_rng(6)
    y = rng.normal(size=500)
    a, b = y + rng.normal(scale=1.0, size=500), y + rng.normal(scale=0.8, size=500)
    result = compare_regressors(y, a, b, ("rmse", "mae", "r2"), resamples=200, seed=3, chunk=7)
    rows = np.random.default_rng(3).integers(0, 500, size=(200, 500))
    truth = y[rows]
    spread = ((truth - truth.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    metrics = {"rmse": lambda p: np.sqrt(((truth - p[rows]) ** 2).mean(axis=1)),
               "mae": lambda p: np.abs(truth - p[rows]).mean(axis=1),
               "r2": lambda p: 1 - ((truth - p[rows]) ** 2).sum(axis=1) / spread}
    for delta in result.deltas:
        low, high = np.quantile(metrics[delta.metric](b) - metrics[delta.metric](a), [0.025, 0.975])
        assert (delta.ci_low, delta.ci_high) == pytest.approx((low, high), rel=1e-9), delta.metric


def test_mcnemar_by_hand() -> None:
    # 10 rows only A gets right, 2 only B: exact, p = 2 · P(X ≤ 2 | 12, ½) = 2 · (1 + 12 + 66) / 4096
    a = [True] * 10 + [False] * 2 + [True] * 5
    b = [False] * 10 + [True] * 2 + [True] * 5
    test = mcnemar(a, b)
    assert (test.only_a_right, test.only_b_right, test.method) == (10, 2, "exact")
    assert test.p_value == pytest.approx(158 / 4096)
    # 30 against 15: chi-square (|30 − 15| − 1)² / 45 = 196 / 45 ≈ 4.356, p ≈ 0.0369
    big = mcnemar([True] * 30 + [False] * 15, [False] * 30 + [True] * 15)
    assert big.method == "chi2" and big.statistic == pytest.approx(196 / 45)
    assert big.p_value == pytest.approx(0.03689, abs=1e-4)


def test_report_is_self_contained_svg_and_parses(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    yr = rng.normal(size=400)
    pr = yr + rng.normal(scale=0.3, size=400)
    report = EvaluationReport(
        title="churn <xgb> v3", model_version="churn-models/3", data_snapshot="demo.test@snapshot 8812",
        classification=classification_metrics(y, (score >= 0.5).astype(int), score), curves=curves(y, score),
        regression=regression_metrics(yr, pr), y_true=yr, y_pred=pr,
        feature_importance={"tenure": 0.4, "charges": 0.25})
    path = write_report(tmp_path / "eval" / "report.html", report)
    text = path.read_text()
    assert "http" not in text and "<script" not in text
    root = ET.fromstring(text.replace("<!DOCTYPE html>", ""))
    svgs = root.findall(".//svg")
    captions = [f.findtext("figcaption") for f in root.iter("figure")]
    assert captions == ["Confusion matrix", "ROC curve", "Precision–recall curve", "Calibration (reliability)",
                        "Residuals against predicted", "Residual histogram", "Importance"]
    assert len(svgs) == 7 and len(root.findall(".//polyline")) == 3
    assert len(root.findall(".//circle")) == 400
    assert "churn-models/3" in text and "demo.test@snapshot 8812" in text and "churn &lt;xgb&gt; v3" in text
