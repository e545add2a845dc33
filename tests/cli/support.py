"""Running the ``crispml`` command the way users do, and checking what they see.

``run_cli`` starts a real child process (``python -m crispml``) with a clean
environment; ``Result`` holds its exit code and output with terminal colours
removed (CI may force them on). ``s3_env`` turns the ``s3_lake_url`` fixture
into the ``CRISPML_*`` variables a user would export.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.servers import S3Lake

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Wide enough that rich neither folds table cells nor wraps help text.
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}


def plain(text: str) -> str:
    """Text without terminal escape codes."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    raw_out: bytes = b""

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}: {self.err}"
        return json.loads(self.out)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


#: A fixture that runs ``crispml`` in this process on the test's home (tests/conftest.py's ``run``).
Run = Callable[..., Result]


def assert_refused(result: Result, code: str, *mentions: str) -> str:
    """Exit 2, exactly one line ``error <code>: …`` on stderr naming ``mentions``, no traceback."""
    assert result.code == 2, f"exit {result.code}; stdout={result.out!r} stderr={result.err!r}"
    assert "Traceback" not in result.out + result.err
    assert len(result.error_lines) == 1, result.err
    line = result.error_lines[0]
    assert line.startswith(f"error {code}: "), line
    for text in mentions:
        assert text in line, f"{text!r} not in {line!r}"
    return line


def run_cli(*args: str, home: Path, env: dict[str, str] | None = None,
            stdin: bytes | None = None, timeout: float = 120) -> Result:
    """``python -m crispml ARGS`` in a child process with CRISPML_HOME=home and nothing else inherited."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRISPML_", "AWS_"))}
    clean.update(WIDE, CRISPML_HOME=str(home), **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "crispml", *args], env=clean, input=stdin,
                          capture_output=True, timeout=timeout, check=False)
    return Result(proc.returncode, plain(proc.stdout.decode("utf-8", "replace")),
                  plain(proc.stderr.decode("utf-8", "replace")), proc.stdout)


def s3_env(lake: S3Lake) -> dict[str, str]:
    """The environment that points crispml's lake at the test S3 server."""
    return {
        "CRISPML_LAKE_URL": lake.url,
        "CRISPML_S3_ENDPOINT_URL": lake.kwargs["s3_endpoint_url"],
        "CRISPML_S3_ACCESS_KEY_ID": lake.kwargs["s3_access_key_id"],
        "CRISPML_S3_SECRET_ACCESS_KEY": lake.kwargs["s3_secret_access_key"],
        "CRISPML_S3_REGION": lake.kwargs["s3_region"],
    }
