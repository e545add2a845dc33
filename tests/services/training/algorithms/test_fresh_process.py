"""Every algorithm's saved model loads and predicts in a fresh process, as an endpoint instance does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from crispml.services.training.algorithms import get, names
from tests.services.training.algorithms.support import blobs, csv_text, layout

X, Y = blobs(120)
TEXT = "\n".join(f"__label__{'a' if i % 2 else 'b'} {'red apple' if i % 2 else 'blue sky'} word" for i in range(40))
JOBS: dict[str, tuple[dict[str, str], str, str]] = {
    "xgboost": ({"num_round": "5", "objective": "binary:logistic"}, csv_text(X, Y), "text/csv"),
    "lightgbm": ({"num_boost_round": "5"}, csv_text(X, Y), "text/csv"),
    "linear-learner": ({"predictor_type": "binary_classifier", "epochs": "2"}, csv_text(X, Y), "text/csv"),
    "k-means": ({"k": "2", "feature_dim": "4"}, csv_text(X), "text/csv"),
    "pca": ({"feature_dim": "4", "num_components": "2", "mini_batch_size": "10"}, csv_text(X), "text/csv"),
    "knn": ({"k": "3", "sample_size": "50", "predictor_type": "classifier", "feature_dim": "4"}, csv_text(X, Y),
            "text/csv"),
    "random-cut-forest": ({"feature_dim": "4", "num_trees": "50"}, csv_text(X), "text/csv"),
    "blazingtext": ({"mode": "supervised", "min_count": "1"}, TEXT, "text/plain"),
}


def request(name: str) -> tuple[bytes, str]:
    if name == "blazingtext":
        return json.dumps({"instances": ["red apple", "blue sky"], "configuration": {"k": 2}}).encode(), \
            "application/json"
    return csv_text(X[:5]).encode(), "text/csv"


def test_every_model_serves_the_same_answers_in_a_fresh_process(tmp_path: Path) -> None:
    assert sorted(JOBS) == names()
    answers = {}
    for name, (hp, text, content_type) in JOBS.items():
        algorithm = get(name)
        job = layout(tmp_path / name, {"train": (content_type, text)})
        algorithm.train(job, algorithm.validate(hp))
        body, content_type = request(name)
        answers[name] = algorithm.predict(algorithm.load(job.model_dir), body, content_type, "application/json")[0]
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from crispml.services.training.algorithms import get\n"
        "from tests.services.training.algorithms.test_fresh_process import JOBS, request\n"
        "out = {}\n"
        "for name in JOBS:\n"
        "    a = get(name)\n"
        "    body, content_type = request(name)\n"
        "    out[name] = a.predict(a.load(Path(sys.argv[1]) / name / 'model'), body, content_type,\n"
        "                          'application/json')[0].decode()\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parents[4])
    fresh = json.loads(done.stdout)
    for name, body in answers.items():
        assert _numbers(json.loads(fresh[name])) == _numbers(json.loads(body)), name


def _numbers(payload: object) -> object:
    """The payload with floats rounded (the same model may differ in the last bits across processes)."""
    if isinstance(payload, float):
        return float(np.round(payload, 5))
    if isinstance(payload, list):
        return [_numbers(v) for v in payload]
    if isinstance(payload, dict):
        return {k: _numbers(v) for k, v in payload.items()}
    return payload
