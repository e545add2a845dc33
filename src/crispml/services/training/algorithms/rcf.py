"""SageMaker's Random Cut Forest, honestly implemented on scikit-learn's IsolationForest.

RCF itself (Guha et al., 2016) has no well-kept Python implementation; an
isolation forest is its closest relative (random trees over samples, a point's
score from how easily it is isolated), so this algorithm keeps RCF's
interface — ``feature_dim``, ``num_trees``, ``num_samples_per_tree``,
``eval_metrics``, the ``test`` channel with labels
(``text/csv;label_size=1``), ``test:f1`` and the response
``{"scores": [{"score": 1.3}]}`` — on scikit-learn's ``IsolationForest``. Scores
are not RCF's co-displacement values: they are ``-score_samples`` rescaled so
the training data's mean is 1 — higher means more anomalous, as in RCF. A test
row counts as predicted anomalous when its score exceeds the training mean by 3
standard deviations, AWS's rule. The model is saved with joblib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispml.services.training.algorithms import crossval
from crispml.services.training.algorithms.base import (
    Algorithm,
    Hyperparameter,
    check_feature_dim,
    emit,
    predicted,
    quality_line,
    quality_metric,
    respond,
)
from crispml.services.training.errors import ValidationException

H = Hyperparameter
MODEL_FILE = "model.joblib"
METRICS = ("accuracy", "precision_recall_fscore")


class RandomCutForest(Algorithm):
    name = "random-cut-forest"
    doc = ("Anomaly detection with RCF's interface on scikit-learn's IsolationForest (not RCF itself); "
           "higher scores are more anomalous.")
    hyperparameters = (
        H("feature_dim", "int", min=1, max=10000, doc="Number of features."),
        H("num_trees", "int", 100, 50, 1000, doc="Trees in the forest."),
        H("num_samples_per_tree", "int", 256, 1, 2048, doc="Rows sampled per tree."),
        H("eval_metrics", "str", '["accuracy", "precision_recall_fscore"]', doc="Test channel metrics."),
    )
    metric_definitions = (quality_metric("test", "f1"), quality_metric("test", "precision"),
                          quality_metric("test", "recall"), quality_metric("test", "accuracy"))
    supervised = False
    content_types = frozenset({"text/csv", "application/jsonlines"})
    optional_channels = frozenset({"test"})
    libraries = ("numpy", "pandas", "sklearn.ensemble", "sklearn.metrics", "joblib")

    def check(self, values: dict[str, Any]) -> None:
        names = [m.strip().strip("'\"") for m in values["eval_metrics"].strip("[] ").split(",") if m.strip()]
        if set(names) - set(METRICS):
            raise ValidationException(f"eval_metrics may list {', '.join(METRICS)}, not {values['eval_metrics']}")

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import joblib

        from crispml.services.training.algorithms.data import DataError

        hp = hyperparameters
        X, y = self.read(layout, "train", supervised=False)
        _dims(X, hp, "train")
        if layout.cross_validation() is not None and y is None:
            raise DataError("cross-validation of random-cut-forest needs labels in the train channel "
                            "(text/csv;label_size=1, 1 = anomaly) to score the held-out folds")
        X = crossval.run(layout, X, y, lambda xt, yt, xv, yv, threads: {
            f"test:{k}": v for k, v in _score(fit(xt, hp, threads), xv, yv).items()},
            crossval.quality_summary, preload=("sklearn.ensemble", "sklearn.metrics"))
        model = fit(X, hp, 0)
        emit(f"forest: {hp['num_trees']} trees of {model['samples']} samples; anomaly threshold "
             f"{model['threshold']:.4f}")
        if self.channel_present(layout, "test"):
            Xt, yt = self.read(layout, "test", supervised=False)
            if yt is None:
                raise DataError("the test channel needs labels: content type text/csv;label_size=1")
            for metric, value in _score(model, Xt, yt).items():
                emit(quality_line("test", metric, value, tag="score"))
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, layout.model_dir / MODEL_FILE)

    def load(self, model_dir: Path) -> Any:
        import joblib

        return joblib.load(Path(model_dir) / MODEL_FILE)

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """No labels; each row's anomaly score."""
        return None, score(model, X)

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        _, scores = predicted(lambda X: self.outputs(model, X), body, content_type)
        rows = [{"score": float(s)} for s in scores]
        return respond(rows, kind, "scores")


def _dims(X: Any, hp: dict[str, Any], channel: str) -> None:
    check_feature_dim(X, hp["feature_dim"], channel)


def fit(X: Any, hp: dict[str, Any], threads: int) -> dict[str, Any]:
    from sklearn.ensemble import IsolationForest

    samples = min(hp["num_samples_per_tree"], len(X))
    forest = IsolationForest(n_estimators=hp["num_trees"], max_samples=samples, random_state=0,
                             n_jobs=threads or None).fit(X)
    raw = -forest.score_samples(X)
    model = {"forest": forest, "scale": float(raw.mean()), "samples": samples}
    train_scores = raw / model["scale"]
    model["threshold"] = float(train_scores.mean() + 3 * train_scores.std())
    return model


def score(model: dict[str, Any], X: Any) -> Any:
    """Anomaly scores: higher is more anomalous; the training rows average 1."""
    forest = model["forest"]
    if X.shape[1] != forest.n_features_in_:
        raise ValueError(f"rows have {X.shape[1]} features; the model has {forest.n_features_in_}")
    return -forest.score_samples(X) / model["scale"]


def _score(model: dict[str, Any], X: Any, y: Any) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = (score(model, X) > model["threshold"]).astype(int)
    truth = (y > 0).astype(int)
    return {"f1": float(m.f1_score(truth, predicted, zero_division=0)),
            "precision": float(m.precision_score(truth, predicted, zero_division=0)),
            "recall": float(m.recall_score(truth, predicted, zero_division=0)),
            "accuracy": float(m.accuracy_score(truth, predicted))}
