"""The lazy registry of backends by URI scheme."""

from __future__ import annotations

import json
import sys

import pytest

from crispml.core.errors import InvalidArgument
from crispml.core.metadb.engine import Database
from crispml.core.plugins import BLOB_STORES, METADATA_DBS, PluginRegistry, redact, scheme_of

MISSING_MODULE = "crispml_test_no_such_module"


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(InvalidArgument) as info:
        BLOB_STORES.resolve("gs://bucket/lake")
    message = str(info.value)
    assert "'gs'" in message
    for known in ("file://", "memory://", "s3://"):
        assert known in message


def test_unknown_database_scheme_lists_the_known_ones_without_the_password() -> None:
    with pytest.raises(InvalidArgument) as info:
        METADATA_DBS.resolve("mysql://crispml:hunter2@db.example/meta")
    message = str(info.value)
    assert "postgresql://" in message and "sqlite://" in message
    assert "hunter2" not in message
    assert "db.example" in message


def test_database_refuses_an_unknown_scheme_before_connecting() -> None:
    with pytest.raises(InvalidArgument, match="sqlite://"):
        Database("oracle://scott:tiger@db.example/meta")


def test_missing_dependency_names_the_extra() -> None:
    registry = PluginRegistry("compute")
    registry.register("dask", f"{MISSING_MODULE}:DaskExecutor", extra="dask")  # lazy: no import yet
    assert MISSING_MODULE not in sys.modules
    with pytest.raises(InvalidArgument) as info:
        registry.resolve("dask://scheduler:8786")
    message = str(info.value)
    assert "pip install 'crispml[dask]'" in message
    assert MISSING_MODULE in message
    assert "dask://" in message


def test_missing_dependency_without_an_extra_still_names_the_package() -> None:
    registry = PluginRegistry("compute")
    registry.register("ray", f"{MISSING_MODULE}:RayExecutor")
    with pytest.raises(InvalidArgument, match=MISSING_MODULE) as info:
        registry.resolve("ray://head:10001")
    assert "pip install" not in str(info.value)


def test_resolve_imports_the_target_when_asked() -> None:
    registry = PluginRegistry("codec")
    registry.register("json", "json:JSONDecoder")
    assert registry.resolve("json://whatever") is json.JSONDecoder


def test_registered_backends_resolve() -> None:
    from crispml.core.storage.local import LocalBlobStore
    from crispml.core.storage.memory import MemoryBlobStore

    assert BLOB_STORES.resolve("file:///tmp/lake") is LocalBlobStore
    assert BLOB_STORES.resolve("/tmp/lake") is LocalBlobStore  # a bare path is a file
    assert BLOB_STORES.resolve("memory://lake") is MemoryBlobStore


@pytest.mark.parametrize(("uri", "scheme"), [
    ("postgresql+psycopg://u@h/db", "postgresql"),
    ("sqlite:////tmp/meta.db", "sqlite"),
    ("s3://bucket/prefix", "s3"),
    ("/var/lib/crispml/lake", "file"),
    ("relative/lake", "file"),
])
def test_scheme_of(uri: str, scheme: str) -> None:
    assert scheme_of(uri) == scheme


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://crispml:s3cr3t@db.example:5432/meta") == (
        "postgresql://crispml:***@db.example:5432/meta"
    )
    assert redact("postgresql://crispml@db.example/meta") == "postgresql://crispml@db.example/meta"
    assert redact("file:///tmp/lake") == "file:///tmp/lake"
