"""Fixtures of the training tests: a home with the bucket ``train-data``."""

from __future__ import annotations

import pytest

from crispml.sdk.client import Client
from tests.services.training.support import BUCKET


@pytest.fixture
def home_client(client: Client) -> Client:
    """A home on the file:// or s3:// lake with the bucket ``train-data``."""
    client.lake.create_bucket(bucket=BUCKET)
    return client


@pytest.fixture
def local_home(local_client: Client) -> Client:
    """A home on SQLite and a file:// lake with the bucket ``train-data``."""
    local_client.lake.create_bucket(bucket=BUCKET)
    return local_client
