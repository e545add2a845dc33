"""Which cores a job runs on: a home's running jobs share the machine's cores out, the least-taken first.

A job is held to its CPUs (``ResourceConfig.Cpus``) by its affinity
(``container.limit_cpus``). Which cores matters as much as how many: held to
the first ones, two 1-CPU jobs — two tuning trials in parallel on two cores —
shared core 0 and left core 1 idle. So the worker takes its job's cores
before it forks the job, and gives them back when the job has ended.

A core is taken at a *level*: its first job takes it at level 0, a second one
running on it at the same time at level 1, and so on. A job takes the free
cores of the lowest level first, so jobs spread over idle cores, and when
every core is busy they pile up evenly. Taking core ``c`` at level ``l`` is
binding an abstract Unix socket whose name says the home, ``c`` and ``l``:
the kernel lets one process hold a name and frees it when that process ends,
even killed, so nothing is left to clean and no two workers take the same
place (the warm pools name their workers' sockets the same way, ``warm.py``).
The names are the home's: another home's jobs on the same machine are not
counted (one home a machine is the usual case, and tests keep to their own).
Where no name can be bound at all, a job gets the first cores.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

#: Levels a core is taken at before a job stops looking (and takes the first cores, untracked).
MAX_LEVEL = 64


class Cores:
    """The cores one job runs on, held (their sockets open) until :meth:`release`."""

    def __init__(self, cores: list[int], held: list[socket.socket]) -> None:
        self.cores = cores
        self._held = held

    def release(self) -> None:
        for held in self._held:
            held.close()
        self._held = []


def home_tag(home: Path) -> str:
    """A short name of home ``home`` for the abstract socket names of its jobs (here and ``ends.py``)."""
    return hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]


def take(home: Path, cpus: int) -> Cores:
    """``cpus`` of this process's allowed cores for a job of home ``home``: the least-taken ones, lowest
    numbers first among equals, held until :meth:`Cores.release` or this process's end."""
    allowed = sorted(os.sched_getaffinity(0))
    wanted = min(max(cpus, 1), len(allowed))
    tag = home_tag(home)
    chosen: list[int] = []
    held: list[socket.socket] = []
    for level in range(MAX_LEVEL):
        for core in allowed:
            if len(chosen) == wanted:
                return Cores(sorted(chosen), held)
            if core in chosen:
                continue
            claim = _claim(f"\0crispml-core-{tag}-{core}-{level}")
            if claim is not None:
                chosen.append(core)
                held.append(claim)
    if len(chosen) == wanted:
        return Cores(sorted(chosen), held)
    chosen += [core for core in allowed if core not in chosen][: wanted - len(chosen)]
    return Cores(sorted(chosen), held)


def _claim(name: str) -> socket.socket | None:
    try:
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except (OSError, AttributeError):  # no Unix sockets here
        return None
    try:
        claim.bind(name)
    except OSError:  # taken (EADDRINUSE), or no abstract namespace on this system
        claim.close()
        return None
    return claim

