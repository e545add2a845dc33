"""Script jobs: which local runner a ``TrainingImage`` stands for, and how its script is found.

A ``TrainingImage`` names a framework — ``sklearn``, ``xgboost``,
``lightgbm``, ``python`` (plain Python with numpy and pandas) — or is a
SageMaker framework image URI as the SageMaker SDK sends it
(``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3``,
``…/sagemaker-xgboost:1.7-1``, ``…/pytorch-training:…``); the URI's
repository picks the framework and its tag is kept only for the record: the
script runs on this machine's Python and the versions installed here. A
framework the machine does not have (PyTorch, TensorFlow, …) is refused with
the list of those it has.

The script is named as the SageMaker SDK names it, in hyperparameters:
``sagemaker_program`` (the entry point, e.g. ``train.py``) and
``sagemaker_submit_directory`` (a local folder, or a ``lake://``/``s3://``
``sourcedir.tar.gz``). The SDK JSON-encodes every hyperparameter value
(``"\\"train.py\\""``); both that and the plain string are accepted, as the
training toolkit does.
"""

from __future__ import annotations

import json
import re

from crispml.services.training.errors import ValidationException

#: Framework → modules a warm worker imports ahead, so a job's own import of them is free.
FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "sklearn": ("numpy", "pandas", "sklearn"),
    "xgboost": ("numpy", "pandas", "sklearn", "xgboost"),
    "lightgbm": ("numpy", "pandas", "sklearn", "lightgbm"),
    "python": ("numpy", "pandas"),
}
#: Repositories of SageMaker's framework images → framework.
_REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn", "sagemaker-sklearn": "sklearn", "scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost", "xgboost": "xgboost", "lightgbm": "lightgbm", "sagemaker-lightgbm": "lightgbm",
    "sagemaker-base-python": "python", "python": "python",
}
_UNAVAILABLE = ("pytorch", "tensorflow", "mxnet", "huggingface", "djl", "chainer")
#: Hyperparameters the SageMaker SDK adds for the toolkit, not passed to the script.
SAGEMAKER_KEYS = re.compile(r"^sagemaker_")


def framework_of(image: str) -> str:
    """The framework a TrainingImage stands for; ValidationException naming those available."""
    text = image.strip().lower()
    if text in FRAMEWORKS:
        return text
    repository = text.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    if repository in _REPOSITORIES:
        return _REPOSITORIES[repository]
    available = ", ".join(sorted(FRAMEWORKS))
    if any(name in repository for name in _UNAVAILABLE):
        raise ValidationException(f"TrainingImage {image!r} is a {repository} image; this machine runs scripts on "
                                  f"{available}")
    raise ValidationException(f"TrainingImage {image!r} names no framework this machine runs; use one of "
                              f"{available} or a SageMaker framework image URI")


def decode(value: str) -> str:
    """A hyperparameter value as the script sees it: JSON-decoded if the SDK encoded it, else as given."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def script_arguments(hyperparameters: dict[str, str]) -> list[str]:
    """``--name value`` for every hyperparameter but the toolkit's own, as the training toolkit passes them."""
    arguments: list[str] = []
    for key, value in sorted(hyperparameters.items()):
        if not SAGEMAKER_KEYS.match(key):
            arguments += [f"--{key}", decode(value)]
    return arguments
