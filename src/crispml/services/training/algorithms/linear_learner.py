"""SageMaker's Linear Learner, on scikit-learn's SGD estimators.

The AWS names and defaults of the hyperparameters, the channels ``train``,
``validation`` and ``test``, per-epoch ``objective_loss`` lines
(``#quality_metric: host=algo-1, epoch=3, validation objective_loss <loss>=0.25``)
and the final validation/test metrics, early stopping on the validation loss
(``early_stopping_patience``, ``early_stopping_tolerance``), the binary
threshold chosen by ``binary_classifier_model_selection_criteria``, and the JSON
response of SageMaker's container (``{"predictions": [{"score", "predicted_label"}]}``).

What differs: one model is fitted with scikit-learn's ``SGDClassifier`` /
``SGDRegressor`` by ``partial_fit`` over shuffled mini-batches — not
SageMaker's parallel models with Adam; ``optimizer``, ``momentum``,
``num_models``, ``init_*``, ``lr_scheduler_*`` and ``beta_*`` are accepted and
have no effect; ``l1``/``wd`` become an elastic-net penalty; multiclass is
one-vs-rest logistic regression. ``quantile_loss`` is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispml.services.training.algorithms import crossval
from crispml.services.training.algorithms.base import (
    Algorithm,
    Hyperparameter,
    emit,
    predicted,
    quality_line,
    quality_metric,
    respond,
)
from crispml.services.training.errors import ValidationException

H = Hyperparameter
LOSSES = ("auto", "logistic", "squared_loss", "absolute_loss", "hinge_loss", "eps_insensitive_squared_loss",
          "eps_insensitive_absolute_loss", "huber_loss", "softmax_loss", "quantile_loss")
CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision", "loss_function")
FINAL = {"binary_classifier": ("binary_classification_accuracy", "precision", "recall", "binary_f_beta",
                               "roc_auc_score"),
         "multiclass_classifier": ("multiclass_accuracy", "multiclass_top_k_accuracy", "macro_precision",
                                   "macro_recall", "macro_f_beta"),
         "regressor": ("mse", "rmse", "absolute_loss", "r2")}
MODEL_FILE = "model.joblib"
_IGNORED = ("optimizer", "momentum", "num_models", "init_method", "init_scale", "init_sigma", "init_bias",
            "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult", "lr_scheduler_step", "lr_scheduler_factor",
            "lr_scheduler_minimum_lr", "unbias_data", "unbias_label", "num_calibration_samples", "margin")


class LinearLearner(Algorithm):
    name = "linear-learner"
    doc = "Linear models (logistic, multiclass, regression) by mini-batch SGD on scikit-learn."
    hyperparameters = (
        H("predictor_type", "enum", choices=("binary_classifier", "multiclass_classifier", "regressor")),
        H("num_classes", "int", None, 3, 1_000_000, doc="Number of classes; required for multiclass_classifier."),
        H("feature_dim", "int", "auto", 1, auto=True, doc="Number of features; checked against the data."),
        H("epochs", "int", 15, 1, doc="Passes over the data."),
        H("mini_batch_size", "int", 1000, 1, doc="Rows per SGD step."),
        H("learning_rate", "float", "auto", 0, min_open=True, auto=True, doc="Constant step size; auto: optimal."),
        H("l1", "float", "auto", 0, auto=True, doc="L1 penalty; auto: 0."),
        H("wd", "float", "auto", 0, auto=True, doc="L2 penalty (weight decay); auto: 1e-4."),
        H("loss", "enum", "auto", choices=LOSSES, doc="Loss; auto: logistic, softmax_loss or squared_loss."),
        H("normalize_data", "bool", True, doc="Standardize the features."),
        H("normalize_label", "enum", "auto", choices=("auto", "true", "false"), doc="Standardize regression labels."),
        H("use_bias", "bool", True, doc="Fit an intercept."),
        H("early_stopping_patience", "int", 3, 1, doc="Epochs without improvement before stopping."),
        H("early_stopping_tolerance", "float", 0.001, 0, min_open=True, doc="Relative improvement that counts."),
        H("binary_classifier_model_selection_criteria", "enum", "accuracy", choices=CRITERIA,
          doc="How the binary threshold is chosen."),
        H("positive_example_weight_mult", "str", "1.0", doc="Weight of positives: a number, auto or balanced."),
        H("balance_multiclass_weights", "bool", False, doc="Weight classes equally."),
        H("f_beta", "float", 1.0, 0, min_open=True, doc="beta of the F score."),
        H("target_precision", "float", 0.8, 0, 1, min_open=True, max_open=True, doc="For recall_at_target_precision."),
        H("target_recall", "float", 0.8, 0, 1, min_open=True, max_open=True, doc="For precision_at_target_recall."),
        H("accuracy_top_k", "int", 3, 1, doc="k of multiclass_top_k_accuracy."),
        H("huber_delta", "float", 1.0, 0, doc="Huber loss threshold."),
        H("quantile", "float", 0.5, 0, 1, min_open=True, max_open=True, doc="quantile_loss's quantile (refused)."),
        H("loss_insensitivity", "float", 0.01, 0, doc="Epsilon of the eps-insensitive losses."),
        H("num_point_for_scaler", "int", 10000, 1, doc="Rows used to fit the normalization."),
        *(H(name, "str", "auto", doc="Accepted for compatibility; no effect here.") for name in _IGNORED),
    )
    metric_definitions = (
        quality_metric("train", "objective_loss"),
        quality_metric("validation", "objective_loss"),
        quality_metric("test", "objective_loss"),
        *(quality_metric(channel, metric) for channel in ("validation", "test")
          for metrics in FINAL.values() for metric in metrics),
    )
    content_types = frozenset({"text/csv", "application/x-parquet", "application/jsonlines"})
    optional_channels = frozenset({"validation", "test"})
    libraries = ("numpy", "pandas", "sklearn.linear_model", "sklearn.metrics", "joblib")
    inference_content_types = frozenset({"text/csv", "application/json", "application/jsonlines"})

    def check(self, values: dict[str, Any]) -> None:
        kind = values["predictor_type"]
        if kind == "multiclass_classifier" and values["num_classes"] is None:
            raise ValidationException("predictor_type multiclass_classifier requires hyperparameter num_classes")
        if values["loss"] == "quantile_loss":
            raise ValidationException("loss quantile_loss is not supported here; use squared_loss, absolute_loss, "
                                      "huber_loss or eps_insensitive_* for a regressor")
        classifier_losses = {"auto", "logistic", "hinge_loss", "softmax_loss"}
        if (kind != "regressor") != (values["loss"] in classifier_losses) and values["loss"] != "auto":
            raise ValidationException(f"loss {values['loss']} does not fit predictor_type {kind}")
        weight = values["positive_example_weight_mult"]
        if weight not in ("auto", "balanced"):
            try:
                if float(weight) <= 0:
                    raise ValueError(weight)
            except ValueError:
                raise ValidationException("hyperparameter 'positive_example_weight_mult' must be a number > 0, "
                                          f"auto or balanced, not {weight!r}") from None

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import joblib

        hp = hyperparameters
        X, y = self.read(layout, "train")
        _check(X, y, hp, "train")
        X = crossval.run(layout, X, y, lambda xt, yt, xv, yv, _: {
            f"validation:{k}": v for k, v in evaluate(fit(xt, yt, xv, yv, hp, log=False), xv, yv).items()},
            crossval.quality_summary, preload=("sklearn.linear_model", "sklearn.metrics"))
        Xv = yv = None
        if self.channel_present(layout, "validation"):
            Xv, yv = self.read(layout, "validation")
            _check(Xv, yv, hp, "validation")
        model = fit(X, y, Xv, yv, hp, log=True)
        for channel in ("validation", "test"):
            if self.channel_present(layout, channel):
                Xc, yc = (Xv, yv) if channel == "validation" else self.read(layout, channel)
                _check(Xc, yc, hp, channel)
                for metric, value in evaluate(model, Xc, yc).items():
                    tag = "loss" if metric in ("objective_loss", "mse", "rmse", "absolute_loss") else "score"
                    emit(quality_line(channel, metric, value, tag=tag))
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, layout.model_dir / MODEL_FILE)

    def load(self, model_dir: Path) -> Any:
        import joblib

        return joblib.load(Path(model_dir) / MODEL_FILE)

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """Predicted labels (None for a regressor) and scores (the probability of 1, the class probabilities, or
        the value)."""
        scores, labels = score(model, X)
        return labels, scores

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        kind = self.check_request(content_type, accept, ("application/json", "application/jsonlines"))
        labels, scores = predicted(lambda X: self.outputs(model, X), body, content_type)
        rows = []
        for i in range(len(scores)):
            row: dict[str, Any] = {"score": scores[i].tolist() if scores.ndim > 1 else float(scores[i])}
            if labels is not None:
                row["predicted_label"] = int(labels[i])
            rows.append(row)
        return respond(rows, kind, "predictions")


def _check(X: Any, y: Any, hp: dict[str, Any], channel: str) -> None:
    import numpy as np

    from crispml.services.training.algorithms.data import DataError

    if hp["feature_dim"] != "auto" and X.shape[1] != hp["feature_dim"]:
        raise DataError(f"channel '{channel}' has {X.shape[1]} features but feature_dim is {hp['feature_dim']}")
    kind = hp["predictor_type"]
    classes = 2 if kind == "binary_classifier" else hp["num_classes"]
    if kind != "regressor":
        bad = (y < 0) | (y >= classes) | (y != np.round(y))
        if bad.any():
            raise DataError(f"channel '{channel}': label {y[bad][0]:g} is not a class in 0..{classes - 1} "
                            f"({kind}); the label must be the first column")


def fit(X: Any, y: Any, Xv: Any, yv: Any, hp: dict[str, Any], log: bool) -> dict[str, Any]:
    """Fit over epochs with early stopping; the model as a dict of plain parts (saved by joblib)."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    kind = hp["predictor_type"]
    mean = X[: hp["num_point_for_scaler"]].mean(axis=0) if hp["normalize_data"] else np.zeros(X.shape[1])
    scale = X[: hp["num_point_for_scaler"]].std(axis=0) if hp["normalize_data"] else np.ones(X.shape[1])
    scale = np.where(scale > 0, scale, 1.0)
    label_mean, label_scale = 0.0, 1.0
    if kind == "regressor" and hp["normalize_label"] != "false":
        label_mean, label_scale = float(y.mean()), float(y.std() or 1.0)
    l1 = 0.0 if hp["l1"] == "auto" else hp["l1"]
    wd = 1e-4 if hp["wd"] == "auto" else hp["wd"]
    common: dict[str, Any] = {"penalty": "elasticnet", "alpha": max(l1 + wd, 1e-12),
                              "l1_ratio": l1 / (l1 + wd) if l1 + wd > 0 else 0.0,
                              "fit_intercept": hp["use_bias"], "random_state": 0}
    if hp["learning_rate"] != "auto":
        common.update(learning_rate="constant", eta0=hp["learning_rate"])
    loss = hp["loss"]
    estimator: Any
    if kind == "regressor":
        losses = {"auto": "squared_error", "squared_loss": "squared_error", "absolute_loss": "epsilon_insensitive",
                  "huber_loss": "huber", "eps_insensitive_squared_loss": "squared_epsilon_insensitive",
                  "eps_insensitive_absolute_loss": "epsilon_insensitive"}
        epsilon = {"huber_loss": hp["huber_delta"], "absolute_loss": 0.0}.get(loss, hp["loss_insensitivity"])
        estimator = SGDRegressor(loss=losses[loss], epsilon=epsilon, **common)
        classes = None
    else:
        estimator = SGDClassifier(loss="hinge" if loss == "hinge_loss" else "log_loss", **common)
        classes = np.arange(2 if kind == "binary_classifier" else hp["num_classes"])
    weights = _weights(y, hp, classes)
    model: dict[str, Any] = {"kind": kind, "mean": mean, "scale": scale, "label_mean": label_mean,
                             "label_scale": label_scale, "estimator": estimator, "threshold": 0.5,
                             "loss": loss, "hp": hp}
    Z = (X - mean) / scale
    target = (y - label_mean) / label_scale if kind == "regressor" else y
    rng = np.random.default_rng(0)
    best, stale, batch = np.inf, 0, hp["mini_batch_size"]
    for epoch in range(hp["epochs"]):
        order = rng.permutation(len(Z))
        for start in range(0, len(Z), batch):
            rows = order[start:start + batch]
            extra = {"classes": classes} if classes is not None else {}
            estimator.partial_fit(Z[rows], target[rows], sample_weight=weights[rows], **extra)
        train_loss = objective_loss(model, X, y)
        watched = train_loss
        if log:
            emit(quality_line("train", "objective_loss", train_loss, epoch))
        if Xv is not None:
            watched = objective_loss(model, Xv, yv)
            if log:
                emit(quality_line("validation", "objective_loss", watched, epoch))
        if watched < best * (1 - hp["early_stopping_tolerance"]):
            best, stale = watched, 0
        else:
            stale += 1
            if stale >= hp["early_stopping_patience"]:
                if log:
                    emit(f"Early stopping: no improvement of the objective loss in {stale} epochs (epoch {epoch})")
                break
    if kind == "binary_classifier":
        calibration = (Xv, yv) if Xv is not None else (X, y)
        model["threshold"] = _threshold(score(model, calibration[0])[0], calibration[1], hp)
    return model


def _weights(y: Any, hp: dict[str, Any], classes: Any) -> Any:
    import numpy as np

    weights = np.ones(len(y))
    if hp["predictor_type"] == "binary_classifier":
        mult = hp["positive_example_weight_mult"]
        positives = max(float((y == 1).sum()), 1.0)
        factor = (len(y) - positives) / positives if mult in ("auto", "balanced") else float(mult)
        weights[y == 1] = factor
    elif hp["predictor_type"] == "multiclass_classifier" and hp["balance_multiclass_weights"]:
        counts = np.bincount(y.astype(int), minlength=len(classes)).astype(float)
        weights = (len(y) / (len(classes) * np.maximum(counts, 1)))[y.astype(int)]
    return weights


def score(model: dict[str, Any], X: Any) -> tuple[Any, Any]:
    """Scores (probability of 1, class probabilities, or the regression value) and predicted labels."""
    import numpy as np

    estimator, Z = model["estimator"], (X - model["mean"]) / model["scale"]
    if model["kind"] == "regressor":
        return estimator.predict(Z) * model["label_scale"] + model["label_mean"], None
    if model["loss"] == "hinge_loss":
        decision = estimator.decision_function(Z)
        probabilities = 1 / (1 + np.exp(-decision)) if decision.ndim == 1 else np.exp(decision) / np.exp(
            decision).sum(axis=1, keepdims=True)
    else:
        probabilities = estimator.predict_proba(Z)
        probabilities = probabilities[:, 1] if model["kind"] == "binary_classifier" else probabilities
    if model["kind"] == "binary_classifier":
        return probabilities, (probabilities >= model["threshold"]).astype(int)
    return probabilities, probabilities.argmax(axis=1)


def objective_loss(model: dict[str, Any], X: Any, y: Any) -> float:
    import numpy as np

    scores, _ = score(model, X)
    loss = model["loss"]
    if model["kind"] == "regressor":
        error = scores - y
        if loss in ("absolute_loss", "eps_insensitive_absolute_loss"):
            return float(np.abs(error).mean())
        if loss == "huber_loss":
            delta = model["hp"]["huber_delta"]
            a = np.abs(error)
            return float(np.where(a <= delta, 0.5 * a**2, delta * (a - 0.5 * delta)).mean())
        return float((error**2).mean())
    if loss == "hinge_loss" and model["kind"] == "binary_classifier":
        margin = model["estimator"].decision_function((X - model["mean"]) / model["scale"])
        return float(np.maximum(0, 1 - (2 * y - 1) * margin).mean())
    probabilities = np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores
    picked = probabilities[np.arange(len(y)), y.astype(int)]
    return float(-np.log(np.clip(picked, 1e-15, 1)).mean())


def _threshold(probabilities: Any, y: Any, hp: dict[str, Any]) -> float:
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    criterion = hp["binary_classifier_model_selection_criteria"]
    if criterion == "loss_function" or len(np.unique(y)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, probabilities)
    precision, recall = precision[:-1], recall[:-1]
    if criterion == "accuracy":
        positives = y.sum()
        true_positive = recall * positives
        predicted = np.where(precision > 0, true_positive / np.maximum(precision, 1e-12), 0)
        accuracy = (true_positive + (len(y) - positives - (predicted - true_positive))) / len(y)
        return float(thresholds[int(np.argmax(accuracy))])
    if criterion == "f_beta":
        b2 = hp["f_beta"] ** 2
        f = (1 + b2) * precision * recall / np.maximum(b2 * precision + recall, 1e-12)
        return float(thresholds[int(np.argmax(f))])
    if criterion == "precision_at_target_recall":
        ok = recall >= hp["target_recall"]
        return float(thresholds[ok][int(np.argmax(precision[ok]))]) if ok.any() else 0.5
    ok = precision >= hp["target_precision"]
    return float(thresholds[ok][int(np.argmax(recall[ok]))]) if ok.any() else 0.5


def evaluate(model: dict[str, Any], X: Any, y: Any) -> dict[str, float]:
    """The final metrics SageMaker reports on a validation or test channel."""
    import numpy as np
    from sklearn import metrics as m

    scores, labels = score(model, X)
    result = {"objective_loss": objective_loss(model, X, y)}
    beta = model["hp"]["f_beta"]
    if model["kind"] == "binary_classifier":
        result.update(binary_classification_accuracy=m.accuracy_score(y, labels),
                      precision=m.precision_score(y, labels, zero_division=0),
                      recall=m.recall_score(y, labels, zero_division=0),
                      binary_f_beta=m.fbeta_score(y, labels, beta=beta, zero_division=0))
        if len(np.unique(y)) == 2:
            result["roc_auc_score"] = m.roc_auc_score(y, scores)
    elif model["kind"] == "multiclass_classifier":
        k = min(model["hp"]["accuracy_top_k"], scores.shape[1])
        top = np.argsort(-scores, axis=1)[:, :k]
        result.update(multiclass_accuracy=m.accuracy_score(y, labels),
                      multiclass_top_k_accuracy=float((top == y[:, None].astype(int)).any(axis=1).mean()),
                      macro_precision=m.precision_score(y, labels, average="macro", zero_division=0),
                      macro_recall=m.recall_score(y, labels, average="macro", zero_division=0),
                      macro_f_beta=m.fbeta_score(y, labels, beta=beta, average="macro", zero_division=0))
    else:
        mse = float(((scores - y) ** 2).mean())
        result.update(mse=mse, rmse=mse**0.5, absolute_loss=float(np.abs(scores - y).mean()),
                      r2=m.r2_score(y, scores))
    return {k: float(v) for k, v in result.items()}
