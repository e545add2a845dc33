"""A training job's working directory, laid out like SageMaker's ``/opt/ml``.

The executor makes one per job and the code inside the job — a built-in
algorithm or the user's script — finds everything at the same relative paths a
SageMaker training container does::

    <root>/input/config/hyperparameters.json   every hyperparameter, as strings
    <root>/input/config/inputdataconfig.json   {channel: {"ContentType", "TrainingInputMode", ...}}
    <root>/input/config/resourceconfig.json    {"current_host": "algo-1", "hosts": ["algo-1"], ...}
    <root>/input/config/crossvalidation.json   crispml's CrossValidation option, when set
    <root>/input/data/<channel>/               the channel's files (copied, or linked in FastFile mode)
    <root>/model/                              what the job leaves here becomes model.tar.gz
    <root>/output/data/                        becomes output.tar.gz
    <root>/output/failure                      a failing job writes its reason here
    <root>/checkpoints/                        synced with CheckpointConfig.S3Uri

Nothing here imports more than the standard library: the code inside a job
reads it before anything heavy is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

#: The one host of a single-instance job, as SageMaker names it.
HOST = "algo-1"


@dataclass(frozen=True)
class Layout:
    """The paths of one job's ``/opt/ml``."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def inputdataconfig_file(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resourceconfig_file(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    @property
    def crossvalidation_file(self) -> Path:
        return self.config_dir / "crossvalidation.json"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def code_dir(self) -> Path:
        """Where a script job's source directory is unpacked (SageMaker's ``/opt/ml/code``)."""
        return self.root / "code"

    def make(self, *, checkpoints: bool = True) -> Layout:
        """Create the folders; ``checkpoints/`` only for a job that keeps checkpoints (its algorithm saves
        them only when the folder is there, as on SageMaker, where it exists with a CheckpointConfig)."""
        folders = [self.config_dir, self.data_dir, self.model_dir, self.output_data_dir, self.code_dir]
        for folder in folders + ([self.checkpoint_dir] if checkpoints else []):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    # What the job reads ---------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, str]:
        return cast(dict[str, str], _read(self.hyperparameters_file, {}))

    def input_data_config(self) -> dict[str, dict[str, Any]]:
        return cast(dict[str, dict[str, Any]], _read(self.inputdataconfig_file, {}))

    def resource_config(self) -> dict[str, Any]:
        return cast(dict[str, Any], _read(self.resourceconfig_file, {"current_host": HOST, "hosts": [HOST]}))

    def cross_validation(self) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, _read(self.crossvalidation_file, None))

    def channels(self) -> list[str]:
        return sorted(self.input_data_config())


def _read(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())  # the job's own config files, written by the executor
    except FileNotFoundError:
        return default
