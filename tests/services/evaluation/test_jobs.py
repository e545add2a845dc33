"""Evaluation jobs end to end: real training jobs judged on held-out tables, compared, reported; bad input."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.services.training.support import script, wait

BUCKET = "eval-data"
OUTPUT = f"lake://{BUCKET}/evaluations/"
ICEBERG = {"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}}


def _table(client: Client, name: str, data: dict[str, Any]) -> None:
    columns = [{"Name": k, "Type": "double" if np.asarray(v).dtype.kind == "f" else "bigint"} for k, v in data.items()]
    client.catalog.create_table(database_name="shop", table_input={
        "Name": name, "StorageDescriptor": {"Columns": columns, "Location": f"s3://{BUCKET}/tables/{name}"}},
        open_table_format_input=ICEBERG)
    client.catalog.append_table_data(database_name="shop", table_name=name, body=pa.table(data))


def _rows(rng: np.random.Generator, n: int) -> dict[str, Any]:
    x1, x2, x3 = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    noisy = x1 + 0.7 * x2 + rng.normal(scale=0.6, size=n)
    return {"x1": x1, "x2": x2, "x3": x3, "churned": (noisy > 0).astype(np.int64)}


def _channel(table: str, **extra: Any) -> dict[str, Any]:
    return {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"CatalogDataSource": {
        "DatabaseName": "shop", "TableName": table, "LabelColumn": "churned", **extra}}}


def _train(client: Client, name: str, rounds: int) -> None:
    client.training.create_training_job(
        training_job_name=name, algorithm_specification={"AlgorithmName": "xgboost"},
        hyper_parameters={"num_round": str(rounds), "objective": "binary:logistic", "max_depth": "2"},
        input_data_config=[_channel("train_rows")], output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"})


@pytest.fixture
def shop(local_client: Client) -> Client:
    local_client.lake.create_bucket(bucket=BUCKET)
    local_client.catalog.create_database(database_input={"Name": "shop"})
    rng = np.random.default_rng(3)
    _table(local_client, "train_rows", _rows(rng, 600))
    test = _rows(rng, 400)
    # the held-out table holds its columns in another order: they are matched by name
    _table(local_client, "test_rows", {"churned": test["churned"], "x3": test["x3"], "x2": test["x2"],
                                       "x1": test["x1"]})
    _table(local_client, "test_short", {"churned": test["churned"], "x1": test["x1"], "x2": test["x2"]})
    return local_client


def _evaluate(client: Client, name: str, job: str, table: str = "test_rows", **extra: Any) -> Any:
    return client.evaluation.create_evaluation_job(
        evaluation_job_name=name, model_source={"TrainingJobName": job},
        test_data=_channel(table), problem_type="BinaryClassification", output_location=OUTPUT, **extra)


def test_a_training_jobs_model_is_judged_on_held_out_rows_compared_and_reported(shop: Client) -> None:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    _train(shop, "small", 2)
    _train(shop, "large", 40)
    for job in ("small", "large"):
        assert wait(shop, job).training_job_status == "Completed"
    small = _evaluate(shop, "eval-small", "small")
    large = _evaluate(shop, "eval-large", "large", cost={"FalsePositive": 1, "FalseNegative": 5})
    assert large.status == "Completed" and large.test_data.snapshot_id is not None
    rows = pq.read_table(io.BytesIO(shop.fs.cat_file(large.predictions_uri))).to_pydict()
    truth, predicted, score = (np.asarray(rows[k]) for k in ("y_true", "y_pred", "y_score"))
    assert len(truth) == 400
    assert large.metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert large.metrics["f1"] == pytest.approx(f1_score(truth, predicted))
    assert large.metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, score))
    assert large.metrics["accuracy"] > 0.8  # columns matched by name despite the other order
    assert large.threshold["by_cost"]["criterion"] == "cost"
    assert large.threshold["by_metric"]["criterion"] == "f1"
    assert set(large.feature_importance) == {"x1", "x2", "x3"}
    assert large.feature_importance["x1"] > large.feature_importance["x3"]
    import json

    stored = json.loads(shop.fs.cat_file(large.metrics_uri))
    assert stored["metrics"]["accuracy"] == pytest.approx(large.metrics["accuracy"])  # for ModelMetrics S3Uri
    page = shop.fs.cat_file(large.report_uri).decode()
    assert "<svg" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    listed = shop.evaluation.list_evaluation_jobs(model_source_contains="training-job/large")
    assert [e.evaluation_job_name for e in listed.evaluation_job_summaries] == ["eval-large"]
    compared = shop.evaluation.compare_evaluations(evaluation_job_name_a="eval-small",
                                                   evaluation_job_name_b="eval-large", seed=1)
    accuracy = next(d for d in compared.deltas if d["metric"] == "accuracy")
    assert accuracy["delta"] == pytest.approx(large.metrics["accuracy"] - small.metrics["accuracy"])
    assert accuracy["ci_low"] <= accuracy["delta"] <= accuracy["ci_high"]
    assert compared.mcnemar is not None and 0 <= compared.mcnemar["p_value"] <= 1
    assert compared.verdicts and "accuracy" in compared.verdicts[0]


def test_bad_evaluations_are_refused_before_anything_runs(shop: Client) -> None:
    _train(shop, "model", 3)
    assert wait(shop, "model").training_job_status == "Completed"
    with pytest.raises(InvalidArgument, match=r"no column 'x3', which the model learned from"):
        _evaluate(shop, "short", "model", table="test_short")
    with pytest.raises(InvalidArgument, match="rmse"):
        _evaluate(shop, "wrong-metric", "model", metrics=["rmse"])
    with pytest.raises(InvalidArgument, match="exactly one of TrainingJobName"):
        shop.evaluation.create_evaluation_job(
            evaluation_job_name="two", model_source={"TrainingJobName": "model", "ModelName": "m"},
            test_data=_channel("test_rows"), problem_type="BinaryClassification", output_location=OUTPUT)
    with pytest.raises(Exception, match="does not exist") as missing:
        shop.evaluation.describe_evaluation_job(evaluation_job_name="nope")
    assert type(missing.value).__name__ == "ResourceNotFound"
    assert shop.evaluation.list_evaluation_jobs().evaluation_job_summaries == []


REGRESSOR = '''
import glob, os
import joblib
import numpy as np
from sklearn.linear_model import LinearRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2)
                      for f in sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))])
    joblib.dump(LinearRegression().fit(data[:, 1:], data[:, 0]), os.path.join(os.environ["SM_MODEL_DIR"],
                                                                               "model.joblib"))
'''


def test_a_registered_script_regressor_is_judged_with_regression_metrics(shop: Client, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(scale=0.1, size=300)
    lines = "\n".join(f"{t},{a},{b}" for t, (a, b) in zip(y, x, strict=True)) + "\n"
    shop.fs.pipe_file(f"{BUCKET}/reg/train/part.csv", lines.encode())
    shop.fs.pipe_file(f"{BUCKET}/reg/test/part.csv", lines.encode())
    source = script(tmp_path / "src", REGRESSOR)
    shop.training.create_training_job(
        training_job_name="regressor", algorithm_specification={"TrainingImage": "sklearn"},
        hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": str(source)},
        input_data_config=[{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {
            "S3DataSource": {"S3Uri": f"lake://{BUCKET}/reg/train/"}}}],
        output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"})
    assert wait(shop, "regressor").training_job_status == "Completed"
    shop.registry.create_model_package_group(model_package_group_name="prices")
    version = shop.registry.create_model_package(model_package_group_name="prices",
                                                 source_training_job_name="regressor")
    judged = shop.evaluation.create_evaluation_job(
        evaluation_job_name="prices-v1", model_source={"ModelPackageArn": version.model_package_arn},
        test_data={"ChannelName": "test", "ContentType": "text/csv", "DataSource": {  # s3:// names the lake too
            "S3DataSource": {"S3Uri": f"s3://{BUCKET}/reg/test/"}}},
        problem_type="Regression", output_location=OUTPUT)
    assert judged.metrics["r2"] > 0.99
    residual = y - np.asarray(pq.read_table(io.BytesIO(shop.fs.cat_file(judged.predictions_uri))).column(
        "y_pred").to_numpy())
    assert judged.metrics["rmse"] == pytest.approx(float(np.sqrt((residual ** 2).mean())))
    assert judged.metrics["sse"] == pytest.approx(float((residual ** 2).sum()))
    with pytest.raises(InvalidArgument, match="accuracy"):
        shop.evaluation.create_evaluation_job(
            evaluation_job_name="prices-v1-wrong", model_source={"ModelPackageArn": version.model_package_arn},
            test_data={"ChannelName": "test", "ContentType": "text/csv", "DataSource": {
                "S3DataSource": {"S3Uri": f"lake://{BUCKET}/reg/test/"}}},
            problem_type="Regression", metrics=["accuracy"], output_location=OUTPUT)


def _builtin(client: Client, name: str, algorithm: str, hyperparameters: dict[str, str], prefix: str) -> None:
    client.training.create_training_job(
        training_job_name=name, algorithm_specification={"AlgorithmName": algorithm},
        hyper_parameters=hyperparameters,
        input_data_config=[{"ChannelName": "train", "ContentType": "text/csv;label_size=0", "DataSource": {
            "S3DataSource": {"S3Uri": f"lake://{BUCKET}/{prefix}/"}}}],
        output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"})


def test_clusterings_and_anomaly_scores_are_judged_without_a_label_to_predict(shop: Client) -> None:
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(11)
    blobs = np.vstack([rng.normal(loc=c, scale=0.3, size=(60, 2)) for c in ((0, 0), (5, 5), (0, 6))])
    shop.fs.pipe_file(f"{BUCKET}/blobs/part.csv", "\n".join(f"{a},{b}" for a, b in blobs).encode() + b"\n")
    normal = rng.normal(size=(200, 2))
    odd = rng.normal(loc=8, size=(5, 2))
    labelled = [(0, *r) for r in normal] + [(1, *r) for r in odd]
    shop.fs.pipe_file(f"{BUCKET}/points/part.csv", "\n".join(f"{a},{b}" for _, a, b in labelled).encode() + b"\n")
    shop.fs.pipe_file(f"{BUCKET}/points-labelled/part.csv",
                      "\n".join(f"{y},{a},{b}" for y, a, b in labelled).encode() + b"\n")
    _builtin(shop, "clusters", "k-means", {"k": "3", "feature_dim": "2"}, "blobs")
    _builtin(shop, "anomalies", "random-cut-forest", {"feature_dim": "2", "num_trees": "50"}, "points")
    for job in ("clusters", "anomalies"):
        assert wait(shop, job).training_job_status == "Completed", job
    clustered = shop.evaluation.create_evaluation_job(
        evaluation_job_name="clusters-eval", model_source={"TrainingJobName": "clusters"},
        test_data={"ChannelName": "test", "ContentType": "text/csv;label_size=0", "DataSource": {
            "S3DataSource": {"S3Uri": f"lake://{BUCKET}/blobs/"}}},
        problem_type="Clustering", output_location=OUTPUT)
    answers = pq.read_table(io.BytesIO(shop.fs.cat_file(clustered.predictions_uri))).column("y_pred").to_numpy()
    assert clustered.metrics["clusters"] == 3 and sorted(clustered.metrics["cluster_sizes"].values()) == [60, 60, 60]
    assert clustered.metrics["silhouette"] == pytest.approx(silhouette_score(blobs, answers.astype(int)))
    scored = shop.evaluation.create_evaluation_job(
        evaluation_job_name="anomalies-eval", model_source={"TrainingJobName": "anomalies"},
        test_data={"ChannelName": "test", "ContentType": "text/csv", "DataSource": {
            "S3DataSource": {"S3Uri": f"lake://{BUCKET}/points-labelled/"}}},
        problem_type="AnomalyDetection", output_location=OUTPUT)
    assert scored.metrics["anomalies"] == 5 and scored.metrics["precision_at_k"]["10"] == pytest.approx(0.5)
    assert scored.metrics["roc_auc"] > 0.95
    with pytest.raises(InvalidArgument, match="comparisons are of classifiers"):
        shop.evaluation.compare_evaluations(evaluation_job_name_a="clusters-eval",
                                            evaluation_job_name_b="clusters-eval")
    with pytest.raises(InvalidArgument, match="silhouette"):
        shop.evaluation.create_evaluation_job(
            evaluation_job_name="clusters-wrong", model_source={"TrainingJobName": "clusters"},
            test_data={"ChannelName": "test", "ContentType": "text/csv;label_size=0", "DataSource": {
                "S3DataSource": {"S3Uri": f"lake://{BUCKET}/blobs/"}}},
            problem_type="Clustering", metrics=["accuracy"], output_location=OUTPUT)


def test_a_training_job_with_an_evaluation_option_is_judged_when_it_completes(shop: Client) -> None:
    import time

    shop.training.create_training_job(
        training_job_name="judged", algorithm_specification={"AlgorithmName": "xgboost"},
        hyper_parameters={"num_round": "10", "objective": "binary:logistic"},
        input_data_config=[_channel("train_rows"), {**_channel("test_rows"), "ChannelName": "test"}],
        output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"},
        evaluation={"ProblemType": "BinaryClassification", "TestChannelName": "test"})
    job = wait(shop, "judged")
    assert job.training_job_status == "Completed" and job.evaluation.test_channel_name == "test"
    deadline = time.monotonic() + 60
    while True:
        found = shop.evaluation.list_evaluation_jobs(model_source_contains="training-job/judged")
        if found.evaluation_job_summaries and found.evaluation_job_summaries[0].status != "InProgress":
            break
        assert time.monotonic() < deadline, "the job's evaluation never appeared"
        time.sleep(0.1)
    evaluation = shop.evaluation.describe_evaluation_job(evaluation_job_name="judged-evaluation")
    assert evaluation.status == "Completed" and evaluation.metrics["accuracy"] > 0.8
    assert evaluation.report_uri == f"lake://{BUCKET}/models/judged/judged-evaluation/report.html"
    with pytest.raises(InvalidArgument, match="channel 'holdout', which InputDataConfig does not have"):
        shop.training.create_training_job(
            training_job_name="no-holdout", algorithm_specification={"AlgorithmName": "xgboost"},
            hyper_parameters={"num_round": "10"}, input_data_config=[_channel("train_rows")],
            output_data_config={"S3OutputPath": f"lake://{BUCKET}/models/"},
            evaluation={"ProblemType": "BinaryClassification", "TestChannelName": "holdout"})
