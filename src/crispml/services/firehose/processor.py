"""The processor (Firehose's Lambda transform): a Python callable under the Lambda contract.

``LambdaArn`` names a callable as ``module:function``; crispml imports it in
the delivering process and calls it once per chunk of records (at most
``BufferSizeInMBs``, default 1 MiB) with Firehose's event::

    {"invocationId": "…", "deliveryStreamArn": "crn:crispml:firehose:::deliverystream/NAME",
     "records": [{"recordId": "…", "approximateArrivalTimestamp": 1700000000000, "data": "<base64>"}]}

(a stream source adds ``sourceKinesisStreamArn`` and each record's
``kinesisRecordMetadata``). A handler written for Lambda, ``handler(event,
context)``, gets a small context (``function_name``, ``aws_request_id``,
``invoked_function_arn``, ``get_remaining_time_in_millis()``); a one-argument
callable gets the event alone. It must return ``{"records": [{"recordId",
"result": "Ok" | "Dropped" | "ProcessingFailed", "data": "<base64>"}]}``, with
``metadata.partitionKeys`` for ``!{partitionKeyFromLambda:KEY}``.

Outcomes, as Firehose's: ``Ok`` records go on transformed, ``Dropped`` ones
vanish, ``ProcessingFailed`` ones go to the error output
(``Lambda.ProcessingFailedStatus``). A callable that raises is called again up
to ``NumberOfRetries`` times (default 3); then its whole chunk fails
(``Lambda.FunctionError``, with the exception). An answer that breaks the
contract fails the records it does not account for: not the expected JSON
shape (``Lambda.JsonProcessingException``), a record missing
(``Lambda.MissingRecordId``) or returned twice (``Lambda.DuplicatedRecordId``),
data that is not base64 (``Lambda.InvalidData``); ids it was not sent are
ignored. There is no timeout: a callable that never
returns holds up its delivery stream's deliveries.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import inspect
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crispml.services.firehose.errors import InvalidArgumentException

DEFAULT_RETRIES = 3
_OUTCOMES = ("Ok", "Dropped", "ProcessingFailed")


@dataclass(frozen=True)
class ProcessorSpec:
    handler: str  # module:function
    retries: int
    buffer_bytes: int


@dataclass(frozen=True)
class Input:
    """One record handed to the processor."""

    record_id: str
    arrival_ms: int
    data: bytes
    kinesis: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What became of one record: Ok (with its new data), Dropped, or failed with a code and reason."""

    result: str
    data: bytes = b""
    partition_keys: dict[str, str] = field(default_factory=dict)
    error_code: str = ""
    error_message: str = ""
    attempts: int = 1


@dataclass
class LambdaContext:
    """The part of AWS Lambda's context object a Firehose transform may read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    memory_limit_in_mb: int = 128
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, 300_000 - int((time.monotonic() - self.started) * 1000))


def load_handler(handler: str) -> Callable[..., Any]:
    """Import ``module:function``; InvalidArgumentException says why it cannot be used."""
    module_name, _, function_name = handler.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error importing the user's module is theirs to fix
        raise InvalidArgumentException(
            f"LambdaArn {handler!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc}); "
            "it must be importable by the process that delivers") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InvalidArgumentException(f"LambdaArn {handler!r}: module {module_name!r} has no callable "
                                       f"{function_name!r}")
    return function  # type: ignore[no-any-return]


def _takes_context(function: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def chunks(records: list[Input], limit: int) -> list[list[Input]]:
    """Records split into invocations of at most ``limit`` bytes (one record at least each)."""
    out: list[list[Input]] = []
    size = 0
    for record in records:
        if not out or (size + len(record.data) > limit and out[-1]):
            out.append([])
            size = 0
        out[-1].append(record)
        size += len(record.data)
    return out


def invoke(spec: ProcessorSpec, records: list[Input], *, stream_arn: str,
           source_arn: str | None = None) -> dict[str, Outcome]:
    """Run the processor over ``records``; each record's outcome by its RecordId."""
    outcomes: dict[str, Outcome] = {}
    try:
        function = load_handler(spec.handler)
    except InvalidArgumentException as exc:
        return {r.record_id: Outcome("ProcessingFailed", error_code="Lambda.FunctionError",
                                     error_message=exc.message) for r in records}
    with_context = _takes_context(function)
    for chunk in chunks(records, spec.buffer_bytes):
        outcomes.update(_invoke_chunk(spec, function, with_context, chunk, stream_arn, source_arn))
    return outcomes


def _invoke_chunk(spec: ProcessorSpec, function: Callable[..., Any], with_context: bool, chunk: list[Input],
                  stream_arn: str, source_arn: str | None) -> dict[str, Outcome]:
    invocation = str(uuid.uuid4())
    event: dict[str, Any] = {"invocationId": invocation, "deliveryStreamArn": stream_arn, "records": [
        {"recordId": r.record_id, "approximateArrivalTimestamp": r.arrival_ms,
         "data": base64.b64encode(r.data).decode("ascii"),
         **({"kinesisRecordMetadata": r.kinesis} if r.kinesis is not None else {})}
        for r in chunk]}
    if source_arn is not None:
        event["sourceKinesisStreamArn"] = source_arn
    attempts, answer, failure = 0, None, ""
    while attempts <= spec.retries:
        attempts += 1
        try:
            context = LambdaContext(spec.handler, spec.handler, invocation)
            answer = function(event, context) if with_context else function(event)
            break
        except Exception as exc:  # the user's code failed: its records go to the error output
            failure = f"{type(exc).__name__}: {exc}"
    if answer is None and failure:
        message = f"the processor {spec.handler} raised {failure} (after {attempts} attempts)"
        return {r.record_id: Outcome("ProcessingFailed", error_code="Lambda.FunctionError", error_message=message,
                                     attempts=attempts) for r in chunk}
    return _read_answer(spec, answer, chunk, attempts)


def _read_answer(spec: ProcessorSpec, answer: Any, chunk: list[Input], attempts: int) -> dict[str, Outcome]:
    def failed(code: str, why: str) -> Outcome:
        return Outcome("ProcessingFailed", error_code=code, error_message=why, attempts=attempts)

    entries = answer.get("records") if isinstance(answer, dict) else None
    if not isinstance(entries, list):
        why = f"the processor {spec.handler} returned {type(answer).__name__}, not {{\"records\": [...]}}"
        return {r.record_id: failed("Lambda.JsonProcessingException", why) for r in chunk}
    expected = {r.record_id for r in chunk}
    outcomes: dict[str, Outcome] = {}
    for entry in entries:
        record_id = entry.get("recordId") if isinstance(entry, dict) else None
        if record_id not in expected:
            continue  # an id that was not sent: Firehose ignores it, and the sent one counts as missing
        if record_id in outcomes:
            outcomes[record_id] = failed("Lambda.DuplicatedRecordId", f"the processor returned record "
                                                                      f"{record_id} more than once")
            continue
        outcomes[record_id] = _outcome(entry, failed)
    for record in chunk:
        if record.record_id not in outcomes:
            outcomes[record.record_id] = failed("Lambda.MissingRecordId",
                                                f"the processor's answer has no record {record.record_id}")
    return outcomes


def _outcome(entry: dict[str, Any], failed: Callable[[str, str], Outcome]) -> Outcome:
    result = entry.get("result")
    if result not in _OUTCOMES:
        return failed("Lambda.JsonProcessingException",
                      f"result {result!r} is not one of {', '.join(_OUTCOMES)}")
    if result == "Dropped":
        return Outcome("Dropped")
    if result == "ProcessingFailed":
        return failed("Lambda.ProcessingFailedStatus", "the processor returned ProcessingFailed for the record")
    try:
        data = base64.b64decode(entry.get("data", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        return failed("Lambda.InvalidData", "the processor returned data that is not base64")
    keys = (entry.get("metadata") or {}).get("partitionKeys") or {}
    if not isinstance(keys, dict):
        return failed("Lambda.JsonProcessingException", "metadata.partitionKeys must be an object")
    return Outcome("Ok", data=data, partition_keys={str(k): str(v) for k, v in keys.items()})
