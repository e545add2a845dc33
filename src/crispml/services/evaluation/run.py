"""Running one evaluation: the test rows through the model, then the metrics, curves, report and predictions.

The rows come from the training service exactly as a training job reads
them (``channel_rows``: a table's pinned snapshot or files, the label first).
When the model comes from a training job whose training channel was a
catalog table, the test rows must hold the columns it learned from — a
missing one is refused by name — and are put in that order, so a table whose
columns are ordered differently is still scored right. A built-in algorithm
answers the rows as arrays (the registry runtime's ``LoadedModel.arrays``: the
numbers its handler would encode, computed by the same method, so they are the
handler's answers without CSV in and JSON out). Any other model answers through
its own handler (a script's ``model_fn``/``input_fn``/``predict_fn``/
``output_fn``), in batches of CSV rows asking for JSON — or NPY, either way,
where the script leaves that body to the containers' default handlers; its
answer is read in the shapes SageMaker's containers give (``{"predictions":
[{"score": …, "predicted_label": …}]}``, ``{"probabilities": …}``, a bare list).
Metrics, curves, thresholds and the report are the engine's (``metrics``,
``curves``, ``report``); nothing here computes a metric itself.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from crispml.services.evaluation.errors import InvalidPredictions, ValidationException

if TYPE_CHECKING:
    from crispml.services.registry.service import LoadedModel

#: Rows sent to the model at once.
BATCH_ROWS = 20_000
#: Rows used for permutation importance.
IMPORTANCE_ROWS = 5_000

Invoke = Callable[[bytes, str, str], tuple[bytes, str]]
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"


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


def predict(model: LoadedModel, X: np.ndarray) -> Outputs:
    """The model's outputs for every row of ``X``: its arrays when it has an array path (a built-in algorithm),
    else its handler's answers (:func:`ask`)."""
    arrays = model.arrays(X)
    if arrays is None:
        return ask(model.invoke, X, model.content_type, model.accept)
    labels, scores = arrays
    return _counted(Outputs(None if labels is None else np.asarray(labels),
                            None if scores is None else np.asarray(scores, dtype=float)), len(X))


def ask(invoke: Invoke, X: np.ndarray, content_type: str = CSV, accept: str = JSON) -> Outputs:
    """The model's outputs for every row of ``X`` through its handler, in batches of CSV rows (or NPY) asking
    for JSON (or NPY); the next batch is encoded (in a thread: Arrow's CSV writer releases the GIL) while the
    model answers this one."""
    from concurrent.futures import ThreadPoolExecutor

    encode = npy_rows if content_type == NPY else csv_rows
    labels: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    starts = range(0, len(X), BATCH_ROWS)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crispml-evaluation-csv") as pool:
        pending = pool.submit(encode, X[:BATCH_ROWS])
        for start in starts:
            body = pending.result()
            if start + BATCH_ROWS < len(X):
                pending = pool.submit(encode, X[start + BATCH_ROWS:start + 2 * BATCH_ROWS])
            answer, kind = invoke(body, content_type, accept)
            part_labels, part_scores = _read_npy(answer) if kind.split(";", 1)[0].strip().lower() == NPY \
                else _read(answer)
            if len(part_labels):
                labels.append(np.asarray(part_labels))
            if len(part_scores):
                scores.append(np.asarray(part_scores, dtype=float))
    return _counted(Outputs(np.concatenate(labels) if labels else None,
                            np.concatenate(scores) if scores else None), len(X))


def _counted(outputs: Outputs, rows: int) -> Outputs:
    counts = [len(a) for a in (outputs.labels, outputs.scores) if a is not None]
    if any(n != rows for n in counts):
        raise InvalidPredictions(f"the model answered {max(counts)} predictions for {rows} rows")
    return outputs


def npy_rows(X: np.ndarray) -> bytes:
    """``X`` as one NPY array (exact, and read by the containers' default ``input_fn``)."""
    buffer = io.BytesIO()
    np.save(buffer, X, allow_pickle=False)
    return buffer.getvalue()


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


def _read_npy(body: bytes) -> tuple[list[Any], np.ndarray]:
    """An NPY answer (the containers' default ``output_fn``): the prediction, read as a bare JSON list is."""
    try:
        answer = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as exc:
        raise InvalidPredictions(f"the model's answer is not NPY: {body[:80]!r}") from exc
    if answer.ndim == 0:
        raise InvalidPredictions(f"the model's answer is one value ({answer}), not one per row")
    return [], answer


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
    if scores is not None and scores.ndim == 2:  # a probability per class, in the classes' order 0..k-1
        positive = scores[:, -1] if scores.shape[1] == 2 else None
        return scores.argmax(axis=1).astype(y_true.dtype, copy=False), positive
    if outputs.labels is not None:
        return outputs.labels.astype(y_true.dtype, copy=False), scores if problem_type == "BinaryClassification" \
            else None
    if scores is not None and problem_type == "BinaryClassification":
        classes = np.unique(y_true)
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
    from crispml.services.evaluation import ranking

    if requested:
        metric_math.check_metrics(problem_type, requested)
    if problem_type == "Regression":
        regression = metric_math.regression_metrics(y_true, y_pred)
        return Result(regression.to_dict(), None, {}, y_true, y_pred, None, regression=regression)
    binary = problem_type == "BinaryClassification"
    positive = _positive(np.unique(y_true), positive_label) if binary else None
    # a binary classifier's scores are ranked once, for its metrics, curves and thresholds
    ranked = ranking.rank(*curve_math.scored(y_true, y_score, positive)) if binary and y_score is not None \
        else None
    classification = metric_math.classification_metrics(
        y_true, y_pred, y_score if binary else None, positive_label=positive, ranking=ranked)
    threshold = None
    drawn = None
    if ranked is not None:
        drawn = curve_math.curves(y_true, y_score, positive_label=positive, ranking=ranked)
        threshold = {"by_metric": curve_math.best_threshold(y_true, y_score, threshold_metric,
                                                            positive_label=positive, ranking=ranked).to_dict()}
        if cost is not None:
            threshold["by_cost"] = curve_math.best_threshold_by_cost(
                y_true, y_score, cost_fp=cost[0], cost_fn=cost[1], positive_label=positive,
                ranking=ranked).to_dict()
    return Result(classification.to_dict(), threshold, {}, y_true, y_pred, y_score, curves=drawn,
                  classification=classification)


def permutation_importance(model: LoadedModel, problem_type: str, y_true: np.ndarray, X: np.ndarray,
                           names: list[str], positive_label: Any, *, seed: int = 0) -> dict[str, float]:
    """How much the model's main metric (accuracy, or R² for a regressor) drops when one feature's values
    are shuffled, on at most :data:`IMPORTANCE_ROWS` rows (scikit-learn's permutation importance needs an
    estimator object; a model here is a loaded model answering rows, so the same idea is written out)."""
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(X), size=min(len(X), IMPORTANCE_ROWS), replace=False)
    X, y_true = X[keep], y_true[keep]

    def quality(matrix: np.ndarray) -> float:
        predicted, _ = decide(problem_type, y_true, predict(model, matrix), positive_label)
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
