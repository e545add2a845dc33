"""What every built-in algorithm is: its hyperparameters, metrics, channels, training and serving.

An :class:`Algorithm` is a small object with class-level facts (the AWS name,
the hyperparameters with their AWS defaults and ranges, the metric regexes
SageMaker publishes for it, the channels and content types it reads) and four
methods: :meth:`~Algorithm.validate` (strings in, typed values out — run by the
service at ``CreateTrainingJob``), :meth:`~Algorithm.train` (run inside the
job's child process), :meth:`~Algorithm.load` and :meth:`~Algorithm.predict`
(run by an endpoint instance). An algorithm whose requests are rows of numbers
also answers arrays: :meth:`~Algorithm.outputs` is the one computation that
``predict`` encodes, and :meth:`~Algorithm.answer` gives it to a caller holding
an array (an evaluation), so the two ways of asking cannot disagree.

This module imports only the standard library: the service validates a request
without loading numpy or an ML library. Implementations import those inside
``train``/``load``/``predict``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from crispml.services.training.algorithms.data import media_type
from crispml.services.training.errors import ValidationException

if TYPE_CHECKING:
    from crispml.services.training.layout import Layout

__all__ = ["REQUIRED", "Algorithm", "Hyperparameter", "cpus", "emit"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a hyperparameter the caller must set.
REQUIRED: Any = _Required()

Kind = Literal["int", "float", "str", "bool", "enum"]
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter as AWS documents it.

    ``min``/``max`` bound numbers (``min_open``/``max_open`` make a bound
    exclusive); ``choices`` lists an enum's values; ``auto`` lets a number also
    take the literal ``"auto"`` (linear learner's ``l1``, ``wd``, …), kept as the
    string ``"auto"``.
    """

    name: str
    type: Kind
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    min_open: bool = False
    max_open: bool = False
    auto: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def range_text(self) -> str:
        if self.type == "enum":
            return "one of: " + ", ".join(self.choices)
        if self.min is None and self.max is None:
            return f"a{'n' if self.type == 'int' else ''} {self.type}"
        low = "-inf" if self.min is None else _num(self.min)
        high = "+inf" if self.max is None else _num(self.max)
        left = "(" if self.min_open or self.min is None else "["
        right = ")" if self.max_open or self.max is None else "]"
        text = f"{self.type} in {left}{low}, {high}{right}"
        return text + (' or "auto"' if self.auto else "")

    def parse(self, raw: Any) -> Any:
        """The typed value of one raw (string) value; :class:`ValidationException` when it is invalid."""
        text = str(raw).strip()
        if self.auto and text.lower() == "auto":
            return "auto"
        value: Any
        try:
            if self.type == "bool":
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError(text)
                return text.lower() in _TRUE
            if self.type == "enum":
                if text not in self.choices:
                    lowered = {c.lower(): c for c in self.choices}
                    if text.lower() not in lowered:
                        raise ValueError(text)
                    text = lowered[text.lower()]
                return text
            if self.type == "str":
                return text
            number = float(text)
            if self.type == "int":
                if not number.is_integer():
                    raise ValueError(text)
                value = int(number)
            else:
                value = number
            if math.isnan(number):
                raise ValueError(text)
        except ValueError:
            raise ValidationException(
                f"hyperparameter '{self.name}' has an invalid value {text!r}; expected {self.range_text()}"
            ) from None
        if not self._in_range(value):
            raise ValidationException(
                f"hyperparameter '{self.name}' = {text} is out of range; valid: {self.range_text()}"
            )
        return value

    def _in_range(self, value: float) -> bool:
        if self.min is not None and (value < self.min or (self.min_open and value == self.min)):
            return False
        return not (self.max is not None and (value > self.max or (self.max_open and value == self.max)))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def cpus() -> int:
    """The job's CPUs (``SM_NUM_CPUS``, else this machine's)."""
    try:
        return max(1, int(os.environ["SM_NUM_CPUS"]))
    except (KeyError, ValueError):
        return os.cpu_count() or 1


def emit(line: str) -> None:
    """Print one log line and flush it, so the executor scrapes metrics while the job runs."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Algorithm(ABC):
    """A SageMaker built-in algorithm, run on an open-source library."""

    name: ClassVar[str]
    doc: ClassVar[str] = ""
    hyperparameters: ClassVar[tuple[Hyperparameter, ...]]
    metric_definitions: ClassVar[tuple[tuple[str, str], ...]] = ()
    supervised: ClassVar[bool] = True
    content_types: ClassVar[frozenset[str]] = frozenset({"text/csv"})
    #: The content type of a channel that does not say (SageMaker's default for the algorithm, where we read it).
    default_content_type: ClassVar[str] = "text/csv"
    libraries: ClassVar[tuple[str, ...]] = ("numpy",)
    required_channels: ClassVar[frozenset[str]] = frozenset({"train"})
    optional_channels: ClassVar[frozenset[str]] = frozenset({"validation"})
    #: Request bodies ``predict`` reads.
    inference_content_types: ClassVar[frozenset[str]] = frozenset(
        {"text/csv", "application/json", "application/jsonlines"})
    #: Whether requests are rows of numbers, which :meth:`outputs` also answers as arrays (not blazingtext's texts).
    answers_arrays: ClassVar[bool] = True

    # Validation --------------------------------------------------------------------------------------------

    def validate(self, hyperparameters: dict[str, str]) -> dict[str, Any]:
        """Typed hyperparameters with AWS's defaults filled in, or :class:`ValidationException`."""
        known = {hp.name: hp for hp in self.hyperparameters}
        unknown = sorted(k for k in hyperparameters if k not in known and not k.startswith("sagemaker_"))
        if unknown:
            raise ValidationException(
                f"unknown hyperparameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                f"for algorithm '{self.name}'; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        missing = []
        for hp in self.hyperparameters:
            if hp.name in hyperparameters:
                values[hp.name] = hp.parse(hyperparameters[hp.name])
            elif hp.required:
                missing.append(hp.name)
            else:
                values[hp.name] = hp.default
        if missing:
            raise ValidationException(
                f"algorithm '{self.name}' requires hyperparameter{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}"
            )
        self.check(values)
        return values

    def check(self, values: dict[str, Any]) -> None:  # noqa: B027 - a hook, empty by default
        """Rules between hyperparameters (``num_class`` for a ``multi:*`` objective, …); override to add."""

    def validate_channels(self, channels: dict[str, str]) -> None:
        """Refuse missing or unknown channels and content types this algorithm does not read."""
        known = self.required_channels | self.optional_channels
        missing = sorted(self.required_channels - set(channels))
        if missing:
            raise ValidationException(
                f"algorithm '{self.name}' needs channel{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"(channels: {', '.join(sorted(known))})"
            )
        extra = sorted(set(channels) - known)
        if extra:
            raise ValidationException(
                f"algorithm '{self.name}' does not read channel{'s' if len(extra) > 1 else ''} "
                f"{', '.join(extra)}; its channels are {', '.join(sorted(known))}"
            )
        for channel, content_type in channels.items():
            base, _ = media_type(content_type or self.default_content_type)
            if base not in self.content_types:
                raise ValidationException(
                    f"channel '{channel}' has content type '{content_type}', which algorithm '{self.name}' "
                    f"does not read; supported: {', '.join(sorted(self.content_types))}"
                )

    # Training ----------------------------------------------------------------------------------------------

    @abstractmethod
    def train(self, layout: Layout, hyperparameters: dict[str, Any]) -> None:
        """Fit on the job's channels and write the model into ``layout.model_dir``."""

    def content_type(self, layout: Layout, channel: str) -> str:
        config = layout.input_data_config().get(channel) or {}
        return str(config.get("ContentType") or self.default_content_type)

    def channel_present(self, layout: Layout, channel: str) -> bool:
        return channel in layout.input_data_config() or layout.channel_dir(channel).is_dir()

    def read(self, layout: Layout, channel: str, supervised: bool | None = None) -> tuple[Any, Any]:
        """``(X, y)`` of one channel as float32 arrays (``y`` is ``None`` without a label column)."""
        from crispml.services.training.algorithms.data import read_channel

        return read_channel(layout.channel_dir(channel), self.content_type(layout, channel),
                            self.supervised if supervised is None else supervised, channel)

    # Serving -----------------------------------------------------------------------------------------------

    @abstractmethod
    def load(self, model_dir: Path) -> Any:
        """The model saved by :meth:`train`, ready for :meth:`predict`."""

    @abstractmethod
    def predict(self, model: Any, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """The response body and its content type, shaped as SageMaker's container returns them."""

    def outputs(self, model: Any, X: Any) -> tuple[Any, Any]:
        """What :meth:`predict` encodes for the rows ``X`` (float32, as a request's rows are read), as arrays:
        ``(labels, scores)``, either None when the response holds none (scores: one per row, or a row of class
        probabilities, distances or projections per row). ``predict`` encodes exactly this, so its answer and
        :meth:`answer`'s are the same numbers. Only for algorithms that :attr:`answers_arrays`."""
        raise NotImplementedError(f"algorithm '{self.name}' answers requests only, not arrays of rows")

    def answer(self, model: Any, X: Any) -> tuple[Any, Any]:
        """:meth:`outputs` of rows given as an array, read as a request's rows are (as float32: a request's
        numbers are parsed to float32, so an array must be too for the answers to be the same); rows the model
        cannot take are a ValidationException saying so, as a request's are."""
        import numpy as np

        from crispml.services.training.algorithms.data import DataError

        try:
            return self.outputs(model, np.asarray(X, dtype=np.float32))
        except (DataError, ValueError) as exc:
            raise ValidationException(f"cannot predict: {exc}") from None

    def check_request(self, content_type: str, accept: str, accepts: tuple[str, ...]) -> str:
        """The chosen response type; :class:`ValidationException` for a body or Accept we do not handle."""
        base, _ = media_type(content_type or "text/csv")
        if base not in self.inference_content_types:
            raise ValidationException(
                f"algorithm '{self.name}' does not read request content type '{content_type}'; "
                f"supported: {', '.join(sorted(self.inference_content_types))}"
            )
        wanted, _ = media_type(accept or accepts[0])
        if wanted in ("*/*", ""):
            return accepts[0]
        if wanted not in accepts:
            raise ValidationException(
                f"algorithm '{self.name}' cannot answer with '{accept}'; supported: {', '.join(accepts)}"
            )
        return wanted


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def respond(rows: list[Any], kind: str, key: str | None) -> tuple[bytes, str]:
    """Rows as SageMaker's built-in containers answer: one JSON document per line for
    ``application/jsonlines``, else ``{key: rows}`` (the bare list when ``key`` is None)."""
    if kind == "application/jsonlines":
        return "".join(dumps(r).decode() + "\n" for r in rows).encode(), kind
    return dumps({key: rows} if key else rows), kind


#: What a model's computation over request rows gives.
T = TypeVar("T")


def predicted(compute: Callable[[Any], T], body: bytes, content_type: str) -> T:
    """``compute`` over a request's rows; a request that cannot be read, or rows the model cannot take, are a
    ValidationException saying so."""
    from crispml.services.training.algorithms.data import DataError, request_features

    try:
        return compute(request_features(body, content_type))
    except (DataError, ValueError) as exc:
        raise ValidationException(f"cannot predict: {exc}") from None


def save_arrays(model_dir: Path, name: str, arrays: dict[str, Any]) -> None:
    """A model made of numpy arrays, as one ``.npz`` file in ``model_dir``."""
    import numpy as np

    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / name, "wb") as file:
        np.savez(file, **arrays)


def load_arrays(model_dir: Path, name: str) -> dict[str, Any]:
    """The arrays :func:`save_arrays` wrote."""
    import numpy as np

    with np.load(Path(model_dir) / name) as data:
        return {k: data[k] for k in data.files}


def check_feature_dim(X: Any, expected: int, channel: str) -> None:
    """A channel's width against the ``feature_dim`` hyperparameter."""
    from crispml.services.training.algorithms.data import DataError

    if X.shape[1] != expected:
        raise DataError(f"channel '{channel}' has {X.shape[1]} features but feature_dim is {expected}")


#: A number as a metric regex captures it (the one group).
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def quality_line(channel: str, metric: str, value: float, epoch: int | None = None, tag: str = "loss") -> str:
    """A metric line as SageMaker's first-party algorithms log it.

    ``#quality_metric: host=algo-1, epoch=3, validation objective_loss <loss>=0.25``
    (per epoch) or without ``epoch=`` (the final value).
    """
    at = f"epoch={epoch}, " if epoch is not None else ""
    return f"#quality_metric: host=algo-1, {at}{channel} {metric} <{tag}>={value:.6g}"


def quality_metric(channel: str, metric: str) -> tuple[str, str]:
    """The (Name, Regex) pair matching :func:`quality_line`, per epoch and final."""
    return f"{channel}:{metric}", rf"#quality_metric: host=\S+, (?:epoch=\S+, )?{channel} {metric} <\w+>={NUMBER}"
