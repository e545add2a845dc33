"""Killing a job's process, its worker, or its creator: the job never stays InProgress; with checkpoints it resumes;
a job no worker had taken when its creator died is run, once."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from crispml.sdk.client import Client
from tests.fixtures.forkserver import spawn
from tests.services.training.support import BUCKET, OUTPUT, script, script_job, wait

pytestmark = pytest.mark.kill

PIDS = """
import os, sys, time
with open({pids!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{os.getppid()}}")
print("waiting to be killed", flush=True)
time.sleep(600)
"""


def _pids(path: Path, timeout: float = 60.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    child, worker = path.read_text().split()
    return int(child), int(worker)


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.02)
    return False


def test_a_killed_job_process_fails_the_job_naming_the_signal(local_home: Client, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script_job(local_home, "killed-child", script(tmp_path / "src", PIDS.format(pids=str(pids))))
    child, _ = _pids(pids)
    os.kill(child, signal.SIGKILL)
    job = wait(local_home, "killed-child")
    assert job.training_job_status == "Failed"
    assert job.failure_reason == "the training process was killed by SIGKILL"


def test_a_killed_worker_takes_its_job_with_it_and_the_next_reader_fails_the_job(
        local_home: Client, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script_job(local_home, "killed-worker", script(tmp_path / "src", PIDS.format(pids=str(pids))))
    child, worker = _pids(pids)
    os.kill(worker, signal.SIGKILL)
    assert _gone(worker) and _gone(child)  # the job's process does not outlive its worker
    job = local_home.training.describe_training_job(training_job_name="killed-worker")
    assert job.training_job_status == "Failed"
    assert "ended without finishing it" in job.failure_reason
    assert [t.status for t in job.secondary_status_transitions][-1] == "Failed"


RESUMABLE = """
import os, time
folder = os.environ["SM_CHECKPOINT_DIR"]
step_file = os.path.join(folder, "step")
start = int(open(step_file).read()) if os.path.exists(step_file) else 0
print(f"resuming at step {{start}}", flush=True)
for step in range(start, 6):
    with open(step_file, "w") as f:
        f.write(str(step + 1))
    print(f"step {{step + 1}}", flush=True)
    if step + 1 == 3 and start == 0:
        with open({pids!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{os.getppid()}}")
        time.sleep(600)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "started_at"), "w") as f:
    f.write(str(start))
"""


def test_a_job_with_checkpoints_resumes_from_them_when_its_worker_dies(local_home: Client, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    checkpoints = f"lake://{BUCKET}/checkpoints/resumable/"
    script_job(local_home, "resumable", script(tmp_path / "src", RESUMABLE.format(pids=str(pids))),
               checkpoint_config={"S3Uri": checkpoints})
    _, worker = _pids(pids)
    deadline = time.monotonic() + 30
    while local_home.fs.exists(f"{checkpoints}step") is False or local_home.fs.cat_file(f"{checkpoints}step") != b"3":
        assert time.monotonic() < deadline, "the checkpoint never reached the lake"
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    assert _gone(worker)
    job = wait(local_home, "resumable")
    assert job.training_job_status == "Completed", job.failure_reason
    statuses = [t.status for t in job.secondary_status_transitions]
    assert statuses[statuses.index("Interrupted"):] == [
        "Interrupted", "Restarting", "Downloading", "Training", "Uploading", "Completed"]
    lines = [line.message for line in local_home.training.get_training_job_logs(
        training_job_name="resumable").lines]
    assert "resuming at step 3" in lines
    assert local_home.fs.cat_file(f"{checkpoints}step") == b"6"


# -- a creator killed while it hands its job to a worker (a tuning job's driver killed as it starts a trial) ---------

_KILLED_CREATOR = textwrap.dedent("""
    import pathlib, sys, threading
    import crispml
    from crispml.services.training import warm

    home, source, output, marker, hand_over = sys.argv[1:6]
    real = warm.launch

    def held(service, name, key):  # the job is recorded; hold before (or just after) it is handed to a worker
        if hand_over == "yes":
            real(service, name, key)
        pathlib.Path(marker).write_text(name)
        threading.Event().wait()  # held here until the test kills this process

    warm.launch = held
    with crispml.connect(home=home) as client:
        client.training.create_training_job(
            training_job_name="orphan", algorithm_specification={"TrainingImage": "python"},
            hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": source},
            input_data_config=[], output_data_config={"S3OutputPath": output})
""")

RUNS = """
import os
with open({runs!r}, "a") as f:
    f.write(f"{{os.getpid()}}\\n")
print("ran", flush=True)
"""


@pytest.mark.parametrize("hand_over", [False, True], ids=["before-handing-over", "after-handing-over"])
def test_a_job_whose_creator_died_before_a_worker_took_it_runs_once(local_home: Client, home: Path, tmp_path: Path,
                                                                    hand_over: bool) -> None:
    runs, marker = tmp_path / "runs", tmp_path / "held"
    source = script(tmp_path / "src", RUNS.format(runs=str(runs)))
    child = spawn(["-c", _KILLED_CREATOR, str(home), str(source), OUTPUT, str(marker), "yes" if hand_over else "no"],
                  stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the creator never recorded its job"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # the next reader finds the creator gone: the job is handed to a worker (again, if the first one has not
    # taken it yet: then one of the two runs it, the other leaves it)
    job = wait(local_home, "orphan")
    assert job.training_job_status == "Completed", job.failure_reason
    statuses = [t.status for t in job.secondary_status_transitions]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert len(runs.read_text().split()) == 1  # run once
