"""Batch transform jobs (CreateTransformJob …): a real xgboost model served by real instance processes, over
files in the lake and a catalog table, its answers checked row by row against the booster's own predictions."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xgboost as xgb

from crispml.core.errors import CrispmlError
from crispml.sdk.client import Client
from tests.services.serving.support import tar_gz

BUCKET = "transform-data"
MODEL = "churn-xgb"
ARTIFACT = f"lake://{BUCKET}/model/model.tar.gz"
OUTPUT = f"lake://{BUCKET}/out/"
TERMINAL = ("Completed", "Failed", "Stopped")
FEATURES = 4


# -- the model and the data ---------------------------------------------------------------------------------


def _features(rows: int, seed: int) -> np.ndarray:
    """Rows of float32 features (exact in CSV text and in float64 tables, so every reader sees the same
    numbers)."""
    return np.random.default_rng(seed).normal(size=(rows, FEATURES)).astype(np.float32)


@pytest.fixture
def booster(local_client: Client) -> xgb.Booster:
    """A home with the bucket, an xgboost model trained here on 500 rows, registered as :data:`MODEL`."""
    x = _features(500, seed=0)
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).astype(np.float32)
    model = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), num_boost_round=8)
    local_client.lake.create_bucket(bucket=BUCKET)
    local_client.fs.pipe_file(ARTIFACT, tar_gz({"xgboost-model": bytes(model.save_raw("json"))}))
    local_client.registry.create_model(model_name=MODEL, primary_container={"Image": "xgboost",
                                                                            "ModelDataUrl": ARTIFACT})
    return model


def _csv(x: np.ndarray, ids: bool = False) -> bytes:
    return "".join((f"{i}," if ids else "") + ",".join(repr(float(v)) for v in row) + "\n"
                   for i, row in enumerate(x)).encode()


def _expected(model: xgb.Booster, x: np.ndarray) -> list[float]:
    return [float(v) for v in model.predict(xgb.DMatrix(x))]


def _numbers(data: bytes) -> list[float]:
    return [float(line) for line in data.decode().splitlines()]


def _job(client: Client, name: str, uri: str = f"lake://{BUCKET}/in/", *, split: str = "Line",
         content_type: str = "text/csv", accept: str | None = "text/csv", output: dict[str, Any] | None = None,
         instances: int = 1, source: dict[str, Any] | None = None, **extra: Any) -> str:
    client.serving.create_transform_job(
        transform_job_name=name, model_name=extra.pop("model_name", MODEL),
        transform_input={"DataSource": source or {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
                         "ContentType": content_type, "SplitType": split, **extra.pop("transform_input_extra", {})},
        transform_output={"S3OutputPath": OUTPUT, "AssembleWith": "Line",
                          **({"Accept": accept} if accept else {}), **(output or {})},
        transform_resources={"InstanceType": "ml.m5.large", "InstanceCount": instances}, **extra)
    return name


def _wait(client: Client, name: str, until: tuple[str, ...] = TERMINAL, timeout: float = 120.0,
          running: bool = False) -> Any:
    """DescribeTransformJob until the job's status is in ``until`` (or, ``running``, it has answered a
    request)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.serving.describe_transform_job(transform_job_name=name)
        if job.transform_job_status in until or (running and job.progress.requests_sent > 0):
            return job
        assert time.monotonic() < deadline, f"job {name} still {job.transform_job_status}: {job.progress}"
        time.sleep(0.05)


def _completed(client: Client, name: str) -> Any:
    job = _wait(client, name)
    assert job.transform_job_status == "Completed", job.failure_reason
    return job


def _gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


# -- answers ---------------------------------------------------------------------------------------------------


def test_multi_and_single_record_jobs_answer_every_row_as_the_booster_does(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(300, seed=1)
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/rows.csv", _csv(x))
    _job(local_client, "multi", batch_strategy="MultiRecord")
    _job(local_client, "single", batch_strategy="SingleRecord", output={"S3OutputPath": f"{OUTPUT}single/"})
    multi, single = _completed(local_client, "multi"), _completed(local_client, "single")
    expected = _expected(booster, x)
    assert _numbers(local_client.fs.cat_file(f"{OUTPUT}rows.csv.out")) == expected
    assert local_client.fs.cat_file(f"{OUTPUT}single/rows.csv.out") == local_client.fs.cat_file(
        f"{OUTPUT}rows.csv.out")
    assert (multi.progress.requests_sent, single.progress.requests_sent) == (1, 300)
    assert multi.progress.records_completed == single.progress.records_completed == 300
    assert multi.progress.files_completed == multi.progress.input_files == 1
    assert multi.progress.instances == []
    assert multi.transform_start_time is not None and multi.transform_end_time is not None
    assert (multi.transform_output.s3_output_path, multi.max_payload_in_mb, multi.batch_strategy) == (
        OUTPUT, 6, "MultiRecord")

    listed = local_client.serving.list_transform_jobs(sort_by="Name", sort_order="Ascending")
    assert [(s.transform_job_name, s.transform_job_status) for s in listed.transform_job_summaries] == [
        ("multi", "Completed"), ("single", "Completed")]
    first = local_client.serving.list_transform_jobs(max_results=1, sort_by="Name")
    rest = local_client.serving.list_transform_jobs(max_results=1, sort_by="Name", next_token=first.next_token)
    assert [s.transform_job_name for s in (*first.transform_job_summaries, *rest.transform_job_summaries)] == [
        "single", "multi"]
    assert rest.next_token is None
    assert [s.transform_job_name for s in local_client.serving.list_transform_jobs(
        name_contains="ngl").transform_job_summaries] == ["single"]
    assert local_client.serving.list_transform_jobs(status_equals="InProgress").transform_job_summaries == []


def test_a_small_payload_limit_sends_many_requests_for_the_same_answers(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(40_000, seed=2)  # about 3 MB of CSV
    data = _csv(x)
    assert len(data) > 2.5 * 1024 * 1024
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/big.csv", data)
    job = _completed(local_client, _job(local_client, "small-payloads", max_payload_in_mb=1))
    assert job.progress.requests_sent >= 3
    assert job.progress.records_completed == 40_000
    assert _numbers(local_client.fs.cat_file(f"{OUTPUT}big.csv.out")) == _expected(booster, x)


def test_two_instances_transform_several_files_each_output_beside_its_relative_key(
        local_client: Client, booster: xgb.Booster) -> None:
    parts = {f"in/part-{i}.csv" if i < 3 else "in/deeper/part-3.csv": _features(200 + 50 * i, seed=10 + i)
             for i in range(4)}
    for key, x in parts.items():
        local_client.fs.pipe_file(f"lake://{BUCKET}/{key}", _csv(x))
    job = _completed(local_client, _job(local_client, "two-instances", instances=2, max_concurrent_transforms=2))
    assert job.progress.files_completed == 4
    assert job.progress.records_completed == sum(len(x) for x in parts.values())
    for key, x in parts.items():
        relative = key.removeprefix("in/")
        assert _numbers(local_client.fs.cat_file(f"{OUTPUT}{relative}.out")) == _expected(booster, x), relative


def test_a_manifest_names_the_files_and_split_type_none_sends_each_whole_unzipped(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(120, seed=3)
    local_client.fs.pipe_file(f"lake://{BUCKET}/zipped/a.csv.gz", gzip.compress(_csv(x[:70])))
    local_client.fs.pipe_file(f"lake://{BUCKET}/zipped/more/b.csv.gz", gzip.compress(_csv(x[70:])))
    local_client.fs.pipe_file(f"lake://{BUCKET}/zipped/not-listed.csv.gz", b"not gzip, and not read")
    local_client.fs.pipe_file(f"lake://{BUCKET}/inputs.manifest", json.dumps(
        [{"prefix": f"s3://{BUCKET}/zipped/"}, "a.csv.gz", "more/b.csv.gz"]).encode())
    source = {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": f"lake://{BUCKET}/inputs.manifest"}}
    _job(local_client, "whole-files", split="None", source=source, transform_input_extra={"CompressionType": "Gzip"})
    job = _completed(local_client, "whole-files")
    assert (job.progress.input_files, job.progress.requests_sent) == (2, 2)
    assert _numbers(local_client.fs.cat_file(f"{OUTPUT}a.csv.gz.out")) == _expected(booster, x[:70])
    assert _numbers(local_client.fs.cat_file(f"{OUTPUT}more/b.csv.gz.out")) == _expected(booster, x[70:])
    assert not local_client.fs.exists(f"{OUTPUT}not-listed.csv.gz.out")


# -- data processing -------------------------------------------------------------------------------------------


def test_an_id_column_is_filtered_out_then_joined_back_with_the_prediction(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(150, seed=4)
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/ids.csv", _csv(x, ids=True))
    _job(local_client, "joined", data_processing={"InputFilter": "$[1:]", "JoinSource": "Input"})
    _job(local_client, "id-and-score", output={"S3OutputPath": f"{OUTPUT}kept/"},
         data_processing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    _completed(local_client, "joined")
    _completed(local_client, "id-and-score")
    expected = _expected(booster, x)
    joined = [line.split(",") for line in local_client.fs.cat_file(f"{OUTPUT}ids.csv.out").decode().splitlines()]
    assert [[int(r[0]), *map(float, r[1:])] for r in joined] == [
        [i, *map(float, row), p] for i, (row, p) in enumerate(zip(x, expected, strict=True))]
    kept = [line.split(",") for line in local_client.fs.cat_file(f"{OUTPUT}kept/ids.csv.out").decode().splitlines()]
    assert [(int(i), float(p)) for i, p in kept] == list(enumerate(expected))


def test_json_lines_are_filtered_by_member_and_joined_under_sagemaker_output(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(80, seed=5)
    lines = "".join(json.dumps({"id": f"c-{i}", "features": [float(v) for v in row]}) + "\n" for i, row in enumerate(x))
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/rows.jsonl", lines.encode())
    _completed(local_client, _job(local_client, "json-join", content_type="application/jsonlines",
                                  accept="application/jsonlines", batch_strategy="MultiRecord",
                                  data_processing={"InputFilter": "$.features", "JoinSource": "Input",
                                                   "OutputFilter": "$['id','SageMakerOutput']"}))
    out = [json.loads(line) for line in local_client.fs.cat_file(f"{OUTPUT}rows.jsonl.out").decode().splitlines()]
    assert out == [{"id": f"c-{i}", "SageMakerOutput": {"score": p}} for i, p in enumerate(_expected(booster, x))]


def test_a_parquet_output_holds_the_joined_input_columns_and_the_prediction(
        local_client: Client, booster: xgb.Booster) -> None:
    x = _features(200, seed=6)
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/ids.csv", _csv(x, ids=True))
    _job(local_client, "parquet", output={"OutputFormat": "Parquet"},
         data_processing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    _job(local_client, "parquet-plain", output={"OutputFormat": "Parquet", "S3OutputPath": f"{OUTPUT}plain/"},
         data_processing={"InputFilter": "$[1:]"})
    _completed(local_client, "parquet")
    _completed(local_client, "parquet-plain")
    expected = _expected(booster, x)
    table = pq.read_table(io.BytesIO(local_client.fs.cat_file(f"{OUTPUT}ids.csv.parquet")))
    assert table.column_names == ["_0", "SageMakerOutput"]
    assert table.column("_0").to_pylist() == list(range(200))
    assert table.column("SageMakerOutput").to_pylist() == expected
    plain = pq.read_table(io.BytesIO(local_client.fs.cat_file(f"{OUTPUT}plain/ids.csv.parquet")))
    assert plain.to_pydict() == {"SageMakerOutput": expected}


def test_a_catalog_table_is_transformed_from_its_current_rows(local_client: Client, booster: xgb.Booster) -> None:
    x = _features(120, seed=7)
    local_client.catalog.create_database(database_input={"Name": "crm"})
    local_client.catalog.create_table(database_name="crm", table_input={
        "Name": "customers", "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"},
                        *({"Name": f"f{i}", "Type": "double"} for i in range(FEATURES))],
            "Location": f"s3://{BUCKET}/tables/customers"}},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}})
    local_client.catalog.append_table_data(database_name="crm", table_name="customers", body=pa.table({
        "id": pa.array(range(1000, 1120), pa.int64()),
        **{f"f{i}": pa.array(x[:, i].astype(np.float64)) for i in range(FEATURES)}}))
    source = {"CatalogDataSource": {"DatabaseName": "crm", "TableName": "customers"}}
    _job(local_client, "table", source=source, output={"OutputFormat": "Parquet"},
         data_processing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    _job(local_client, "table-text", source=source, output={"S3OutputPath": f"{OUTPUT}text/"},
         data_processing={"InputFilter": "$[1:]"})
    job = _completed(local_client, "table")
    assert (job.progress.input_files, job.progress.records_completed) == (1, 120)
    table = pq.read_table(io.BytesIO(local_client.fs.cat_file(f"{OUTPUT}customers.parquet")))
    assert table.to_pydict() == {"id": list(range(1000, 1120)), "SageMakerOutput": _expected(booster, x)}
    _completed(local_client, "table-text")
    assert _numbers(local_client.fs.cat_file(f"{OUTPUT}text/customers.out")) == _expected(booster, x)


# -- stopping, failing, refusing -----------------------------------------------------------------------------


def test_a_stopped_job_ends_stopped_its_instances_gone_and_its_output_unwritten(
        local_client: Client, booster: xgb.Booster) -> None:
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/many.csv", _csv(_features(60_000, seed=8)))
    _job(local_client, "stopped", batch_strategy="SingleRecord")
    running = _wait(local_client, "stopped", running=True)
    assert running.transform_job_status == "InProgress"
    pids = [i.pid for i in running.progress.instances]
    assert len(pids) == 1
    local_client.serving.stop_transform_job(transform_job_name="stopped")
    assert local_client.serving.describe_transform_job(transform_job_name="stopped").transform_job_status in (
        "Stopping", "Stopped")
    job = _wait(local_client, "stopped")
    assert (job.transform_job_status, job.failure_reason) == ("Stopped", None)
    assert job.progress.files_completed == 0 and 0 < job.progress.records_completed < 60_000
    assert all(_gone(pid) for pid in pids)
    assert not local_client.fs.exists(f"{OUTPUT}many.csv.out")
    with pytest.raises(CrispmlError, match="is Stopped; only a job InProgress can be stopped") as info:
        local_client.serving.stop_transform_job(transform_job_name="stopped")
    assert info.value.code == "ValidationException"


def test_a_model_that_refuses_the_records_fails_the_job_in_its_own_words(
        local_client: Client, booster: xgb.Booster) -> None:
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/narrow.csv", b"1.0,2.0,3.0,4.0\nno,numbers,in,here\n")
    job = _wait(local_client, _job(local_client, "narrow"))
    assert job.transform_job_status == "Failed"
    assert job.failure_reason.startswith(f"a request of 2 record(s) from lake://{BUCKET}/in/narrow.csv (from record "
                                         "1) failed: the model answered 400: cannot predict")
    assert job.progress.instances == []


def test_a_record_larger_than_the_payload_limit_fails_the_job_naming_it(
        local_client: Client, booster: xgb.Booster) -> None:
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/wide.csv", b"1.0,2.0,3.0,4.0\n" + b"1.0," * 400_000 + b"1.0\n")
    job = _wait(local_client, _job(local_client, "wide", max_payload_in_mb=1))
    assert job.transform_job_status == "Failed"
    assert job.failure_reason.startswith(f"record 2 of lake://{BUCKET}/in/wide.csv is 1,600,004 bytes, more than "
                                         "MaxPayloadInMB (1 MB) allows")


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"model_name": "no-such-model"}, "ValidationException", "ModelName: model 'no-such-model' does not exist"),
    ({"uri": f"lake://{BUCKET}/nothing/"}, "ValidationException",
     f"TransformInput S3Uri lake://{BUCKET}/nothing/ holds no objects"),
    ({"max_payload_in_mb": 101}, "ValidationException", "MaxPayloadInMB is 101; it must be 0-100"),
    ({"max_payload_in_mb": 60, "max_concurrent_transforms": 2}, "ValidationException",
     "MaxConcurrentTransforms × MaxPayloadInMB is 2 × 60 MB; it must be at most 100 MB"),
    ({"instances": 10_000}, "InvalidArgument", "instance_count"),
    ({"instances": "one more than the CPUs"}, "ResourceLimitExceeded", "InstanceCount is"),
    ({"split": "None", "data_processing": {"JoinSource": "Input"}}, "ValidationException",
     "set TransformInput SplitType to Line"),
    ({"data_processing": {"JoinSource": "Input"}, "output": {"AssembleWith": "None"}}, "ValidationException",
     "set TransformOutput AssembleWith to Line"),
    ({"data_processing": {"InputFilter": "$..features"}}, "ValidationException",
     "InputFilter '$..features' is not a JSONPath batch transform supports"),
    ({"content_type": "text/libsvm", "data_processing": {"JoinSource": "Input"}}, "ValidationException",
     "DataProcessing reads records as CSV or JSON"),
    ({"split": "RecordIO"}, "ValidationException", "SplitType RecordIO is not supported here"),
    ({"output": {"S3OutputPath": "lake://no-such-bucket/out/"}}, "ValidationException",
     "bucket 'no-such-bucket' does not exist"),
    ({"source": {"CatalogDataSource": {"DatabaseName": "nodb", "TableName": "t"}}}, "ValidationException",
     "CatalogDataSource:"),
])
def test_a_bad_request_is_refused_before_anything_is_recorded(
        db_client: Client, change: dict[str, Any], code: str, words: str) -> None:
    db_client.lake.create_bucket(bucket=BUCKET)
    db_client.fs.pipe_file(ARTIFACT, tar_gz({"xgboost-model": b"not read: the job is refused first"}))
    db_client.registry.create_model(model_name=MODEL, primary_container={"Image": "xgboost", "ModelDataUrl": ARTIFACT})
    db_client.fs.pipe_file(f"lake://{BUCKET}/in/rows.csv", b"1,2,3,4\n")
    if change.get("instances") == "one more than the CPUs":
        change = {**change, "instances": len(os.sched_getaffinity(0)) + 1}
    with pytest.raises(CrispmlError) as info:
        _job(db_client, "refused", **change)
    assert info.value.code == code, info.value
    assert words in str(info.value)
    assert db_client.serving.list_transform_jobs().transform_job_summaries == []


def test_a_rejected_version_a_missing_job_and_a_taken_name_are_refused(local_client: Client,
                                                                       booster: xgb.Booster) -> None:
    registry = local_client.registry
    registry.create_model_package_group(model_package_group_name="churn")
    registry.create_model_package(model_package_group_name="churn", inference_specification={
        "Containers": [{"Image": "xgboost", "ModelDataUrl": ARTIFACT}], "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"]})
    registry.create_model(model_name="churn-v1", primary_container={"ModelPackageName": "churn/1"})
    registry.update_model_package(model_package_arn="churn/1", model_approval_status="Rejected")
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/rows.csv", _csv(_features(3, seed=9)))
    with pytest.raises(CrispmlError, match="a rejected version cannot be deployed") as info:
        _job(local_client, "rejected", model_name="churn-v1")
    assert info.value.code == "ValidationException"
    with pytest.raises(CrispmlError, match="transform job 'nope' does not exist") as missing:
        local_client.serving.describe_transform_job(transform_job_name="nope")
    assert missing.value.code == "ResourceNotFound"
    _completed(local_client, _job(local_client, "taken"))
    with pytest.raises(CrispmlError, match="transform job 'taken' already exists") as taken:
        _job(local_client, "taken")
    assert taken.value.code == "ResourceInUse"


# -- a killed worker -------------------------------------------------------------------------------------------


@pytest.mark.kill
def test_a_killed_worker_fails_its_job_on_the_next_read_and_leaves_no_instance(
        local_client: Client, booster: xgb.Booster) -> None:
    local_client.fs.pipe_file(f"lake://{BUCKET}/in/many.csv", _csv(_features(60_000, seed=11)))
    _job(local_client, "killed", batch_strategy="SingleRecord", instances=min(2, len(os.sched_getaffinity(0))))
    running = _wait(local_client, "killed", running=True)
    pids = [i.pid for i in running.progress.instances]
    workers = {_parent(pid) for pid in pids}
    assert len(workers) == 1 and pids
    (worker,) = workers
    os.kill(worker, signal.SIGKILL)
    assert _gone(worker)
    assert all(_gone(pid) for pid in pids)  # the instances do not outlive their worker
    job = local_client.serving.describe_transform_job(transform_job_name="killed")
    assert job.transform_job_status == "Failed"
    assert "ended without finishing it (was it killed?" in job.failure_reason
    assert job.progress.instances == [] and job.transform_end_time is not None
    assert not local_client.fs.exists(f"{OUTPUT}many.csv.out")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
