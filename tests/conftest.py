"""Shared fixtures: homes on every backend family, built from real parts.

``client`` runs a test on the lake's file:// and s3:// stores (the run's moto
server); ``db_client`` runs it on SQLite and on PostgreSQL; ``local_client`` runs it
once, on SQLite and file://, for checks that do not depend on the backends. Their
homes are copies of a migrated template (tests/fixtures/homes.py). A missing
PostgreSQL, Redis or moto is a skip locally and a failure under CI=true.

Backend parameters carry the markers ``postgresql``, ``s3`` and ``redis``, so
``-m "not postgresql and not s3"`` runs the rest; see tests/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import crispml
from crispml.core.clock import FixedClock
from crispml.sdk.client import Client

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.homes"]

#: Fixtures that reach a server, and the marker a test using one of them gets.
_SERVER_MARKS = {"postgres_url": "postgresql", "postgres_home_url": "postgresql", "postgres_template": "postgresql",
                 "moto_server": "s3", "s3_lake_url": "s3", "redis_url": "redis"}


#: Where the tests that run first live (see pytest_collection_modifyitems).
_FIRST = "tests/e2e/"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for a server's fixture by name carries that server's marker (backend parameters
    that reach a server at run time carry theirs through ``pytest.param(..., marks=...)``). The end-to-end
    tests go first (a stable sort, after pytest-randomly's shuffle: the rest keeps its random order)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for marker in sorted({mark for fixture, mark in _SERVER_MARKS.items() if fixture in names}):
            if item.get_closest_marker(marker) is None:
                item.add_marker(marker)
    # the demo's test takes minutes, five times any other: started first, it runs beside the other workers'
    # share of the suite; drawn last by the shuffle, it ran alone after it while the other worker sat idle
    items.sort(key=lambda item: not item.nodeid.startswith(_FIRST))

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


def _open(home: Path, clock: FixedClock, template: Path, **settings: Any) -> Client:
    """Open ``home``; unless the metadata DB is elsewhere, the home starts as a copy of the template."""
    from tests.fixtures.homes import seed_home  # after pytest_plugins, so the module is rewritten

    if "db_url" not in settings or settings["db_url"] == f"sqlite:///{home / 'meta.db'}":
        seed_home(home, template)
    return crispml.connect(home=str(home), clock=clock, **settings)


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def lake_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for a lake on local files, or on the S3 protocol server."""
    if request.param == "file":
        return {}
    s3 = request.getfixturevalue("s3_lake_url")
    return {"lake_url": s3.url, **s3.kwargs}


@pytest.fixture
def client(home: Path, clock: FixedClock, lake_settings: dict[str, Any], sqlite_template: Path) -> Iterator[Client]:
    """A client on a fresh home, once per lake backend (file://, s3://)."""
    c = _open(home, clock, sqlite_template, **lake_settings)
    yield c
    c.close()


@pytest.fixture
def local_client(home: Path, clock: FixedClock, sqlite_template: Path) -> Iterator[Client]:
    """A client on a fresh home with the default SQLite + file:// lake."""
    c = _open(home, clock, sqlite_template)
    yield c
    c.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, home: Path) -> str:
    """A metadata DB URL, once per database (SQLite file, PostgreSQL server).

    The database is empty — for tests of what opening a new home does — unless the test also uses
    ``db_client``, whose database is a copy of the migrated template.
    """
    if request.param == "sqlite":
        return f"sqlite:///{home / 'meta.db'}"
    url: str = request.getfixturevalue("postgres_home_url" if "db_client" in request.fixturenames
                                       else "postgres_url")
    return url


@pytest.fixture
def db_client(home: Path, clock: FixedClock, db_url: str, sqlite_template: Path) -> Iterator[Client]:
    """A client on a fresh home, once per metadata DB (SQLite, PostgreSQL)."""
    c = _open(home, clock, sqlite_template, db_url=db_url)
    yield c
    c.close()


@pytest.fixture
def run(home: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``crispml --home HOME ARGS`` in this process (a wide, colourless terminal): exit code and output."""
    from crispml.cli.main import main  # imported here: only the tests that run the CLI need it
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
