"""The in-process ``cli`` fixture: ``crispml.cli.main.main([...])`` on a fresh home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crispml.cli.main import main
from tests.cli.support import WIDE, Result, plain

Cli = Callable[..., Result]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in WIDE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cli(home: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> Cli:
    """Run ``crispml --home HOME ARGS`` in this process; returns its exit code and output."""

    def run(*args: str) -> Result:
        capsysbinary.readouterr()  # drop anything printed before this command
        code = main(["--home", str(home), *args])
        captured = capsysbinary.readouterr()
        return Result(code, plain(captured.out.decode("utf-8", "replace")),
                      plain(captured.err.decode("utf-8", "replace")), captured.out)

    return run
