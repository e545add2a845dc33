"""Delivery streams through the command line (``crispml firehose …`` in this process), as in the README."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import crispml
from tests.cli.support import Run, assert_refused


def test_the_readme_walk_through(run: Run, home: Path) -> None:
    assert run("lake", "create-bucket", "--bucket", "landing").code == 0
    created = run("firehose", "create-delivery-stream", "--delivery-stream-name", "clicks",
                  "--extended-s3-destination-configuration",
                  '{"BucketARN": "lake://landing", "Prefix": "clicks/", "CompressionFormat": "GZIP", '
                  '"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}', "-o", "json").json()
    assert created == {"delivery_stream_arn": "crn:crispml:firehose:::deliverystream/clicks"}
    put = run("firehose", "put-record", "--delivery-stream-name", "clicks", "--record",
              '{"Data": "{\\"user\\": \\"u1\\"}"}', "-o", "json").json()
    assert put["record_id"].startswith("ds-")
    batch = run("firehose", "put-record-batch", "--delivery-stream-name", "clicks", "--records",
                '[{"Data": "{\\"user\\": \\"u2\\"}"}, {"Data": "{\\"user\\": \\"u3\\"}"}]', "-o", "json").json()
    assert batch["failed_put_count"] == 0 and len(batch["request_responses"]) == 2
    shown = run("firehose", "describe-delivery-stream", "--delivery-stream-name", "clicks")
    assert shown.code == 0 and "ACTIVE" in shown.out and "DirectPut" in shown.out
    assert run("firehose", "list-delivery-streams", "-o", "json").json()["delivery_stream_names"] == ["clicks"]
    flushed = run("firehose", "flush-delivery-stream", "--delivery-stream-name", "clicks", "--force")
    assert flushed.code == 0 and "clicks" in flushed.out
    listing = run("lake", "ls", "lake://landing/clicks/", "--recursive", "-o", "json").json()
    (entry,) = listing["entries"]
    assert entry["name"].endswith(".gz")
    with crispml.connect(home=str(home)) as client:
        body = client.lake.get_object(bucket="landing", key=entry["name"].removeprefix("lake://landing/")).body.read()
    assert [json.loads(line)["user"] for line in gzip.decompress(body).splitlines()] == ["u1", "u2", "u3"]
    assert run("firehose", "delete-delivery-stream", "--delivery-stream-name", "clicks").code == 0


def test_bad_input_is_one_line_and_exit_2(run: Run) -> None:
    assert_refused(run("firehose", "describe-delivery-stream", "--delivery-stream-name", "absent"),
                   "ResourceNotFoundException", "absent")
    assert_refused(run("firehose", "create-delivery-stream", "--delivery-stream-name", "x",
                       "--extended-s3-destination-configuration", '{"BucketARN": "lake://nowhere"}'),
                   "InvalidArgumentException", "bucket 'nowhere' does not exist")
    assert_refused(run("firehose", "create-delivery-stream", "--delivery-stream-name", "x",
                       "--extended-s3-destination-configuration", "{not json"),
                   "InvalidArgument", "must be JSON")
    assert_refused(run("firehose", "put-record", "--delivery-stream-name", "x", "--record", '{"Data": "a"}'),
                   "ResourceNotFoundException", "x")
