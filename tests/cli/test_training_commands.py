"""``crispml training logs|wait`` and ``create-training-job --wait`` on real script jobs (each ~1 s).

The CLI runs in this process (``run``); the jobs run in their worker processes, as for users. One test
sends Ctrl-C to a real ``crispml`` process following a job's logs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from crispml.sdk.client import Client
from tests.cli.support import WIDE, Run
from tests.services.training.support import BUCKET, OUTPUT, script, script_job, wait

COUNTING = """
import os, time
for i in range(4):
    print(f"step {i} loss={1 / (i + 1):.4f}", flush=True)
    time.sleep(0.1)
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("ok")
"""
FAILING = """
print("reading the data", flush=True)
raise SystemExit("column 'y' is missing")
"""


@pytest.fixture
def trainer(local_client: Client) -> Client:
    local_client.lake.create_bucket(bucket=BUCKET)
    return local_client


def _create_args(name: str, source: Path, *more: str) -> list[str]:
    return ["training", "create-training-job", "--training-job-name", name,
            "--algorithm-specification",
            json.dumps({"TrainingImage": "python",
                        "MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}]}),
            "--hyper-parameters", json.dumps({"sagemaker_program": "train.py",
                                              "sagemaker_submit_directory": str(source)}),
            "--output-data-config", json.dumps({"S3OutputPath": OUTPUT}), *more]


def test_logs_follow_prints_every_line_as_the_job_runs_and_ends_with_it(trainer: Client, run: Run,
                                                                         tmp_path: Path) -> None:
    created = run(*_create_args("counting", script(tmp_path / "src", COUNTING), "-o", "json"))
    assert created.json() == {"training_job_arn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/counting"}
    followed = run("training", "logs", "counting", "--follow")
    assert followed.code == 0, followed.err
    steps = [line for line in followed.out.splitlines() if "step " in line]
    assert [line.split("  ", 1)[1] for line in steps] == [f"step {i} loss={1 / (i + 1):.4f}" for i in range(4)]
    # --follow returns only once the job is over and its last lines were read
    assert trainer.training.describe_training_job(training_job_name="counting").training_job_status == "Completed"
    as_json = run("training", "logs", "counting", "--output", "json")
    records = [json.loads(line) for line in as_json.out.splitlines()]
    assert [r["message"] for r in records if r["message"].startswith("step")] == [
        f"step {i} loss={1 / (i + 1):.4f}" for i in range(4)]
    assert all("timestamp" in r for r in records)


def test_create_with_wait_shows_progress_and_the_outcome(trainer: Client, run: Run, tmp_path: Path) -> None:
    result = run(*_create_args("waited", script(tmp_path / "src", COUNTING), "--wait"))
    assert result.code == 0, result.err
    assert "arn:" not in result.out  # the outcome, not the ARN
    assert "Completed (Completed)" in result.out
    assert f"{OUTPUT}waited/output/model.tar.gz" in result.out
    assert "train:loss" in result.out and "0.25" in result.out  # the final metrics' table
    assert "  step 3 loss=0.2500" in result.err.splitlines()  # progress (plain: not a terminal) on stderr
    assert "waited: Completed - Completed" in result.err
    described = run("training", "wait", "waited", "-o", "json").json()
    assert described["training_job_status"] == "Completed"
    assert described["final_metric_data_list"][0]["value"] == pytest.approx(0.25)


def test_a_failed_job_ends_wait_with_exit_code_2_and_its_reason(trainer: Client, run: Run, tmp_path: Path) -> None:
    result = run(*_create_args("broken", script(tmp_path / "src", FAILING), "--wait"))
    assert result.code == 2
    assert "Traceback" not in result.out + result.err
    assert "Failed (Failed)" in result.out and "column 'y' is missing" in result.out
    assert result.error_lines[-1].startswith("error UnexpectedStatusException: training job 'broken' ended Failed: ")
    assert "column 'y' is missing" in result.error_lines[-1]
    as_json = run("training", "wait", "broken", "-o", "json")
    assert as_json.code == 2 and json.loads(as_json.out)["training_job_status"] == "Failed"
    assert as_json.error_lines == [result.error_lines[-1]]  # nothing but the error on stderr


def test_the_training_group_lists_its_shell_commands_and_create_keeps_its_options(run: Run) -> None:
    group = run("training", "--help")
    assert group.code == 0
    for command in ("logs", "wait", "create-training-job", "describe-training-job", "list-training-jobs"):
        assert f" {command} " in group.out
    create = run("training", "create-training-job", "--help")
    for option in ("--training-job-name", "--algorithm-specification", "--hyper-parameters",
                   "--input-data-config", "--output-data-config", "--output", "--wait"):
        assert option in create.out


BLOCKING = """
import threading
print("waiting for ever", flush=True)
threading.Event().wait()
"""


def test_ctrl_c_ends_logs_follow_cleanly(trainer: Client, home: Path, tmp_path: Path) -> None:
    script_job(trainer, "forever", script(tmp_path / "src", BLOCKING))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISPML_", "AWS_"))}
    env.update(WIDE, CRISPML_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "crispml", "training", "logs", "forever", "--follow"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the job's line arrived: the command is in its polling loop
            if "waiting for ever" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        trainer.training.stop_training_job(training_job_name="forever")
    assert proc.returncode == 130
    assert "Traceback" not in err, err
    assert wait(trainer, "forever").training_job_status == "Stopped"
