"""core/forkserver.py: workers forked from a warm parent, and the fresh start it falls back on.

Real processes: a small module in the test's folder is the worker; it writes down what it sees
(its arguments, directory, environment, session, parent, where its output goes).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from crispml.core import forkserver

WORKER = '''
import json, os, sys
print("worker output")
print("worker error", file=sys.stderr)
with open(sys.argv[1], "w") as handle:
    json.dump({"argv": sys.argv[2:], "cwd": os.getcwd(), "flag": os.environ.get("FLAG"), "sid": os.getsid(0),
               "pid": os.getpid(), "ppid": os.getppid(), "main": __name__,
               "preloaded": "fs_test_preload" in sys.modules}, handle)
raise SystemExit(3)
'''


@pytest.fixture
def folder(tmp_path: Path) -> Any:
    (tmp_path / "fs_test_worker.py").write_text(WORKER)
    (tmp_path / "fs_test_preload.py").write_text("LOADED = True\n")
    yield tmp_path
    forkserver.close()


def _env(folder: Path, **more: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(folder), **more}


def _report(path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, "the worker never reported"
        time.sleep(0.02)
    time.sleep(0.05)  # written whole before its output was flushed at exit
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _server_pids(preload: tuple[str, ...] = ("fs_test_preload",)) -> list[int]:
    """The pids of this process's servers for ``preload`` (another test of this worker may hold the job
    workers' server)."""
    return [s._process.pid for s in forkserver._servers.values() if s._process is not None and s.preload == preload]


def test_a_worker_is_forked_from_the_server_as_python_m_would_start_it(folder: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "workers.log"
    monkeypatch.chdir(folder)
    preload = ("fs_test_preload",)
    pid = forkserver.spawn("fs_test_worker", [str(tmp_path / "one.json"), "job-1", "x y"], env=_env(folder, FLAG="a"),
                           log=log, preload=preload)
    got = _report(tmp_path / "one.json")
    (server,) = _server_pids()
    assert got["pid"] == pid and got["ppid"] == server  # forked by the server, not started by this process
    assert got["sid"] == pid  # a session of its own, as start_new_session gives
    assert (got["argv"], got["cwd"], got["flag"], got["main"]) == (["job-1", "x y"], str(folder), "a", "__main__")
    assert got["preloaded"]  # the server's imports are the worker's
    pid2 = forkserver.spawn("fs_test_worker", [str(tmp_path / "two.json"), "job-2"], env=_env(folder, FLAG="a"),
                            log=log, preload=preload)
    assert _report(tmp_path / "two.json")["ppid"] == server and pid2 != pid  # the same server, a new worker
    deadline = time.monotonic() + 30
    while "worker error" not in log.read_text() or log.read_text().count("worker output") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # another environment is another server: its imports may depend on it
    forkserver.spawn("fs_test_worker", [str(tmp_path / "three.json")], env=_env(folder, FLAG="b"), log=log,
                     preload=preload)
    third = _report(tmp_path / "three.json")
    assert third["flag"] == "b" and third["ppid"] != server and _server_pids() == [third["ppid"]]


@pytest.mark.kill
def test_a_killed_server_is_replaced_and_a_silent_one_is_passed_over(folder: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "workers.log"
    preload = ("fs_test_preload",)
    forkserver.spawn("fs_test_worker", [str(tmp_path / "one.json")], env=_env(folder), log=log, preload=preload)
    first = _report(tmp_path / "one.json")["ppid"]
    os.kill(first, signal.SIGKILL)
    forkserver.spawn("fs_test_worker", [str(tmp_path / "two.json")], env=_env(folder), log=log, preload=preload)
    second = _report(tmp_path / "two.json")["ppid"]
    assert second != first and _server_pids() == [second]

    # a server that never answers (its imports hang): the worker starts as a fresh interpreter, the server is
    # killed (it cannot fork the worker late), and the next request starts another
    (folder / "fs_test_hang.py").write_text("import threading\nthreading.Event().wait()\n")
    monkeypatch.setattr(forkserver, "ANSWER_TIMEOUT", 1.0)
    pid = forkserver.spawn("fs_test_worker", [str(tmp_path / "three.json")], env=_env(folder), log=log,
                           preload=("fs_test_hang",))
    got = _report(tmp_path / "three.json")
    assert got["pid"] == pid and not got["preloaded"] and got["sid"] == pid
    assert "fs_test_hang" not in {s.preload[0] for s in forkserver._servers.values()}
