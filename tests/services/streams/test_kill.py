"""Killed producers and consumers (SIGKILL, real child processes), counted end to end.

A producer child puts batches and says which records each acknowledged call
stored; it is killed mid-way, and every acknowledged record must be in the
stream, none twice. A consumer child (a :class:`Worker` whose processor writes
each record it is handed to a file, and checkpoints every third batch) is killed
mid-way; a second worker process takes its leases when they expire and goes on
from the last checkpoint. Every record must have been delivered, and only
records after the dead worker's last checkpoint may have been delivered twice —
the at-least-once promise; the count is printed. Both run on the embedded store
and on Redis, with the metadata in SQLite.
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
from tests.fixtures.forkserver import spawn
from tests.services.streams.conftest import read_all

pytestmark = pytest.mark.kill
_WAIT = 60.0

CHILD = r"""
import json, sys, time
import crispml
from crispml.services.streams.consumer import RecordProcessor, Worker

args = json.loads(sys.argv[1])
client = crispml.connect(home=args["home"])

def say(*words):
    sys.stdout.write(" ".join(map(str, words)) + "\n")
    sys.stdout.flush()

if args["mode"] == "produce":
    i = 0
    while True:
        batch = [f"rec-{i + j:06d}" for j in range(args["batch"])]
        result = client.streams.put_records(stream_name=args["stream"],
                                            records=[{"Data": d, "PartitionKey": d} for d in batch])
        say("acked", *[d for d, r in zip(batch, result.records) if r.error_code is None])
        i += args["batch"]
else:
    out = open(args["out"], "a", buffering=1)

    class Sink(RecordProcessor):
        def __init__(self):
            self.batches = 0

        def process_records(self, records, checkpointer, millis_behind_latest):
            for record in records:
                out.write(record.data.decode() + "\n")  # a line per record, handed to the OS at once
            self.batches += 1
            if self.batches % 3 == 0:
                checkpointer.checkpoint()
            say("delivered", len(records))
            time.sleep(args["pause"])

    worker = Worker(client, stream_name=args["stream"], application_name="sink", processor_factory=Sink,
                    worker_id=args["worker"], max_records=args["batch"], lease_duration_s=args["lease"],
                    idle_time_s=0.05)
    worker.run()
"""


class Child:
    def __init__(self, tmp_path: Path, **args: Any) -> None:
        self.stderr_path = tmp_path / f"child-{time.monotonic_ns()}.err"
        with open(self.stderr_path, "wb") as stderr:
            self.process = spawn(["-c", CHILD, json.dumps(args)],
                                 stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1)

    def lines(self) -> Iterator[list[str]]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + _WAIT
        for line in self.process.stdout:
            yield line.split()
            if time.monotonic() > deadline:
                break
        if self.process.poll() not in (None, -signal.SIGKILL):
            pytest.fail(f"the child failed:\n{self.stderr_path.read_text()[-3000:]}")

    def rest(self) -> list[list[str]]:
        """The lines printed but not read yet (call once the child has ended)."""
        assert self.process.stdout is not None
        return [line.split() for line in self.process.stdout.read().splitlines()]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=_WAIT) == -signal.SIGKILL


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def kill_store(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return url
    return "embedded"


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def test_a_killed_producer_loses_no_acknowledged_record(
    tmp_path: Path, home: Path, kill_store: str, children: list[Child],
) -> None:
    with crispml.connect(home=str(home)) as client:
        client.streams.create_stream(stream_name="events", shard_count=2, record_store=kill_store)
    producer = Child(tmp_path, mode="produce", home=str(home), stream="events", batch=50)
    children.append(producer)
    acknowledged: list[str] = []
    for words in producer.lines():
        acknowledged += words[1:]
        if len(acknowledged) >= 1_000:
            break
    producer.kill()  # mid-way: it was putting its next batch
    for words in producer.rest():  # answers it printed before it died count as acknowledged too
        acknowledged += words[1:]
    with crispml.connect(home=str(home)) as client:
        stored = [r.data.decode() for records in read_all(client.streams, "events").values() for r in records]
    counts = Counter(stored)
    assert set(acknowledged) <= set(counts), "an acknowledged record is missing"
    assert max(counts.values()) == 1, "a record was stored twice"
    unacknowledged = set(counts) - set(acknowledged)
    assert len(unacknowledged) <= 50  # at most the batch in flight when it was killed (stored, not answered)
    print(f"\nproducer killed: {len(acknowledged)} acknowledged, all stored; {len(unacknowledged)} stored without "
          "an answer (the batch in flight); 0 duplicates")


def test_a_killed_consumer_is_replaced_from_its_last_checkpoint(
    tmp_path: Path, home: Path, kill_store: str, children: list[Child], record_property: Any,
) -> None:
    with crispml.connect(home=str(home)) as client:
        client.streams.create_stream(stream_name="events", shard_count=2, record_store=kill_store)
        sent = [f"rec-{i:06d}" for i in range(1_200)]
        for start in range(0, len(sent), 500):
            client.streams.put_records(stream_name="events", records=[
                {"Data": d, "PartitionKey": d} for d in sent[start:start + 500]])
    out = tmp_path / "delivered.txt"
    common = {"home": str(home), "stream": "events", "out": str(out), "batch": 40, "lease": 2.0}
    first = Child(tmp_path, mode="consume", worker="first", pause=0.05, **common)
    children.append(first)
    delivered = 0
    for words in first.lines():
        delivered += int(words[1])
        if delivered >= 400:
            break
    first.kill()  # mid-way, between checkpoints
    second = Child(tmp_path, mode="consume", worker="second", pause=0.0, **common)
    children.append(second)
    for _ in second.lines():
        if len(set(out.read_text().split())) >= len(sent):
            break
    second.kill()
    lines = out.read_text().split()
    counts = Counter(lines)
    assert set(counts) == set(sent), "a record was never delivered"
    duplicates = sum(n - 1 for n in counts.values())
    # only what the first worker was handed after its last checkpoint: under 3 batches per shard it held
    assert duplicates <= 2 * 3 * 40
    record_property("duplicates", duplicates)
    print(f"\nconsumer killed after {delivered} deliveries: all {len(sent)} records delivered, {duplicates} "
          "delivered twice (handed to the killed worker after its last checkpoint)")
