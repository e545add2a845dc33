"""The layers and the calling rule, checked on the import graph (import-linter, contracts in pyproject.toml):

- nothing imports upwards: shells (cli, demo, sdk, lakefs) over the platform over services over the spine
  over core;
- no import cycle between siblings, at any depth (modules of one package, packages of one parent);
- a service imports another only through its public ``service.py`` (``tests/architecture/contracts.py``);

and, on the code itself, that the command line and the demo reach services only through the SDK's
operations, never through the platform.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "crispml"


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package under ``source_root``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), str(ROOT)])}
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("core/clock.py", "import crispml.services.lake.service", "nothing imports\nupwards BROKEN"),
    ("spine/models.py", "import crispml.platform", "nothing imports\nupwards BROKEN"),
    ("services/lake/buckets.py", "import crispml.services.catalog.service", "at any depth BROKEN"),
    ("services/ingest/load.py", "import crispml.services.catalog.rules", "public service.py BROKEN"),
    ("cli/db.py", "import crispml.services.lake.store", "public service.py BROKEN"),
], ids=["core-imports-a-service", "spine-imports-the-platform", "lake-and-catalog-in-a-cycle",
        "ingest-imports-catalog-internals", "a-shell-imports-a-store"])
def test_each_contract_catches_what_it_forbids(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """The contracts are not vacuous: one bad import in a copy of the source breaks the one that forbids it."""
    copy = tmp_path / "src" / "crispml"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # the import under test\n")
    result = lint_imports(tmp_path / "src")
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in result.stdout, result.stdout


def _platform_uses(path: Path) -> list[str]:
    """``….platform.<name>`` and ``….peer(…)`` in a module, other than the platform's clock and settings."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "platform" and node.attr not in ("clock", "settings"):
            found.append(f"{path.relative_to(SOURCE)}:{node.lineno} .platform.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in ("peer", "_services"):
            found.append(f"{path.relative_to(SOURCE)}:{node.lineno} .{node.attr}")
    return found


def test_the_command_line_and_the_demo_call_services_only_through_operations() -> None:
    """They hold an SDK client, whose services expose operations only; the platform behind it is not theirs
    to reach into (its clock and settings aside)."""
    shells = [*sorted((SOURCE / "cli").glob("*.py")), *sorted((SOURCE / "demo").glob("*.py"))]
    assert len(shells) > 5
    assert [use for path in shells for use in _platform_uses(path)] == []
