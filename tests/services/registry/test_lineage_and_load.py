"""Versions from real training jobs: lineage down to the table snapshot, and loading back to predict exactly as
the model does in-process on held-out rows — a built-in xgboost model and a script model with only model_fn."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.cli.support import Result
from tests.services.registry.conftest import BUCKET, tar_gz
from tests.services.training.support import wait

OUTPUT = f"lake://{BUCKET}/output/"
SCRIPT = '''
import glob, os
import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    files = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
    model = LogisticRegression().fit(data[:, 1:], data[:, 0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
'''


def _rows(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(4)
    y = (x[:, 0] - 0.7 * x[:, 2] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return x, y


def _artifact(client: Client, uri: str, member: str, into: Path) -> Path:
    with tarfile.open(fileobj=io.BytesIO(client.fs.cat_file(uri))) as archive:
        archive.extract(member, into, filter="data")
    return into / member


def _table(client: Client) -> None:
    x, y = _rows(1, 300)
    client.catalog.create_database(database_input={"Name": "shop"})
    client.catalog.create_table(database_name="shop", table_input={
        "Name": "churn", "StorageDescriptor": {
            "Columns": [{"Name": "churned", "Type": "int"}, *({"Name": f"x{i}", "Type": "double"} for i in range(3))],
            "Location": f"s3://{BUCKET}/tables/churn"}},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}})
    client.catalog.append_table_data(database_name="shop", table_name="churn", body=pa.table(
        {"churned": pa.array(y, pa.int32()), **{f"x{i}": pa.array(x[:, i]) for i in range(3)}}))


def test_an_xgboost_version_traces_to_its_table_snapshot_and_predicts_as_in_process(
        local_home: Client, run: Any, tmp_path: Path) -> None:
    client = local_home
    _table(client)
    client.training.create_training_job(
        training_job_name="churn-xgb", algorithm_specification={"AlgorithmName": "xgboost"},
        hyper_parameters={"num_round": "15", "objective": "binary:logistic", "max_depth": "3"},
        input_data_config=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"CatalogDataSource": {
            "DatabaseName": "shop", "TableName": "churn", "LabelColumn": "churned"}}}],
        output_data_config={"S3OutputPath": OUTPUT})
    job = wait(client, "churn-xgb")
    assert job.training_job_status == "Completed", job.failure_reason
    client.registry.create_model_package_group(model_package_group_name="churn")
    arn = client.registry.create_model_package(model_package_group_name="churn",
                                               source_training_job_name="churn-xgb").model_package_arn

    lineage = client.registry.get_model_package_lineage(model_package_name=arn).lineage
    pinned = job.lineage.channels[0]
    assert pinned.snapshot_id is not None
    assert lineage.training_job_name == "churn-xgb" and lineage.algorithm == "xgboost"
    assert [(i.channel_name, i.source, i.snapshot_id, i.rows) for i in lineage.inputs] == [
        ("train", pinned.source, pinned.snapshot_id, 300)]
    assert lineage.code_sha256 == job.lineage.code_sha256 and lineage.hyperparameters["num_round"] == "15"
    assert lineage.model_data_url == job.model_artifacts.s3_model_artifacts
    shown: Result = run("registry", "lineage", "churn", "1")
    assert shown.code == 0, shown.err
    for text in ("churn/1 (PendingManualApproval)", "training job churn-xgb (xgboost)", pinned.source,
                 f"snapshot {pinned.snapshot_id}", "300 rows", f"code sha256 {job.lineage.code_sha256}",
                 "num_round = 15"):
        assert text in shown.out, shown.out

    import xgboost as xgb

    held_out, _ = _rows(2, 40)
    booster = xgb.Booster(model_file=bytearray(
        _artifact(client, lineage.model_data_url, "xgboost-model", tmp_path).read_bytes()))
    expected = booster.predict(xgb.DMatrix(held_out))
    predictor = client.registry.load("churn/1")
    np.testing.assert_array_equal(predictor.predict(held_out).astype(np.float32), expected)
    np.testing.assert_array_equal(predictor.predict(held_out, accept="text/csv").astype(np.float32), expected)


def test_a_script_model_with_only_model_fn_serves_csv_json_and_npy_by_default(
        local_home: Client, tmp_path: Path) -> None:
    client = local_home
    x, y = _rows(3, 200)
    client.fs.pipe_file(f"{BUCKET}/train/data.csv", "".join(
        f"{label}," + ",".join(map(str, row)) + "\n" for label, row in zip(y, x, strict=True)).encode())
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    client.training.create_training_job(
        training_job_name="churn-sk", algorithm_specification={"TrainingImage": "sklearn"},
        hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": str(source)},
        input_data_config=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3Uri": f"lake://{BUCKET}/train/"}}}],
        output_data_config={"S3OutputPath": OUTPUT})
    job = wait(client, "churn-sk")
    assert job.training_job_status == "Completed", job.failure_reason
    client.registry.create_model_package_group(model_package_group_name="scripts")
    client.registry.create_model_package(model_package_group_name="scripts", source_training_job_name="churn-sk")
    container = client.registry.describe_model_package(model_package_name="scripts/1") \
        .inference_specification.containers[0]
    assert container.environment["SAGEMAKER_PROGRAM"] == "train.py"
    assert container.environment["SAGEMAKER_SUBMIT_DIRECTORY"].endswith("/churn-sk/source/sourcedir.tar.gz")
    lineage = client.registry.get_model_package_lineage(model_package_name="scripts/1").lineage
    assert [f.uri for f in lineage.inputs[0].files] == [f"lake://{BUCKET}/train/data.csv"]
    assert lineage.inputs[0].files[0].e_tag

    import joblib

    model = joblib.load(_artifact(client, container.model_data_url, "model.joblib", tmp_path))
    held_out, _ = _rows(4, 30)
    expected = model.predict(held_out)
    assert set(expected) == {0.0, 1.0}  # a model that learned something, so equal answers mean something
    model_arn = client.registry.create_model(model_name="churn-sk",
                                             primary_container={"ModelPackageName": "scripts/1"}).model_arn
    for name in ("scripts/1", model_arn):
        predictor = client.registry.load(name)
        for content_type in ("text/csv", "application/json", "application/x-npy"):
            for accept in ("application/json", "text/csv", "application/x-npy"):
                np.testing.assert_array_equal(predictor.predict(held_out, content_type=content_type, accept=accept),
                                              expected)
        body = ",".join(map(str, held_out[0])).encode()
        assert predictor.invoke(body, "text/csv", "*/*") == (json.dumps([float(expected[0])]).encode(),
                                                             "application/json")
        predictor.close()
        assert not predictor.folder.exists()


def test_an_inference_script_without_model_fn_is_a_typed_error(local_home: Client) -> None:
    client = local_home
    client.fs.pipe_file(f"{BUCKET}/code/sourcedir.tar.gz", tar_gz({"serve.py": b"def predict_fn(data, model):\n"
                                                                               b"    return data\n"}))
    client.registry.create_model(model_name="no-model-fn", primary_container={
        "Image": "sklearn", "ModelDataUrl": f"lake://{BUCKET}/models/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "serve.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz"}})
    with pytest.raises(InvalidArgument, match=r"'serve.py' defines no model_fn\(model_dir\); add one") as refused:
        client.registry.load("no-model-fn")
    assert refused.value.code == "InvalidInferenceScript"
