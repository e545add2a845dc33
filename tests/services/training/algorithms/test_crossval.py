from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import LeaveOneOut, TimeSeriesSplit
from sklearn.neighbors import KNeighborsClassifier

from crispml.services.training.algorithms import crossval, get
from crispml.services.training.errors import ValidationException
from tests.services.training.algorithms.support import csv_text, layout, train_in_child


def knn_by_hand(X: np.ndarray, y: np.ndarray, splitter: object) -> list[float]:
    scores = []
    for train, test in splitter.split(X):  # type: ignore[attr-defined]
        model = KNeighborsClassifier(3, algorithm="brute").fit(X[train], y[train])
        scores.append(float((model.predict(X[test]) == y[test]).mean()))
    return scores


@pytest.mark.parametrize(("config", "splitter", "cpus"), [
    ({"Strategy": "TimeSeriesSplit", "Folds": 4}, TimeSeriesSplit(4), 1),  # in the job's process
    ({"Strategy": "TimeSeriesSplit", "Folds": 4}, TimeSeriesSplit(4), 2),  # in forked processes
    ({"Strategy": "LeaveOneOut"}, LeaveOneOut(), 1),
])
def test_folds_equal_fitting_them_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          config: dict[str, object], splitter: object, cpus: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y))}, cross_validation=config)
    hp = {"k": "3", "sample_size": "1000", "predictor_type": "classifier", "feature_dim": "2"}
    if cpus == 1:
        get("knn").train(job, get("knn").validate(hp))
        out = capsys.readouterr().out
    else:
        out = train_in_child("knn", job.root, hp, cpus=cpus)
    report = json.loads((job.output_data_dir / "cross_validation.json").read_text())
    expected = knn_by_hand(X, y.astype(np.float32), splitter)
    assert report["Strategy"] == config["Strategy"]
    assert [f["Metrics"]["test:accuracy"] for f in report["Folds"]] == pytest.approx(expected)
    assert report["Summary"]["test:accuracy"] == pytest.approx(
        {"Mean": np.mean(expected), "StandardDeviation": np.std(expected)})
    assert out.count("[fold ") == len(expected)


def test_a_failing_fold_fails_the_job_with_its_reason(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(12, 2))
    # the first time-series fold trains on 2 rows: too few for k=3 clusters
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X))},
                 cross_validation={"Strategy": "TimeSeriesSplit", "Folds": 5})
    with pytest.raises(RuntimeError, match=r"cross-validation failed: DataError: 2 rows are fewer than k=3"):
        train_in_child("k-means", job.root, {"k": "3", "feature_dim": "2"})


def test_config_check() -> None:
    assert crossval.check_config({"Strategy": "KFold"}) == {
        "Strategy": "KFold", "Folds": 5, "Shuffle": False, "Seed": 0, "GroupColumn": None}
    for config, message in [({"Strategy": "Bootstrap"}, "one of: KFold"), ({"Folds": 1}, "integer >= 2"),
                            ({"Strategy": "GroupKFold"}, "GroupColumn is required"),
                            ({"GroupColumn": -1}, "0-based feature index"), ({"Fold": 3}, "unknown field")]:
        with pytest.raises(ValidationException, match=message):
            crossval.check_config(config)


def test_summarize_is_mean_and_population_std() -> None:
    summary = crossval.summarize([{"a": 1.0, "b": 2.0}, {"a": 3.0}])
    assert summary == {"a": {"Mean": 2.0, "StandardDeviation": 1.0}, "b": {"Mean": 2.0, "StandardDeviation": 0.0}}
