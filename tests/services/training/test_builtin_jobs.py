"""Built-in algorithm jobs through the service: validated before they start, trained in a worker, with
per-round metrics, cross-validation results and the model SageMaker's container would leave."""

from __future__ import annotations

import io
import tarfile

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.services.training.support import BUCKET, OUTPUT, prefix_channel, wait


def _data(client: Client, rows: int = 300) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    lines = "\n".join(",".join([str(label), *(f"{v:.5f}" for v in row)]) for label, row in zip(y, x, strict=True))
    client.fs.pipe_file(f"{BUCKET}/binary/train/data.csv", (lines + "\n").encode())
    client.fs.pipe_file(f"{BUCKET}/binary/validation/data.csv", (lines + "\n").encode())


def _xgboost(client: Client, name: str, hyperparameters: dict[str, str], **extra: object) -> None:
    client.training.create_training_job(
        training_job_name=name, algorithm_specification={"AlgorithmName": "xgboost"},
        hyper_parameters=hyperparameters,
        input_data_config=[prefix_channel("train", f"lake://{BUCKET}/binary/train/"),
                           prefix_channel("validation", f"lake://{BUCKET}/binary/validation/")],
        output_data_config={"S3OutputPath": OUTPUT}, **extra)


def test_xgboost_trains_with_per_round_metrics_and_cross_validation(local_home: Client) -> None:
    _data(local_home)
    _xgboost(local_home, "xgb-cv", {"num_round": "20", "objective": "binary:logistic", "eval_metric": "auc"},
             cross_validation={"Strategy": "StratifiedKFold", "Folds": 3, "Shuffle": True, "Seed": 1})
    job = wait(local_home, "xgb-cv")
    assert job.training_job_status == "Completed", job.failure_reason
    final = {m.metric_name: m.value for m in job.final_metric_data_list}
    assert final["validation:auc"] > 0.95 and final["train:auc"] > 0.95
    cv = job.cross_validation_results
    assert cv.strategy == "StratifiedKFold" and [f.fold for f in cv.folds] == [1, 2, 3]
    aucs = [f.metrics["validation:auc"] for f in cv.folds]
    assert cv.summary["validation:auc"].mean == pytest.approx(sum(aucs) / 3)
    lines = [line.message for line in local_home.training.get_training_job_logs(training_job_name="xgb-cv").lines]
    assert any(line.startswith("[19]#011train-auc:") for line in lines)
    with tarfile.open(fileobj=io.BytesIO(local_home.fs.cat_file(job.model_artifacts.s3_model_artifacts))) as archive:
        assert "xgboost-model" in archive.getnames()


def test_bad_algorithms_and_hyperparameters_are_refused_before_anything_runs(local_home: Client) -> None:
    _data(local_home, rows=20)
    with pytest.raises(InvalidArgument, match=r"unknown algorithm 'xgb'.*available: .*xgboost"):
        local_home.training.create_training_job(
            training_job_name="bad", algorithm_specification={"AlgorithmName": "xgb"},
            output_data_config={"S3OutputPath": OUTPUT})
    with pytest.raises(InvalidArgument, match="num_round"):
        _xgboost(local_home, "bad", {"objective": "binary:logistic"})
    with pytest.raises(InvalidArgument, match="eta"):
        _xgboost(local_home, "bad", {"num_round": "5", "eta": "7"})
    with pytest.raises(InvalidArgument, match=r"cross_validation\.folds.*greater than or equal to 2"):
        _xgboost(local_home, "bad", {"num_round": "5"}, cross_validation={"Folds": 1})
    assert local_home.training.list_training_jobs().training_job_summaries == []


def test_a_label_that_does_not_fit_the_objective_fails_the_job_with_the_reason(local_home: Client) -> None:
    local_home.fs.pipe_file(f"{BUCKET}/binary/train/data.csv", b"3,1.0\n0,2.0\n1,3.0\n")
    local_home.fs.pipe_file(f"{BUCKET}/binary/validation/data.csv", b"0,1.0\n")
    _xgboost(local_home, "bad-label", {"num_round": "2", "objective": "binary:logistic"})
    job = wait(local_home, "bad-label")
    assert job.training_job_status == "Failed"
    assert "label" in job.failure_reason.lower()


def test_xgboost_keeps_checkpoints_in_the_lake_only_when_asked(local_home: Client) -> None:
    _data(local_home, rows=60)
    _xgboost(local_home, "with-checkpoints", {"num_round": "8", "objective": "binary:logistic"},
             checkpoint_config={"S3Uri": f"lake://{BUCKET}/checkpoints/xgb/"})
    _xgboost(local_home, "without-checkpoints", {"num_round": "8", "objective": "binary:logistic"})
    assert wait(local_home, "with-checkpoints").training_job_status == "Completed"
    assert wait(local_home, "without-checkpoints").training_job_status == "Completed"
    kept = sorted(p.rsplit("/", 1)[-1] for p in local_home.fs.ls(f"{BUCKET}/checkpoints/xgb/", detail=False))
    assert kept == [f"xgboost-checkpoint.{n}" for n in range(3, 8)]  # the last five rounds
    jobs = local_home.settings.home / "training" / "jobs"
    assert sorted(p.name for p in (jobs / "with-checkpoints" / "checkpoints").iterdir()) == kept
    assert not (jobs / "without-checkpoints" / "checkpoints").exists()  # no folder, no checkpoint written
