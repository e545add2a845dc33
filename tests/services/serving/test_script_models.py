"""A script model behind an endpoint: SageMaker's inference handlers in an instance, and a model that fails
answering 424 ModelError in SageMaker Runtime's shape, through boto3."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config

from crispml.sdk.client import Client
from tests.services.serving.support import BUCKET, deploy, front_url, tar_gz

SCRIPT = b'''
import json


def model_fn(model_dir):
    with open(model_dir + "/weights.json") as f:
        return json.load(f)


def input_fn(body, content_type):
    return [float(v) for v in body.decode().strip().split(",")]


def predict_fn(data, model):
    if data[0] < 0:
        raise RuntimeError("negative input is not allowed by this model")
    return sum(w * x for w, x in zip(model["weights"], data))


def output_fn(prediction, accept):
    return json.dumps({"score": prediction}), "application/json"
'''


def test_a_script_model_serves_through_its_handlers_and_a_failing_model_answers_424(serving: Client) -> None:
    serving.lake.create_bucket(bucket=BUCKET)
    serving.fs.pipe_file(f"lake://{BUCKET}/script/model.tar.gz",
                         tar_gz({"weights.json": json.dumps({"weights": [2.0, -1.0]}).encode()}))
    serving.fs.pipe_file(f"lake://{BUCKET}/script/sourcedir.tar.gz", tar_gz({"serve.py": SCRIPT}))
    serving.registry.create_model(model_name="scripted", primary_container={
        "Image": "sklearn", "ModelDataUrl": f"lake://{BUCKET}/script/model.tar.gz",
        "Environment": {"SAGEMAKER_PROGRAM": "serve.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": f"lake://{BUCKET}/script/sourcedir.tar.gz"}})
    described = deploy(serving, "scripted", [{"VariantName": "main", "ModelName": "scripted"}])
    runtime = boto3.client("sagemaker-runtime", endpoint_url=front_url(described), region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test",
                           config=Config(retries={"max_attempts": 0}))

    answer = runtime.invoke_endpoint(EndpointName="scripted", Body=b"3,1.5", ContentType="text/csv")
    assert answer["ContentType"] == "application/json"
    assert json.loads(answer["Body"].read()) == {"score": 4.5}  # 2 * 3 - 1 * 1.5, by its predict_fn

    with pytest.raises(runtime.exceptions.ModelError) as info:
        runtime.invoke_endpoint(EndpointName="scripted", Body=b"-1,0", ContentType="text/csv")
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert "negative input is not allowed" in error["OriginalMessage"]
    assert "LogStreamArn" in error
