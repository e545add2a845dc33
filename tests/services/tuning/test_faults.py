"""Faults: a killed driver is replaced and the search goes on, no trial lost or run twice; a stop stops trials."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from crispml.core.errors import NotFound
from crispml.sdk.client import Client
from crispml.services.tuning.store import TuningJobRow
from tests.services.tuning.support import script_definition, trials, wait

pytestmark = pytest.mark.kill

STEADY = """
import os, time
print(f"loss={os.environ['SM_HP_X']}", flush=True)
time.sleep(1.5)
"""
BLOCKING = """
import os, threading
print(f"loss={os.environ['SM_HP_X']}", flush=True)
threading.Event().wait()
"""


def _config(jobs: int, parallel: int) -> dict[str, object]:
    return {"Strategy": "Bayesian", "RandomSeed": 2,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel},
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}}


def _source(tmp_path: Path, text: str) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(text)
    return source


def _driver(client: Client, name: str) -> tuple[int | None, int]:
    """The pid of the job's driver (None while no driver owns it) and how many drivers it has had."""
    with client.platform.db.read() as session:
        row = session.get(TuningJobRow, name)
        assert row is not None
        return (int(row.owner.split(":")[1]) if row.owner is not None else None), row.drivers


def _until(check: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_killed_driver_is_replaced_and_no_trial_is_lost_or_run_twice(local_home: Client, tmp_path: Path) -> None:
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="phoenix", hyper_parameter_tuning_job_config=_config(6, 2),
        training_job_definition=script_definition(_source(tmp_path, STEADY)))
    _until(lambda: sum(1 for t in trials(local_home, "phoenix") if t.training_end_time is not None) >= 2)
    # the driver has taken the job over (a job that ended meanwhile has none: the wait then fails)
    _until(lambda: _driver(local_home, "phoenix")[1] >= 1 and _driver(local_home, "phoenix")[0] is not None)
    pid, _ = _driver(local_home, "phoenix")
    assert pid is not None, "the job ended before its driver could be killed"
    os.kill(pid, signal.SIGKILL)
    job = wait(local_home, "phoenix")  # the first Describe after the kill starts a new driver
    assert job.hyper_parameter_tuning_job_status == "Completed", job.failure_reason
    assert _driver_count(local_home, "phoenix") >= 2
    listed = trials(local_home, "phoenix")
    names = sorted(t.training_job_name for t in listed)
    assert len(names) == 6 and len(set(names)) == 6
    assert [n.split("-")[1] for n in names] == ["001", "002", "003", "004", "005", "006"]
    jobs = local_home.training.list_training_jobs(name_contains="phoenix-", max_results=100).training_job_summaries
    assert sorted(j.training_job_name for j in jobs) == names  # one training job per trial, none extra
    unfinished = [t for t in listed if t.training_job_status != "Completed"
                  or t.final_hyper_parameter_tuning_job_objective_metric is None]
    assert not unfinished, _explain(local_home, unfinished)
    assert job.training_job_status_counters.completed == 6
    # the new driver's sampler does not draw the first trials' points again (it did, seeded as the first was)
    points = [t.tuned_hyper_parameters["x"] for t in listed]
    assert len(set(points)) == 6, points


def _explain(client: Client, listed: list[Any]) -> str:
    """Each trial as the tuning job recorded it beside its training job as the training service did."""
    lines = []
    for t in listed:
        lines.append(f"trial {t.training_job_name}: {t.training_job_status}, objective "
                     f"{t.final_hyper_parameter_tuning_job_objective_metric}, failure {t.failure_reason!r}")
        try:
            job = client.training.describe_training_job(training_job_name=t.training_job_name)
        except NotFound:
            lines.append("  its training job does not exist")
            continue
        lines.append(f"  training job: {job.training_job_status}/{job.secondary_status}, failure "
                     f"{job.failure_reason!r}, final metrics {job.final_metric_data_list}, transitions "
                     f"{[(s.status, s.status_message) for s in job.secondary_status_transitions]}")
    home = client.platform.settings.home
    for log in (home / "tuning" / "drivers.log", home / "training" / "workers.log"):
        if log.exists() and log.stat().st_size:
            lines.append(f"{log.name} ends with:\n{log.read_text()[-3000:]}")
    return "\n".join(lines)


def _training(client: Client, name: str) -> int:
    """How many of the job's trials are training now (a trial recorded a moment before its training job is
    created has none yet)."""
    count = 0
    for trial in trials(client, name):
        try:
            job = client.training.describe_training_job(training_job_name=trial.training_job_name)
        except NotFound:
            continue
        count += job.secondary_status == "Training"
    return count


def _driver_count(client: Client, name: str) -> int:
    with client.platform.db.read() as session:
        row = session.get(TuningJobRow, name)
        assert row is not None
        return row.drivers


def test_stop_stops_the_running_trials_and_starts_no_more(local_home: Client, tmp_path: Path) -> None:
    local_home.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name="halt", hyper_parameter_tuning_job_config=_config(5, 2),
        training_job_definition=script_definition(_source(tmp_path, BLOCKING)))
    try:
        _until(lambda: _training(local_home, "halt") == 2)
    finally:  # even if the trials never got there: none of them may block for ever after this test
        local_home.tuning.stop_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name="halt")
    job = wait(local_home, "halt")
    assert job.hyper_parameter_tuning_job_status == "Stopped"
    listed = trials(local_home, "halt")
    assert len(listed) == 2 and all(t.training_job_status == "Stopped" for t in listed)
    for t in listed:
        assert local_home.training.describe_training_job(
            training_job_name=t.training_job_name).training_job_status == "Stopped"
    assert job.training_job_status_counters.stopped == 2


def _drivers_of(name: str) -> list[int]:
    """Pids of driver processes of tuning job ``name`` on this host (by their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"crispml.tuningworker" in argv and name.encode() in argv:
            found.append(int(entry.name))
    return found


def test_a_trial_that_cannot_be_created_fails_the_job_and_its_driver_leaves(local_client: Client) -> None:
    from tests.services.tuning.support import xgboost_config, xgboost_definition

    name = f"nodata-{os.getpid()}"[:32]
    local_client.tuning.create_hyper_parameter_tuning_job(  # its channels' bucket does not exist
        hyper_parameter_tuning_job_name=name, hyper_parameter_tuning_job_config=xgboost_config(jobs=3, parallel=1),
        training_job_definition=xgboost_definition())
    job = wait(local_client, name)
    assert job.hyper_parameter_tuning_job_status == "Failed"
    assert job.failure_reason.startswith(f"training job {name}-001-") and "could not be created" in job.failure_reason
    assert job.training_job_status_counters.non_retryable_error == 1  # the one trial tried, no more
    _until(lambda: not _drivers_of(name), timeout=60)
