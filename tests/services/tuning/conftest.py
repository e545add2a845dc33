"""Fixtures of the tuning tests: a home with the bucket ``tune-data`` holding a small labelled data set."""

from __future__ import annotations

import pytest

from crispml.sdk.client import Client
from tests.services.tuning.support import put_data


@pytest.fixture
def local_home(local_client: Client) -> Client:
    """A home on SQLite and a file:// lake with the training and validation rows."""
    put_data(local_client)
    return local_client


@pytest.fixture
def home_client(db_client: Client) -> Client:
    """A home on SQLite or PostgreSQL with the training and validation rows."""
    put_data(db_client)
    return db_client
