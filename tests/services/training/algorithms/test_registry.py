from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crispml.services.training import algorithms
from crispml.services.training.errors import ValidationException

HEAVY = ("numpy", "pandas", "sklearn", "xgboost", "lightgbm", "scipy")


def test_get_and_validate_import_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "from crispml.services.training.algorithms import get, names\n"
        "get('xgboost').validate({'num_round': '10', 'objective': 'binary:logistic'})\n"
        "for n in names():\n"
        "    a = get(n); a.hyperparameters; a.metric_definitions\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_every_name_resolves_to_an_algorithm_of_that_name() -> None:
    assert algorithms.names() == sorted(algorithms.ALGORITHMS)
    for name in algorithms.names():
        algorithm = algorithms.get(name)
        assert algorithm.name == name
        assert algorithm.hyperparameters
        for _, regex in algorithm.metric_definitions:
            assert regex.count("(") - regex.count("(?:") - regex.count("\\(") == 1


def test_unknown_algorithm_lists_the_available_ones() -> None:
    with pytest.raises(ValidationException, match=r"unknown algorithm 'xgb'; available: blazingtext, k-means"):
        algorithms.get("xgb")
