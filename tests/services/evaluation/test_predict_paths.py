"""The two ways an evaluation asks a model — arrays, or bodies through its handler — give the same numbers.

A built-in algorithm answers an evaluation's rows as arrays (``LoadedModel.arrays``); its handler answers the
same rows sent as CSV, asking for JSON. Each supervised built-in is trained here on a few hundred rows and asked
both ways on held-out rows whose float64 values are not float32 ones (a request's numbers are read as float32,
so an array path that skipped that step would give other scores). A script model that leaves reading and
writing bodies to the containers' defaults is asked in NPY both ways instead of CSV and JSON: the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crispml.services.evaluation import run
from crispml.services.registry.inference import load_model
from crispml.services.training.algorithms import get
from tests.services.training.algorithms.support import csv_text, layout

FEATURES = 4


@pytest.fixture(autouse=True)
def one_cpu_per_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trained in the test's process: one thread, as the algorithm tests do (a worker per core already)."""
    monkeypatch.setenv("SM_NUM_CPUS", "1")


def _rows(n: int, seed: int, task: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, FEATURES))
    signal = X[:, 0] + 0.8 * X[:, 1] - 0.5 * X[:, 2] ** 2
    if task == "binary":
        return X, (signal + rng.logistic(scale=0.5, size=n) > 0).astype(int)
    if task == "multiclass":
        return X, np.digitize(signal + rng.normal(scale=0.3, size=n), [-0.7, 0.3])
    return X, 3 * signal + rng.normal(scale=0.2, size=n)


CASES = [
    ("xgboost", "binary", {"num_round": "20", "objective": "binary:logistic", "max_depth": "3"}),
    ("xgboost", "multiclass", {"num_round": "10", "objective": "multi:softprob", "num_class": "3"}),
    ("xgboost", "regression", {"num_round": "20", "objective": "reg:squarederror"}),
    ("linear-learner", "binary", {"predictor_type": "binary_classifier", "epochs": "3"}),
    ("linear-learner", "multiclass", {"predictor_type": "multiclass_classifier", "num_classes": "3",
                                      "epochs": "3"}),
    ("linear-learner", "regression", {"predictor_type": "regressor", "epochs": "3"}),
    ("knn", "binary", {"k": "5", "sample_size": "300", "feature_dim": str(FEATURES),
                       "predictor_type": "classifier"}),
    ("knn", "regression", {"k": "5", "sample_size": "300", "feature_dim": str(FEATURES),
                           "predictor_type": "regressor"}),
    ("lightgbm", "binary", {"num_boost_round": "20"}),
    ("lightgbm", "multiclass", {"num_boost_round": "20"}),
    ("lightgbm", "regression", {"num_boost_round": "20"}),
]


@pytest.mark.parametrize(("algorithm", "task", "hyperparameters"), CASES,
                         ids=[f"{a}-{t}" for a, t, _ in CASES])
def test_a_builtins_arrays_are_its_handlers_answers(tmp_path: Path, algorithm: str, task: str,
                                                    hyperparameters: dict[str, str]) -> None:
    X, y = _rows(400, seed=1, task=task)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y))})
    get(algorithm).train(job, get(algorithm).validate(hyperparameters))
    model = load_model(algorithm, job.model_dir, {})
    held_out, truth = _rows(300, seed=2, task=task)
    assert not np.array_equal(held_out.astype(np.float32), held_out)  # float32 reading changes the values

    assert model.arrays(held_out) is not None  # the array path is the one taken
    arrays = run.predict(model, held_out)
    bodies = run.ask(model.invoke, held_out, "text/csv", "application/json")

    for name in ("labels", "scores"):
        got, want = getattr(arrays, name), getattr(bodies, name)
        assert (got is None) == (want is None), name
        if want is not None:
            np.testing.assert_array_equal(got, want, err_msg=name)
    assert arrays.labels is not None or arrays.scores is not None
    # and what the evaluation decides from them is the same, and learned something
    problem = {"binary": "BinaryClassification", "multiclass": "MulticlassClassification",
               "regression": "Regression"}[task]
    decided = run.decide(problem, truth, arrays, None)
    expected = run.decide(problem, truth, bodies, None)
    np.testing.assert_array_equal(decided[0], expected[0])
    if task == "regression":
        assert np.corrcoef(decided[0], truth)[0, 1] > 0.5
    else:
        assert (decided[0] == truth).mean() > 0.5


SCRIPT = '''
import numpy as np


class Linear:
    def predict(self, X):
        return X @ np.array([0.1, -2.0, 3.0, 0.7]) + 1 / 3


def model_fn(model_dir):
    return Linear()
'''


def test_a_script_with_the_default_handlers_answers_npy_as_csv_and_json(tmp_path: Path) -> None:
    (tmp_path / "serve.py").write_text(SCRIPT)
    model = load_model("sklearn", tmp_path, {"SAGEMAKER_PROGRAM": "serve.py"})
    assert model.arrays(np.zeros((1, FEATURES))) is None  # a script model has no array path
    assert (model.content_type, model.accept) == ("application/x-npy", "application/x-npy")
    held_out, _ = _rows(run.BATCH_ROWS + 300, seed=3, task="regression")  # two batches
    npy = run.predict(model, held_out)
    csv_json = run.ask(model.invoke, held_out, "text/csv", "application/json")
    assert npy.labels is None and csv_json.labels is None
    assert npy.scores is not None
    np.testing.assert_array_equal(npy.scores, csv_json.scores)
    np.testing.assert_array_equal(npy.scores, held_out @ np.array([0.1, -2.0, 3.0, 0.7]) + 1 / 3)
