"""A consumer library in the spirit of the Kinesis Client Library (KCL).

Workers of one *application* (a consumer group) share a stream's shards
through a lease table in the metadata DB (``leases.py``)::

    from crispml.services.streams.consumer import Worker

    def handle(shard_id, records):
        for record in records:
            print(shard_id, record.sequence_number, record.data)

    worker = Worker(client, stream_name="clicks", application_name="click-counter", process=handle)
    worker.run()                      # until worker.stop(); or worker.run_once() in your own loop

Each worker renews the leases it holds, takes leases that are free (never
taken, released, or expired because their worker died), and takes one from
the busiest worker while it holds fewer than its share, so shards spread
evenly. For each shard it holds it reads records after the lease's checkpoint
through ``GetShardIterator``/``GetRecords`` (as the caller: authorized and
audited like any call), hands them to the processor, and checkpoints. Delivery
is at least once: a worker that dies after processing records but before
checkpointing them leaves them to the next holder, which reads them again
from the checkpoint; no record after a checkpoint is skipped. A closed shard is
read to its end and checkpointed ``SHARD_END`` before any worker takes its
children, so records of a partition key stay in order across a reshard.

Processors are either a function ``process(shard_id, records)`` (checkpointed
after each batch it returns from) or a :class:`RecordProcessor` made per shard by
``processor_factory``, which checkpoints when it wants through the
:class:`Checkpointer` it is given. A processor that raises stops the worker
(``run`` re-raises after releasing its leases) without checkpointing the batch
it failed on, so that batch is delivered again to the next holder. The library needs an embedded client (it
reaches the lease table through the client's platform), uses the platform
clock for leases, and is single-threaded: one worker handles its shards in
turn. Not here: enhanced fan-out, and initial positions other than
TRIM_HORIZON and LATEST.
"""

from __future__ import annotations

import math
import os
import random
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from crispml.core.errors import Conflict, Unavailable
from crispml.services.streams.core import to_ms
from crispml.services.streams.entities import Record
from crispml.services.streams.errors import ExpiredIteratorException, ResourceNotFoundException
from crispml.services.streams.leases import LATEST, SHARD_END, TRIM_HORIZON, Lease, LeaseTable, ShardLine


class LeaseLost(Conflict):
    """The worker no longer holds the shard's lease; another worker took it (KCL's ShutdownException)."""

    code = "LeaseLostException"


class Checkpointer:
    """Records how far a processor got in its shard; what it checkpoints is not delivered again."""

    def __init__(self, worker: Worker, shard_id: str) -> None:
        self._worker, self._shard_id = worker, shard_id
        self.last_delivered: str | None = None

    def checkpoint(self, sequence_number: str | None = None) -> None:
        """Checkpoint at ``sequence_number`` (default: the last record delivered); LeaseLost if not held."""
        position = sequence_number or self.last_delivered
        if position is not None:
            self._worker._checkpoint(self._shard_id, position)

    def checkpoint_shard_end(self) -> None:
        """Mark the (closed) shard finished, so its children can be taken."""
        self._worker._checkpoint(self._shard_id, SHARD_END)


class RecordProcessor(ABC):
    """Processes one shard's records for one worker; made by the worker's ``processor_factory``."""

    shard_id: str = ""
    lost: bool = False

    def initialize(self, shard_id: str, checkpoint: str) -> None:
        """Called when the worker takes the shard's lease, with the checkpoint it resumes from."""
        self.shard_id = shard_id

    @abstractmethod
    def process_records(self, records: list[Record], checkpointer: Checkpointer, millis_behind_latest: int) -> None:
        """Handle a batch (in sequence order); checkpoint when it is safe to."""

    def shard_ended(self, checkpointer: Checkpointer) -> None:
        """The shard is closed and fully read: by default, mark it finished."""
        checkpointer.checkpoint_shard_end()

    def lease_lost(self) -> None:
        """Another worker holds the shard now; anything not checkpointed will be delivered to it again."""
        self.lost = True

    def shutdown_requested(self, checkpointer: Checkpointer) -> None:
        """The worker is stopping: by default, checkpoint what was delivered."""
        checkpointer.checkpoint()


class _FunctionProcessor(RecordProcessor):
    """``process(shard_id, records)``, checkpointed after every batch it returns from."""

    def __init__(self, process: Callable[[str, list[Record]], Any]) -> None:
        self._process = process

    def process_records(self, records: list[Record], checkpointer: Checkpointer, millis_behind_latest: int) -> None:
        self._process(self.shard_id, records)
        checkpointer.checkpoint()


@dataclass
class _Shard:
    """A shard this worker holds: its lease, processor and read position."""

    lease: Lease
    processor: RecordProcessor
    checkpointer: Checkpointer
    iterator: str | None = None


class Worker:
    """One member of a consumer group: holds some of the stream's shard leases and processes their records."""

    def __init__(
        self, client: Any, *, stream_name: str, application_name: str,
        process: Callable[[str, list[Record]], Any] | None = None,
        processor_factory: Callable[[], RecordProcessor] | None = None,
        worker_id: str | None = None, initial_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON",
        lease_duration_s: float = 10.0, max_records: int = 1000, idle_time_s: float = 1.0,
        shard_sync_interval_s: float = 60.0,
    ) -> None:
        if (process is None) == (processor_factory is None):
            raise TypeError("give either process=function(shard_id, records) or processor_factory=, not both")
        if initial_position not in (TRIM_HORIZON, LATEST):
            raise ValueError(f"initial_position must be TRIM_HORIZON or LATEST, not {initial_position!r}")
        self.client, self.stream, self.application = client, stream_name, application_name
        if processor_factory is None:
            function = process
            assert function is not None
            processor_factory = lambda: _FunctionProcessor(function)  # noqa: E731
        self._factory: Callable[[], RecordProcessor] = processor_factory
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.initial_position = initial_position
        self.lease_ms = int(lease_duration_s * 1000)
        self.max_records, self.idle_time_s = max_records, idle_time_s
        self.sync_ms = int(shard_sync_interval_s * 1000)
        self.table = LeaseTable(client.platform.db, application_name, stream_name)
        self._clock = client.platform.clock
        self._held: dict[str, _Shard] = {}
        self._synced_at: int | None = None
        self._renewed_at = 0
        self._stop = threading.Event()

    # -- the loop ----------------------------------------------------------------------------

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Process until :meth:`stop` is called (or ``until()`` is true), then release the leases."""
        try:
            while not self._stop.is_set() and not (until is not None and until()):
                try:
                    delivered = self.run_once()
                except Unavailable:  # the DB or the record store is away for a moment: try again
                    delivered = 0
                if delivered == 0:
                    self._stop.wait(self.idle_time_s)
        finally:
            self.shutdown()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """One round: sync shards when due, renew, take and balance leases, read each held shard once.

        Returns how many records were delivered.
        """
        now = self._now()
        if self._synced_at is None or now - self._synced_at >= self.sync_ms:
            self.sync_shards()
        self._renew(now)
        self._balance(now)
        delivered = 0
        for shard_id in sorted(self._held):
            if shard_id in self._held:  # a lease lost while reading another shard is gone from the map
                delivered += self._read(shard_id)
        return delivered

    def shutdown(self) -> None:
        """Let each processor checkpoint, then release the leases so other workers take them at once."""
        failure: Exception | None = None
        for shard_id, shard in list(self._held.items()):
            try:
                shard.processor.shutdown_requested(shard.checkpointer)
            except LeaseLost:
                continue  # it was told (lease_lost) and is no longer held
            except Exception as exc:  # release the others anyway; raise it once they are
                failure = failure or exc
            held = self._held.pop(shard_id, None)
            if held is not None:
                self.table.release(held.lease, self.worker_id)
        self._held.clear()
        if failure is not None:
            raise failure

    @property
    def held_shards(self) -> list[str]:
        return sorted(self._held)

    # -- leases ------------------------------------------------------------------------------

    def _now(self) -> int:
        return to_ms(self._clock.now())

    def sync_shards(self) -> None:
        """Make sure every shard of the stream has a lease (new shards appear after a reshard)."""
        lines, token = [], None
        while True:
            page = (self.client.streams.list_shards(next_token=token) if token
                    else self.client.streams.list_shards(stream_name=self.stream))
            lines += [ShardLine(s.shard_id, tuple(p for p in (s.parent_shard_id, s.adjacent_parent_shard_id) if p),
                                s.sequence_number_range.ending_sequence_number is not None) for s in page.shards]
            token = page.next_token
            if not token:
                break
        self.table.sync(lines, self.initial_position)
        self._synced_at = self._now()

    def _renew(self, now: int) -> None:
        if now - self._renewed_at < self.lease_ms // 3:
            return
        for shard_id, shard in list(self._held.items()):
            renewed = self.table.renew(shard.lease, self.worker_id, now + self.lease_ms)
            if renewed is None:
                self._lose(shard_id)
            else:
                shard.lease = renewed
        self._renewed_at = now

    def _balance(self, now: int) -> None:
        """Take free leases up to this worker's share, then steal one from the busiest worker if short."""
        leases = self.table.leases()
        for shard_id in [s for s in self._held if s not in leases or not leases[s].held_by(self.worker_id, now)]:
            self._lose(shard_id)
        active = [lease for lease in leases.values() if not lease.finished]
        owners = {lease.owner for lease in active if lease.owner and not lease.is_free(now)} | {self.worker_id}
        share = math.ceil(len(active) / len(owners)) if active else 0
        ready = [lease for lease in active if self._parents_done(lease, leases)]
        free = [lease for lease in ready if lease.is_free(now)]
        random.shuffle(free)  # workers starting together should not all race for the same lease
        for lease in free:
            if len(self._held) >= share:
                break
            self._take(lease, now)
        if len(self._held) < share:
            counts: dict[str, list[Lease]] = {}
            for lease in ready:
                if lease.owner and lease.owner != self.worker_id and not lease.is_free(now):
                    counts.setdefault(lease.owner, []).append(lease)
            busiest = max(counts.values(), key=len, default=[])
            if len(busiest) > share:
                self._take(random.choice(busiest), now)

    @staticmethod
    def _parents_done(lease: Lease, leases: dict[str, Lease]) -> bool:
        """A child is read only after its parents are finished (or have expired from the stream)."""
        return all(parent not in leases or leases[parent].finished for parent in lease.parents)

    def _take(self, lease: Lease, now: int) -> None:
        taken = self.table.take(lease, self.worker_id, now + self.lease_ms)
        if taken is None:
            return  # another worker got there first
        processor = self._factory()
        processor.initialize(lease.shard_id, taken.checkpoint)
        self._held[lease.shard_id] = _Shard(taken, processor, Checkpointer(self, lease.shard_id))

    def _lose(self, shard_id: str) -> None:
        shard = self._held.pop(shard_id, None)
        if shard is not None:
            shard.processor.lease_lost()

    def _checkpoint(self, shard_id: str, position: str) -> None:
        shard = self._held.get(shard_id)
        stored = self.table.checkpoint(shard.lease, self.worker_id, position) if shard is not None else None
        if stored is None:
            self._lose(shard_id)
            raise LeaseLost(f"worker {self.worker_id} no longer holds the lease of {shard_id} in application "
                            f"{self.application}; another worker will process it from its last checkpoint")
        assert shard is not None
        shard.lease = stored

    # -- reading -----------------------------------------------------------------------------

    def _read(self, shard_id: str) -> int:
        """Read the shard once and hand what came to its processor; returns the records delivered."""
        shard = self._held[shard_id]
        if not shard.lease.held_by(self.worker_id, self._now()):
            self._lose(shard_id)  # it lapsed before we could renew it: another worker may hold it now
            return 0
        try:
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
            try:
                page = self.client.streams.get_records(shard_iterator=shard.iterator, limit=self.max_records)
            except ExpiredIteratorException:
                shard.iterator = self._iterator(shard)
                page = self.client.streams.get_records(shard_iterator=shard.iterator, limit=self.max_records)
            if page.records:
                before = shard.checkpointer.last_delivered
                shard.checkpointer.last_delivered = page.records[-1].sequence_number
                try:
                    shard.processor.process_records(page.records, shard.checkpointer, page.millis_behind_latest)
                except Exception:
                    # not processed: never checkpoint past it (the next holder gets it again)
                    shard.checkpointer.last_delivered = before
                    raise
            shard.iterator = page.next_shard_iterator
            if shard.iterator is None:  # a closed shard, read to its end
                shard.processor.shard_ended(shard.checkpointer)
                if shard_id in self._held:
                    self.table.release(self._held.pop(shard_id).lease, self.worker_id)
                self._synced_at = None  # pick up its children
        except LeaseLost:
            return 0
        except ResourceNotFoundException:  # the shard expired from the stream
            self._lose(shard_id)
            self._synced_at = None
            return 0
        return len(page.records)

    def _iterator(self, shard: _Shard) -> str:
        """An iterator after the last record delivered, else after the checkpoint."""
        position = shard.checkpointer.last_delivered or shard.lease.checkpoint
        streams, shard_id = self.client.streams, shard.lease.shard_id
        if position in (TRIM_HORIZON, LATEST, SHARD_END):
            kind = TRIM_HORIZON if position == SHARD_END else position  # SHARD_END leases are never read
            return str(streams.get_shard_iterator(stream_name=self.stream, shard_id=shard_id,
                                                  shard_iterator_type=kind).shard_iterator)
        return str(streams.get_shard_iterator(stream_name=self.stream, shard_id=shard_id,
                                              shard_iterator_type="AFTER_SEQUENCE_NUMBER",
                                              starting_sequence_number=position).shard_iterator)
