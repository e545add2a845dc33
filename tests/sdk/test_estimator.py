"""The SageMaker-shaped estimator on real script jobs: what it sends, what fit returns, how it fails."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import crispml
from crispml.core.errors import InvalidArgument, NotFound
from crispml.sdk.client import Client
from crispml.sdk.estimator import CatalogInput, Estimator, SKLearn, TrainingInput
from crispml.sdk.jobs import UnexpectedStatusException
from tests.services.training.support import BUCKET, OUTPUT, script

READING = """
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--penalty", type=str)
parser.add_argument("--layers", type=json.loads)
args = parser.parse_args()
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "a.csv")).read().split()
print(f"auc={0.5 + args.epochs / 10}", flush=True)
json.dump({"epochs": args.epochs, "penalty": args.penalty, "layers": args.layers, "rows": rows,
           "content_type": os.environ.get("SM_CHANNEL_TRAIN_CONTENT_TYPE") or json.loads(
               os.environ["SM_INPUT_DATA_CONFIG"])["train"].get("ContentType")},
          open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w"))
"""


@pytest.fixture
def trainer(local_client: Client) -> Client:
    local_client.lake.create_bucket(bucket=BUCKET)
    return local_client


def test_fit_runs_a_script_job_and_returns_the_finished_job(trainer: Client, tmp_path: Path) -> None:
    trainer.fs.pipe_file(f"{BUCKET}/data/train/a.csv", b"1,2\n3,4\n")
    estimator = Estimator(trainer, image_uri="python", entry_point="train.py",
                          source_dir=script(tmp_path / "src", READING),
                          hyperparameters={"epochs": 3, "penalty": "l2", "layers": [4, 2]},
                          output_path=OUTPUT, base_job_name="churn",
                          metric_definitions=[{"Name": "validation:auc", "Regex": r"auc=([0-9.]+)"}])
    job = estimator.fit({"train": TrainingInput(f"lake://{BUCKET}/data/train/", content_type="text/csv")})
    assert job.training_job_status == "Completed", job.failure_reason
    assert job.training_job_name.startswith("churn-") and len(job.training_job_name) <= 63
    assert estimator.latest_training_job is not None
    assert estimator.latest_training_job.name == job.training_job_name
    # hyperparameters go JSON-encoded, as the SageMaker SDK sends a framework's
    assert job.hyper_parameters["penalty"] == '"l2"' and job.hyper_parameters["layers"] == "[4, 2]"
    assert {m.metric_name: m.value for m in job.final_metric_data_list} == {"validation:auc": pytest.approx(0.8)}
    assert estimator.model_data == f"{OUTPUT}{job.training_job_name}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(trainer.fs.cat_file(estimator.model_data))) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        model = json.load(member)
    assert model == {"epochs": 3, "penalty": "l2", "layers": [4, 2], "rows": ["1,2", "3,4"],
                     "content_type": "text/csv"}


def test_fit_raises_the_failure_reason_of_a_failed_job(trainer: Client, tmp_path: Path) -> None:
    source = script(tmp_path / "src", 'raise SystemExit("no label column")', name="fail.py")
    estimator = crispml.Estimator(trainer, image_uri="python", entry_point="fail.py", source_dir=str(source),
                                  output_path=OUTPUT, base_job_name="churn")
    with pytest.raises(UnexpectedStatusException, match="no label column") as failed:
        estimator.fit()
    assert failed.value.actual_status == "Failed" and failed.value.code == "UnexpectedStatusException"
    assert estimator.latest_training_job is not None
    assert estimator.latest_training_job.describe().training_job_status == "Failed"
    assert estimator.model_data is None


def test_a_catalog_input_on_a_missing_table_is_refused_before_any_job(trainer: Client, tmp_path: Path) -> None:
    estimator = SKLearn(trainer, "train.py", source_dir=script(tmp_path / "src", READING), output_path=OUTPUT)
    assert str(estimator.image_uri).endswith("/sagemaker-scikit-learn:1.2-1-cpu-py3")
    trainer.catalog.create_database(database_input={"Name": "sales"})
    with pytest.raises(NotFound, match="orders"):
        estimator.fit({"train": CatalogInput("sales", "orders", label_column="churned")})
    assert estimator.latest_training_job is None
    assert trainer.training.list_training_jobs().training_job_summaries == []


def test_an_estimator_needs_one_of_an_algorithm_and_an_image(trainer: Client) -> None:
    with pytest.raises(InvalidArgument, match="exactly one of algorithm_name"):
        Estimator(trainer, algorithm_name="xgboost", image_uri="python", output_path=OUTPUT)
    with pytest.raises(InvalidArgument, match="entry_point"):
        Estimator(trainer, image_uri="sklearn", output_path=OUTPUT)
    with pytest.raises(InvalidArgument, match="has not been fitted"):
        _ = Estimator(trainer, algorithm_name="xgboost", output_path=OUTPUT).model_data
