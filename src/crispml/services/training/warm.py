"""Warm pools (SageMaker's ``KeepAlivePeriodInSeconds``): workers kept for the next job, and starting one.

A job's worker is a process with the platform open and the job's libraries
imported. Without a keep-alive period it ends with its job. With one, it
registers itself (``training_warm_workers``: its pool key — the algorithm or
framework, CPUs and memory limit — and a Unix socket in Linux's abstract
namespace) and waits that long for a job with the same key; the job it ran
shows ``WarmPoolStatus`` ``Available``, then ``Reused`` (naming the job
that took the worker) or ``Terminated``.

:func:`launch` starts a job: it claims an available worker of the job's key
— one ``UPDATE … WHERE status = 'Available'``, so two jobs never claim the
same worker — and hands it the job's name over the socket; if there is none,
or the one claimed is gone, it starts a new worker process (forked from this process's fork server,
``core/forkserver.py``, which has the workers' libraries imported already). The worker forks
a fresh process for each job (``executor.py``), so a reused worker carries
nothing of its previous job: each job starts from the worker's state as it
was before any job ran.
"""

from __future__ import annotations

import contextlib
import json
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crispml.core import forkserver
from crispml.core.config import settings_environment
from crispml.core.ids import new_id
from crispml.core.owners import owner_alive, process_owner
from crispml.services.training import ends
from crispml.services.training.store import TrainingJobRow, WarmWorkerRow

if TYPE_CHECKING:
    from crispml.services.training.service import TrainingService

#: The module a new worker runs (``python -m``); it opens the platform from the settings it is given.
WORKER_MODULE = "crispml.jobworker"
#: The environment variable carrying the platform's settings to a new worker, as JSON.
#: Seconds a worker whose period ended still waits for a job that claimed it just then.
CLAIM_GRACE_SECONDS = 5.0


def pool_key(algorithm: str | None, framework: str | None, cpus: int, memory_mb: int | None) -> str:
    kind = f"algorithm/{algorithm}" if algorithm else f"script/{framework}"
    return f"{kind}|cpus={cpus}|memory={memory_mb or 'none'}"


def launch(service: TrainingService, name: str, key: str) -> str:
    """Start job ``name`` on a warm worker of pool ``key``, or on a new worker; the worker's owner name."""
    owner = _claim(service, name, key)
    return owner if owner is not None else spawn(service, name)


def spawn(service: TrainingService, name: str) -> str:
    settings = service.runtime.settings
    env = settings_environment(settings)
    log = settings.home / "training" / "workers.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pid = forkserver.spawn(WORKER_MODULE, [name], env=env, log=log, preload=forkserver.JOB_WORKERS)
    return f"{socket.gethostname()}:{pid}"


def _claim(service: TrainingService, name: str, key: str) -> str | None:
    now = service.clock.now()
    with service.db.read() as session:
        candidates = session.scalars(select(WarmWorkerRow).where(
            WarmWorkerRow.pool_key == key, WarmWorkerRow.status == "Available",
            WarmWorkerRow.expires_at > now).order_by(WarmWorkerRow.available_since)).all()
    for candidate in candidates:
        if not owner_alive(candidate.owner):
            _retire(service, candidate.worker_id)
            continue

        def take(session: Session, worker_id: str = candidate.worker_id) -> bool:
            result = session.execute(update(WarmWorkerRow).where(
                WarmWorkerRow.worker_id == worker_id, WarmWorkerRow.status == "Available").values(
                status="InUse", claimed_by=name))
            return bool(result.rowcount)  # type: ignore[attr-defined]
        if not service._writing(take):
            continue
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(CLAIM_GRACE_SECONDS)
                conn.connect(_socket_address(candidate.address))
                conn.sendall(name.encode() + b"\n")
                if conn.recv(16).strip() != b"ok":
                    raise OSError("the worker did not take the job")
        except OSError:
            _retire(service, candidate.worker_id)
            continue
        _mark_previous(service, candidate.last_job, {"status": "Reused", "reused_by_job": name}, now)
        return candidate.owner
    return None


def _retire(service: TrainingService, worker_id: str) -> None:
    service._writing(lambda session: session.execute(update(WarmWorkerRow).where(
        WarmWorkerRow.worker_id == worker_id).values(status="Terminated")))


def _mark_previous(service: TrainingService, job: str | None, status: dict[str, object], now: datetime) -> None:
    if job is None:
        return

    def work(session: Session) -> None:
        row = session.get(TrainingJobRow, job, with_for_update=True)
        if row is not None:
            row.warm_pool_status = json.dumps(status)
            row.modified_at = now
    service._writing(work)


def wait_for_job(service: TrainingService, last_job: str, key: str, keep_alive: int) -> str | None:
    """In a worker whose job ended: stay available for ``keep_alive`` seconds; the next job's name, if one
    claims this worker."""
    worker_id = new_id("worker")
    address = f"\0crispml-{worker_id}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(1)
    now = service.clock.now()
    service._writing(lambda session: session.add(WarmWorkerRow(
        worker_id=worker_id, pool_key=key, status="Available", owner=process_owner(), address=_stored(address),
        last_job=last_job, available_since=now, expires_at=now + timedelta(seconds=keep_alive))))
    _mark_previous(service, last_job, {"status": "Available"}, now)
    ends.announce(service.runtime.settings.home, last_job)  # a tuning job's driver refills the slot now
    try:
        server.settimeout(keep_alive)
        with contextlib.suppress(TimeoutError):  # no job came: the period is over
            return _accept(server)

        def expire(session: Session) -> bool:
            result = session.execute(update(WarmWorkerRow).where(
                WarmWorkerRow.worker_id == worker_id, WarmWorkerRow.status == "Available").values(
                status="Terminated"))
            return bool(result.rowcount)  # type: ignore[attr-defined]
        if service._writing(expire):
            _mark_previous(service, last_job, {"status": "Terminated",
                                               "resource_retained_billable_time_in_seconds": keep_alive},
                           service.clock.now())
            return None
        server.settimeout(CLAIM_GRACE_SECONDS)  # claimed just as the period ended: the job is on its way
        try:
            return _accept(server)
        except TimeoutError:
            return None
    finally:
        server.close()
        _retire(service, worker_id)


def _stored(address: str) -> str:
    """An abstract socket address as the DB keeps it: ``@name`` (PostgreSQL's text holds no NUL byte)."""
    return "@" + address[1:] if address.startswith("\0") else address


def _socket_address(stored: str) -> str:
    return "\0" + stored[1:] if stored.startswith("@") else stored


def _accept(server: socket.socket) -> str:
    conn, _ = server.accept()
    with conn:
        conn.settimeout(CLAIM_GRACE_SECONDS)
        name = b""
        while not name.endswith(b"\n"):
            chunk = conn.recv(256)
            if not chunk:
                break
            name += chunk
        conn.sendall(b"ok\n")
    return name.decode().strip()
