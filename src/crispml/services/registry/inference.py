"""A small inference runtime: a model's code, loaded in this process, answering requests.

Built-in algorithms serve through their own handler (the training service's
``builtin_algorithm(name).load/predict``), and answer an array through the
computation that handler encodes (``answer``): a caller holding an array (an
evaluation) need not encode it nor parse the answer. A script model follows
SageMaker's inference toolkit contract: its entry point defines
``model_fn(model_dir)`` (required) and may define ``input_fn(body,
content_type)``, ``predict_fn(data, model)`` and ``output_fn(prediction,
accept)``; a handler left out falls back to the scikit-learn / XGBoost
containers' defaults — CSV, JSON or NPY in as a numpy array, ``model.predict``,
the answer encoded in the ``Accept`` type (JSON when ``*/*``). Code is found as
the containers find it: in the unpacked ``SAGEMAKER_SUBMIT_DIRECTORY``, else in
the model's ``code/`` folder, else beside the model.

It does not fetch anything (the caller unpacks the artifact and the code into
folders) and does not isolate the script: it runs in the caller's process, as
the script would in its container.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from crispml.services.registry.errors import InvalidInferenceScript, ValidationException
from crispml.services.training.service import builtin_algorithm, builtin_algorithm_names

CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
DEFAULT_ACCEPT = JSON


def base_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def default_input_fn(body: bytes | str, content_type: str) -> Any:
    """The containers' decoder: CSV (no header), JSON (a list of rows) or NPY into a numpy array."""
    import numpy as np

    kind = base_type(content_type) or CSV
    data = body.encode() if isinstance(body, str) else body
    if kind == CSV:
        rows = [line for line in data.decode().splitlines() if line.strip()]
        return np.array([[float(v) for v in line.split(",")] for line in rows])
    if kind in (JSON, "application/jsonlines"):
        text = data.decode()
        values = json.loads(text) if kind == JSON else [json.loads(line) for line in text.splitlines() if line]
        if isinstance(values, dict) and "instances" in values:
            values = values["instances"]
        return np.array(values)
    if kind == NPY:
        return np.load(io.BytesIO(data), allow_pickle=False)
    raise ValidationException(f"content type {content_type!r} is not one the default input_fn decodes ({CSV}, "
                              f"{JSON}, {NPY}); define input_fn(body, content_type) in the inference script")


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """The containers' encoder: the prediction as JSON, CSV or NPY."""
    import numpy as np

    kind = base_type(accept)
    kind = DEFAULT_ACCEPT if kind in ("", "*/*") else kind
    array = np.asarray(prediction)
    if kind == JSON:
        return json.dumps(array.tolist()).encode(), JSON
    if kind == CSV:
        rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
        return "".join(",".join(repr(v) for v in row.tolist()) + "\n" for row in rows).encode(), CSV
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue(), NPY
    raise ValidationException(f"Accept {accept!r} is not one the default output_fn encodes ({JSON}, {CSV}, {NPY}); "
                              "define output_fn(prediction, accept) in the inference script")


Outputs = tuple[Any, Any]


class LoadedModel:
    """A model ready to answer: ``invoke(body, content_type, accept) -> (body, content_type)``; a built-in
    algorithm taking rows of numbers also answers an array (:meth:`arrays`) without a body either way.

    ``content_type`` and ``accept`` are the bodies a caller holding an array should send and ask for when the
    model has no array path: NPY where a script leaves reading (writing) bodies to the containers' defaults,
    which carry an array exactly and many times faster than CSV (JSON); CSV and JSON otherwise.
    """

    def __init__(self, handle: Callable[[bytes, str, str], tuple[bytes, str]], description: str, *,
                 outputs: Callable[[Any], Outputs] | None = None, content_type: str = CSV,
                 accept: str = DEFAULT_ACCEPT) -> None:
        self._handle = handle
        self._outputs = outputs
        self.description = description
        self.content_type = content_type
        self.accept = accept

    def invoke(self, body: bytes, content_type: str = CSV, accept: str = DEFAULT_ACCEPT) -> tuple[bytes, str]:
        return self._handle(body, content_type, accept)

    def arrays(self, X: Any) -> Outputs | None:
        """``(labels, scores)`` for the rows of the array ``X``, each an array or None: the numbers
        :meth:`invoke` would encode for the same rows sent as CSV. None when the model has no array path (a
        script model, or an algorithm whose requests are not rows of numbers): ask it with :meth:`invoke`."""
        return None if self._outputs is None else self._outputs(X)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.description}>"


def load_model(image: str, model_dir: Path, environment: dict[str, str], code_dir: Path | None = None) -> LoadedModel:
    """Load the model unpacked in ``model_dir`` with the code ``image`` and ``environment`` name."""
    if image in builtin_algorithm_names():
        algorithm = builtin_algorithm(image)
        model = algorithm.load(model_dir)
        return LoadedModel(lambda body, ct, accept: algorithm.predict(model, body, ct, accept), image,
                           outputs=(lambda X: algorithm.answer(model, X)) if algorithm.answers_arrays else None)
    program = environment.get("SAGEMAKER_PROGRAM")
    if not program:
        raise InvalidInferenceScript(f"a {image} model needs its entry point in SAGEMAKER_PROGRAM")
    folders = [f for f in (code_dir, model_dir / "code", model_dir) if f is not None]
    script = next((f / program for f in folders if (f / program).is_file()), None)
    if script is None:
        raise InvalidInferenceScript(f"inference script {program!r} is in none of {', '.join(map(str, folders))}; "
                                     "give its code in SAGEMAKER_SUBMIT_DIRECTORY or in the model's code/ folder")
    module = _import(script)
    model_fn = getattr(module, "model_fn", None)
    if not callable(model_fn):
        raise InvalidInferenceScript(
            f"inference script {program!r} defines no model_fn(model_dir); add one that loads and returns the model "
            "from model_dir (e.g. return joblib.load(os.path.join(model_dir, 'model.joblib'))) — input_fn, "
            "predict_fn and output_fn may be left out")
    model = model_fn(str(model_dir))
    input_fn = getattr(module, "input_fn", default_input_fn)
    predict_fn = getattr(module, "predict_fn", default_predict_fn)
    output_fn = getattr(module, "output_fn", None)

    def handle(body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        prediction = predict_fn(input_fn(body, content_type), model)
        if output_fn is None:
            return default_output_fn(prediction, accept)
        answer = output_fn(prediction, accept)
        if isinstance(answer, tuple):
            return _bytes(answer[0]), answer[1]
        return _bytes(answer), base_type(accept) if base_type(accept) not in ("", "*/*") else DEFAULT_ACCEPT

    return LoadedModel(handle, f"{image} {program}", content_type=NPY if input_fn is default_input_fn else CSV,
                       accept=NPY if output_fn is None else DEFAULT_ACCEPT)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _import(script: Path) -> ModuleType:
    """Import ``script`` as a module of its own, its folder first on ``sys.path`` (for its helpers)."""
    folder = str(script.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"crispml_inference_{abs(hash(str(script)))}"
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise InvalidInferenceScript(f"inference script {str(script)!r} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise InvalidInferenceScript(f"inference script {script.name!r} failed to import: "
                                     f"{type(exc).__name__}: {exc}") from exc
    return module
