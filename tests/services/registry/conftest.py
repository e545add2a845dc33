"""Fixtures of the registry tests: a home with the bucket ``reg-data`` and a small xgboost artifact in it."""

from __future__ import annotations

import io
import tarfile

import pytest

from crispml.sdk.client import Client

BUCKET = "reg-data"
ARTIFACT = f"lake://{BUCKET}/models/model.tar.gz"


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _fill(client: Client) -> Client:
    client.lake.create_bucket(bucket=BUCKET)
    client.fs.pipe_file(ARTIFACT, tar_gz({"xgboost-model": b"not read by these tests"}))
    return client


@pytest.fixture
def registry_home(db_client: Client) -> Client:
    """A home on SQLite or PostgreSQL with an artifact at :data:`ARTIFACT`."""
    return _fill(db_client)


@pytest.fixture
def local_home(local_client: Client) -> Client:
    """A home on SQLite and a file:// lake with an artifact at :data:`ARTIFACT`."""
    return _fill(local_client)


def spec(image: str = "xgboost", url: str = ARTIFACT, **environment: str) -> dict[str, object]:
    return {"Containers": [{"Image": image, "ModelDataUrl": url, "Environment": environment}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"]}
