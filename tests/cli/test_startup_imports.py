"""The command line starts without the engines: which modules a command imports, read from
``python -X importtime`` in a child process (a list, not a timing; ``benchmarks/startup.py`` times it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import crispml

#: Engines and ML libraries no command may import just to start.
ENGINES = ("pyiceberg", "duckdb", "pyarrow", "sqlglot", "alembic", "pandas")
ML = ("sklearn", "xgboost", "lightgbm", "scipy", "optuna", "fastapi", "uvicorn", "plotly")


def imported(*args: str, home: Path) -> set[str]:
    """The modules ``python -m crispml ARGS`` imports (the command must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISPML_", "AWS_"))}
    env.update(CRISPML_HOME=str(home), COLUMNS="120")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "crispml", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


def services(modules: set[str]) -> list[str]:
    """The services some of whose modules were imported. (By package, not by ``service.py``: a module
    imported with ``importlib.import_module``, as the platform imports a service, has no line of its own.)"""
    return sorted({m.split(".")[2] for m in modules if m.startswith("crispml.services.") and m.count(".") >= 3})


def packages(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that belong to one of the packages ``names``."""
    return sorted(m for m in modules if m.split(".")[0] in names)


@pytest.mark.parametrize("args", [("--version",), ("--help",)], ids=" ".join)
def test_version_and_help_import_no_engine_and_no_service(args: tuple[str, ...], tmp_path: Path) -> None:
    modules = imported(*args, home=tmp_path / "home")
    assert "crispml.cli.main" in modules  # the list is read: a broken probe would pass vacuously
    assert packages(modules, ENGINES + ML) == []
    assert sorted(m for m in modules if m.startswith(("crispml.services", "crispml.platform", "crispml.sdk"))) == []
    assert "sqlalchemy" not in modules  # no command line help needs the metadata DB


def test_a_groups_help_imports_no_service(tmp_path: Path) -> None:
    modules = imported("catalog", "--help", home=tmp_path / "home")
    assert packages(modules, ENGINES + ML) == []
    assert sorted(m for m in modules if m.startswith("crispml.services")) == []


def test_demo_help_does_not_import_pandas(tmp_path: Path) -> None:
    modules = imported("demo", "--help", home=tmp_path / "home")
    assert packages(modules, ENGINES + ML) == []
    assert sorted(m for m in modules if m.startswith("crispml.demo")) == []


def _home_with_an_object(home: Path) -> None:
    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket="startup")
        client.lake.put_object(bucket="startup", key="a.txt", body=b"a")


def test_lake_ls_imports_only_what_the_lake_needs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _home_with_an_object(home)
    modules = imported("lake", "ls", "lake://startup", home=home)
    assert "crispml.cli.lakecmds" in modules
    assert packages(modules, ENGINES + ML) == []
    # the platform builds what the command uses: the lake, and IAM and audit for the spine
    assert services(modules) == ["audit", "iam", "lake"]


def test_a_catalog_command_imports_no_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with crispml.connect(home=str(home)) as client:
        client.catalog.create_database(database_input={"Name": "startup"})
    modules = imported("catalog", "get-databases", "-o", "json", home=home)
    assert services(modules) == ["audit", "catalog", "iam", "lake"]  # the catalog checks locations' buckets
    assert packages(modules, ENGINES + ML) == []


@pytest.mark.parametrize("service", ["query", "streams", "firehose", "ingest"])
def test_importing_a_service_imports_none_of_its_engines(service: str) -> None:
    """A service's heavy libraries load when one of its operations first runs, not on import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISPML_")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import crispml.services.{service}.service"],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert service in services(modules)
    assert packages(modules, ENGINES + ML) == []
