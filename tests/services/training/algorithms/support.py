"""Building a job's /opt/ml layout with channel files, for the algorithm tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from crispml.services.training.layout import Layout


def csv_text(X: Any, y: Any = None) -> str:
    table = np.asarray(X, dtype=float) if y is None else np.column_stack([y, X])
    return "\n".join(",".join(f"{v:.7g}" for v in row) for row in table) + "\n"


def layout(root: Path, channels: dict[str, tuple[str, str | dict[str, str]]],
           cross_validation: dict[str, Any] | None = None) -> Layout:
    """A made layout whose channels hold the given text (one file ``part-0``, or named files)."""
    job = Layout(root).make()
    config = {}
    for name, (content_type, content) in channels.items():
        folder = job.channel_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, text in (content.items() if isinstance(content, dict) else [("part-0", content)]):
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_text(text)
        config[name] = {"ContentType": content_type, "TrainingInputMode": "File"}
    job.inputdataconfig_file.write_text(json.dumps(config))
    if cross_validation is not None:
        job.crossvalidation_file.write_text(json.dumps(cross_validation))
    return job


def blobs(n: int = 300, seed: int = 0) -> tuple[Any, Any]:
    """Two separable classes in 4 features: label = x0 + x1 > 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def train_in_child(name: str, root: Path, hyperparameters: dict[str, str], cpus: int = 2) -> str:
    """Validate and train in a fresh process, as the executor does; the job's stdout.

    A fresh process matters for cross-validation: it forks, and a process that
    already ran OpenMP work (an earlier test's xgboost) must not fork.
    """
    import os
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from crispml.services.training.algorithms import get\n"
        "from crispml.services.training.layout import Layout\n"
        "a = get(sys.argv[1])\n"
        "a.train(Layout(Path(sys.argv[2])), a.validate(json.loads(sys.argv[3])))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, name, str(root), json.dumps(hyperparameters)],
                          capture_output=True, text=True, cwd=root, env={**os.environ, "SM_NUM_CPUS": str(cpus)})
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1])
    return done.stdout
