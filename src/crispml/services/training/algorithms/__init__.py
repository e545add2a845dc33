"""SageMaker's built-in algorithms, run on open-source libraries.

:data:`ALGORITHMS` maps each AWS ``AlgorithmName`` to the ``"module:Class"``
that implements it; :func:`get` imports that module on first use. Importing this
package, :func:`get` and ``Algorithm.validate`` load no numpy, pandas or ML
library — ``train``, ``load`` and ``predict`` do.

What is here and what it runs on:

- ``xgboost`` — the xgboost library, as SageMaker's XGBoost container (model file ``xgboost-model``);
- ``lightgbm`` — the lightgbm library, with the SageMaker LightGBM algorithm's hyperparameters;
- ``linear-learner``, ``k-means``, ``pca``, ``knn`` — scikit-learn (SGD, (MiniBatch)KMeans, PCA, KNeighbors);
- ``random-cut-forest`` — scikit-learn's IsolationForest, the closest well-kept relative (not RCF itself);
- ``blazingtext`` — supervised mode only, a hashed n-gram linear classifier (not fastText).

Not here: recordio-protobuf input, Pipe mode streaming, distributed (multi-host) training.
"""

from __future__ import annotations

import importlib

from crispml.services.training.algorithms.base import Algorithm, Hyperparameter
from crispml.services.training.errors import ValidationException

__all__ = ["ALGORITHMS", "Algorithm", "Hyperparameter", "get", "names"]

#: AWS ``AlgorithmName`` → ``"module:Class"``.
ALGORITHMS: dict[str, str] = {
    "blazingtext": "crispml.services.training.algorithms.blazingtext:BlazingText",
    "k-means": "crispml.services.training.algorithms.kmeans:KMeans",
    "knn": "crispml.services.training.algorithms.knn:KNN",
    "lightgbm": "crispml.services.training.algorithms.lgbm:LightGBM",
    "linear-learner": "crispml.services.training.algorithms.linear_learner:LinearLearner",
    "pca": "crispml.services.training.algorithms.pca:PCA",
    "random-cut-forest": "crispml.services.training.algorithms.rcf:RandomCutForest",
    "xgboost": "crispml.services.training.algorithms.xgb:XGBoost",
}

_CACHE: dict[str, Algorithm] = {}


def names() -> list[str]:
    """Every algorithm name, sorted."""
    return sorted(ALGORITHMS)


def get(name: str) -> Algorithm:
    """The algorithm called ``name``; :class:`ValidationException` listing the available ones otherwise."""
    if name not in ALGORITHMS:
        raise ValidationException(f"unknown algorithm {name!r}; available: {', '.join(names())}")
    if name not in _CACHE:
        module_name, _, class_name = ALGORITHMS[name].partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        _CACHE[name] = cls()
    return _CACHE[name]
