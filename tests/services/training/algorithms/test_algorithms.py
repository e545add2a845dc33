"""linear-learner, k-means, pca, knn, random-cut-forest, lightgbm and blazingtext: learn, log, save, serve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from crispml.services.training.algorithms import get
from crispml.services.training.algorithms.data import DataError
from crispml.services.training.errors import ValidationException
from tests.services.training.algorithms.support import blobs, csv_text, layout


def metric_values(name: str, algorithm: str, out: str) -> list[float]:
    regex = dict(get(algorithm).metric_definitions)[name]
    return [float(m.group(1)) for m in re.finditer(regex, out)]


def three_clusters(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = np.array([[0, 0, 0], [8, 8, 0], [0, 8, 8]], dtype=float)
    return centers[labels] + rng.normal(scale=0.5, size=(n, 3)), labels


# linear-learner ----------------------------------------------------------------------------------------------

def test_linear_learner_binary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("linear-learner")
    X, y = blobs(400)
    Xv, yv = blobs(200, seed=1)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y)), "validation": ("text/csv", csv_text(Xv, yv))})
    algorithm.train(job, algorithm.validate({"predictor_type": "binary_classifier", "epochs": "6"}))
    out = capsys.readouterr().out
    losses = metric_values("validation:objective_loss", "linear-learner", out)
    assert len(losses) >= 4 and losses[-1] < losses[0]  # one per epoch, and the final one
    assert metric_values("validation:binary_classification_accuracy", "linear-learner", out)[-1] > 0.93
    body, kind = algorithm.predict(algorithm.load(job.model_dir), csv_text(Xv).encode(), "text/csv",
                                   "application/json")
    predictions = json.loads(body)["predictions"]
    assert kind == "application/json" and set(predictions[0]) == {"score", "predicted_label"}
    assert np.mean([p["predicted_label"] for p in predictions] == yv) > 0.93


def test_linear_learner_regressor_and_multiclass(tmp_path: Path) -> None:
    algorithm = get("linear-learner")
    X, _ = blobs(400)
    y = X @ np.array([1.5, -2.0, 0.5, 0.0]) + 3
    job = layout(tmp_path / "r", {"train": ("text/csv", csv_text(X, y))})
    algorithm.train(job, algorithm.validate({"predictor_type": "regressor", "epochs": "10"}))
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X[:100]).encode(), "text/csv", "")
    predicted = np.array([p["score"] for p in json.loads(body)["predictions"]])
    assert 1 - ((predicted - y[:100]) ** 2).sum() / ((y[:100] - y[:100].mean()) ** 2).sum() > 0.98

    Xc, yc = three_clusters()
    job = layout(tmp_path / "m", {"train": ("text/csv", csv_text(Xc, yc))})
    algorithm.train(job, algorithm.validate({"predictor_type": "multiclass_classifier", "num_classes": "3"}))
    body, _ = algorithm.predict(algorithm.load(job.model_dir), json.dumps({"instances": [
        {"features": row.tolist()} for row in Xc[:60]]}).encode(), "application/json", "application/json")
    predictions = json.loads(body)["predictions"]
    assert len(predictions[0]["score"]) == 3
    assert np.mean([p["predicted_label"] for p in predictions] == yc[:60]) > 0.95


def test_linear_learner_validation_and_data_errors(tmp_path: Path) -> None:
    algorithm = get("linear-learner")
    with pytest.raises(ValidationException, match="requires hyperparameter predictor_type"):
        algorithm.validate({})
    with pytest.raises(ValidationException, match="multiclass_classifier requires hyperparameter num_classes"):
        algorithm.validate({"predictor_type": "multiclass_classifier"})
    with pytest.raises(ValidationException, match=r"'num_classes' = 2 is out of range; valid: int in \[3, 1000000\]"):
        algorithm.validate({"predictor_type": "multiclass_classifier", "num_classes": "2"})
    assert algorithm.validate({"predictor_type": "regressor", "l1": "auto", "wd": "0.01"})["wd"] == 0.01
    job = layout(tmp_path, {"train": ("text/csv", "0,1\n2,1\n")})
    with pytest.raises(DataError, match=r"label 2 is not a class in 0\.\.1"):
        algorithm.train(job, algorithm.validate({"predictor_type": "binary_classifier"}))


# k-means -----------------------------------------------------------------------------------------------------

def test_kmeans_recovers_clusters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("k-means")
    X, labels = three_clusters()
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X)), "test": ("text/csv", csv_text(X[:50]))})
    algorithm.train(job, algorithm.validate({"k": "3", "feature_dim": "3", "epochs": "2", "init_method": "kmeans++",
                                             "mini_batch_size": "100", "eval_metrics": '["msd", "ssd"]'}))
    out = capsys.readouterr().out
    assert len(metric_values("train:msd", "k-means", out)) == 3  # two epochs and the final
    assert metric_values("test:msd", "k-means", out)[-1] < 1.5  # noise variance 3 × 0.25
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X).encode(), "text/csv", "application/json")
    predictions = json.loads(body)["predictions"]
    assert set(predictions[0]) == {"closest_cluster", "distance_to_cluster"}
    clusters = np.array([p["closest_cluster"] for p in predictions])
    for label in range(3):  # each true cluster maps to one found cluster, and to a different one
        assert len(set(clusters[labels == label])) == 1
    assert len(set(clusters)) == 3
    with pytest.raises(ValidationException, match="requires hyperparameters k, feature_dim"):
        algorithm.validate({})


def test_kmeans_cross_validation_scores_held_out_msd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = three_clusters(150)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X))}, cross_validation={"Strategy": "KFold", "Folds": 3})
    algorithm = get("k-means")  # one CPU (conftest): the folds run in this process, one after the other
    algorithm.train(job, algorithm.validate({"k": "3", "feature_dim": "3", "init_method": "kmeans++"}))
    out = capsys.readouterr().out
    report = json.loads((job.output_data_dir / "cross_validation.json").read_text())
    values = [fold["Metrics"]["test:msd"] for fold in report["Folds"]]
    assert len(values) == 3 and max(values) < 1.5
    assert report["Summary"]["test:msd"]["Mean"] == pytest.approx(np.mean(values))
    assert "[fold 3/3] test-msd:" in out


# pca ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["regular", "randomized"])
def test_pca_projects_onto_the_main_directions(tmp_path: Path, mode: str) -> None:
    algorithm = get("pca")
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(300, 2)) * [5, 2]
    X = latent @ np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0]]) / np.sqrt(2) + rng.normal(scale=0.05, size=(300, 5))
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X))})
    algorithm.train(job, algorithm.validate({"feature_dim": "5", "num_components": "2", "mini_batch_size": "100",
                                             "algorithm_mode": mode}))
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X).encode(), "text/csv", "application/json")
    projections = np.array([p["projection"] for p in json.loads(body)["projections"]])
    assert projections.shape == (300, 2)
    assert abs(np.corrcoef(projections[:, 0], latent[:, 0])[0, 1]) > 0.99
    with pytest.raises(ValidationException, match=r"requires hyperparameter num_components"):
        algorithm.validate({"feature_dim": "5", "mini_batch_size": "10"})


# knn ---------------------------------------------------------------------------------------------------------

def test_knn_classifier_and_regressor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("knn")
    X, y = three_clusters()
    job = layout(tmp_path / "c", {"train": ("text/csv", csv_text(X, y)),
                                  "test": ("text/csv", csv_text(X[:90], y[:90]))})
    algorithm.train(job, algorithm.validate({"k": "5", "sample_size": "200", "predictor_type": "classifier",
                                             "feature_dim": "3"}))
    assert metric_values("test:accuracy", "knn", capsys.readouterr().out)[-1] > 0.95
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X[:30]).encode(), "text/csv", "")
    assert [p["predicted_label"] for p in json.loads(body)["predictions"]] == y[:30].astype(float).tolist()
    target = X[:, 0] * 2
    job = layout(tmp_path / "r", {"train": ("text/csv", csv_text(X, target))})
    algorithm.train(job, algorithm.validate({"k": "3", "sample_size": "1000", "predictor_type": "regressor",
                                             "feature_dim": "3", "index_metric": "L2"}))
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X[:30]).encode(), "text/csv", "")
    assert np.allclose([p["predicted_label"] for p in json.loads(body)["predictions"]], target[:30], atol=2)
    with pytest.raises(ValidationException, match="INNER_PRODUCT is not supported"):
        algorithm.validate({"k": "3", "sample_size": "10", "predictor_type": "classifier", "feature_dim": "3",
                            "index_metric": "INNER_PRODUCT"})


# random-cut-forest -------------------------------------------------------------------------------------------

def test_rcf_scores_anomalies_higher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("random-cut-forest")
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(500, 2))
    outliers = rng.uniform(6, 8, size=(10, 2))
    test = np.vstack([normal[:50], outliers])
    labels = np.r_[np.zeros(50), np.ones(10)]
    job = layout(tmp_path, {"train": ("text/csv", csv_text(normal)),
                            "test": ("text/csv;label_size=1", csv_text(test, labels))})
    algorithm.train(job, algorithm.validate({"feature_dim": "2", "num_trees": "50", "num_samples_per_tree": "128"}))
    assert metric_values("test:f1", "random-cut-forest", capsys.readouterr().out)[-1] > 0.9
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(test).encode(), "text/csv", "")
    scores = np.array([s["score"] for s in json.loads(body)["scores"]])
    assert scores[50:].min() > scores[:50].max()
    with pytest.raises(ValidationException, match=r"'num_trees' = 10 is out of range; valid: int in \[50, 1000\]"):
        algorithm.validate({"feature_dim": "2", "num_trees": "10"})


# lightgbm ----------------------------------------------------------------------------------------------------

def test_lightgbm_detects_the_task_and_logs_aws_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("lightgbm")
    X, y = blobs(400)
    job = layout(tmp_path / "b", {"train": ("text/csv", csv_text(X, y))})
    algorithm.train(job, algorithm.validate({"num_boost_round": "30", "metric": "auc", "num_leaves": "8"}))
    out = capsys.readouterr().out
    assert "holding out 20% of train" in out
    assert len(metric_values("auc", "lightgbm", out)) >= 5 and metric_values("auc", "lightgbm", out)[-1] > 0.95
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X[:100]).encode(), "text/csv",
                                "application/json")
    response = json.loads(body)
    assert np.mean(np.array(response["predicted_label"]) == y[:100]) > 0.9
    assert np.allclose(np.sum(response["probabilities"], axis=1), 1)

    target = X @ np.array([1.0, 2.0, 0.0, 0.0])
    job = layout(tmp_path / "r", {"train": ("text/csv", csv_text(X, target))})
    algorithm.train(job, algorithm.validate({"num_boost_round": "60", "num_leaves": "8"}))
    assert metric_values("rmse", "lightgbm", capsys.readouterr().out)[-1] < 0.6 * target.std()
    body, _ = algorithm.predict(algorithm.load(job.model_dir), csv_text(X[:5]).encode(), "text/csv", "")
    assert len(json.loads(body)["prediction"]) == 5


# blazingtext -------------------------------------------------------------------------------------------------

def test_blazingtext_separates_text_classes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    algorithm = get("blazingtext")
    rng = np.random.default_rng(0)
    topics = {"sport": "goal match team score player ball win", "food": "bread cheese soup cook taste dish salt"}
    filler = ["the", "a", "of", "and", "to", "in", "it", "is"]

    def line(label: str) -> str:
        words = list(rng.choice(topics[label].split(), 3)) + list(rng.choice(filler, 4))
        return f"__label__{label} " + " ".join(rng.permutation(words))

    train = "\n".join(line(["sport", "food"][i % 2]) for i in range(200))
    valid = "\n".join(line(["sport", "food"][i % 2]) for i in range(60))
    job = layout(tmp_path, {"train": ("text/plain", train), "validation": ("text/plain", valid)})
    algorithm.train(job, algorithm.validate({"mode": "supervised", "epochs": "5", "min_count": "1"}))
    accuracy = metric_values("validation:accuracy", "blazingtext", capsys.readouterr().out)
    assert len(accuracy) == 5 and accuracy[-1] > 0.95
    request = {"instances": ["the team will score a goal", "cook the soup with salt"], "configuration": {"k": 2}}
    body, _ = algorithm.predict(algorithm.load(job.model_dir), json.dumps(request).encode(), "application/json",
                                "application/json")
    response = json.loads(body)
    assert [r["label"][0] for r in response] == ["__label__sport", "__label__food"]
    assert len(response[0]["prob"]) == 2 and response[0]["prob"][0] > response[0]["prob"][1]
    with pytest.raises(ValidationException, match=r"mode skipgram .* only mode=supervised"):
        algorithm.validate({"mode": "skipgram", "window_size": "5"})
    bad = layout(tmp_path / "bad", {"train": ("text/plain", "no label here\n")})
    with pytest.raises(DataError, match="does not start with __label__"):
        algorithm.train(bad, algorithm.validate({"mode": "supervised"}))
