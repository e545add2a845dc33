"""SageMaker's XGBoost algorithm, on the xgboost library.

As SageMaker's XGBoost container (algorithm mode): hyperparameters by their
AWS names (``num_round`` required, ``num_class`` for ``multi:*``), channels
``train`` and optional ``validation`` (CSV with the label first, libsvm,
Parquet; libsvm when a channel does not say), ``csv_weights=1`` reading the
column after the label as instance weights, one log line per round in the
container's format (``[3]#011train-logloss:0.21#011validation-logloss:0.25``,
``#011`` being the tab as CloudWatch shows it), early stopping on the
validation channel, a checkpoint per round in ``checkpoints/`` (when the job has one)
(``xgboost-checkpoint.<round>``; a restarted job resumes from the latest and
ends with ``num_round`` rounds), and the model as ``model/xgboost-model``
(xgboost's UBJSON format, which ``xgb.Booster(model_file=...)`` reads).

Not here: ranking objectives (no query groups), ``survival:aft`` bounds,
SageMaker's extra metrics computed outside xgboost (``f1``, ``r2``, …),
recordio-protobuf, distributed training.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crispml.services.training.algorithms import crossval
from crispml.services.training.algorithms.base import NUMBER, Algorithm, Hyperparameter, cpus, emit, respond
from crispml.services.training.errors import ValidationException

H = Hyperparameter
OBJECTIVES = ("reg:squarederror", "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror",
              "reg:absoluteerror", "reg:quantileerror", "reg:gamma", "reg:tweedie", "reg:linear",
              "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson", "survival:cox",
              "multi:softmax", "multi:softprob")
METRICS = ("rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr",
           "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik")

#: Hyperparameters SageMaker's container takes that are not xgboost's (or no longer are).
SAGEMAKER_ONLY = ("lambda_bias", "single_precision_histogram", "deterministic_histogram", "prob_buffer_row",
                  "save_model_on_termination", "use_dask_gpu_training")
MODEL_FILE = "xgboost-model"
CHECKPOINT = "xgboost-checkpoint."
KEEP_CHECKPOINTS = 5


class XGBoost(Algorithm):
    name = "xgboost"
    doc = "Gradient-boosted trees on the xgboost library, as SageMaker's XGBoost container."
    hyperparameters = (
        H("num_round", "int", min=1, doc="Number of boosting rounds."),
        H("num_class", "int", None, min=2, doc="Number of classes; required for multi:softmax/softprob."),
        H("objective", "enum", "reg:squarederror", choices=OBJECTIVES, doc="Learning objective."),
        H("eval_metric", "str", None, doc="Comma-separated evaluation metrics; default per objective."),
        H("early_stopping_rounds", "int", None, min=1, doc="Stop when validation does not improve this long."),
        H("eta", "float", 0.3, 0, 1, doc="Step size shrinkage."),
        H("gamma", "float", 0.0, 0, doc="Minimum loss reduction to split."),
        H("max_depth", "int", 6, 0, doc="Maximum tree depth (0: no limit, lossguide only)."),
        H("min_child_weight", "float", 1.0, 0, doc="Minimum sum of instance weight in a child."),
        H("max_delta_step", "float", 0.0, 0, doc="Maximum delta step of each leaf output."),
        H("subsample", "float", 1.0, 0, 1, min_open=True, doc="Row subsample ratio."),
        H("colsample_bytree", "float", 1.0, 0, 1, min_open=True, doc="Column subsample ratio per tree."),
        H("colsample_bylevel", "float", 1.0, 0, 1, min_open=True, doc="Column subsample ratio per level."),
        H("colsample_bynode", "float", 1.0, 0, 1, min_open=True, doc="Column subsample ratio per node."),
        H("lambda", "float", 1.0, 0, doc="L2 regularization on weights."),
        H("alpha", "float", 0.0, 0, doc="L1 regularization on weights."),
        H("scale_pos_weight", "float", 1.0, 0, min_open=True, doc="Balance of positive and negative weights."),
        H("base_score", "float", None, doc="Initial prediction score of all instances."),
        H("booster", "enum", "gbtree", choices=("gbtree", "gblinear", "dart"), doc="Booster."),
        H("tree_method", "enum", "auto", choices=("auto", "exact", "approx", "hist"), doc="Tree construction."),
        H("grow_policy", "enum", "depthwise", choices=("depthwise", "lossguide"), doc="How nodes are added."),
        H("max_leaves", "int", 0, 0, doc="Maximum number of leaves (lossguide)."),
        H("max_bin", "int", 256, 2, doc="Maximum number of histogram bins (hist)."),
        H("sketch_eps", "float", 0.03, 0, 1, min_open=True, max_open=True, doc="approx sketch accuracy."),
        H("sample_type", "enum", "uniform", choices=("uniform", "weighted"), doc="dart sampling."),
        H("normalize_type", "enum", "tree", choices=("tree", "forest"), doc="dart normalization."),
        H("rate_drop", "float", 0.0, 0, 1, doc="dart dropout rate."),
        H("one_drop", "int", 0, 0, 1, doc="dart: drop at least one tree."),
        H("skip_drop", "float", 0.0, 0, 1, doc="dart: probability of skipping dropout."),
        H("tweedie_variance_power", "float", 1.5, 1, 2, min_open=True, max_open=True, doc="reg:tweedie power."),
        H("quantile_alpha", "float", 0.5, 0, 1, min_open=True, max_open=True, doc="reg:quantileerror quantile."),
        H("huber_slope", "float", 1.0, 0, min_open=True, doc="reg:pseudohubererror slope."),
        H("monotone_constraints", "str", None, doc="Monotone constraints, e.g. (1,0,-1)."),
        H("interaction_constraints", "str", None, doc="Interaction constraints, e.g. [[0,1],[2]]."),
        H("csv_weights", "int", 0, 0, 1, doc="1: the CSV column after the label holds instance weights."),
        H("seed", "int", 0, doc="Random seed."),
        H("updater", "str", None, doc="Comma-separated tree updaters (advanced)."),
        H("process_type", "enum", None, choices=("default", "update"), doc="default or update an existing model."),
        H("refresh_leaf", "int", None, 0, 1, doc="With the refresh updater: update leaf values too."),
        H("sampling_method", "enum", None, choices=("uniform", "gradient_based"), doc="Row sampling method."),
        *(H(name, "str", None, doc="SageMaker container option; accepted, no effect here.")
          for name in SAGEMAKER_ONLY),
        H("nthread", "int", "auto", 1, auto=True, doc="Threads; default SM_NUM_CPUS."),
        H("verbosity", "int", 1, 0, 3, doc="xgboost's own log level."),
    )
    metric_definitions = tuple(
        (f"{channel}:{metric}", rf".*\[[0-9]+\].*#011{channel}-{metric}:{NUMBER}")
        for channel in ("train", "validation") for metric in METRICS
    )
    content_types = frozenset({"text/csv", "text/libsvm", "application/x-parquet", "application/jsonlines"})
    inference_content_types = frozenset({"text/csv", "text/libsvm", "application/json", "application/jsonlines"})
    default_content_type = "text/libsvm"
    libraries = ("numpy", "pandas", "xgboost")

    def check(self, values: dict[str, Any]) -> None:
        if values["objective"].startswith("multi:") and values["num_class"] is None:
            raise ValidationException(f"objective {values['objective']} requires hyperparameter num_class")
        for metric in (values["eval_metric"] or "").split(","):
            if metric and metric.split("@")[0] not in (*METRICS, "ndcg", "map", "pre"):
                raise ValidationException(f"eval_metric '{metric}' is not known; one of: {', '.join(METRICS)}")

    # Training ----------------------------------------------------------------------------------------------

    def params(self, hp: dict[str, Any], threads: int) -> dict[str, Any]:
        skip = {"num_round", "early_stopping_rounds", "csv_weights", "eval_metric", "nthread", "verbosity",
                *SAGEMAKER_ONLY}
        # Only what differs from the defaults (which are xgboost's): xgboost warns about parameters a booster
        # does not use, and dart's or tweedie's defaults would trip it on every job.
        defaults = {h.name: h.default for h in self.hyperparameters}
        params = {k: v for k, v in hp.items()
                  if k not in skip and v is not None and (v != defaults.get(k) or k == "objective")}
        if params["objective"] == "reg:linear":
            params["objective"] = "reg:squarederror"
        if not params["objective"].startswith("multi:"):
            params.pop("num_class", None)
        if hp["eval_metric"]:
            params["eval_metric"] = [m for m in hp["eval_metric"].split(",") if m]
        params["nthread"] = threads
        params["verbosity"] = min(int(hp["verbosity"]), 1)
        return params

    def dmatrix(self, layout: Any, channel: str, hp: dict[str, Any]) -> Any:
        import xgboost as xgb

        X, y = self.read(layout, channel)
        weights = None
        if hp["csv_weights"] == 1 and self.content_type(layout, channel).lower().startswith("text/csv"):
            weights, X = X[:, 0], X[:, 1:]
        check_labels(y, hp, channel)
        return xgb.DMatrix(X, label=y, weight=weights, nthread=-1)

    def train(self, layout: Any, hyperparameters: dict[str, Any]) -> None:
        import xgboost as xgb

        hp = hyperparameters
        threads = cpus() if hp["nthread"] == "auto" else int(hp["nthread"])
        X, y = self.read(layout, "train")
        weights = None
        if hp["csv_weights"] == 1 and self.content_type(layout, "train").lower().startswith("text/csv"):
            weights, X = X[:, 0], X[:, 1:]
        check_labels(y, hp, "train")
        params = self.params(hp, threads)
        if layout.cross_validation() is not None:
            def fit_score(xt: Any, yt: Any, xv: Any, yv: Any, fold_threads: int) -> dict[str, float]:
                return _fit_score(params, hp, xt, yt, xv, yv, fold_threads)

            X = crossval.run(layout, X, y, fit_score,
                             lambda means: f"[{hp['num_round'] - 1}]" + "".join(
                                 f"#011{k.replace(':', '-')}:{v:.5f}" for k, v in means.items()), preload=("xgboost",))
        dtrain = xgb.DMatrix(X, label=y, weight=weights, nthread=threads)
        evals = [(dtrain, "train")]
        if self.channel_present(layout, "validation"):
            evals.append((self.dmatrix(layout, "validation", hp), "validation"))
        booster, done = _resume(layout.checkpoint_dir)
        if done > hp["num_round"]:  # checkpoints of a longer run: keep the rounds this job asks for
            booster, done = booster[: hp["num_round"]], hp["num_round"]
        if done:
            emit(f"Resuming from checkpoint {CHECKPOINT}{done - 1}: {done} of {hp['num_round']} rounds done")
        callbacks = _callbacks(layout.checkpoint_dir, done)
        if hp["early_stopping_rounds"] and len(evals) > 1:
            callbacks.append(xgb.callback.EarlyStopping(rounds=hp["early_stopping_rounds"], save_best=True,
                                                        data_name="validation"))
        remaining = hp["num_round"] - done
        if remaining > 0 or booster is None:
            booster = xgb.train(params, dtrain, num_boost_round=max(remaining, 0), evals=evals, xgb_model=booster,
                                callbacks=callbacks, verbose_eval=False)
        layout.model_dir.mkdir(parents=True, exist_ok=True)
        (layout.model_dir / MODEL_FILE).write_bytes(bytes(booster.save_raw("ubj")))

    # Serving -----------------------------------------------------------------------------------------------

    def load(self, model_dir: Path) -> Any:
        import xgboost as xgb

        return xgb.Booster(model_file=bytearray((Path(model_dir) / MODEL_FILE).read_bytes()))

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """No labels; a score per row (a row of class probabilities for ``multi:softprob``)."""
        import xgboost as xgb

        try:
            return None, model.predict(xgb.DMatrix(X))
        except xgb.core.XGBoostError as exc:
            raise ValidationException(f"cannot predict: {exc}") from None

    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        from crispml.services.training.algorithms.data import DataError, request_features

        kind = self.check_request(content_type, accept, ("text/csv", "application/json", "application/jsonlines"))
        try:
            if content_type.lower().startswith("text/libsvm"):
                import io

                from sklearn.datasets import load_svmlight_file

                X = load_svmlight_file(io.BytesIO(body), n_features=model.num_features(), zero_based=True)[0]
            else:
                X = request_features(body, content_type)
                if X.shape[1] != model.num_features():
                    raise DataError(f"the model takes {model.num_features()} features per row; the request's rows "
                                    f"have {X.shape[1]}")
            _, scores = self.outputs(model, X)
        except (DataError, ValueError) as exc:
            raise ValidationException(f"cannot predict: {exc}") from None
        rows = scores.tolist()
        if kind == "text/csv":
            lines = [",".join(map(repr, r)) if isinstance(r, list) else repr(r) for r in rows]
            return ("\n".join(lines) + "\n").encode(), kind
        return respond([{"score": r} for r in rows], kind, "predictions")


def check_labels(y: Any, hp: dict[str, Any], channel: str) -> None:
    """Refuse labels the objective cannot learn from (``multi:*`` outside 0..num_class-1, …)."""
    import numpy as np

    from crispml.services.training.algorithms.data import DataError

    objective = hp["objective"]
    if objective.startswith("multi:"):
        k = hp["num_class"]
        bad = (y < 0) | (y >= k) | (y != np.round(y))
        if bad.any():
            raise DataError(f"channel '{channel}': label {y[bad][0]:g} is not a class in 0..{k - 1} "
                            f"(num_class={k}); the label must be the first column")
    elif objective.startswith("binary:") and ((y < 0) | (y > 1)).any():
        raise DataError(f"channel '{channel}': {objective} needs labels in [0, 1], found {y[(y < 0) | (y > 1)][0]:g}"
                        "; the label must be the first column")
    elif objective in ("count:poisson", "reg:tweedie") and (y < 0).any():
        raise DataError(f"channel '{channel}': {objective} needs labels >= 0")
    elif objective == "reg:gamma" and (y <= 0).any():
        raise DataError(f"channel '{channel}': reg:gamma needs labels > 0")


def _fit_score(params: dict[str, Any], hp: dict[str, Any], xt: Any, yt: Any, xv: Any, yv: Any,
               threads: int) -> dict[str, float]:
    import xgboost as xgb

    fold_params = dict(params, nthread=threads)
    dtrain, dval = xgb.DMatrix(xt, label=yt, nthread=threads), xgb.DMatrix(xv, label=yv, nthread=threads)
    if not hp["early_stopping_rounds"]:
        # Only the last round's metrics are kept: score the held-out fold once, at the end, rather than after
        # every round (what an evals list costs); the text is the one xgboost's callbacks parse into evals_result.
        booster = xgb.train(fold_params, dtrain, hp["num_round"], verbose_eval=False)
        scores = booster.eval_set([(dval, "validation")]).split("\t")[1:]
        return {f"validation:{name.split('-', 1)[1]}": float(value)
                for name, value in (score.rsplit(":", 1) for score in scores)}
    log: dict[str, Any] = {}
    callbacks = [xgb.callback.EarlyStopping(rounds=hp["early_stopping_rounds"], data_name="validation")]
    xgb.train(fold_params, dtrain, hp["num_round"], evals=[(dval, "validation")], evals_result=log,
              callbacks=callbacks, verbose_eval=False)
    return {f"validation:{metric}": values[-1] for metric, values in log["validation"].items()}


def _resume(folder: Path) -> tuple[Any, int]:
    """The latest checkpoint's booster and how many rounds it holds, or ``(None, 0)``."""
    import xgboost as xgb

    rounds = sorted((int(p.name[len(CHECKPOINT):]), p) for p in folder.glob(CHECKPOINT + "*")
                    if p.name[len(CHECKPOINT):].isdigit()) if folder.is_dir() else []
    if not rounds:
        return None, 0
    last, path = rounds[-1]
    return xgb.Booster(model_file=bytearray(path.read_bytes())), last + 1


def _callbacks(folder: Path, offset: int) -> list[Any]:
    """The per-round log line and checkpoint, as xgboost callbacks (defined here: xgboost loads lazily)."""
    import xgboost as xgb

    class Log(xgb.callback.TrainingCallback):
        """Prints each round as SageMaker's container does: ``[3]#011train-rmse:0.5#011validation-rmse:0.6``."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            parts = [f"#011{data}-{metric}:{values[-1]:.5f}" for data, metrics in evals_log.items()
                     for metric, values in metrics.items()]
            emit(f"[{epoch + offset}]" + "".join(parts))
            return False

    class Checkpoint(xgb.callback.TrainingCallback):
        """Saves ``xgboost-checkpoint.<round>`` after every round (atomically), keeping the last few."""

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            number = epoch + offset
            temporary = folder / f".{CHECKPOINT}{number}.tmp"
            temporary.write_bytes(bytes(model.save_raw("ubj")))
            os.replace(temporary, folder / f"{CHECKPOINT}{number}")
            (folder / f"{CHECKPOINT}{number - KEEP_CHECKPOINTS}").unlink(missing_ok=True)
            return False

    return [Log(), Checkpoint()] if folder.is_dir() else [Log()]  # the folder exists with a CheckpointConfig
