"""The Python SDK: ``crispml.connect()`` and the client it returns."""

from crispml.sdk.client import Client, connect

__all__ = ["Client", "connect"]
