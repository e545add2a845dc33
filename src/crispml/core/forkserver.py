"""Worker processes forked from a warm parent: ``python -m MODULE ARGS`` without the start-up.

A job's worker (``python -m crispml.jobworker JOB``, ``python -m crispml.transformworker JOB``)
started as a fresh interpreter spends 1.5–3 s of a core importing crispml, its services, pandas,
scikit-learn and xgboost before it does anything; the job itself often takes less. So a process
that starts workers keeps one fork server (``python -m crispml.core.forkserver FD MODULE...``),
which imports those modules once and forks a worker per request, as the standard library's
``forkserver`` start method does and as the serving runtime forks its endpoint instances
(``services/serving/runtime/zygote.py``).

A forked worker is the process :func:`spawn` would otherwise have started with ``subprocess``:
a session of its own, the caller's working directory, the environment it is given (nothing of
the server's), standard input from ``/dev/null``, its output appended to the log it is given,
``sys.argv`` and ``__main__`` as ``python -m`` sets them. It is not the caller's child, as a
worker started with ``start_new_session`` never was one the caller waited for: the fork server
reaps it, and it runs on when the caller and the fork server end (a job outlives the command
that created it). It starts from the server's state after the imports, which holds no
connection, file or id (crispml reads nothing at import time, ids come from ``os.urandom``).

Robust by falling back: a fork server killed since its last fork is replaced at once; one that
cannot start or does not answer is killed and dropped, that worker starts as a fresh interpreter
(the caller blocks on a new server's imports, never on more than :data:`ANSWER_TIMEOUT`), and the
next request starts a new server.
A server imported its modules in the environment, working directory and interpreter the caller
had then; a request made in another (a caller that changed its environment) gets a new server,
so a worker never runs code imported under settings it was not given. The server ends when the
process that started it does (its end of the request socket closes).

A forked worker keeps the server's command line (``ps`` shows ``python -m crispml.core.forkserver
...``): its own shows in its log and in the DB's owner of its job, not in ``/proc/PID/cmdline``.
It does not limit or isolate a worker more than a process does, and is not used for a worker
whose imports must be its own (none is today).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

MODULE = "crispml.core.forkserver"
#: What the job workers' fork server imports (by name: this module imports nothing above core): what a
#: training job's and a batch transform job's worker import before their job starts, the libraries of the
#: built-in algorithms and script frameworks included. A module that cannot be imported is passed over.
JOB_WORKERS = (
    "crispml.platform", "crispml.core.metadb.engine", "crispml.services.training.service",
    "crispml.services.training.executor", "crispml.services.training.container",
    "crispml.services.training.algorithms.xgb", "crispml.services.evaluation.service",
    "crispml.services.serving.service", "numpy", "pandas", "sklearn", "sklearn.ensemble", "xgboost",
    "pyarrow.parquet", "pyarrow.dataset",
)
#: Seconds a request waits for the server's answer (its imports the first time, then a fork).
ANSWER_TIMEOUT = 60.0
#: Variables that do not tell servers apart: the platform's settings (given to each worker), and what
#: scikit-learn's import sets (``setdefault``) in a caller that imported it, as it does in the server.
_UNKEYED = ("CRISPML_WORKER_SETTINGS", "KMP_INIT_AT_FORK", "KMP_DUPLICATE_LIB_OK")
_HEADER = struct.Struct("!I")


def spawn(module: str, args: list[str], *, env: dict[str, str], log: Path, preload: tuple[str, ...]) -> int:
    """Start ``python -m module *args`` with environment ``env`` and its output appended to ``log``, forked
    from this process's fork server for ``preload`` (started on first use), or as a fresh interpreter when
    the fork server cannot serve; the worker's pid. Raises ``OSError`` if neither can start it."""
    for _ in range(2):  # a server killed since its last fork is replaced at once
        server = _server_for(preload, env)
        if server is None:
            break
        pid = server.fork(module, args, env, log)
        if pid is not None:
            return pid
        _drop(server, kill=True)
        if server.fresh:  # a new server that did not answer: this worker starts as a fresh interpreter
            break
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=output, start_new_session=True, close_fds=True)
    return process.pid


_servers: dict[tuple[str, ...], _Server] = {}
_servers_lock = threading.Lock()


def _key(env: dict[str, str]) -> str:
    """What a server's imports depended on: the interpreter, the working directory, the environment."""
    kept = sorted((k, v) for k, v in env.items() if k not in _UNKEYED)
    return hashlib.sha256(json.dumps([sys.executable, os.getcwd(), kept]).encode()).hexdigest()


def _server_for(preload: tuple[str, ...], env: dict[str, str]) -> _Server | None:
    key = _key(env)
    with _servers_lock:
        server = _servers.get(preload)
        if server is not None and (server.key != key or not server.alive()):
            server.stop()
            server = None
        if server is None:
            server = _Server(preload, key, env)
            if not server.start():
                return None
            _servers[preload] = server
        return server


def close() -> None:
    """End this process's fork servers now (they also end when it does); the next :func:`spawn` starts one."""
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()


def _drop(server: _Server, *, kill: bool = False) -> None:
    with _servers_lock:
        if _servers.get(server.preload) is server:
            del _servers[server.preload]
    server.stop(kill=kill)


class _Server:
    """The caller's side of one fork server."""

    def __init__(self, preload: tuple[str, ...], key: str, env: dict[str, str]) -> None:
        self.preload, self.key = preload, key
        self._env = {k: v for k, v in env.items() if k not in _UNKEYED}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: socket.socket | None = None
        self.fresh = True  # until it has forked a worker

    def start(self) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", MODULE, str(theirs.fileno()), *self.preload], env=self._env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        self._requests = ours
        return True

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def fork(self, module: str, args: list[str], env: dict[str, str], log: Path) -> int | None:
        """The pid of a worker forked for the request, or None if the server did not answer."""
        request = json.dumps({"module": module, "args": args, "env": env, "cwd": os.getcwd()}).encode()
        try:
            with log.open("ab") as output, self._lock:
                if self._requests is None:
                    return None
                self._requests.settimeout(ANSWER_TIMEOUT)
                send_request(self._requests, request, [output.fileno()])
                said = read_line(self._requests)
        except OSError:  # killed, or too slow: the caller starts this worker itself
            return None
        if not said.isdigit():
            return None
        self.fresh = False
        return int(said)

    def stop(self, *, kill: bool = False) -> None:
        """End the server: it exits when its request socket closes; one that did not answer is killed first,
        so that it cannot fork a worker for a request the caller has given up on."""
        with self._lock:
            if kill and self._process is not None:
                self._process.kill()
            end_server(self._process, self._requests)
            self._process, self._requests = None, None


# -- what this fork server and the serving runtime's (services/serving/runtime/zygote.py) share ---------------


def read_line(channel: socket.socket) -> bytes:
    """One line from a fork server, byte by byte (what follows it stays in the socket for the next read);
    empty if it closed the socket first."""
    said = b""
    while not said.endswith(b"\n"):
        byte = channel.recv(1)
        if not byte:
            return b""
        said += byte
    return said.strip()


def send_request(requests: socket.socket, message: bytes, fds: list[int]) -> None:
    """Ask a fork server for a fork: the message's length, then the message with ``fds`` (what
    :func:`requests_of` reads on the server's side)."""
    requests.sendall(_HEADER.pack(len(message)))
    socket.send_fds(requests, [message], fds)


def end_server(process: subprocess.Popen[bytes] | None, requests: socket.socket | None) -> None:
    """End a fork server from the caller's side: it exits when its request socket closes (killed if it has not
    within 5 s)."""
    if requests is not None:
        requests.close()
    if process is not None:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def warm_up(modules: list[str] | tuple[str, ...]) -> tuple[int, int]:
    """In a fork server before it serves: import ``modules`` (passing over one that fails: its forked process
    imports it if it must), keep what they made out of the collector's reach (shared with every fork, never
    copied by a collection), and have an ended child wake the server's ``select``; the wake-up pipe's two ends
    (a forked process closes both)."""
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    import gc

    gc.freeze()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    signal.set_wakeup_fd(wake_w)
    return wake_r, wake_w


def requests_of(requests: socket.socket, wake_r: int, fds: int, reap: Callable[[], None]) -> Iterator[
        tuple[bytes, list[int]]]:
    """A fork server's requests (a header with the length, then the message with ``fds`` file descriptors), as
    they come; ``reap`` runs whenever a child may have ended. When the caller closes its end the server exits at
    once, without tearing down what it imported (it holds nothing to flush); its forks run on."""
    while True:
        ready = select.select([requests.fileno(), wake_r], [], [])[0]
        if wake_r in ready:
            os.read(wake_r, 4096)
        reap()
        if requests.fileno() not in ready:
            continue
        header = requests.recv(_HEADER.size, socket.MSG_WAITALL)
        if len(header) < _HEADER.size:
            os._exit(0)
        message, received, _, _ = socket.recv_fds(requests, _HEADER.unpack(header)[0], fds, socket.MSG_WAITALL)
        yield message, list(received)


def ended_children() -> Iterator[tuple[int, int]]:
    """In a fork server: each child that has ended and not been waited for yet, as (pid, wait status), reaped."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def redirect(output_fd: int) -> None:
    """In a forked process: standard input from ``/dev/null``, standard output and error to ``output_fd``
    (then closed)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(devnull)
    os.close(output_fd)


# -- the fork server's side ---------------------------------------------------------------------------------


def serve(requests_fd: int, preload: list[str]) -> NoReturn:
    """Import ``preload``, then fork a worker per request until the caller closes its end (a worker runs and
    exits from within :func:`_become`, never returning here)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the caller's, which ends this server by ending
    wake_r, wake_w = warm_up(preload)
    requests = socket.socket(fileno=requests_fd)
    for message, (output_fd,) in requests_of(requests, wake_r, 1, _reap):
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for fd in (wake_r, wake_w, requests.detach()):
                os.close(fd)
            _become(json.loads(message), output_fd)
        os.close(output_fd)
        with contextlib.suppress(OSError):
            requests.sendall(b"%d\n" % pid)
    raise AssertionError("requests_of ends the process, never the loop")


def _reap() -> None:
    """Wait for the workers that ended, so that none stays a zombie while the server runs."""
    for _pid, _status in ended_children():
        continue


def _become(request: dict[str, Any], output_fd: int) -> NoReturn:
    """In the forked process: the worker's session, directory, output, environment and ``sys.argv``, then
    its module as ``__main__``, then exit as an interpreter exits."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    redirect(output_fd)
    os.environ.clear()
    os.environ.update(request["env"])
    code = 1
    try:
        import runpy

        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException as exc:  # as an interpreter would end on it: the traceback in the log, status 1
        import traceback

        traceback.print_exception(exc)
    # an interpreter's exit without tearing down every module the server imported, as multiprocessing's
    # forked children end: non-daemon threads joined, atexit run, output flushed
    import atexit

    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
