"""SageMaker's k-NN, on scikit-learn's KNeighborsClassifier / KNeighborsRegressor.

As AWS's algorithm: a sample of ``sample_size`` training rows is the index;
a query's ``k`` nearest neighbours vote (classifier, the most frequent label)
or average (regressor). Test metrics ``test:accuracy`` / ``test:mse``; response
``{"predictions": [{"predicted_label": 1.0}]}``.

What differs: the search is exact (brute force) whatever ``index_type``
(faiss.Flat, faiss.IVFFlat, faiss.IVFPQ: their approximations are not
reproduced); ``index_metric`` L2 and COSINE are supported, INNER_PRODUCT is
refused; ``dimension_reduction_*`` and ``faiss_index_*`` are accepted without
effect. The index is saved with numpy (``model_algo-1.npz``).
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
    load_arrays,
    predicted,
    quality_line,
    quality_metric,
    respond,
    save_arrays,
)
from crispml.services.training.errors import ValidationException

H = Hyperparameter
MODEL_FILE = "model_algo-1.npz"


class KNN(Algorithm):
    name = "knn"
    doc = "k-nearest-neighbours classification and regression on scikit-learn (exact search)."
    hyperparameters = (
        H("k", "int", min=1, doc="Number of neighbours."),
        H("sample_size", "int", min=1, doc="Training rows kept in the index."),
        H("predictor_type", "enum", choices=("classifier", "regressor")),
        H("feature_dim", "int", min=1, doc="Number of features."),
        H("index_metric", "enum", "L2", choices=("L2", "INNER_PRODUCT", "COSINE")),
        H("index_type", "enum", "faiss.Flat", choices=("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"),
          doc="Accepted; the search is exact."),
        H("mini_batch_size", "int", 5000, 1, doc="Accepted; no effect here."),
        H("dimension_reduction_type", "enum", "none", choices=("none", "sign", "fjlt"), doc="Accepted; no effect."),
        H("dimension_reduction_target", "int", None, 1, doc="Accepted; no effect here."),
        H("faiss_index_ivf_nlists", "int", "auto", 1, auto=True, doc="Accepted; no effect here."),
        H("faiss_index_pq_m", "int", None, 1, doc="Accepted; no effect here."),
    )
    metric_definitions = (quality_metric("test", "accuracy"), quality_metric("test", "mse"))
    content_types = frozenset({"text/csv", "application/x-parquet", "application/jsonlines"})
    optional_channels = frozenset({"test"})
    libraries = ("numpy", "pandas", "sklearn.neighbors")

    def check(self, values: dict[str, Any]) -> None:
        if values["index_metric"] == "INNER_PRODUCT":
            raise ValidationException("index_metric INNER_PRODUCT is not supported here; use L2 or COSINE")

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:

        hp = hyperparameters
        X, y = self.read(layout, "train")
        _dims(X, hp, "train")
        X = crossval.run(layout, X, y, lambda xt, yt, xv, yv, threads: {
            f"test:{k}": v for k, v in _score(sample(xt, yt, hp), xv, yv).items()},
            crossval.quality_summary, preload=("sklearn.neighbors",))
        model = sample(X, y, hp)
        emit(f"index: {len(model['y'])} of {len(y)} rows, k={hp['k']}, metric={hp['index_metric']}")
        if self.channel_present(layout, "test"):
            Xt, yt = self.read(layout, "test")
            _dims(Xt, hp, "test")
            for metric, value in _score(model, Xt, yt).items():
                emit(quality_line("test", metric, value, tag="score" if metric == "accuracy" else "loss"))
        save_arrays(layout.model_dir, MODEL_FILE, model)

    def load(self, model_dir: Path) -> Any:
        return load_arrays(model_dir, MODEL_FILE)

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """The neighbours' label (a classifier's vote, a regressor's mean); no scores."""
        return neighbours(model, X), None

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        labels, _ = predicted(lambda X: self.outputs(model, X), body, content_type)
        rows = [{"predicted_label": float(v)} for v in labels]
        return respond(rows, kind, "predictions")


def _dims(X: Any, hp: dict[str, Any], channel: str) -> None:
    check_feature_dim(X, hp["feature_dim"], channel)


def sample(X: Any, y: Any, hp: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    rows = np.arange(len(X))
    if len(X) > hp["sample_size"]:
        rows = np.sort(np.random.default_rng(0).choice(len(X), hp["sample_size"], replace=False))
    return {"X": X[rows], "y": y[rows], "k": np.int64(hp["k"]),
            "metric": np.str_("cosine" if hp["index_metric"] == "COSINE" else "euclidean"),
            "regressor": np.bool_(hp["predictor_type"] == "regressor")}


def neighbours(model: dict[str, Any], X: Any) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    if X.shape[1] != model["X"].shape[1]:
        raise ValueError(f"rows have {X.shape[1]} features; the model has {model['X'].shape[1]}")
    k = min(int(model["k"]), len(model["y"]))
    cls = KNeighborsRegressor if bool(model["regressor"]) else KNeighborsClassifier
    estimator = cls(n_neighbors=k, algorithm="brute", metric=str(model["metric"]))
    return estimator.fit(model["X"], model["y"]).predict(X)


def _score(model: dict[str, Any], X: Any, y: Any) -> dict[str, float]:
    predicted = neighbours(model, X)
    if bool(model["regressor"]):
        return {"mse": float(((predicted - y) ** 2).mean())}
    return {"accuracy": float((predicted == y).mean())}
