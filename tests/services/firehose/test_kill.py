"""Delivery processes killed with SIGKILL (real child processes), then a flush by another process,
counted end to end: no acknowledged record is lost; duplicates only where at-least-once allows them.

A child puts batches of records to a delivery stream whose puts deliver a full
buffer (1 MiB) themselves, and says which records each acknowledged call
buffered. In the first test it is killed at whatever point it has reached
(putting, or mid-delivery); in the second it kills itself at the one point where
at-least-once shows — after a delivery's object is written, before its records
are marked delivered (the child wraps the mark to send itself SIGKILL first;
the state it leaves is real). Then ``crispml firehose flush-delivery-stream
--force`` runs in a new process: it takes over the dead process's claim and
delivers what is still buffered. Every acknowledged record must be in the
lake; a record twice only if its batch was written but not marked — at most
one batch, and in the second test exactly the batch written when it died. The
counts are printed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crispml
from tests.cli.support import run_cli
from tests.fixtures.forkserver import spawn
from tests.services.firehose.conftest import BUCKET, keys, read

pytestmark = pytest.mark.kill
_WAIT = 60.0
RECORD = 10_000  # bytes: about 105 records fill the 1 MiB buffer
BATCH = 50

CHILD = r"""
import json, os, signal, sys
import crispml
from crispml.services.firehose import buffer

args = json.loads(sys.argv[1])
client = crispml.connect(home=args["home"])

if args["die_at_mark"]:
    marks, remove = [0], buffer.remove

    def remove_or_die(*a, **k):
        marks[0] += 1
        if marks[0] == args["die_at_mark"]:
            os.kill(os.getpid(), signal.SIGKILL)  # the batch's object is written; its mark never happens
        return remove(*a, **k)

    buffer.remove = remove_or_die

i = 0
while True:
    batch = [f"rec-{n:06d}".ljust(args["size"] - 1, ".") for n in range(i, i + args["batch"])]
    answer = client.firehose.put_record_batch(delivery_stream_name="events", records=[{"Data": d} for d in batch])
    acked = [d[:10] for d, r in zip(batch, answer.request_responses) if r.error_code is None]
    sys.stdout.write("acked " + " ".join(acked) + "\n")
    sys.stdout.flush()
    i += args["batch"]
"""


class Child:
    def __init__(self, tmp_path: Path, **args: Any) -> None:
        self.stderr_path = tmp_path / f"child-{time.monotonic_ns()}.err"
        with open(self.stderr_path, "wb") as stderr:
            self.process = spawn(["-c", CHILD, json.dumps(args)],
                                 stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)

    def acknowledged(self, until: int | None = None) -> list[str]:
        """Record names the child acknowledged, until ``until`` of them (or until it ends)."""
        assert self.process.stdout is not None
        found: list[str] = []
        deadline = time.monotonic() + _WAIT
        for line in self.process.stdout:
            found += line.split()[1:]
            if (until is not None and len(found) >= until) or time.monotonic() > deadline:
                break
        return found

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=_WAIT) == -signal.SIGKILL, self.stderr_path.read_text()[-3000:]


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


@pytest.fixture
def events_home(home: Path) -> Path:
    with crispml.connect(home=str(home)) as client:
        client.lake.create_bucket(bucket=BUCKET)
        client.firehose.create_delivery_stream(delivery_stream_name="events", extended_s3_destination_configuration={
            "BucketARN": f"lake://{BUCKET}", "Prefix": "events/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 900}})
    return home


def flush_in_another_process(home: Path) -> dict[str, Any]:
    result = run_cli("firehose", "flush-delivery-stream", "--delivery-stream-name", "events", "--force",
                     "-o", "json", home=home)
    (delivery,) = result.json()["deliveries"]
    assert delivery["error_code"] is None and delivery["buffered_records"] == 0
    return dict(delivery)


def delivered(home: Path) -> tuple[Counter[str], dict[str, list[str]]]:
    """Each record name in the lake with how often it is there, and the names in each object."""
    with crispml.connect(home=str(home)) as client:
        objects = {k: [line[:10].decode() for line in read(client, k).splitlines()] for k in keys(client, "events/")}
    return Counter(name for names in objects.values() for name in names), objects


def test_a_killed_producer_and_deliverer_loses_no_acknowledged_record(
    tmp_path: Path, events_home: Path, children: list[Child], record_property: Any,
) -> None:
    child = Child(tmp_path, home=str(events_home), die_at_mark=0, batch=BATCH, size=RECORD)
    children.append(child)
    acknowledged = child.acknowledged(until=1_500)  # about 14 deliveries made inside its puts by then
    child.kill()  # wherever it is: putting, writing an object, or marking a batch
    flushed = flush_in_another_process(events_home)
    counts, _ = delivered(events_home)
    assert set(acknowledged) <= set(counts), "an acknowledged record is missing"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= 1024 * 1024 // RECORD + 1  # at most the batch being delivered when it died
    unanswered = set(counts) - set(acknowledged)
    assert len(unanswered) <= BATCH  # the put in flight: buffered, its answer never sent
    record_property("duplicates", duplicates)
    print(f"\nkilled after {len(acknowledged)} acknowledged records; the next flush delivered "
          f"{flushed['records_delivered']}; all acknowledged records delivered, {len(unanswered)} buffered "
          f"without an answer, {duplicates} delivered twice")


def test_a_process_killed_between_writing_and_marking_a_batch_duplicates_that_batch_only(
    tmp_path: Path, events_home: Path, children: list[Child], record_property: Any,
) -> None:
    child = Child(tmp_path, home=str(events_home), die_at_mark=3, batch=BATCH, size=RECORD)
    children.append(child)
    acknowledged = child.acknowledged()  # until it kills itself in its third delivery
    assert child.process.wait(timeout=_WAIT) == -signal.SIGKILL, child.stderr_path.read_text()[-3000:]
    with crispml.connect(home=str(events_home)) as client:
        left = client.firehose.describe_delivery_stream(delivery_stream_name="events").delivery_stream_description
        assert left.buffered_records > 0
        objects_before = set(keys(client, "events/"))
    assert len(objects_before) == 3  # three batches written, two of them marked
    flush_in_another_process(events_home)  # takes over the dead process's claim
    counts, objects = delivered(events_home)
    assert set(acknowledged) <= set(counts), "an acknowledged record is missing"
    twice = {name for name, n in counts.items() if n > 1}
    assert max(counts.values()) == 2
    third = [names for key, names in objects.items() if key in objects_before and set(names) & twice]
    assert len(third) == 1 and set(third[0]) == twice  # exactly the batch written and not marked
    record_property("duplicates", len(twice))
    print(f"\nkilled between writing and marking its third batch: {len(acknowledged)} acknowledged, all "
          f"delivered; {len(twice)} records (that batch) delivered twice")
