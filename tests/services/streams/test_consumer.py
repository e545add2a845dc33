"""The consumer library on every backend: leases in the metadata DB, balancing, failover from
a dead worker at the last checkpoint, parents before children, and no lease held twice."""

from __future__ import annotations

import itertools
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from crispml.core.clock import FixedClock
from crispml.sdk.client import Client
from crispml.services.streams.consumer import Checkpointer, LeaseLost, RecordProcessor, Worker
from crispml.services.streams.entities import Record
from crispml.services.streams.leases import SHARD_END, LeaseTable


def put(streams: Any, stream: str, count: int, tag: str = "r") -> list[bytes]:
    data = [f"{tag}-{i}".encode() for i in range(count)]
    for start in range(0, count, 500):
        chunk = data[start:start + 500]
        result = streams.put_records(stream_name=stream, records=[{"Data": d, "PartitionKey": d.decode()}
                                                                  for d in chunk])
        assert result.failed_record_count == 0
    return data


class Collect:
    """A ``process`` function that keeps what each shard delivered, in order."""

    def __init__(self) -> None:
        self.by_shard: dict[str, list[Record]] = defaultdict(list)

    def __call__(self, shard_id: str, records: list[Record]) -> None:
        self.by_shard[shard_id] += records

    @property
    def data(self) -> list[bytes]:
        return [r.data for records in self.by_shard.values() for r in records]


def drain(*workers: Worker, rounds: int = 50) -> None:
    """Run the workers in turn until a round delivers nothing (and they hold what they can)."""
    for _ in range(rounds):
        if sum(w.run_once() for w in workers) == 0 and sum(w.run_once() for w in workers) == 0:
            return
    pytest.fail("the workers kept delivering records")


def test_one_worker_reads_every_shard_in_order_and_checkpoints(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=3)
    sent = put(streams, "clicks", 300)
    seen = Collect()
    worker = Worker(streams_client, stream_name="clicks", application_name="app", process=seen, max_records=50)
    drain(worker)
    assert sorted(seen.data) == sorted(sent) and len(seen.data) == len(sent)
    for shard, records in seen.by_shard.items():
        numbers = [int(r.sequence_number) for r in records]
        assert numbers == sorted(numbers), f"{shard} delivered out of order"
    leases = LeaseTable(streams_client.platform.db, "app", "clicks").leases()
    assert worker.held_shards == sorted(leases)
    for shard, lease in leases.items():
        assert lease.owner == worker.worker_id
        assert lease.checkpoint == seen.by_shard[shard][-1].sequence_number
    more = put(streams, "clicks", 30, tag="more")
    drain(worker)
    assert sorted(seen.data) == sorted(sent + more)  # only the new ones, once


def test_workers_balance_shards_and_never_share_one(
    streams_client: Client, streams: Any, make_stream: Callable[..., str], clock: FixedClock,
) -> None:
    make_stream("clicks", shards=4)
    sent = put(streams, "clicks", 200)
    seen = Collect()
    first = Worker(streams_client, stream_name="clicks", application_name="app", process=seen, worker_id="w1")
    first.run_once()
    assert len(first.held_shards) == 4  # alone, it takes them all
    second = Worker(streams_client, stream_name="clicks", application_name="app", process=seen, worker_id="w2")
    for _ in range(4):  # the newcomer steals one lease per round until both hold their share
        second.run_once()
        first.run_once()
    assert (len(first.held_shards), len(second.held_shards)) == (2, 2)
    assert not set(first.held_shards) & set(second.held_shards)
    owners = Counter(lease.owner for lease in LeaseTable(streams_client.platform.db, "app", "clicks")
                     .leases().values())
    assert owners == {"w1": 2, "w2": 2}
    drain(first, second)
    assert set(seen.data) == set(sent)  # a stolen shard may repeat records not yet checkpointed: at least once


class Unsure(RecordProcessor):
    """Processes records but checkpoints only every ``every`` batches, like a batching sink."""

    def __init__(self, seen: list[bytes], every: int) -> None:
        self.seen, self.every, self.batches = seen, every, 0

    def process_records(self, records: list[Record], checkpointer: Checkpointer, millis_behind_latest: int) -> None:
        self.seen.extend(r.data for r in records)
        self.batches += 1
        if self.batches % self.every == 0:
            checkpointer.checkpoint()


def test_a_dead_workers_leases_are_taken_after_they_expire_and_resume_at_the_checkpoint(
    streams_client: Client, streams: Any, make_stream: Callable[..., str], clock: FixedClock,
) -> None:
    make_stream("clicks", shards=2)
    sent = put(streams, "clicks", 200)
    delivered: list[bytes] = []
    dead = Worker(streams_client, stream_name="clicks", application_name="app", worker_id="dead",
                  processor_factory=lambda: Unsure(delivered, every=2), max_records=30, lease_duration_s=10)
    for _ in range(3):
        dead.run_once()  # three batches per shard, one checkpoint: 30 records each past it
    checkpointed = dict(LeaseTable(streams_client.platform.db, "app", "clicks").leases())
    assert all(lease.owner == "dead" for lease in checkpointed.values())
    # the dead worker stops renewing. A live one takes its share at once (it steals one lease from the
    # worker holding more than its share), and the rest once the dead worker's leases expire.
    live = Worker(streams_client, stream_name="clicks", application_name="app", worker_id="live",
                  processor_factory=lambda: Unsure(delivered, every=1), lease_duration_s=10)
    live.run_once()
    live.run_once()
    assert len(live.held_shards) == 1
    clock.advance(seconds=9)
    live.run_once()
    assert len(live.held_shards) == 1
    clock.advance(seconds=2)
    drain(live)
    assert live.held_shards == ["shardId-000000000000", "shardId-000000000001"]
    counts = Counter(delivered)
    assert set(counts) == set(sent), "a record was skipped"
    duplicates = sorted(d for d, n in counts.items() if n > 1)
    assert len(duplicates) == 60  # exactly what was delivered after the last checkpoint, per shard 30
    with pytest.raises(LeaseLost):  # the dead worker comes back: its checkpoint is refused
        shard = dead.held_shards[0]
        dead._held[shard].checkpointer.checkpoint()


def test_shutdown_releases_leases_for_another_worker_at_once(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=2)
    sent = put(streams, "clicks", 50)
    seen = Collect()
    leaving = Worker(streams_client, stream_name="clicks", application_name="app", process=seen, worker_id="a")
    leaving.run_once()
    leaving.shutdown()
    staying = Worker(streams_client, stream_name="clicks", application_name="app", process=seen, worker_id="b")
    drain(staying)
    assert len(staying.held_shards) == 2
    assert sorted(seen.data) == sorted(sent)  # the first worker checkpointed at shutdown: nothing twice


def test_parents_are_finished_before_children(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=1)
    old = put(streams, "clicks", 120, tag="old")
    streams.update_shard_count(stream_name="clicks", target_shard_count=2)
    new = put(streams, "clicks", 120, tag="new")
    order: list[tuple[str, bytes]] = []
    worker = Worker(streams_client, stream_name="clicks", application_name="app", max_records=25,
                    process=lambda shard, records: order.extend((shard, r.data) for r in records))
    drain(worker)
    shards = [shard for shard, _ in order]
    last_parent = max(i for i, shard in enumerate(shards) if shard == "shardId-000000000000")
    assert all(shard == "shardId-000000000000" for shard in shards[:last_parent + 1])
    assert sorted(d for _, d in order) == sorted(old + new)
    leases = LeaseTable(streams_client.platform.db, "app", "clicks").leases()
    assert leases["shardId-000000000000"].checkpoint == SHARD_END
    assert leases["shardId-000000000000"].owner is None  # released once finished

    late = Collect()  # a new application starting at LATEST skips the closed parent
    tip = Worker(streams_client, stream_name="clicks", application_name="tip", process=late,
                 initial_position="LATEST")
    drain(tip)
    assert late.data == []
    newest = put(streams, "clicks", 10, tag="newest")
    drain(tip)
    assert sorted(late.data) == sorted(newest)


def test_racing_takes_leave_one_owner(streams_client: Client, streams: Any, make_stream: Callable[..., str]) -> None:
    make_stream("clicks", shards=1)
    table = LeaseTable(streams_client.platform.db, "app", "clicks")
    Worker(streams_client, stream_name="clicks", application_name="app", process=Collect()).sync_shards()
    (lease,) = table.leases().values()
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def take(owner: str) -> None:
        barrier.wait()
        if table.take(lease, owner, expires_at_ms=2**62) is not None:
            winners.append(owner)

    threads = [threading.Thread(target=take, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(winners) == 1
    assert table.leases()[lease.shard_id].owner == winners[0]


def test_a_failing_processor_stops_the_worker_without_checkpointing_its_batch(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=1)
    sent = put(streams, "clicks", 90)
    handled: list[bytes] = []

    def flaky(shard_id: str, records: list[Record]) -> None:
        if len(handled) >= 30:
            raise RuntimeError("the sink is down")
        handled.extend(r.data for r in records)

    worker = Worker(streams_client, stream_name="clicks", application_name="app", process=flaky, max_records=30,
                    idle_time_s=0)
    with pytest.raises(RuntimeError, match="the sink is down"):
        worker.run()
    (lease,) = LeaseTable(streams_client.platform.db, "app", "clicks").leases().values()
    assert lease.owner is None  # released on the way out
    assert handled == sent[:30]
    again = Collect()
    drain(Worker(streams_client, stream_name="clicks", application_name="app", process=again))
    assert again.data == sent[30:]  # from the last good batch on: the failed one is delivered again


def test_worker_threads_consume_while_a_producer_puts(
    streams_client: Client, streams: Any, make_stream: Callable[..., str],
) -> None:
    make_stream("clicks", shards=4)
    seen = Collect()
    lock = threading.Lock()

    def process(shard_id: str, records: list[Record]) -> None:
        with lock:
            seen(shard_id, records)

    sent: list[bytes] = []
    produced = threading.Event()

    def produce() -> None:
        for round_ in range(10):
            sent.extend(put(streams, "clicks", 50, tag=f"t{round_}"))
        produced.set()

    def done() -> bool:
        with lock:
            return produced.is_set() and set(seen.data) >= set(sent)

    workers = [Worker(streams_client, stream_name="clicks", application_name="app", process=process,
                      worker_id=f"w{i}", idle_time_s=0.01) for i in range(3)]
    threads = [threading.Thread(target=produce)] + [threading.Thread(target=w.run, kwargs={"until": done})
                                                    for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert set(seen.data) == set(sent) and len(sent) == 500
    for shard, records in seen.by_shard.items():  # within a shard, never out of order (repeats allowed)
        numbers = [int(r.sequence_number) for r in records]
        assert all(b >= a or b in numbers[:i] for i, (a, b) in enumerate(itertools.pairwise(numbers), 1)), shard
