"""SageMaker's K-Means, on scikit-learn's MiniBatchKMeans and KMeans.

As AWS's algorithm: a streaming pass of mini-batch k-means over ``epochs``
with ``k × extra_center_factor`` centers, then a local Lloyd's k-means on those
centers (weighted by how many rows each took) down to ``k``
(``local_lloyd_init_method``, ``local_lloyd_max_iter``, ``local_lloyd_tol``,
``local_lloyd_num_trials``). Per-epoch ``train msd`` lines and the final
``test msd``/``test ssd`` on a test channel; responses
``{"predictions": [{"closest_cluster": 1.0, "distance_to_cluster": 0.3}]}``.
The model is the centers, saved with numpy (``model_algo-1.npy``).

``extra_center_factor=auto`` is 2 here (capped by the number of rows);
``half_life_time_size`` is accepted and has no effect.
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
MODEL_FILE = "model_algo-1.npy"


class KMeans(Algorithm):
    name = "k-means"
    doc = "k-means clustering: mini-batch passes then a local Lloyd's reduction, on scikit-learn."
    hyperparameters = (
        H("k", "int", min=1, doc="Number of clusters."),
        H("feature_dim", "int", min=1, doc="Number of features."),
        H("init_method", "enum", "random", choices=("random", "kmeans++"), doc="Initial centers."),
        H("epochs", "int", 1, 1, doc="Passes over the data."),
        H("mini_batch_size", "int", 5000, 1, doc="Rows per mini-batch."),
        H("extra_center_factor", "int", "auto", 1, auto=True, doc="Centers kept while streaming, per cluster."),
        H("local_lloyd_init_method", "enum", "kmeans++", choices=("random", "kmeans++")),
        H("local_lloyd_max_iter", "int", 300, 1),
        H("local_lloyd_tol", "float", 0.0001, 0),
        H("local_lloyd_num_trials", "int", "auto", 1, auto=True),
        H("half_life_time_size", "int", 0, 0, doc="Accepted; no effect here."),
        H("eval_metrics", "str", '["msd"]', doc='Test metrics: ["msd"], ["ssd"] or both.'),
    )
    metric_definitions = (quality_metric("train", "msd"), quality_metric("test", "msd"), quality_metric("test", "ssd"))
    supervised = False
    content_types = frozenset({"text/csv", "application/x-parquet", "application/jsonlines"})
    optional_channels = frozenset({"test"})
    libraries = ("numpy", "pandas", "sklearn.cluster", "sklearn.metrics")

    def check(self, values: dict[str, Any]) -> None:
        metrics = _metrics(values["eval_metrics"])
        if not metrics or set(metrics) - {"msd", "ssd"}:
            raise ValidationException(f"eval_metrics must list msd and/or ssd, not {values['eval_metrics']}")

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import numpy as np

        hp = hyperparameters
        X, _ = self.read(layout, "train", supervised=False)
        _dims(X, hp, "train")
        wanted = _metrics(hp["eval_metrics"])
        X = crossval.run(layout, X, None, lambda xt, _yt, xv, _yv, threads: {
            f"test:{k}": v for k, v in _score(fit(xt, hp, log=False), xv).items() if k in wanted},
            crossval.quality_summary, preload=("sklearn.cluster", "sklearn.metrics"))
        centers = fit(X, hp, log=True)
        if self.channel_present(layout, "test"):
            Xt, _ = self.read(layout, "test", supervised=False)
            _dims(Xt, hp, "test")
            for metric, value in _score(centers, Xt).items():
                if metric in wanted:
                    emit(quality_line("test", metric, value))
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        with open(layout.model_dir / MODEL_FILE, "wb") as file:
            np.save(file, centers)

    def load(self, model_dir: Path) -> Any:
        import numpy as np

        with open(Path(model_dir) / MODEL_FILE, "rb") as file:
            return np.load(file)

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """The closest cluster of each row as its label, the distance to it as its score."""
        return _assign(model, X)

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        closest, distance = predicted(lambda X: self.outputs(model, X), body, content_type)
        rows = [{"closest_cluster": float(c), "distance_to_cluster": float(d)} for c, d in zip(closest, distance,
                                                                                              strict=True)]
        return respond(rows, kind, "predictions")


def _metrics(text: str) -> list[str]:
    return [m.strip().strip("'\"") for m in text.strip("[] ").split(",") if m.strip()]


def _dims(X: Any, hp: dict[str, Any], channel: str) -> None:
    from crispml.services.training.algorithms.data import DataError

    check_feature_dim(X, hp["feature_dim"], channel)
    if len(X) < hp["k"]:
        raise DataError(f"channel '{channel}' has {len(X)} rows, fewer than k={hp['k']} clusters")


def _assign(centers: Any, X: Any) -> tuple[Any, Any]:
    import numpy as np
    from sklearn.metrics import pairwise_distances_argmin_min

    if X.shape[1] != centers.shape[1]:
        raise ValueError(f"rows have {X.shape[1]} features; the model has {centers.shape[1]}")
    closest, distance = pairwise_distances_argmin_min(X, centers)
    return closest, np.asarray(distance)


def _score(centers: Any, X: Any) -> dict[str, float]:
    _, distance = _assign(centers, X)
    squared = distance.astype(float) ** 2
    return {"msd": float(squared.mean()), "ssd": float(squared.sum())}


def fit(X: Any, hp: dict[str, Any], log: bool) -> Any:
    """The ``k`` centers: mini-batch passes over ``epochs``, then a weighted Lloyd's reduction."""
    import numpy as np
    from sklearn.cluster import KMeans as Lloyd
    from sklearn.cluster import MiniBatchKMeans

    from crispml.services.training.algorithms.data import DataError

    k = hp["k"]
    if len(X) < k:
        raise DataError(f"{len(X)} rows are fewer than k={k} clusters")
    factor = 2 if hp["extra_center_factor"] == "auto" else hp["extra_center_factor"]
    extra = max(k, min(k * factor, len(X)))
    init = "k-means++" if hp["init_method"] == "kmeans++" else "random"
    stream = MiniBatchKMeans(extra, init=init, batch_size=min(hp["mini_batch_size"], len(X)), random_state=0,
                             n_init=1)
    rng = np.random.default_rng(0)
    batch = max(hp["mini_batch_size"], extra)
    for epoch in range(hp["epochs"]):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            if len(rows) >= extra or hasattr(stream, "cluster_centers_"):
                stream.partial_fit(X[rows])
        if log:
            emit(quality_line("train", "msd", _score(stream.cluster_centers_, X)["msd"], epoch))
    centers = stream.cluster_centers_
    if extra > k:
        counts = np.bincount(stream.predict(X), minlength=extra).astype(float)
        trials = 1 if hp["local_lloyd_num_trials"] == "auto" else hp["local_lloyd_num_trials"]
        lloyd = Lloyd(k, init="k-means++" if hp["local_lloyd_init_method"] == "kmeans++" else "random",
                      n_init=trials, max_iter=hp["local_lloyd_max_iter"], tol=hp["local_lloyd_tol"], random_state=0)
        centers = lloyd.fit(centers, sample_weight=np.maximum(counts, 1e-6)).cluster_centers_
    if log:
        emit(quality_line("train", "msd", _score(centers, X)["msd"]))
    return np.asarray(centers, dtype=np.float32)
