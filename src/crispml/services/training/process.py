"""The job's own process: forked from the worker, watched until it ends, held to its limits.

:func:`start` forks the process that runs the job (``container.py``) with
its output on a pipe, in a process group of its own, set to die with the
worker. :class:`Watch` follows it: its exit status, its resident memory
(sampled: the standard library and the kernel offer an unprivileged process
no per-job limit that counts only resident memory), its run time, and a stop
— SIGTERM to the group, then SIGKILL after :data:`STOP_GRACE_SECONDS` — and
turns all that into the job's :class:`Outcome`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crispml.services.training.layout import Layout

if TYPE_CHECKING:
    from crispml.services.training.specs import CreateTrainingJobRequest

#: Time a stopped job has between SIGTERM and SIGKILL.
STOP_GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass
class Outcome:
    status: str  # Completed | Failed | Stopped
    secondary: str
    reason: str | None = None
    peak_mb: float = 0.0


def start(layout: Layout, request: CreateTrainingJobRequest, cores: list[int]) -> tuple[int, int]:
    """Fork the job's process, to run on ``cores``; its pid and the read end of its output pipe."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(layout, request, cores, write_end)
    os.close(write_end)
    return pid, read_end


def _child(layout: Layout, request: CreateTrainingJobRequest, cores: list[int], write_end: int) -> None:
    """The forked job process: never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        _die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        from crispml.services.training import container

        code = container.run(layout, algorithm=request.algorithm_specification.algorithm_name,
                             hyperparameters=request.hyper_parameters, cores=cores, env=request.environment)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the worker dies (a job never outlives its worker)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: a killed worker leaves its job to the reader
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Watch:
    """The job's process: its end, its limits, its stop."""

    def __init__(self, pid: int, started: float, max_runtime: int, limit_mb: int | None) -> None:
        self.pid = pid
        self.started = started
        self.max_runtime = max_runtime
        self.limit_mb = limit_mb
        self.status: int | None = None
        self.stop_reason: str | None = None
        self.stop_at: float | None = None
        self.killed_at: float | None = None
        self.peak_mb = 0.0

    def poll(self) -> bool:
        done, status, usage = os.wait4(self.pid, os.WNOHANG)
        if done:
            self.status = status
            self.peak_mb = max(self.peak_mb, usage.ru_maxrss / 1024)
            return True
        return False

    def check_limits(self, now: float) -> None:
        resident = _resident_mb(self.pid)
        self.peak_mb = max(self.peak_mb, resident)
        if self.stop_reason is None:
            if self.limit_mb is not None and resident > self.limit_mb:
                self.stop_reason = "memory"
                self._signal(signal.SIGKILL)
                self.killed_at = now
            elif now - self.started > self.max_runtime:
                self.stop("runtime", now)
        elif self.killed_at is None and self.stop_at is not None and now - self.stop_at > STOP_GRACE_SECONDS:
            self._signal(signal.SIGKILL)
            self.killed_at = now

    def stop(self, reason: str, now: float) -> None:
        self.stop_reason = reason
        self.stop_at = now
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:  # it has just ended
            return

    def outcome(self, layout: Layout) -> Outcome:
        status = self.status or 0
        peak = self.peak_mb
        if self.stop_reason == "memory":
            return Outcome("Failed", "Failed", f"the job's memory exceeded its limit of {self.limit_mb} MB "
                                               f"(MemoryLimitInMB; peak {peak:.0f} MB) and it was stopped", peak)
        if self.stop_reason == "runtime":
            return Outcome("Stopped", "MaxRuntimeExceeded", f"the job ran longer than MaxRuntimeInSeconds "
                                                            f"({self.max_runtime} s)", peak)
        if self.stop_reason == "stopped":
            return Outcome("Stopped", "Stopped", None, peak)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return Outcome("Completed", "Completed", None, peak)
        failure = layout.failure_file.read_text().strip() if layout.failure_file.exists() else ""
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            reason = f"the training process was killed by {name}" + (f": {failure}" if failure else "")
        else:
            reason = failure or f"the training process exited with status {os.WEXITSTATUS(status)}"
        return Outcome("Failed", "Failed", reason, peak)


def _tree(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    queue += [int(c) for c in handle.read().split()]
        except OSError:
            continue
    return found


def _status_mb(pid: int, field: str) -> float:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as handle:  # OSError: the process has ended
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def _resident_mb(pid: int) -> float:
    return sum(_status_mb(p, "VmRSS:") for p in _tree(pid))

