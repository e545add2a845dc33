"""A service calls another one way, and mypy checks it: the operation's signature survives ``@operation``,
requests are typed models, and each service's ``service.py`` exports every request its operations take."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from crispml.platform import load_services
from crispml.services import SERVICES
from crispml.spine import REGISTRY

ROOT = Path(__file__).resolve().parents[2]

CALLER = '''
from crispml.core.context import CallContext
from crispml.services.catalog.service import CatalogService, TableRequest
from crispml.services.lake.service import BucketRequest, LakeService


def good(lake: LakeService, catalog: CatalogService, ctx: CallContext) -> str:
    lake.head_bucket(ctx, BucketRequest(bucket="raw"))
    return catalog.get_table(ctx, TableRequest(database_name="sales", name="orders")).table.name


def bad(lake: LakeService, catalog: CatalogService, ctx: CallContext) -> None:
    lake.head_bucket(ctx, BucketRequest(bucket_name="raw"))             # a field renamed
    lake.head_bucket(ctx, BucketRequest(bucket=3))                      # a field of the wrong type
    lake.head_bucket(ctx, TableRequest(database_name="s", name="o"))    # another operation's request
    lake.head_bucket(ctx, bucket="raw")                                 # fields instead of the request
    catalog.get_table(ctx, TableRequest(database_name="s", name="o")).table.columns  # no such attribute
'''


def test_mypy_checks_a_call_between_services(tmp_path: Path) -> None:
    module = tmp_path / "caller.py"
    module.write_text(CALLER)
    # the project's mypy settings and cache (warm after `make lint`, which `make test` runs first)
    result = subprocess.run([sys.executable, "-m", "mypy", str(module)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    bad = CALLER.splitlines().index(next(x for x in CALLER.splitlines() if x.startswith("def bad"))) + 1
    assert lines == [bad + 1, bad + 2, bad + 3, bad + 4, bad + 5], result.stdout


def test_each_service_exports_the_request_of_every_operation() -> None:
    """So that any operation can be called from another service with a request imported from the public
    module (and a new operation's request cannot be forgotten)."""
    load_services()
    for name in SERVICES:
        public = importlib.import_module(f"crispml.services.{name}.service")
        for spec in REGISTRY.for_service(name):
            model = spec.request_model
            assert getattr(public, model.__name__, None) is model, f"{spec.action}: {model.__name__} not exported"
            assert model.__name__ in public.__all__, f"{spec.action}: {model.__name__} not in __all__"
