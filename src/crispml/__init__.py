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


def connect(target: str | None = None, **kwargs: Any) -> Client:
    """Open a crispml home and return a client; see :func:`crispml.sdk.client.connect`."""
    from crispml.sdk.client import connect as _connect

    return _connect(target, **kwargs)


__all__ = ["__version__", "connect"]
