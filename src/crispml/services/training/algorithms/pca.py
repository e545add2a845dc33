"""SageMaker's PCA, on scikit-learn's PCA (and TruncatedSVD without mean subtraction).

AWS's hyperparameters (``feature_dim``, ``num_components``, ``mini_batch_size``
required; ``algorithm_mode`` regular|randomized, ``subtract_mean``,
``extra_components``) and response (``{"projections": [{"projection": [...]}]}``).
AWS publishes no metric for PCA; this one prints the explained variance ratio
and the reconstruction error (``train reconstruction_error``, and ``test`` on a
test channel) — crispml's additions, which cross-validation reports.
``mini_batch_size`` is accepted; the fit reads all rows at once. The model
(components, mean) is saved with numpy (``model_algo-1.npz``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispml.services.training.algorithms import crossval
from crispml.services.training.algorithms.base import (
    Algorithm,
    Hyperparameter,
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


class PCA(Algorithm):
    name = "pca"
    doc = "Principal component analysis on scikit-learn."
    hyperparameters = (
        H("feature_dim", "int", min=1, doc="Number of features."),
        H("num_components", "int", min=1, doc="Number of principal components."),
        H("mini_batch_size", "int", min=1, doc="Rows per mini-batch (accepted; the fit reads all rows)."),
        H("algorithm_mode", "enum", "regular", choices=("regular", "randomized"), doc="SVD solver."),
        H("subtract_mean", "bool", True, doc="Center the data before the decomposition."),
        H("extra_components", "int", -1, -1, doc="Randomized mode oversampling; -1: default."),
    )
    metric_definitions = (quality_metric("train", "reconstruction_error"),
                          quality_metric("test", "reconstruction_error"))
    supervised = False
    content_types = frozenset({"text/csv", "application/x-parquet", "application/jsonlines"})
    optional_channels = frozenset({"test"})
    libraries = ("numpy", "pandas", "sklearn.decomposition")

    def check(self, values: dict[str, Any]) -> None:
        if values["num_components"] > values["feature_dim"]:
            raise ValidationException(f"num_components ({values['num_components']}) must not exceed feature_dim "
                                      f"({values['feature_dim']})")

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:

        from crispml.services.training.algorithms.data import DataError

        hp = hyperparameters
        X, _ = self.read(layout, "train", supervised=False)
        if X.shape[1] != hp["feature_dim"]:
            raise DataError(f"channel 'train' has {X.shape[1]} features but feature_dim is {hp['feature_dim']}")
        X = crossval.run(layout, X, None, lambda xt, _yt, xv, _yv, threads: {
            "test:reconstruction_error": _error(fit(xt, hp), xv)},
            crossval.quality_summary, preload=("sklearn.decomposition",))
        model = fit(X, hp)
        emit(f"explained variance ratio: {', '.join(f'{v:.4f}' for v in model['ratio'])}")
        emit(quality_line("train", "reconstruction_error", _error(model, X)))
        if self.channel_present(layout, "test"):
            Xt, _ = self.read(layout, "test", supervised=False)
            emit(quality_line("test", "reconstruction_error", _error(model, Xt)))
        save_arrays(layout.model_dir, MODEL_FILE, model)

    def load(self, model_dir: Path) -> Any:
        return load_arrays(model_dir, MODEL_FILE)

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """No labels; each row's projection as its (row of) scores."""
        return None, project(model, X)

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        _, projections = predicted(lambda X: self.outputs(model, X), body, content_type)
        rows = [{"projection": p.tolist()} for p in projections]
        return respond(rows, kind, "projections")


def fit(X: Any, hp: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from sklearn.decomposition import PCA as SkPCA
    from sklearn.decomposition import TruncatedSVD

    n = min(hp["num_components"], X.shape[0], X.shape[1])
    oversample = 10 if hp["extra_components"] == -1 else hp["extra_components"]
    if hp["subtract_mean"]:
        solver = "randomized" if hp["algorithm_mode"] == "randomized" else "full"
        pca = SkPCA(n, svd_solver=solver, random_state=0,
                    **({"n_oversamples": oversample} if solver == "randomized" else {})).fit(X)
        return {"components": pca.components_.astype(np.float32), "mean": pca.mean_.astype(np.float32),
                "ratio": pca.explained_variance_ratio_}
    algorithm = "randomized" if hp["algorithm_mode"] == "randomized" else "arpack"
    if algorithm == "arpack" and n >= X.shape[1]:
        algorithm = "randomized"
    svd = TruncatedSVD(n, algorithm=algorithm, random_state=0).fit(X)
    return {"components": svd.components_.astype(np.float32), "mean": np.zeros(X.shape[1], dtype=np.float32),
            "ratio": svd.explained_variance_ratio_}


def project(model: dict[str, Any], X: Any) -> Any:
    if X.shape[1] != model["components"].shape[1]:
        raise ValueError(f"rows have {X.shape[1]} features; the model has {model['components'].shape[1]}")
    return (X - model["mean"]) @ model["components"].T


def _error(model: dict[str, Any], X: Any) -> float:
    """Mean squared reconstruction error per row."""
    restored = project(model, X) @ model["components"] + model["mean"]
    return float(((X - restored) ** 2).sum(axis=1).mean())
