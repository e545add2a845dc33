"""Shared fixtures: homes on every backend family, built from real parts.

``client`` runs a test on the lake's file:// and s3:// stores (moto_server in
its own process); ``db_client`` runs it on SQLite and on PostgreSQL. A missing
PostgreSQL is a skip locally and a failure under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.sdk.client import Client

pytest_plugins = ["tests.fixtures.servers"]

if TYPE_CHECKING:
    from tests.cli.support import Result, Run


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own home or settings."""
    for name in ("CRISPML_HOME", "CRISPML_DB_URL", "CRISPML_LAKE_URL", "CRISPML_CONFIG",
                 "CRISPML_PRINCIPAL", "CRISPML_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def _open(home: Path, clock: FixedClock, **settings: Any) -> Client:
    return crispml.connect(home=str(home), clock=clock, **settings)


@pytest.fixture(params=["file", "s3"])
def lake_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for a lake on local files, or on the S3 protocol server."""
    if request.param == "file":
        return {}
    s3 = request.getfixturevalue("s3_lake_url")
    return {"lake_url": s3.url, **s3.kwargs}


@pytest.fixture
def client(home: Path, clock: FixedClock, lake_settings: dict[str, Any]) -> Iterator[Client]:
    """A client on a fresh home, once per lake backend (file://, s3://)."""
    c = _open(home, clock, **lake_settings)
    yield c
    c.close()


@pytest.fixture
def local_client(home: Path, clock: FixedClock) -> Iterator[Client]:
    """A client on a fresh home with the default SQLite + file:// lake."""
    c = _open(home, clock)
    yield c
    c.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, home: Path) -> str:
    """A metadata DB URL, once per database (SQLite file, PostgreSQL server)."""
    if request.param == "sqlite":
        return f"sqlite:///{home / 'meta.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db_client(home: Path, clock: FixedClock, db_url: str) -> Iterator[Client]:
    """A client on a fresh home, once per metadata DB (SQLite, PostgreSQL)."""
    c = _open(home, clock, db_url=db_url)
    yield c
    c.close()


@pytest.fixture
def run(home: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``crispml --home HOME ARGS`` in this process (a wide, colourless terminal): exit code and output."""
    from crispml.cli.main import main  # imported here: the CLI module builds every command on import
    from tests.cli.support import WIDE, Result, plain  # after pytest_plugins, so the fixtures are rewritten

    for name, value in WIDE.items():
        monkeypatch.setenv(name, value)

    def call(*args: str) -> Result:
        capsysbinary.readouterr()
        code = main(["--home", str(home), *args])
        captured = capsysbinary.readouterr()
        return Result(code, plain(captured.out.decode("utf-8", "replace")),
                      plain(captured.err.decode("utf-8", "replace")), captured.out)

    return call
