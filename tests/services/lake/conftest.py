"""Fixtures of the lake contract suite: the lake service of a fresh home, with one bucket.

``lake`` and ``bucket`` follow ``client``, so every test that uses them runs on
the file:// and the s3:// lake.
"""

from __future__ import annotations

from typing import Any

import pytest

from crispml.sdk.client import Client

BUCKET = "contract-bucket"


@pytest.fixture
def lake(client: Client) -> Any:
    """``client.lake``: the lake operations through the SDK."""
    return client.lake


@pytest.fixture
def bucket(lake: Any) -> str:
    """An empty, unversioned bucket."""
    lake.create_bucket(bucket=BUCKET)
    return BUCKET


@pytest.fixture
def versioned(lake: Any) -> str:
    """An empty bucket with versioning enabled."""
    lake.create_bucket(bucket="versioned-bucket")
    lake.put_bucket_versioning(bucket="versioned-bucket",
                               versioning_configuration={"Status": "Enabled"})
    return "versioned-bucket"
