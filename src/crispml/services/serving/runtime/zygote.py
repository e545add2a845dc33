"""Endpoint instances forked from a warm parent: the serving runtime's fork server.

A new instance process spends 2–3 s of a core importing what it needs before it
loads its model: the registry's inference runtime, numpy, xgboost (which
imports scikit-learn, SciPy and pandas), the HTTP server. The runtime starts
instances often — two per variant behind an update, one more per scale-out
step, one for each that crashed — so it keeps one process
(``python -m crispml.services.serving.runtime.instance --zygote``) that imports
those once and forks each instance from there, as the standard library's
``forkserver`` start method does. The runtime's supervisor starts it beside
itself (:class:`Zygote`), so its imports overlap the runtime's own start.

A forked instance is the process :func:`instance.start` would have started:
the same module runs its ``main`` with the same ``CRISPML_INSTANCE*``
variables, its output appended to its log, its listening socket handed over
as a file descriptor, and it exits when the supervisor dies. The fork server
reaps it and tells the supervisor how it ended over a socket of its own
(:class:`Forked`, the part of ``subprocess.Popen`` the supervisor uses). The
fork server ends when the supervisor does (its end of the request socket
closes); a fork server killed on its own takes its instances with it, and the
supervisor replaces them as it replaces any instance that exits.

The plumbing it shares with the job workers' fork server (the warm-up, the
request loop, reaping, the caller's end of it) is in ``core/forkserver.py``.

It does not isolate instances more than a process does, nor start a batch
transform's instances: each transform job's worker starts its one or two with
:func:`instance.start`, where a fork server would save nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from crispml.core.forkserver import (
    end_server,
    ended_children,
    read_line,
    redirect,
    requests_of,
    send_request,
    warm_up,
)
from crispml.services.serving.runtime.instance import CONFIG_VARIABLE, FD_VARIABLE, MODULE, PARENT_VARIABLE

#: The argument that makes the instance module a fork server.
FLAG = "--zygote"
#: What the fork server imports before it forks: what every instance imports (a missing optional library is
#: passed over; the instance that needs it imports it itself, as it would unforked).
PRELOAD = ("crispml.services.registry.service", "crispml.services.serving.runtime.server", "numpy", "xgboost",
           "crispml.services.training.algorithms.xgb")


class Forked:
    """An instance forked by the fork server: its pid, and how it ended, as ``subprocess.Popen`` gives them."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._channel = channel

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._channel], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._channel], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(MODULE, timeout or 0.0)
            self._ended()
        assert self.returncode is not None
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def _ended(self) -> None:
        said = read_line(self._channel)
        self._channel.close()
        if said:
            self.returncode = int(said)
            return
        # the fork server died without saying: the instance is no longer anyone's child to wait for, so it
        # is ended here and replaced like any instance that exits
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.returncode = -signal.SIGKILL


class Zygote:
    """The supervisor's side: starts the fork server (in the background) and asks it for instances."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: socket.socket | None = None

    def start(self) -> None:
        """Start the fork server if it does not run; it imports while the caller goes on."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with self._log.open("ab") as output:
                    self._process = subprocess.Popen(
                        [sys.executable, "-m", MODULE, FLAG, str(theirs.fileno())], stdin=subprocess.DEVNULL,
                        stdout=output, stderr=output, pass_fds=(theirs.fileno(),))
            finally:
                theirs.close()
            if self._requests is not None:
                self._requests.close()
            self._requests = ours

    def fork(self, description: dict[str, Any], log: Path) -> tuple[Forked, int]:
        """An instance of the model ``description`` names, its output appended to ``log``: its process and
        port (bound here, as :func:`instance.start` binds it)."""
        self.start()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(2048)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with log.open("ab") as output, self._lock:
                assert self._requests is not None
                request = json.dumps({CONFIG_VARIABLE: json.dumps(description),
                                      PARENT_VARIABLE: str(os.getpid())}).encode()
                send_request(self._requests, request, [theirs.fileno(), listener.fileno(), output.fileno()])
            port = listener.getsockname()[1]
        finally:
            theirs.close()
            listener.close()
        said = read_line(ours)  # the pid once forked (after the server's imports, the first time)
        if not said:
            ours.close()
            raise OSError(f"the instances' fork server ended; see {self._log}")
        return Forked(int(said), ours), port

    def stop(self) -> None:
        with self._lock:
            end_server(self._process, self._requests)  # the server sees its request socket close and exits
            self._process, self._requests = None, None


# -- the fork server's side ---------------------------------------------------------------------------------


def serve(requests_fd: int) -> NoReturn:
    """The fork server's loop: import :data:`PRELOAD`, then fork an instance per request until the supervisor
    closes its end (a forked instance runs and exits from within it, never returning here)."""
    wake_r, wake_w = warm_up(PRELOAD)
    requests = socket.socket(fileno=requests_fd)
    channels: dict[int, socket.socket] = {}
    # until the supervisor ends (or stops): then this process exits at once
    for message, (channel_fd, listener_fd, output_fd) in requests_of(requests, wake_r, 3, lambda: _reap(channels)):
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (wake_r, wake_w, requests.detach(), channel_fd, *(c.detach() for c in channels.values())):
                os.close(fd)
            _become_instance(json.loads(message), listener_fd, output_fd)
        os.close(listener_fd)
        os.close(output_fd)
        channel = socket.socket(fileno=channel_fd)
        channels[pid] = channel
        with contextlib.suppress(OSError):
            channel.sendall(b"%d\n" % pid)
    raise AssertionError("requests_of ends the process, never the loop")


def _reap(channels: dict[int, socket.socket]) -> None:
    """Tell the supervisor how each instance that ended did."""
    for pid, status in ended_children():
        channel = channels.pop(pid, None)
        if channel is not None:
            with contextlib.suppress(OSError):
                channel.sendall(b"%d\n" % os.waitstatus_to_exitcode(status))
            channel.close()


def _become_instance(variables: dict[str, str], listener_fd: int, output_fd: int) -> NoReturn:
    """In the forked process: the instance's output, variables and socket, then its ``main``, then exit."""
    from crispml.services.serving.runtime import instance

    redirect(output_fd)
    os.environ.update({**variables, FD_VARIABLE: str(listener_fd)})
    code = 1
    try:
        code = instance.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # as an interpreter would end on it: the traceback in the log, status 1
        import traceback

        traceback.print_exception(exc)
    # an interpreter's exit without tearing down every module the server imported (half a second), as
    # multiprocessing's forked children end: non-daemon threads joined, output flushed
    threading._shutdown()  # type: ignore[attr-defined]
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
