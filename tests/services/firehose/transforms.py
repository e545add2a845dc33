"""Processors (Firehose Lambda transforms) the firehose tests deliver through, named as
``tests.services.firehose.transforms:FUNCTION``. Each follows the Lambda contract."""

from __future__ import annotations

import base64
import json
from typing import Any

#: Invocations seen by ``count_calls`` (within one test process).
CALLS: list[dict[str, Any]] = []


def by_verdict(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A Lambda-style handler: the record's "verdict" field decides; Ok records are upper-cased and
    partitioned by their "team" field (metadata.partitionKeys)."""
    assert context.aws_request_id == event["invocationId"]
    out = []
    for record in event["records"]:
        document = json.loads(base64.b64decode(record["data"]))
        verdict = document.get("verdict", "Ok")
        data = json.dumps({k: v.upper() if isinstance(v, str) else v for k, v in document.items()}) + "\n"
        entry: dict[str, Any] = {"recordId": record["recordId"], "result": verdict,
                                 "data": base64.b64encode(data.encode()).decode()}
        if "team" in document:
            entry["metadata"] = {"partitionKeys": {"team": document["team"]}}
        out.append(entry)
    return {"records": out}


def count_calls(event: dict[str, Any]) -> dict[str, Any]:
    """A one-argument callable that records each invocation and passes every record through."""
    CALLS.append(event)
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]}


def explode(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the transform broke")


def forgetful(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answers for the first record only, and not in base64."""
    first = event["records"][0]
    return {"records": [{"recordId": first["recordId"], "result": "Ok", "data": "***not base64***"}]}


not_callable = 42
