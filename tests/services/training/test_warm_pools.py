"""Warm pools: a kept worker is reused by the next job of the same kind, which finds nothing of the last."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from crispml.sdk.client import Client
from crispml.services.training.service import EndWatch
from tests.services.training.support import script, script_job, wait

MARK = """
import json, os, sys
leaked = {"module": hasattr(json, "crispml_leak"), "env": os.environ.get("CRISPML_LEAK"),
          "cwd_files": sorted(os.listdir(os.environ["SM_MODEL_DIR"]))}
json.crispml_leak = True
os.environ["CRISPML_LEAK"] = "yes"
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump({"worker": os.getppid(), "leaked": leaked}, f)
"""


def _seen(client: Client, name: str) -> dict[str, object]:
    job = wait(client, name)
    assert job.training_job_status == "Completed", job.failure_reason
    with tarfile.open(fileobj=io.BytesIO(client.fs.cat_file(job.model_artifacts.s3_model_artifacts))) as archive:
        member = archive.extractfile("seen.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def test_a_kept_worker_is_reused_by_the_next_matching_job_and_leaves_nothing_behind(
        local_home: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", MARK)
    keep = {"KeepAlivePeriodInSeconds": 15, "Cpus": 1}
    script_job(local_home, "first", source, resource_config=keep)
    first = _seen(local_home, "first")
    assert local_home.training.describe_training_job(training_job_name="first").warm_pool_status.status == \
        "Available"
    assert [j.training_job_name for j in local_home.training.list_training_jobs(
        warm_pool_status_equals="Available").training_job_summaries] == ["first"]
    script_job(local_home, "second", source, resource_config={"Cpus": 1})
    second = _seen(local_home, "second")
    assert second["worker"] == first["worker"]  # the same worker process ran both
    assert second["leaked"] == {"module": False, "env": None, "cwd_files": []}
    warm = local_home.training.describe_training_job(training_job_name="first").warm_pool_status
    assert (warm.status, warm.reused_by_job) == ("Reused", "second")
    script_job(local_home, "third", source, resource_config={"Cpus": 1})  # second kept nothing: a new worker
    assert _seen(local_home, "third")["worker"] != first["worker"]


def test_a_job_of_another_kind_does_not_take_a_kept_worker(local_home: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", MARK)
    script_job(local_home, "kept", source, resource_config={"KeepAlivePeriodInSeconds": 15, "Cpus": 1})
    kept = _seen(local_home, "kept")
    script_job(local_home, "other", source, resource_config={"MemoryLimitInMB": 4096, "Cpus": 1})
    assert _seen(local_home, "other")["worker"] != kept["worker"]
    assert local_home.training.describe_training_job(training_job_name="kept").warm_pool_status.status == \
        "Available"


def test_a_follower_is_told_when_a_job_has_ended_and_when_its_worker_is_kept(local_home: Client,
                                                                            tmp_path: Path) -> None:
    # What a tuning job's driver waits on between its polls, so that it refills a trial's slot at once.
    home = local_home.settings.home
    watch, elsewhere = EndWatch(home), EndWatch(home)
    watch.follow("told")
    elsewhere.follow("someone-else")
    script_job(local_home, "told", script(tmp_path / "src", MARK),
               resource_config={"KeepAlivePeriodInSeconds": 5, "Cpus": 1})
    seen: list[tuple[str, str | None]] = []
    deadline = time.monotonic() + 60
    while not seen or seen[-1][1] != "Available":
        assert time.monotonic() < deadline, f"told {seen} in 60 s"
        if watch.wait(1.0):
            job = local_home.training.describe_training_job(training_job_name="told")
            seen.append((job.training_job_status, job.warm_pool_status.status if job.warm_pool_status else None))
    assert all(status == "Completed" for status, _ in seen), seen  # told once it had ended, not before
    assert not elsewhere.wait(0)  # only the job's own followers are told
    watch.close()
    elsewhere.close()
