"""What the serving tests share: real xgboost models in the lake, endpoints waited for, the runtime stopped."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from crispml.sdk.client import Client
from tests.services.registry.conftest import tar_gz as tar_gz  # shared with the serving tests

BUCKET = "serve-data"
FEATURES = 3


def rows(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).round(3)
    y = (x[:, 0] - 0.5 * x[:, 2] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return x, y


def booster(seed: int = 0, rounds: int = 8) -> Any:
    """A small binary xgboost model trained here (the model a built-in training job would write)."""
    import xgboost as xgb

    x, y = rows(seed, 400)
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "seed": seed}, xgb.DMatrix(x, label=y), rounds)


def add_model(client: Client, name: str, model: Any) -> str:
    """``model`` as a registry model ``name`` (image xgboost), its artifact in the lake."""
    if not client.lake.list_buckets().buckets or BUCKET not in {b.name for b in client.lake.list_buckets().buckets}:
        client.lake.create_bucket(bucket=BUCKET)
    uri = f"lake://{BUCKET}/models/{name}/model.tar.gz"
    client.fs.pipe_file(uri, tar_gz({"xgboost-model": bytes(model.save_raw("json"))}))
    client.registry.create_model(model_name=name, primary_container={"Image": "xgboost", "ModelDataUrl": uri})
    return uri


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    import xgboost as xgb

    return np.asarray(model.predict(xgb.DMatrix(x)))


def csv(x: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in x).encode()


def wait_status(client: Client, name: str, wanted: tuple[str, ...] = ("InService", "Failed"),
                timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        described = client.serving.describe_endpoint(endpoint_name=name)
        if described.endpoint_status in wanted:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"endpoint {name} is still {described.endpoint_status} after {timeout:.0f} s: "
                                 f"{described}")
        time.sleep(0.1)


def deploy(client: Client, endpoint: str, variants: list[dict[str, Any]], **config: Any) -> Any:
    """An endpoint configuration ``<endpoint>-config`` of ``variants`` deployed as ``endpoint``, InService."""
    client.serving.create_endpoint_config(endpoint_config_name=f"{endpoint}-config", production_variants=variants,
                                          **config)
    client.serving.create_endpoint(endpoint_name=endpoint, endpoint_config_name=f"{endpoint}-config")
    described = wait_status(client, endpoint)
    assert described.endpoint_status == "InService", described.failure_reason
    return described


def front_url(described: Any) -> str:
    return str(described.runtime_url).rsplit("/endpoints/", 1)[0]
