"""Cross-validation of a built-in algorithm (crispml's option; SageMaker has none).

When the job has a ``CrossValidation`` config, an algorithm's ``train`` hands
its train-channel arrays and a ``fit_score`` function to :func:`run` before it
fits anything. :func:`run` splits the rows with scikit-learn's splitter
(``KFold``, ``StratifiedKFold``, ``GroupKFold``, ``LeaveOneOut``,
``TimeSeriesSplit``), fits on k−1 folds and scores the held-out one with the
metrics the algorithm reports for a validation channel, prints one line per
fold and a summary (mean and population standard deviation of each metric),
and writes ``output/data/cross_validation.json``. The algorithm then fits on
all rows as usual.

Folds run in parallel in forked processes (up to ``SM_NUM_CPUS``; each fold
gets ``cpus // parallel`` threads). The arrays are read once and reach the
children through fork's copy-on-write memory: nothing is pickled but each
fold's metrics, and no fold file is written. The parent forks before it runs
any OpenMP work (GNU OpenMP does not survive a fork of a process that used it).
A ``GroupColumn`` is the feature index holding group ids: it is dropped from
the features (also for the final fit), and is required by ``GroupKFold``.

The config check (:func:`check_config`) imports only the standard library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from crispml.services.training.algorithms.base import cpus, emit
from crispml.services.training.errors import ValidationException

if TYPE_CHECKING:
    from crispml.services.training.algorithms.data import Array
    from crispml.services.training.layout import Layout

__all__ = ["STRATEGIES", "FitScore", "check_config", "run", "split"]

STRATEGIES = ("KFold", "StratifiedKFold", "GroupKFold", "LeaveOneOut", "TimeSeriesSplit")

#: ``fit_score(X_train, y_train, X_test, y_test, threads)`` → ``{"validation:auc": 0.98, …}``.
FitScore = Callable[["Array", "Array | None", "Array", "Array | None", int], dict[str, float]]

# What the forked fold processes read: set by run() just before the fork, never pickled.
_JOB: dict[str, Any] = {}


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config with defaults filled, or :class:`ValidationException`."""
    strategy = config.get("Strategy", "KFold")
    if strategy not in STRATEGIES:
        raise ValidationException(
            f"CrossValidation.Strategy {strategy!r} is not known; one of: {', '.join(STRATEGIES)}")
    folds = config.get("Folds", 5)
    if strategy != "LeaveOneOut" and (not isinstance(folds, int) or isinstance(folds, bool) or folds < 2):
        raise ValidationException(f"CrossValidation.Folds must be an integer >= 2, not {folds!r}")
    group = config.get("GroupColumn")
    if group is not None and (not isinstance(group, int) or isinstance(group, bool) or group < 0):
        raise ValidationException(f"CrossValidation.GroupColumn must be a 0-based feature index, not {group!r}")
    if strategy == "GroupKFold" and group is None:
        raise ValidationException("CrossValidation.GroupColumn is required for GroupKFold (the feature index "
                                  "holding each row's group)")
    unknown = sorted(set(config) - {"Strategy", "Folds", "Shuffle", "Seed", "GroupColumn"})
    if unknown:
        raise ValidationException(f"CrossValidation has unknown field(s) {', '.join(unknown)}; "
                                  "known: Strategy, Folds, Shuffle, Seed, GroupColumn")
    return {"Strategy": strategy, "Folds": folds, "Shuffle": bool(config.get("Shuffle", False)),
            "Seed": int(config.get("Seed", 0)), "GroupColumn": group}


def split(config: dict[str, Any], X: Array, y: Array | None) -> tuple[Array, list[tuple[Any, Any]]]:
    """The features (group column dropped) and the (train rows, test rows) of every fold."""
    import numpy as np
    from sklearn import model_selection as ms

    from crispml.services.training.algorithms.data import DataError

    config = check_config(config)
    groups = None
    if config["GroupColumn"] is not None:
        column = config["GroupColumn"]
        if column >= X.shape[1]:
            raise DataError(f"CrossValidation.GroupColumn {column} is out of range: the data has {X.shape[1]} "
                            "features (0-based, the label not counted)")
        groups = X[:, column]
        X = np.ascontiguousarray(np.delete(X, column, axis=1))
    strategy, k, shuffle = config["Strategy"], config["Folds"], config["Shuffle"]
    seed = config["Seed"] if shuffle else None
    splitter: Any
    if strategy == "KFold":
        splitter = ms.KFold(k, shuffle=shuffle, random_state=seed)
    elif strategy == "StratifiedKFold":
        if y is None:
            raise DataError("StratifiedKFold needs labels; this data has none")
        splitter = ms.StratifiedKFold(k, shuffle=shuffle, random_state=seed)
    elif strategy == "GroupKFold":
        splitter = ms.GroupKFold(k, shuffle=shuffle, random_state=seed)
    elif strategy == "LeaveOneOut":
        splitter = ms.LeaveOneOut()
    else:
        splitter = ms.TimeSeriesSplit(k)
    try:
        folds = list(splitter.split(X, y, groups))
    except ValueError as exc:
        raise DataError(f"cannot split the train channel with {strategy}: {exc}") from None
    return X, folds


def run(layout: Layout, X: Array, y: Array | None, fit_score: FitScore,
        summary_line: Callable[[dict[str, float]], str] | None = None, preload: tuple[str, ...] = ()) -> Array:
    """Cross-validate when the job asks for it; return the features for the final fit.

    ``preload`` names the modules ``fit_score`` imports: they are imported once
    here, before the fork, rather than once in every fold process (xgboost's
    import alone takes most of a second). Importing runs no OpenMP work.
    """
    config = layout.cross_validation()
    if config is None:
        return X
    import importlib

    for module in ("threadpoolctl", *preload):
        importlib.import_module(module)
    config = check_config(config)
    X, folds = split(config, X, y)
    total = len(folds)
    parallel = max(1, min(total, cpus()))
    threads = max(1, cpus() // parallel)
    _JOB.update(X=X, y=y, folds=folds, fit_score=fit_score, threads=threads)
    try:
        metrics = [_fold(i) for i in range(total)] if parallel == 1 else _forked(total, parallel)
    finally:
        _JOB.clear()
    for number, fold in enumerate(metrics, 1):
        emit(f"[fold {number}/{total}] " + " ".join(f"{k.replace(':', '-')}:{v:.6g}" for k, v in fold.items()))
    summary = summarize(metrics)
    emit("[cv summary] " + " ".join(
        f"{name.replace(':', '-')}:{s['Mean']:.6g}+-{s['StandardDeviation']:.6g}" for name, s in summary.items()))
    if summary_line is not None:
        emit(summary_line({name: s["Mean"] for name, s in summary.items()}))
    layout.output_data_dir.mkdir(parents=True, exist_ok=True)
    document = {"Strategy": config["Strategy"],
                "Folds": [{"Fold": i, "Metrics": m} for i, m in enumerate(metrics, 1)],
                "Summary": summary}
    (layout.output_data_dir / "cross_validation.json").write_text(json.dumps(document, indent=1))
    return X


def quality_summary(means: dict[str, float]) -> str:
    """The means as ``#quality_metric`` lines, so each metric's last logged value is its cross-validated mean."""
    from crispml.services.training.algorithms.base import quality_line

    lines = []
    for name, value in means.items():
        channel, _, metric = name.partition(":")
        lines.append(quality_line(channel, metric, value))
    return "\n".join(lines)


def _forked(total: int, parallel: int) -> list[dict[str, float]]:
    """Run the folds in ``parallel`` forked children, round-robin; each sends its folds' metrics on a pipe.

    Plain ``os.fork`` rather than a ``multiprocessing.Pool``: no task queue, no
    helper threads, nothing pickled on the way in — this is the whole overhead
    cross-validation adds over fitting the folds one after the other.
    """
    import os

    children = []
    for worker in range(parallel):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: fit its folds, send the metrics, leave without running the parent's exit code
            os.close(read_end)
            status = 0
            try:
                payload: Any = {i: _fold(i) for i in range(worker, total, parallel)}
            except BaseException as exc:
                payload, status = {"error": f"{type(exc).__name__}: {exc}"}, 1
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(json.dumps(payload).encode())
            os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    results: dict[int, dict[str, float]] = {}
    errors = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        try:
            payload = json.loads(data) if data else {"error": f"a fold process died (status {status})"}
        except ValueError:
            payload = {"error": f"a fold process sent a broken result (status {status})"}
        if "error" in payload:
            errors.append(payload["error"])
        else:
            results.update({int(i): m for i, m in payload.items()})
    if errors:
        raise RuntimeError(f"cross-validation failed: {errors[0]}")
    return [results[i] for i in range(total)]


def _fold(index: int) -> dict[str, float]:
    X, y, (train, test) = _JOB["X"], _JOB["y"], _JOB["folds"][index]
    from threadpoolctl import threadpool_limits

    with threadpool_limits(_JOB["threads"]):
        scores = _JOB["fit_score"](X[train], None if y is None else y[train], X[test],
                                   None if y is None else y[test], _JOB["threads"])
    return {name: float(value) for name, value in scores.items()}


def summarize(metrics: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and population standard deviation of each metric over the folds that report it."""
    names: list[str] = []
    for fold in metrics:
        names += [n for n in fold if n not in names]
    summary = {}
    for name in names:
        values = [fold[name] for fold in metrics if name in fold and math.isfinite(fold[name])]
        if not values:
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        summary[name] = {"Mean": mean, "StandardDeviation": std}
    return summary
