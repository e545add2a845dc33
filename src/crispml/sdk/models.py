"""``client.registry.load(name)``: a registered model, loaded in this process, ready to predict.

The name is a model's (``CreateModel``) or a version's (its ARN, or
``group/version``). Its model.tar.gz — and a script model's
``SAGEMAKER_SUBMIT_DIRECTORY`` — are read through the lake as the client
(so its permissions apply) and unpacked in a temporary folder that lives as
long as the returned :class:`Predictor`; the registry's inference runtime then
loads it as SageMaker's container would (a built-in algorithm's handler, or
the script's ``model_fn`` and the other handlers or their defaults).

It does not start a server or a process: for endpoints, see the serving service.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crispml.sdk.client import Client
    from crispml.services.registry.service import LoadedModel

CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"


class Predictor:
    """A loaded model: ``predict(rows)`` answers as the model's container would.

    ``predict`` takes the request body (``bytes`` or ``str``, sent as is, the answer's bytes returned) or rows
    (a list of lists, a numpy array, a DataFrame — encoded in ``content_type``, the answer decoded from
    ``accept`` into a numpy array where it is one); ``invoke`` is the raw call and returns the answer's content
    type too.
    """

    def __init__(self, name: str, model: LoadedModel, folder: Path) -> None:
        self.name = name
        self._model = model
        self.folder = folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(folder), True)

    def invoke(self, body: bytes, content_type: str = CSV, accept: str = JSON) -> tuple[bytes, str]:
        return self._model.invoke(body, content_type, accept)

    def predict(self, data: Any, content_type: str = CSV, accept: str = JSON) -> Any:
        if isinstance(data, bytes | str):
            return self.invoke(data.encode() if isinstance(data, str) else data, content_type, accept)[0]
        body, kind = self.invoke(_encode(data, content_type), content_type, accept)
        return _decode(body, kind)

    def close(self) -> None:
        self._cleanup()

    def __repr__(self) -> str:
        return f"<Predictor {self.name}: {self._model.description}>"


def load(client: Client, name: str) -> Predictor:
    """Load model ``name`` (or its ARN) or model package version ``name`` (its ARN, or ``group/version``)."""
    from crispml.services.registry.service import RegistryService

    folder = Path(tempfile.mkdtemp(prefix="crispml-model-"))
    try:
        model = client.platform.peer(RegistryService).open_model(client.context(), name, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Predictor(name, model, folder)


def _encode(rows: Any, content_type: str) -> bytes:
    import numpy as np

    array = np.asarray(rows)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON:
        return json.dumps(array.tolist()).encode()
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    return "".join(",".join(repr(v) for v in row) + "\n" for row in array.tolist()).encode()


def _decode(body: bytes, content_type: str) -> Any:
    import numpy as np

    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if kind == CSV:
        rows = [[float(v) for v in line.split(",")] for line in body.decode().splitlines() if line.strip()]
        array = np.array(rows)
        return array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array
    if kind == JSON:
        value = json.loads(body)
        if isinstance(value, dict) and isinstance(value.get("predictions"), list):
            scores = [p.get("score", p) if isinstance(p, dict) else p for p in value["predictions"]]
            return np.array(scores)
        return np.array(value) if isinstance(value, list) else value
    return body
