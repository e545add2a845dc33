"""Shared machinery of the streams operations: record stores by URL, lookups with
helpful misses, shards as entities, closing shards, and trimming expired records.

Trimming runs at most once a minute per stream, after a put (and at once when
the retention period is decreased): it removes records older than the retention
period from every shard, and closed shards whose records have all expired, as
Kinesis does. Reads never return an expired record whether or not it has been
removed yet.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from crispml.core.names import crn
from crispml.services.streams.backends import open_record_store
from crispml.services.streams.backends.base import (
    RecordStore,
    ShardInfo,
    StreamInfo,
    load_shards,
    load_stream,
    shard_info,
)
from crispml.services.streams.entities import HashKeyRange, SequenceNumberRange, Shard
from crispml.services.streams.errors import ResourceNotFoundException
from crispml.services.streams.rules import sequence_number, shard_id, shard_number
from crispml.services.streams.store import LEASES, SHARDS, STREAMS
from crispml.spine.operations import RuntimeAccess

#: How often (platform time) a stream's expired records are looked for.
TRIM_INTERVAL_MS = 60_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while a call builds many objects that all outlive it.

    A GetRecords page is up to 10,000 records, each a row, a dict and a model: the collections their
    allocations set off find nothing to free, and every so often one walks the whole heap (measured:
    a quarter of a page's time). Reference counting frees as usual meanwhile. The collector is turned
    back on only if it was on; a thread overlapping the pause just runs with it on again sooner.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def stream_crn(name: str | None) -> str:
    return crn("streams", f"stream/{name or '*'}")


def to_ms(when: datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class StreamsCore(RuntimeAccess):
    """Helpers shared by the streams operation groups."""

    _stores: dict[str, RecordStore]
    _stores_lock: threading.Lock
    #: Each stream's record store by stream name (puts look it up on every call otherwise);
    #: a store refuses a stream that is not its own, and the entry is looked up again.
    _store_urls: dict[str, str]

    def _now_ms(self) -> int:
        return to_ms(self.clock.now())

    def _store(self, url: str) -> RecordStore:
        """The record store a stream names, opened once per platform (Redis connections are pooled)."""
        with self._stores_lock:
            store = self._stores.get(url)
            if store is None:
                store = self._stores[url] = open_record_store(url, self.db)
            return store

    # -- lookups -------------------------------------------------------------------------

    def _stream(self, name: str) -> StreamInfo:
        with self.db.connect() as conn:
            return load_stream(conn, name)

    @staticmethod
    def _shard(conn: Connection, stream: StreamInfo, shard: str) -> ShardInfo:
        number = shard_number(shard)
        row = conn.execute(select(SHARDS).where(
            SHARDS.c.stream_name == stream.name, SHARDS.c.shard_number == number)).first()
        if row is None:
            raise ResourceNotFoundException(
                f"Shard {shard} in stream {stream.name} does not exist; list its shards with "
                f"'crispml streams list-shards --stream-name {stream.name}'"
            )
        return shard_info(row)

    # -- entities ------------------------------------------------------------------------

    def _ending_counter(self, stream: StreamInfo, shard: ShardInfo) -> int | None:
        """The last counter of a closed shard (None while it is open)."""
        if shard.is_open:
            return None
        if shard.ending_sequence_number is not None:
            return int(shard.ending_sequence_number[-33:])
        # Closed in the DB, end not yet recorded (a Redis shard whose closer stopped short): seal it now.
        return max(self._store(stream.record_store).seal(stream, shard), 0)

    def _shard_entity(self, stream: StreamInfo, shard: ShardInfo) -> Shard:
        ending = self._ending_counter(stream, shard)
        return Shard(
            shard_id=shard_id(shard.number),
            parent_shard_id=shard_id(shard.parent_number) if shard.parent_number is not None else None,
            adjacent_parent_shard_id=(shard_id(shard.adjacent_parent_number)
                                      if shard.adjacent_parent_number is not None else None),
            hash_key_range=HashKeyRange(starting_hash_key=str(shard.start), ending_hash_key=str(shard.end)),
            sequence_number_range=SequenceNumberRange(
                starting_sequence_number=shard.starting_sequence_number,
                ending_sequence_number=(sequence_number(stream.tag, shard.number, ending)
                                        if ending is not None else None),
            ),
        )

    # -- closing and trimming -------------------------------------------------------------

    def _finish_closing(self, name: str) -> None:
        """Record the end of closed shards whose store seals them after the closing commit, and
        return an UPDATING stream to ACTIVE (also finishing a reshard whose process died)."""
        with self.db.connect() as conn:
            stream = load_stream(conn, name)
            pending = [s for s in load_shards(conn, name) if not s.is_open and s.ending_sequence_number is None]
        if stream.status != "UPDATING" and not pending:
            return
        store = self._store(stream.record_store)
        endings = {s.shard_key: sequence_number(stream.tag, s.number, max(store.seal(stream, s), 0))
                   for s in pending}
        with self.db.begin() as conn:
            for key, ending in endings.items():
                conn.execute(update(SHARDS).where(SHARDS.c.shard_key == key)
                             .values(ending_sequence_number=ending))
            conn.execute(update(STREAMS).where(STREAMS.c.name == name, STREAMS.c.status == "UPDATING")
                         .values(status="ACTIVE"))

    def _trim(self, stream: StreamInfo, *, force: bool = False) -> None:
        """Remove expired records (at most once a minute unless forced), and expired closed shards."""
        now = self._now_ms()
        if not force and now - stream.trimmed_at_ms < TRIM_INTERVAL_MS:
            return
        with self.db.begin() as conn:  # claim this round, so concurrent producers trim once
            claimed = conn.execute(update(STREAMS).where(
                STREAMS.c.name == stream.name, STREAMS.c.stream_id == stream.stream_id,
                STREAMS.c.trimmed_at_ms == stream.trimmed_at_ms).values(trimmed_at_ms=now)).rowcount
        if not claimed and not force:
            return
        cutoff = now - stream.retention_ms
        store = self._store(stream.record_store)
        with self.db.connect() as conn:
            shards = load_shards(conn, stream.name)
        for shard in shards:
            store.trim(stream, shard, cutoff)
        expired = [s for s in shards if s.closed_at is not None and to_ms(s.closed_at) < cutoff]
        if expired:
            with self.db.begin() as conn:
                store.drop(conn, stream, expired)
                conn.execute(delete(LEASES).where(
                    LEASES.c.stream_name == stream.name,
                    LEASES.c.shard_id.in_([shard_id(s.number) for s in expired])))
                conn.execute(delete(SHARDS).where(SHARDS.c.shard_key.in_([s.shard_key for s in expired])))
