"""Running one evaluation: the test rows through the model, then the metrics, curves, report and predictions.

The rows come from the training service exactly as a training job reads
them (``channel_rows``: a table's pinned snapshot or files, the label first).
When the model comes from a training job whose training channel was a
catalog table, the test rows must hold the columns it learned from — a
missing one is refused by name — and are put in that order, so a table whose
columns are ordered differently is still scored right. The model answers
through its own handler (the registry's inference runtime: a built-in
algorithm's, or a script's ``model_fn``/``input_fn``/``predict_fn``/
``output_fn``), in batches of CSV rows asking for JSON; its answer is read
in the shapes SageMaker's containers give (``{"predictions": [{"score": …,
"predicted_label": …}]}``, ``{"probabilities": …}``, a bare list).
Metrics, curves, thresholds and the report are the engine's (``metrics``,
``curves``, ``report``); nothing here computes a metric itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions, ValidationException

#: Rows sent to the model at once.
BATCH_ROWS = 20_000
#: Rows used for permutation importance.
IMPORTANCE_ROWS = 5_000

Invoke = Callable[[bytes, str, str], tuple[bytes, str]]


@dataclass
class Outputs:
    """What a model said about the test rows: labels, one score per row (binary), or a score per class."""

    labels: np.ndarray | None = None
    scores: np.ndarray | None = None


@dataclass
class Result:
    metrics: dict[str, Any]
    threshold: dict[str, Any] | None
    importance: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None
    curves: Any = None
    classification: Any = None
    regression: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def features_of(rows: Any, expected: list[str] | None, *,
                labelled: bool = True) -> tuple[np.ndarray | None, np.ndarray, list[str]]:
    """The label (the first column, when ``labelled``) and the features as float arrays; ``expected`` feature
    names are looked up by name (case-insensitively) and put in that order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = rows.column_names
    if rows.num_rows == 0:
        raise ValidationException("the test data has no rows")
    label = rows.column(0)
    features = names[1:] if labelled else names
    if expected is not None:
        by_lower = {n.lower(): n for n in features}
        missing = [n for n in expected if n.lower() not in by_lower]
        if missing:
            raise ValidationException(
                f"the test data has no column {', '.join(repr(m) for m in missing)}, which the model learned from "
                f"(test columns: {', '.join(features)}); add it or pick a table with the training columns")
        features = [by_lower[n.lower()] for n in expected]
    matrix = []
    for name in features:
        column = rows.column(name)
        try:
            matrix.append(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValidationException(f"test column {name!r} is {column.type}, not a number the model can take; "
                                      "encode it as in training") from exc
    X = np.column_stack(matrix) if matrix else np.empty((rows.num_rows, 0))
    if np.isnan(X).any():
        bad = [features[j] for j in np.where(np.isnan(X).any(axis=0))[0]]
        raise ValidationException(f"test columns {', '.join(bad)} hold missing values; fill or drop those rows")
    y = label.to_numpy(zero_copy_only=False) if labelled else None
    return y, X, features


def predict(invoke: Invoke, X: np.ndarray) -> Outputs:
    """The model's outputs for every row of ``X``, in batches; the next batch is encoded (in a thread: Arrow's
    CSV writer releases the GIL) while the model answers this one."""
    from concurrent.futures import ThreadPoolExecutor

    labels: list[Any] = []
    scores: list[Any] = []
    starts = range(0, len(X), BATCH_ROWS)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crispml-evaluation-csv") as pool:
        pending = pool.submit(csv_rows, X[:BATCH_ROWS])
        for start in starts:
            body = pending.result()
            if start + BATCH_ROWS < len(X):
                pending = pool.submit(csv_rows, X[start + BATCH_ROWS:start + 2 * BATCH_ROWS])
            answer, _ = invoke(body, "text/csv", "application/json")
            part_labels, part_scores = _read(answer)
            labels += part_labels
            scores += part_scores
    if len(labels) not in (0, len(X)) or len(scores) not in (0, len(X)):
        raise InvalidPredictions(f"the model answered {max(len(labels), len(scores))} predictions for {len(X)} rows")
    return Outputs(np.asarray(labels) if labels else None, np.asarray(scores, dtype=float) if scores else None)


def csv_rows(X: np.ndarray) -> bytes:
    """``X`` as CSV rows without a header, each number written in the fewest digits that read back to the same
    float64 (Arrow's writer: about four times as fast as ``np.savetxt`` with ``%.17g``, and exact)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if X.shape[1] == 0:
        return b"\n" * len(X)
    table = pa.table([pa.array(X[:, j]) for j in range(X.shape[1])], names=[str(j) for j in range(X.shape[1])])
    buffer = pa.BufferOutputStream()
    pcsv.write_csv(table, buffer, write_options=pcsv.WriteOptions(include_header=False))
    return bytes(buffer.getvalue().to_pybytes())


def _read(body: bytes) -> tuple[list[Any], list[Any]]:
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise InvalidPredictions(f"the model's answer is not JSON: {body[:80]!r}") from exc
    if isinstance(answer, dict):
        if "predictions" in answer and isinstance(answer["predictions"], list):
            items = answer["predictions"]
            if items and isinstance(items[0], dict):
                return ([i["predicted_label"] for i in items if "predicted_label" in i],
                        [i["score"] for i in items if "score" in i])
            return [], items
        if "probabilities" in answer:
            return list(answer.get("predicted_label") or []), answer["probabilities"]
        if "prediction" in answer:
            return [], answer["prediction"]
        if "scores" in answer:
            return [], [i["score"] if isinstance(i, dict) else i for i in answer["scores"]]
        raise InvalidPredictions(f"the model's answer has none of predictions, probabilities, scores: "
                                 f"{sorted(answer)}")
    if isinstance(answer, list):
        return [], answer
    raise InvalidPredictions(f"the model's answer is not a list or an object: {body[:80]!r}")


def decide(problem_type: str, y_true: np.ndarray, outputs: Outputs,
           positive_label: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels (or values) and, for a binary classifier with scores, the positive class's score."""
    if problem_type == "Regression":
        values = outputs.scores if outputs.scores is not None else outputs.labels
        assert values is not None
        return np.asarray(values, dtype=float).reshape(len(y_true)), None
    scores = outputs.scores
    classes = np.unique(y_true)
    if scores is not None and scores.ndim == 2:  # a probability per class, in the classes' order 0..k-1
        positive = scores[:, -1] if scores.shape[1] == 2 else None
        return scores.argmax(axis=1).astype(y_true.dtype, copy=False), positive
    if outputs.labels is not None:
        return outputs.labels.astype(y_true.dtype, copy=False), scores if problem_type == "BinaryClassification" \
            else None
    if scores is not None and problem_type == "BinaryClassification":
        positive = _positive(classes, positive_label)
        negative = next((c for c in classes if c != positive), positive)
        return np.where(scores >= 0.5, positive, negative).astype(y_true.dtype, copy=False), scores
    if scores is not None:  # a multiclass model answering one number per row: the class itself
        return np.rint(scores).astype(y_true.dtype, copy=False), None
    raise InvalidPredictions("the model answered neither labels nor scores")


def _positive(classes: np.ndarray, given: Any) -> Any:
    if given is None:
        return classes.max() if len(classes) else 1
    for c in classes:
        if str(c) == str(given):
            return c
    raise ValidationException(f"PositiveLabel {given!r} is not a label of the test data "
                              f"({', '.join(map(str, classes))})")


def score_all(problem_type: str, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None, *,
              positive_label: Any, requested: list[str] | None, threshold_metric: str,
              cost: tuple[float, float] | None) -> Result:
    """Every metric of the problem type, the curves and the chosen thresholds (binary, with scores)."""
    from crispml.services.evaluation import curves as curve_math
    from crispml.services.evaluation import metrics as metric_math

    if requested:
        metric_math.check_metrics(problem_type, requested)
    if problem_type == "Regression":
        regression = metric_math.regression_metrics(y_true, y_pred)
        return Result(regression.to_dict(), None, {}, y_true, y_pred, None, regression=regression)
    positive = _positive(np.unique(y_true), positive_label) if problem_type == "BinaryClassification" else None
    classification = metric_math.classification_metrics(
        y_true, y_pred, y_score if problem_type == "BinaryClassification" else None, positive_label=positive)
    threshold = None
    drawn = None
    if problem_type == "BinaryClassification" and y_score is not None:
        drawn = curve_math.curves(y_true, y_score, positive_label=positive)
        threshold = {"by_metric": curve_math.best_threshold(y_true, y_score, threshold_metric,
                                                            positive_label=positive).to_dict()}
        if cost is not None:
            threshold["by_cost"] = curve_math.best_threshold_by_cost(
                y_true, y_score, cost_fp=cost[0], cost_fn=cost[1], positive_label=positive).to_dict()
    return Result(classification.to_dict(), threshold, {}, y_true, y_pred, y_score, curves=drawn,
                  classification=classification)


def permutation_importance(invoke: Invoke, problem_type: str, y_true: np.ndarray, X: np.ndarray,
                           names: list[str], positive_label: Any, *, seed: int = 0) -> dict[str, float]:
    """How much the model's main metric (accuracy, or R² for a regressor) drops when one feature's values
    are shuffled, on at most :data:`IMPORTANCE_ROWS` rows (scikit-learn's permutation importance needs an
    estimator object; a model here is only its handler, so the same idea is written out)."""
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(X), size=min(len(X), IMPORTANCE_ROWS), replace=False)
    X, y_true = X[keep], y_true[keep]

    def quality(matrix: np.ndarray) -> float:
        predicted, _ = decide(problem_type, y_true, predict(invoke, matrix), positive_label)
        if problem_type == "Regression":
            residual = y_true.astype(float) - predicted
            spread = float(((y_true - y_true.mean()) ** 2).sum()) or 1.0
            return 1.0 - float((residual ** 2).sum()) / spread
        return float((predicted == y_true).mean())

    base = quality(X)
    importance = {}
    for j, name in enumerate(names):
        shuffled = X.copy()
        shuffled[:, j] = rng.permutation(shuffled[:, j])
        importance[name] = round(base - quality(shuffled), 6)
    return importance
