"""Streams through the command line (``crispml streams …`` in this process), as in the README."""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

import pytest

from tests.cli.support import Run, assert_refused


def test_put_and_get_records_from_the_command_line(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run("streams", "create-stream", "--stream-name", "clicks", "--shard-count", "2").code == 0
    shown = run("streams", "describe-stream", "--stream-name", "clicks")
    assert shown.code == 0 and "ACTIVE" in shown.out and "shardId-000000000001" in shown.out

    event = tmp_path / "event.json"
    event.write_bytes(b'{"user": "u1", "page": "/home"}')
    put = run("streams", "put-record", "--stream-name", "clicks", "--partition-key", "u1", "--data", str(event),
              "-o", "json").json()
    assert put["shard_id"].startswith("shardId-") and len(put["sequence_number"]) == 56
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin")))
    assert run("streams", "put-record", "--stream-name", "clicks", "--partition-key", "u1", "--data", "-").code == 0
    batch = run("streams", "put-records", "--stream-name", "clicks", "--records",
                '[{"Data": "text", "PartitionKey": "u1"}, {"Data": "x", "PartitionKey": ""}]', "-o", "json").json()
    assert batch["failed_record_count"] == 1
    assert batch["records"][1]["error_code"] == "InvalidArgumentException"

    iterator = run("streams", "get-shard-iterator", "--stream-name", "clicks", "--shard-id", put["shard_id"],
                   "--shard-iterator-type", "TRIM_HORIZON", "-o", "json").json()["shard_iterator"]
    page = run("streams", "get-records", "--shard-iterator", iterator, "-o", "json").json()
    assert [base64.b64decode(r["data"]) for r in page["records"]] == [
        event.read_bytes(), b"from stdin", b"text"]
    assert page["next_shard_iterator"] and page["millis_behind_latest"] == 0
    table = run("streams", "get-records", "--shard-iterator", iterator)
    assert table.code == 0 and "u1" in table.out

    listed = run("streams", "list-streams", "-o", "json").json()
    assert listed["stream_names"] == ["clicks"]
    assert run("streams", "delete-stream", "--stream-name", "clicks").code == 0
    assert json.loads(run("streams", "list-streams", "-o", "json").out)["stream_names"] == []


def test_bad_input_is_one_line_and_exit_code_2(run: Run, tmp_path: Path) -> None:
    assert run("streams", "create-stream", "--stream-name", "clicks", "--shard-count", "1").code == 0
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(b"x")
    assert_refused(run("streams", "put-record", "--stream-name", "nope", "--partition-key", "k",
                       "--data", str(small)), "ResourceNotFoundException", "Stream nope not found")
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    assert_refused(run("streams", "put-record", "--stream-name", "clicks", "--partition-key", "k",
                       "--data", str(big)), "InvalidArgumentException", "larger than the 1 MiB")
    assert_refused(run("streams", "get-records", "--shard-iterator", "garbage"),
                   "InvalidArgumentException", "ShardIterator is not valid")
    assert_refused(run("streams", "get-shard-iterator", "--stream-name", "clicks", "--shard-id",
                       "shardId-000000000000", "--shard-iterator-type", "AT_SEQUENCE_NUMBER"),
                   "InvalidArgumentException", "StartingSequenceNumber is required")
    assert_refused(run("streams", "create-stream", "--stream-name", "clicks", "--shard-count", "1"),
                   "ResourceInUseException", "already exists")
