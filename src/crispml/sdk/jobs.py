"""Following a training job from the client side: its log lines as they come, and waiting for its end.

A job runs in another process, so a caller can only poll: ``GetTrainingJobLogs``
(which also returns the job's status, so one call serves both) or
``DescribeTrainingJob``, with a short backoff that starts again from its
shortest sleep whenever something new arrived. A job is over when its status
is terminal *and* a read finds no new lines: the worker sends its last lines
before it records the end, so nothing is missed. What the SageMaker SDK does
with ``logs_for_job`` and ``wait_for_job``; the CLI (``crispml training logs
--follow``, ``--wait``) and the estimator both follow jobs through here.

It does not render anything: callers print lines and statuses as they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from crispml.core.errors import Conflict

#: Statuses a training job does not leave.
TERMINAL = ("Completed", "Failed", "Stopped")
#: Shortest and longest sleep between two polls.
MIN_DELAY, MAX_DELAY = 0.2, 1.0


class UnexpectedStatusException(Conflict, ValueError):
    """A job waited for ended in a status the caller did not accept (the SageMaker SDK's name).

    Its details (kept by a remote SDK, too) name the job, ``actual_status`` and ``allowed_statuses``; ``job``
    is the job's description when it was raised here.
    """

    code = "UnexpectedStatusException"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.job: Any = None

    @property
    def actual_status(self) -> str | None:
        return self.details.get("actual_status")

    @property
    def allowed_statuses(self) -> tuple[str, ...]:
        return tuple(self.details.get("allowed_statuses", ()))


@dataclass
class Backoff:
    """Sleeps growing from ``MIN_DELAY`` to ``MAX_DELAY``; :meth:`reset` when something new arrived."""

    delay: float = MIN_DELAY
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def wait(self) -> None:
        self.sleep(self.delay)
        self.delay = min(self.delay * 1.5, MAX_DELAY)

    def reset(self) -> None:
        self.delay = MIN_DELAY


@dataclass(frozen=True)
class Progress:
    """One poll of a job: its statuses and the log lines new since the previous poll."""

    status: str
    secondary_status: str
    lines: list[Any]  # LogLine: timestamp, message

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def follow(client: Any, name: str, *, logs: bool = True, keep_going: bool = True,
           limit: int = 1000) -> Iterator[Progress]:
    """Poll job ``name`` until it is over (or, with ``keep_going=False``, until it has no more lines now).

    With ``logs`` each :class:`Progress` carries the lines new since the one before; without, it polls
    DescribeTrainingJob only (cheaper when nobody reads the lines).
    """
    token: str | None = None
    backoff = Backoff()
    while True:
        if logs:
            page = client.training.get_training_job_logs(training_job_name=name, next_token=token, limit=limit)
            token = page.next_token or token
            progress = Progress(page.training_job_status, page.secondary_status, list(page.lines))
        else:
            job = client.training.describe_training_job(training_job_name=name)
            progress = Progress(job.training_job_status, job.secondary_status, [])
        yield progress
        if progress.lines:
            backoff.reset()
            if len(progress.lines) >= limit or progress.terminal:
                continue  # more may be waiting: read again at once
        elif progress.terminal or not keep_going:
            return
        if not keep_going:
            continue
        backoff.wait()


def wait_for_training_job(client: Any, name: str, *, logs: bool = False,
                          on_progress: Callable[[Progress], None] | None = None,
                          allowed: tuple[str, ...] = ("Completed",)) -> Any:
    """Wait until job ``name`` is over and return its description.

    ``on_progress`` sees every poll (with the new log lines when ``logs``). A job that ends in a status
    not in ``allowed`` raises :class:`UnexpectedStatusException` with its failure reason, after
    ``on_progress`` has seen its end.
    """
    for progress in follow(client, name, logs=logs):
        if on_progress is not None:
            on_progress(progress)
    job = client.training.describe_training_job(training_job_name=name)
    check_status(job, allowed)
    return job


def check_status(job: Any, allowed: tuple[str, ...] = ("Completed",)) -> None:
    """Raise :class:`UnexpectedStatusException` if ``job`` (a description) ended outside ``allowed``."""
    status = job.training_job_status
    if status in allowed:
        return
    reason = f": {job.failure_reason}" if job.failure_reason else ""
    what = "MaxRuntimeExceeded" if job.secondary_status == "MaxRuntimeExceeded" else status
    error = UnexpectedStatusException(
        f"training job {job.training_job_name!r} ended {what}{reason}", training_job_name=job.training_job_name,
        actual_status=status, allowed_statuses=list(allowed))
    error.job = job
    raise error
