"""Script jobs end to end: the SageMaker container contract, artifacts, logs, metrics, failures and limits."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.services.training.support import BUCKET, OUTPUT, prefix_channel, script, script_job, wait

CONTRACT = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--rate", type=float)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
args = parser.parse_args()
seen = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
rows = []
for name in sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])):
    with open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], name)) as f:
        rows += [line.strip() for line in f if line.strip()]
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={1.0 / (epoch + 1):.4f}")
with open(os.path.join(args.model_dir, "model.json"), "w") as f:
    json.dump({"rows": rows, "epochs": args.epochs, "rate": args.rate, "argv": sys.argv[1:], "env": seen,
               "cores": len(os.sched_getaffinity(0)), "omp": os.environ["OMP_NUM_THREADS"],
               "mine": os.environ["MY_SETTING"]}, f)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "extra.txt"), "w") as f:
    f.write("output data")
"""


def _model(client: Client, uri: str) -> dict[str, object]:
    data = client.fs.cat_file(uri)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def test_a_script_job_runs_with_the_sagemaker_contract_and_leaves_model_tar_gz(home_client: Client,
                                                                              tmp_path: Path) -> None:
    client = home_client
    client.fs.pipe_file(f"{BUCKET}/data/train/a.csv", b"1,2\n3,4\n")
    client.fs.pipe_file(f"{BUCKET}/data/train/b.csv", b"5,6\n")
    source = script(tmp_path / "src", CONTRACT)
    script_job(client, "contract", source, hyperparameters={"epochs": "3", "rate": '"0.5"'},
               channels=[prefix_channel("train", f"lake://{BUCKET}/data/train/")],
               algorithm={"MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}]},
               resource_config={"Cpus": 1}, environment={"MY_SETTING": "on"})
    job = wait(client, "contract")
    assert job.training_job_status == "Completed", job.failure_reason
    assert [t.status for t in job.secondary_status_transitions] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert job.model_artifacts.s3_model_artifacts == f"{OUTPUT}contract/output/model.tar.gz"
    model = _model(client, job.model_artifacts.s3_model_artifacts)
    assert sorted(model["rows"]) == ["1,2", "3,4", "5,6"]  # type: ignore[arg-type]
    assert model["epochs"] == 3 and model["rate"] == 0.5  # the SDK's JSON-encoded value decoded
    assert model["argv"] == ["--epochs", "3", "--rate", "0.5"]
    env = model["env"]
    assert isinstance(env, dict)
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "rate": "0.5"} or json.loads(env["SM_HPS"])["epochs"] == 3
    assert env["SM_HP_EPOCHS"] == "3"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CHANNEL_TRAIN"].endswith("input/data/train")
    assert json.loads(env["SM_USER_ARGS"]) == ["--epochs", "3", "--rate", "0.5"]
    assert "channel_input_dirs" in json.loads(env["SM_TRAINING_ENV"])
    assert env["SM_NUM_CPUS"] == "1" and model["cores"] == 1 and model["omp"] == "1"  # held to its CPUs
    assert model["mine"] == "on"  # Environment reaches the script
    final = {m.metric_name: m.value for m in job.final_metric_data_list}
    assert final == {"train:loss": pytest.approx(1 / 3, abs=1e-4)}
    with tarfile.open(fileobj=io.BytesIO(client.fs.cat_file(f"{OUTPUT}contract/output/output.tar.gz"))) as archive:
        assert archive.getnames() == ["extra.txt"]
    lines = [line.message for line in client.training.get_training_job_logs(training_job_name="contract").lines]
    assert "epoch=2 loss=0.3333" in lines
    assert job.lineage.code_sha256 and len(job.lineage.code_sha256) == 64
    assert [f.uri for f in job.lineage.channels[0].files] == [f"lake://{BUCKET}/data/train/a.csv",
                                                              f"lake://{BUCKET}/data/train/b.csv"]
    assert job.billable_time_in_seconds is not None and job.training_end_time is not None


def test_a_script_that_raises_fails_the_job_with_the_traceback_tail(local_home: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", "def train():\n    raise ValueError('the label column is gone')\ntrain()\n")
    script_job(local_home, "raises", source)
    job = wait(local_home, "raises")
    assert job.training_job_status == "Failed"
    assert "ValueError: the label column is gone" in job.failure_reason
    assert "line 2, in train" in job.failure_reason
    assert job.secondary_status == "Failed"


def test_a_duplicate_name_is_resource_in_use_and_bad_input_is_refused_before_anything_runs(
        local_home: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", "print('hi')\n")
    script_job(local_home, "twice", source)
    with pytest.raises(Exception, match="already exists") as caught:
        script_job(local_home, "twice", source)
    assert type(caught.value).__name__ == "ResourceInUse"
    with pytest.raises(InvalidArgument, match="channel 'train' is empty"):
        script_job(local_home, "empty", source, channels=[prefix_channel("train", f"lake://{BUCKET}/nothing/")])
    with pytest.raises(InvalidArgument, match="names no framework"):
        local_home.training.create_training_job(
            training_job_name="bad-image", algorithm_specification={"TrainingImage": "cobol"},
            hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": str(source)},
            output_data_config={"S3OutputPath": OUTPUT})
    with pytest.raises(InvalidArgument, match="must be 1-63"):
        script_job(local_home, "bad_name!", source)
    with pytest.raises(Exception, match=r"asks for 512 CPUs; this machine has \d+") as limited:
        script_job(local_home, "too-big", source, resource_config={"Cpus": 512})
    assert type(limited.value).__name__ == "ResourceLimitExceeded"
    assert {j.training_job_name for j in local_home.training.list_training_jobs().training_job_summaries} == {
        "twice"}
    wait(local_home, "twice")


def test_the_memory_limit_and_max_runtime_are_enforced(local_home: Client, tmp_path: Path) -> None:
    hog = script(tmp_path / "hog", "import time\nblocks = []\nwhile True:\n"
                                   "    blocks.append(bytearray(20 * 1024 * 1024))\n    time.sleep(0.01)\n")
    script_job(local_home, "hog", hog, resource_config={"MemoryLimitInMB": 200})
    sleeper = script(tmp_path / "sleeper", "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    script_job(local_home, "slow", sleeper, stopping_condition={"MaxRuntimeInSeconds": 1})
    hogged = wait(local_home, "hog")
    assert hogged.training_job_status == "Failed"
    assert "limit of 200 MB" in hogged.failure_reason and "peak" in hogged.failure_reason
    assert hogged.peak_memory_in_mb > 200
    slow = wait(local_home, "slow")
    assert (slow.training_job_status, slow.secondary_status) == ("Stopped", "MaxRuntimeExceeded")


def test_stop_training_job_stops_the_process(local_home: Client, tmp_path: Path) -> None:
    sleeper = script(tmp_path / "sleeper", "import time\nprint('started', flush=True)\ntime.sleep(600)\n")
    script_job(local_home, "to-stop", sleeper)
    wait(local_home, "to-stop", until=("Training",))
    local_home.training.stop_training_job(training_job_name="to-stop")
    assert local_home.training.describe_training_job(training_job_name="to-stop").training_job_status in (
        "Stopping", "Stopped")
    job = wait(local_home, "to-stop")
    assert job.training_job_status == "Stopped"
    with pytest.raises(InvalidArgument, match="only a job InProgress"):
        local_home.training.stop_training_job(training_job_name="to-stop")


MEET = """
import os, time
folder = os.environ["MEETING"]
with open(os.path.join(folder, os.environ["ME"] + ".tmp"), "w") as f:
    f.write(",".join(str(c) for c in sorted(os.sched_getaffinity(0))))
os.rename(os.path.join(folder, os.environ["ME"] + ".tmp"), os.path.join(folder, os.environ["ME"]))
deadline = time.monotonic() + 60
while len([n for n in os.listdir(folder) if not n.endswith(".tmp")]) < 2 and time.monotonic() < deadline:
    time.sleep(0.02)
"""


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_jobs_running_together_get_cores_of_their_own(local_home: Client, tmp_path: Path) -> None:
    # Two 1-CPU jobs that each wait for the other (two tuning trials in parallel): held to the same first core,
    # one core would do both jobs' work while the other stayed idle.
    source = script(tmp_path / "meet", MEET)
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    for name in ("left", "right"):
        script_job(local_home, name, source, resource_config={"Cpus": 1},
                   environment={"MEETING": str(meeting), "ME": name})
    for name in ("left", "right"):
        assert wait(local_home, name).training_job_status == "Completed"
    cores = {name: (meeting / name).read_text() for name in ("left", "right")}
    assert all(len(c.split(",")) == 1 for c in cores.values()), cores  # each still held to its one CPU
    assert cores["left"] != cores["right"], cores


def test_jobs_run_and_list_on_either_metadata_db(db_client: Client, tmp_path: Path) -> None:
    db_client.lake.create_bucket(bucket=BUCKET)
    source = script(tmp_path / "src", "import os\nprint('on', os.environ['SM_CURRENT_HOST'])\n")
    for name in ("job-b", "job-a", "job-c"):
        script_job(db_client, name, source)
    for name in ("job-b", "job-a", "job-c"):
        assert wait(db_client, name).training_job_status == "Completed"
    listed = db_client.training.list_training_jobs(sort_by="Name", sort_order="Ascending", max_results=2)
    assert [j.training_job_name for j in listed.training_job_summaries] == ["job-a", "job-b"]
    rest = db_client.training.list_training_jobs(sort_by="Name", sort_order="Ascending", next_token=listed.next_token)
    assert [j.training_job_name for j in rest.training_job_summaries] == ["job-c"] and rest.next_token is None
    newest = db_client.training.list_training_jobs(name_contains="job-", max_results=1).training_job_summaries
    assert [j.training_job_name for j in newest] == ["job-c"]
    assert db_client.training.list_training_jobs(status_equals="Failed").training_job_summaries == []
    lines = [line.message for line in db_client.training.get_training_job_logs(training_job_name="job-a").lines]
    assert "on algo-1" in lines


def test_a_script_without_a_source_directory_is_sent_alone(local_home: Client, tmp_path: Path) -> None:
    folder = script(tmp_path / "project", "print('alone')\n")
    (folder / "secrets.txt").write_text("not for the job")
    local_home.training.create_training_job(
        training_job_name="alone", algorithm_specification={"TrainingImage": "sklearn"},
        hyper_parameters={"sagemaker_program": str(folder / "train.py")},
        output_data_config={"S3OutputPath": OUTPUT})
    job = wait(local_home, "alone")
    assert job.training_job_status == "Completed", job.failure_reason
    assert job.hyper_parameters["sagemaker_program"] == "train.py"
    source = job.hyper_parameters["sagemaker_submit_directory"]
    assert source == f"{OUTPUT}alone/source/sourcedir.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(local_home.fs.cat_file(source))) as archive:
        assert archive.getnames() == ["train.py"]


def test_the_checkpoint_folder_is_mirrored_to_the_lake_removals_included(local_home: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", """
import os, pathlib, time
folder = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"])
(folder / "step-1").write_text("1")
(folder / ".partial").write_text("a writer's temporary")
time.sleep(2.5)  # the worker copies checkpoints every 2 s: step-1 reaches the lake first
(folder / "step-2").write_text("2")
(folder / "step-1").unlink()
""")
    uri = f"lake://{BUCKET}/checkpoints/mirror/"
    script_job(local_home, "mirror", source, checkpoint_config={"S3Uri": uri})
    assert wait(local_home, "mirror").training_job_status == "Completed"
    assert [p.rsplit("/", 1)[-1] for p in local_home.fs.ls(uri, detail=False)] == ["step-2"]
