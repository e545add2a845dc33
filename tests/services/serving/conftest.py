"""Fixtures of the serving tests: a home whose serving runtime is stopped when the test ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crispml.sdk.client import Client


@pytest.fixture
def serving(local_client: Client) -> Iterator[Client]:
    """A client on a fresh home (SQLite, file://); its serving runtime, if a test started one, is stopped after."""
    try:
        yield local_client
    finally:
        local_client.serving.stop_runtime()
