from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.model_selection import GroupKFold, StratifiedKFold

from crispml.services.training.algorithms import get
from crispml.services.training.algorithms.data import DataError
from crispml.services.training.errors import ValidationException
from tests.services.training.algorithms.support import blobs, csv_text, layout, train_in_child

XGB = get("xgboost")


def binary_job(tmp_path: Path, n: int = 300, **extra: object) -> tuple[object, np.ndarray, np.ndarray]:
    X, y = blobs(n)
    Xv, yv = blobs(100, seed=1)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y)), "validation": ("text/csv", csv_text(Xv, yv))},
                 **extra)  # type: ignore[arg-type]
    return job, Xv, yv


def test_learns_binary_logs_each_round_and_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job, Xv, yv = binary_job(tmp_path)
    XGB.train(job, XGB.validate({"num_round": "20", "objective": "binary:logistic", "eval_metric": "auc,logloss",
                                 "max_depth": "3"}))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == 20
    assert re.fullmatch(r"\[0\]#011train-auc:[0-9.]+#011train-logloss:[0-9.]+#011validation-auc:[0-9.]+"
                        r"#011validation-logloss:[0-9.]+", lines[0])
    regexes = dict(XGB.metric_definitions)
    auc = [float(m.group(1)) for line in lines if (m := re.match(regexes["validation:auc"], line))]
    loss = [float(m.group(1)) for line in lines if (m := re.match(regexes["train:logloss"], line))]
    assert len(auc) == 20 and auc[-1] > 0.95 and len(loss) == 20 and loss[-1] < loss[0]
    assert (job.model_dir / "xgboost-model").is_file()

    model = XGB.load(job.model_dir)
    body, kind = XGB.predict(model, csv_text(Xv).encode(), "text/csv", "text/csv")
    scores = np.array([float(v) for v in body.decode().split()])
    assert kind == "text/csv" and len(scores) == 100
    assert ((scores > 0.5) == yv).mean() > 0.9
    body, kind = XGB.predict(model, json.dumps({"instances": [{"features": Xv[0].tolist()}]}).encode(),
                             "application/json", "application/json")
    assert kind == "application/json"
    assert json.loads(body)["predictions"][0]["score"] == pytest.approx(scores[0], rel=1e-5)
    with pytest.raises(ValidationException, match=r"supported: .*text/csv"):
        XGB.predict(model, b"x", "image/png", "text/csv")


def test_multiclass_softprob_rows_of_probabilities(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = rng.normal(size=(300, 3)) + np.eye(3)[y] * 4
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y))})
    XGB.train(job, XGB.validate({"num_round": "10", "objective": "multi:softprob", "num_class": "3"}))
    body, _ = XGB.predict(XGB.load(job.model_dir), csv_text(X[:50]).encode(), "text/csv", "text/csv")
    probabilities = np.array([[float(v) for v in line.split(",")] for line in body.decode().split()])
    assert probabilities.shape == (50, 3)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (probabilities.argmax(axis=1) == y[:50]).mean() > 0.9


def test_hyperparameter_errors_name_the_problem() -> None:
    with pytest.raises(ValidationException, match="requires hyperparameter num_round"):
        XGB.validate({})
    with pytest.raises(ValidationException, match=r"unknown hyperparameter 'num_rounds'.*known: .*num_round"):
        XGB.validate({"num_rounds": "3"})
    with pytest.raises(ValidationException, match=r"'eta' = 1.5 is out of range; valid: float in \[0, 1\]"):
        XGB.validate({"num_round": "3", "eta": "1.5"})
    with pytest.raises(ValidationException, match=r"'subsample' = 0 is out of range; valid: float in \(0, 1\]"):
        XGB.validate({"num_round": "3", "subsample": "0"})
    with pytest.raises(ValidationException, match=r"'max_depth' has an invalid value '2\.5'"):
        XGB.validate({"num_round": "3", "max_depth": "2.5"})
    with pytest.raises(ValidationException, match=r"multi:softmax requires hyperparameter num_class"):
        XGB.validate({"num_round": "3", "objective": "multi:softmax"})
    with pytest.raises(ValidationException, match=r"objective.*one of: .*binary:logistic"):
        XGB.validate({"num_round": "3", "objective": "binary:logistc"})
    values = XGB.validate({"num_round": "3", "sagemaker_program": "x", "max_depth": "4"})
    assert values["num_round"] == 3 and values["max_depth"] == 4 and values["eta"] == 0.3
    assert "sagemaker_program" not in values


def test_channel_validation() -> None:
    XGB.validate_channels({"train": "text/csv", "validation": "text/libsvm; charset=utf-8"})
    with pytest.raises(ValidationException, match="needs channel train"):
        XGB.validate_channels({"validation": "text/csv"})
    with pytest.raises(ValidationException, match=r"'image/png'.*supported: application/jsonlines, "
                                                  r"application/x-parquet, text/csv, text/libsvm"):
        XGB.validate_channels({"train": "image/png"})
    with pytest.raises(ValidationException, match="does not read channel extra"):
        XGB.validate_channels({"train": "text/csv", "extra": "text/csv"})


@pytest.mark.parametrize(("text", "hp", "message"), [
    ("", {}, "channel 'train' has no data"),
    ("1\n0\n1\n", {}, "the label must be the first column"),
    ("1,2\nabc,3\n", {}, "not a number"),
    ("1,2\n,3\n", {}, r"label \(first column\) is missing or not a number in row 2"),
    ("0,1\n3,2\n", {"objective": "multi:softmax", "num_class": "3"}, r"label 3 is not a class in 0\.\.2"),
    ("0,1\n2,2\n", {"objective": "binary:logistic"}, r"needs labels in \[0, 1\]"),
])
def test_data_errors(tmp_path: Path, text: str, hp: dict[str, str], message: str) -> None:
    job = layout(tmp_path, {"train": ("text/csv", text)})
    with pytest.raises(DataError, match=message):
        XGB.train(job, XGB.validate({"num_round": "2", **hp}))


def test_libsvm_parquet_and_nested_files(tmp_path: Path) -> None:
    X, y = blobs(200)
    libsvm = "\n".join(f"{label} " + " ".join(f"{i}:{v:.6g}" for i, v in enumerate(row))
                       for label, row in zip(y, X, strict=True))
    job = layout(tmp_path, {"train": ("text/libsvm", {"a/part-1": libsvm, "_SUCCESS": "", ".hidden": "junk"})})
    XGB.train(job, XGB.validate({"num_round": "10", "objective": "binary:logistic"}))
    body, _ = XGB.predict(XGB.load(job.model_dir), libsvm.encode(), "text/libsvm", "text/csv")
    assert ((np.array(body.decode().split(), dtype=float) > 0.5) == y).mean() > 0.9


def test_early_stopping_on_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    y, yv = rng.integers(0, 2, 200), rng.integers(0, 2, 200)  # noise: validation stops improving early
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y)), "validation": ("text/csv", csv_text(Xv, yv))})
    XGB.train(job, XGB.validate({"num_round": "200", "objective": "binary:logistic",
                                 "early_stopping_rounds": "5"}))
    rounds = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert 5 < len(rounds) < 200
    assert XGB.load(job.model_dir).num_boosted_rounds() < len(rounds)


def test_resumed_from_checkpoint_equals_uninterrupted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y = blobs(300)
    # deterministic rounds: a resumed job re-seeds the random draws (subsample < 1 would differ from then on)
    hp = {"objective": "binary:logistic", "max_depth": "3", "eta": "0.2"}
    whole = layout(tmp_path / "whole", {"train": ("text/csv", csv_text(X, y))})
    XGB.train(whole, XGB.validate({**hp, "num_round": "12"}))
    interrupted = layout(tmp_path / "resumed", {"train": ("text/csv", csv_text(X, y))})
    XGB.train(interrupted, XGB.validate({**hp, "num_round": "5"}))  # as if killed after round 4
    (interrupted.model_dir / "xgboost-model").unlink()
    assert sorted(p.name for p in interrupted.checkpoint_dir.iterdir())[-1] == "xgboost-checkpoint.4"
    capsys.readouterr()
    XGB.train(interrupted, XGB.validate({**hp, "num_round": "12"}))
    out = capsys.readouterr().out
    assert "Resuming from checkpoint xgboost-checkpoint.4" in out
    assert [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")] == [
        f"[{i}]" for i in range(5, 12)]
    a, b = XGB.load(whole.model_dir), XGB.load(interrupted.model_dir)
    assert a.num_boosted_rounds() == b.num_boosted_rounds() == 12
    data = xgb.DMatrix(X)
    assert np.allclose(a.predict(data), b.predict(data), atol=1e-6)


def _by_hand(X: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[dict[str, float]]:
    params = {"objective": "binary:logistic", "eval_metric": ["auc", "logloss"], "max_depth": 3, "nthread": 1}
    result = []
    for train, test in folds:
        log: dict[str, dict[str, list[float]]] = {}
        xgb.train(params, xgb.DMatrix(X[train], label=y[train]), 8,
                  evals=[(xgb.DMatrix(X[test], label=y[test]), "validation")], evals_result=log, verbose_eval=False)
        result.append({f"validation:{k}": v[-1] for k, v in log["validation"].items()})
    return result


def test_cross_validation_folds_match_fitting_them_by_hand(tmp_path: Path) -> None:
    X, y = blobs(240)
    y[:30] = 1  # unbalanced-ish, so stratification is visible
    cv = {"Strategy": "StratifiedKFold", "Folds": 4, "Shuffle": True, "Seed": 3}
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y))}, cross_validation=cv)
    out = train_in_child("xgboost", job.root, {"num_round": "8", "objective": "binary:logistic",
                                               "eval_metric": "auc,logloss", "max_depth": "3"})
    assert re.search(r"^\[fold 2/4\] validation-auc:[0-9.]+ validation-logloss:[0-9.]+$", out, re.M)
    report = json.loads((job.output_data_dir / "cross_validation.json").read_text())
    Xf = X.astype(np.float32)
    folds = list(StratifiedKFold(4, shuffle=True, random_state=3).split(Xf, y))
    for _, test in folds:
        share = y[test].mean()
        assert share == pytest.approx(y.mean(), abs=0.03)
    expected = _by_hand(Xf, y.astype(np.float32), folds)
    assert [f["Fold"] for f in report["Folds"]] == [1, 2, 3, 4]
    for got, want in zip(report["Folds"], expected, strict=True):
        assert got["Metrics"] == pytest.approx(want, rel=1e-5)
    aucs = [f["validation:auc"] for f in expected]
    assert report["Summary"]["validation:auc"]["Mean"] == pytest.approx(np.mean(aucs), rel=1e-6)
    assert report["Summary"]["validation:auc"]["StandardDeviation"] == pytest.approx(np.std(aucs), rel=1e-5)
    # the summary is also printed in the algorithm's own format, so validation:auc's last value is the CV mean
    last = [m.group(1) for m in re.finditer(dict(XGB.metric_definitions)["validation:auc"], out)][-1]
    assert float(last) == pytest.approx(np.mean(aucs), abs=1e-5)
    assert (job.model_dir / "xgboost-model").is_file()


def test_group_kfold_keeps_groups_apart_and_drops_the_group_column(tmp_path: Path) -> None:
    X, y = blobs(200)
    groups = np.repeat(np.arange(20), 10)
    Xg = np.column_stack([X[:, :2], groups, X[:, 2:]])
    cv = {"Strategy": "GroupKFold", "Folds": 5, "GroupColumn": 2}
    job = layout(tmp_path, {"train": ("text/csv", csv_text(Xg, y))}, cross_validation=cv)
    XGB.train(job, XGB.validate({"num_round": "8", "objective": "binary:logistic", "eval_metric": "auc,logloss",
                                 "max_depth": "3"}))  # one CPU (conftest): folds in this process
    report = json.loads((job.output_data_dir / "cross_validation.json").read_text())
    folds = list(GroupKFold(5).split(X, y, groups))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    expected = _by_hand(X.astype(np.float32), y.astype(np.float32), folds)
    assert [f["Metrics"] for f in report["Folds"]] == [pytest.approx(e, rel=1e-5) for e in expected]
    assert XGB.load(job.model_dir).num_features() == 4  # the group column is not a feature


def test_cross_validation_config_errors(tmp_path: Path) -> None:
    X, y = blobs(50)
    job = layout(tmp_path, {"train": ("text/csv", csv_text(X, y))}, cross_validation={"Strategy": "GroupKFold"})
    with pytest.raises(ValidationException, match="GroupColumn is required for GroupKFold"):
        XGB.train(job, XGB.validate({"num_round": "2"}))


def _outcome(predict: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> tuple[str, object]:
    try:
        return "scores", predict(rows)
    except (ValueError, xgb.core.XGBoostError) as exc:
        return "refused", type(exc)


@pytest.mark.parametrize("params", [
    {"objective": "binary:logistic"}, {"objective": "multi:softprob", "num_class": 3},
    {"objective": "multi:softmax", "num_class": 3}, {"objective": "reg:squarederror", "base_score": 0.3},
    {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3},
    {"objective": "reg:squarederror", "booster": "gblinear"},
], ids=["binary", "softprob", "softmax", "regression", "dart", "gblinear"])
@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
def test_served_scores_are_predict_on_a_dmatrix_bit_for_bit(params: dict[str, object], named: bool) -> None:
    """A request of a few rows is predicted on one thread, and with inplace_predict where that is exact: the
    scores (and refusals of rows of another width) are those of booster.predict(DMatrix(X)), bit for bit."""
    import pandas as pd

    from crispml.services.training.algorithms.xgb import SERIAL_ROWS, predict_rows

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = rng.integers(0, 3 if "num_class" in params else 2, len(X)).astype(np.float32)
    data = pd.DataFrame(X, columns=[f"c{i}" for i in range(5)]) if named else X
    raw = xgb.train({**params, "nthread": 1}, xgb.DMatrix(data, label=y), 20).save_raw("ubj")
    served, reference = (xgb.Booster(model_file=bytearray(raw)) for _ in range(2))
    wide = np.hstack([X, X])
    for rows, width in [(1, 5), (7, 5), (SERIAL_ROWS, 5), (SERIAL_ROWS + 1, 5), (1, 3), (1, 8), (SERIAL_ROWS + 1, 8)]:
        batch = np.ascontiguousarray(wide[:rows, :width])
        ours = _outcome(lambda rows: predict_rows(served, rows), batch)
        theirs = _outcome(lambda rows: reference.predict(xgb.DMatrix(rows)), batch)
        assert ours[0] == theirs[0], (rows, width, ours, theirs)
        if ours[0] == "scores":
            a, b = np.asarray(ours[1]), np.asarray(theirs[1])
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (rows, width)
        else:
            assert ours[1] == theirs[1]
