"""SageMaker's LightGBM algorithm, on the lightgbm library.

The hyperparameters of SageMaker's LightGBM (``num_boost_round``,
``early_stopping_rounds``, ``metric``, ``learning_rate``, ``num_leaves``, …
with its defaults), its rule for the task (binary or multiclass when the labels
are the integers 0..K-1 with 2 ≤ K ≤ 100, regression otherwise; crispml's
``objective`` hyperparameter can say it outright), its metric regexes
(``"auc: ([0-9\\.]+)"``, …) matched by one line per round
(``[12] validation binary_logloss: 0.2514``), and its habit of holding out 20 %
of ``train`` for validation when there is no ``validation`` channel. The model
is LightGBM's text format (``model/model.txt``) with ``model/meta.json``.
Responses: ``{"probabilities": [[...]], "predicted_label": [...]}`` for
classification, ``{"prediction": [...]}`` for regression, or CSV.

Not here: ``categorical_index.json``, ``use_dask``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crispml.services.training.algorithms import crossval
from crispml.services.training.algorithms.base import Algorithm, Hyperparameter, cpus, dumps, emit, predicted

H = Hyperparameter
METRICS = ("rmse", "l1", "l2", "huber", "fair", "binary_logloss", "binary_error", "auc", "average_precision",
           "multi_logloss", "multi_error", "auc_mu", "cross_entropy")
DEFAULT_METRIC = {"regression": "rmse", "binary": "binary_logloss", "multiclass": "multi_logloss"}


class LightGBM(Algorithm):
    name = "lightgbm"
    doc = "Gradient-boosted trees on the lightgbm library, as SageMaker's LightGBM algorithm."
    hyperparameters = (
        H("num_boost_round", "int", 100, 1, doc="Maximum boosting iterations."),
        H("early_stopping_rounds", "int", 10, doc="Stop after this many rounds without improvement; <= 0: never."),
        H("metric", "enum", "auto", choices=("auto", *METRICS), doc="Validation metric; auto by task."),
        H("learning_rate", "float", 0.1, 0, 1, min_open=True, max_open=True),
        H("num_leaves", "int", 64, 2, 131072),
        H("feature_fraction", "float", 0.9, 0, 1, min_open=True),
        H("bagging_fraction", "float", 0.9, 0, 1, min_open=True),
        H("bagging_freq", "int", 1, 0),
        H("max_depth", "int", 6),
        H("min_data_in_leaf", "int", 3, 0),
        H("max_delta_step", "float", 0.0),
        H("lambda_l1", "float", 0.0, 0),
        H("lambda_l2", "float", 0.0, 0),
        H("boosting", "enum", "gbdt", choices=("gbdt", "rf", "dart", "goss")),
        H("min_gain_to_split", "float", 0.0, 0),
        H("scale_pos_weight", "float", 1.0, 0, min_open=True),
        H("tree_learner", "enum", "serial", choices=("serial", "feature", "data", "voting")),
        H("feature_fraction_bynode", "float", 1.0, 0, 1, min_open=True),
        H("is_unbalance", "bool", False),
        H("max_bin", "int", 255, 2),
        H("num_threads", "int", 0, 0, doc="0: SM_NUM_CPUS."),
        H("verbosity", "int", 1, -1, 2),
        H("use_dask", "bool", False, doc="Accepted; single-machine here."),
        H("seed", "int", 0, doc="Random seed (crispml)."),
        H("objective", "enum", "auto", choices=("auto", "regression", "binary", "multiclass"),
          doc="crispml: the task; auto detects it from the labels as SageMaker does."),
    )
    metric_definitions = tuple((m, rf"{m}: ([0-9\.]+)") for m in METRICS)
    content_types = frozenset({"text/csv", "application/x-parquet", "application/jsonlines"})
    libraries = ("numpy", "pandas", "lightgbm")

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import numpy as np

        hp = hyperparameters
        X, y = self.read(layout, "train")
        task, classes = detect(y, hp["objective"])
        params = _params(hp, task, classes, cpus() if hp["num_threads"] == 0 else hp["num_threads"])
        if layout.cross_validation() is not None:
            def fit_score(xt: Any, yt: Any, xv: Any, yv: Any, threads: int) -> dict[str, float]:
                log: dict[str, Any] = {}
                _fit(dict(params, num_threads=threads), hp, xt, yt, xv, yv, log, verbose=False)
                return {name: values[-1] for name, values in log["validation"].items()}

            X = crossval.run(layout, X, y, fit_score, lambda means: f"[{hp['num_boost_round'] - 1}] validation "
                             + " ".join(f"{k}: {v:.6f}" for k, v in means.items()), preload=("lightgbm",))
        if self.channel_present(layout, "validation"):
            Xv, yv = self.read(layout, "validation")
        else:
            emit("No validation channel: holding out 20% of train for validation")
            rows = np.random.default_rng(hp["seed"]).permutation(len(X))
            cut = max(1, len(X) // 5)
            Xv, yv, X, y = X[rows[:cut]], y[rows[:cut]], X[rows[cut:]], y[rows[cut:]]
        if task != "regression":
            bad = (yv < 0) | (yv >= classes) | (yv != np.round(yv))
            if bad.any():
                from crispml.services.training.algorithms.data import DataError

                raise DataError(f"channel 'validation': label {yv[bad][0]:g} is not a class of train "
                                f"(0..{classes - 1})")
        booster = _fit(params, hp, X, y, Xv, yv, {}, verbose=True)
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(layout.model_dir / "model.txt"))
        (layout.model_dir / "meta.json").write_text(json.dumps({"task": task, "classes": classes}))

    def load(self, model_dir: Path) -> Any:
        import lightgbm as lgb

        meta = json.loads((Path(model_dir) / "meta.json").read_text())
        return {"booster": lgb.Booster(model_file=str(Path(model_dir) / "model.txt")), **meta}

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """A regressor's values as scores (no labels); a classifier's predicted labels and class probabilities
        (two columns for a binary one)."""
        import numpy as np

        if X.shape[1] != model["booster"].num_feature():
            raise ValueError(f"rows have {X.shape[1]} features; the model has {model['booster'].num_feature()}")
        raw = model["booster"].predict(X)
        if model["task"] == "regression":
            return None, raw
        probabilities = np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw
        return probabilities.argmax(axis=1), probabilities

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "text/csv", "application/jsonlines"))
        labels, scores = predicted(lambda X: self.outputs(model, X), body, content_type)
        if labels is None:
            if kind == "text/csv":
                return "".join(f"{v!r}\n" for v in scores.tolist()).encode(), kind
            return dumps({"prediction": scores.tolist()}), kind
        if kind == "text/csv":
            return "".join(",".join(map(repr, p)) + "\n" for p in scores.tolist()).encode(), kind
        if kind == "application/jsonlines":
            return "".join(dumps({"probabilities": p, "predicted_label": int(k)}).decode() + "\n"
                           for p, k in zip(scores.tolist(), labels, strict=True)).encode(), kind
        return dumps({"probabilities": scores.tolist(), "predicted_label": labels.tolist()}), kind


def detect(y: Any, objective: str) -> tuple[str, int]:
    """The task and number of classes: classification when the labels are 0..K-1 (2 ≤ K ≤ 100)."""
    import numpy as np

    from crispml.services.training.algorithms.data import DataError

    values = np.unique(y)
    integral = bool(np.all(values == np.round(values))) and values.min() >= 0
    k = int(values.max()) + 1 if integral else 0
    if objective == "regression" or (objective == "auto" and not (integral and 2 <= k <= 100 and len(values) == k)):
        return "regression", 0
    if not integral:
        raise DataError(f"objective {objective} needs integer class labels 0..K-1; found {values[0]:g}")
    k = max(k, 2)
    if objective == "binary" and k > 2:
        raise DataError(f"objective binary needs labels 0 and 1; found {k} classes")
    return ("binary" if k == 2 and objective != "multiclass" else "multiclass"), k


def _params(hp: dict[str, Any], task: str, classes: int, threads: int) -> dict[str, Any]:
    skip = {"num_boost_round", "early_stopping_rounds", "metric", "use_dask", "objective", "num_threads"}
    params = {k: v for k, v in hp.items() if k not in skip}
    params.update(objective=task, num_threads=threads,
                  metric=DEFAULT_METRIC[task] if hp["metric"] == "auto" else hp["metric"])
    if task == "multiclass":
        params["num_class"] = classes
    params["verbosity"] = -1
    return params


def _fit(params: dict[str, Any], hp: dict[str, Any], X: Any, y: Any, Xv: Any, yv: Any, log: dict[str, Any],
         verbose: bool) -> Any:
    import lightgbm as lgb

    train = lgb.Dataset(X, label=y, free_raw_data=False)
    valid = lgb.Dataset(Xv, label=yv, reference=train)
    callbacks = [lgb.record_evaluation(log)]
    if hp["early_stopping_rounds"] > 0:
        callbacks.append(lgb.early_stopping(hp["early_stopping_rounds"], verbose=False))
    if verbose:
        def print_round(env: Any) -> None:
            emit(f"[{env.iteration}] validation " + " ".join(f"{name}: {value:.6f}"
                                                            for _, name, value, _ in env.evaluation_result_list))

        callbacks.append(print_round)
    return lgb.train(params, train, hp["num_boost_round"], valid_sets=[valid], valid_names=["validation"],
                     callbacks=callbacks)
