from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_cpu_per_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs trained in a test's process get one thread: the suite already runs a worker per core, and OpenMP
    libraries spinning on more threads than cores slow every test down many times over."""
    monkeypatch.setenv("SM_NUM_CPUS", "1")
