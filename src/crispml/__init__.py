"""crispml: the AWS ML workflow — lake, catalog, SQL, training, serving, monitoring —
self-hosted, on one laptop or on scale-out engines.

>>> import crispml
>>> client = crispml.connect()              # opens $CRISPML_HOME (~/.crispml)
>>> client.lake.create_bucket(bucket="demo-raw")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from crispml.sdk.client import Client
    from crispml.sdk.estimator import CatalogInput, Estimator, SKLearn, TrainingInput, XGBoost

#: Names served from the SDK on first use, so ``import crispml`` stays cheap (see ``__getattr__``).
_LAZY = {name: "crispml.sdk.estimator" for name in ("CatalogInput", "Estimator", "SKLearn", "TrainingInput",
                                                     "XGBoost")}


def connect(target: str | None = None, **kwargs: Any) -> Client:
    """Open a crispml home and return a client; see :func:`crispml.sdk.client.connect`."""
    from crispml.sdk.client import connect as _connect

    return _connect(target, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crispml' has no attribute {name!r}")


__all__ = ["CatalogInput", "Estimator", "SKLearn", "TrainingInput", "XGBoost", "__version__", "connect"]
