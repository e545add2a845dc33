"""Record stores: where a stream's records live, behind one small base.

The base holds what every store shares — reading a stream and its shards from
the metadata DB, and routing records to the open shard whose hash-key range
holds their hash key. A store implements the primitives: append a batch, read
a range of one shard, find a position, seal a shard when it closes, trim
expired records, and drop a deleted stream's records.

Every PutRecords call, on either store, first reads the stream and its open
shard map: that read is one plain statement on the driver's cursor
(:func:`read_shard_map`, through :meth:`RecordStore.put_map`), not Core's two
(measured, the stream and 4 shards in a transaction of their own: 0.29 ms
through Core against 0.06 ms on SQLite, 1.4 ms against 0.35 ms on PostgreSQL).
The other reads are rarer and stay in Core.

Positions are counters (see ``rules.py``): each store numbers a shard's
records with strictly increasing integers, and a reader asks for the records
*after* a counter (``-1`` for the start of the shard).
"""

from __future__ import annotations

import bisect
import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from crispml.core.clock import as_utc
from crispml.core.metadb.engine import Database
from crispml.services.streams.errors import ResourceInUseException, ResourceNotFoundException
from crispml.services.streams.rules import hash_key_bytes, md5, stream_tag
from crispml.services.streams.store import SHARDS, STREAMS


@dataclass(frozen=True)
class StreamInfo:
    name: str
    stream_id: str
    status: str
    stream_mode: str
    retention_hours: int
    record_store: str
    next_shard_number: int
    trimmed_at_ms: int
    created_at: datetime

    @property
    def tag(self) -> int:
        return stream_tag(self.stream_id)

    @property
    def retention_ms(self) -> int:
        return self.retention_hours * 3_600_000


@dataclass(frozen=True)
class ShardInfo:
    shard_key: int
    number: int
    parent_number: int | None
    adjacent_parent_number: int | None
    start: int  # first hash key
    end: int  # last hash key
    starting_sequence_number: str
    ending_sequence_number: str | None
    last_counter: int
    created_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass
class Batch:
    """Records to append, as parallel lists (a put handles 500 at a time: no object per record).

    ``hash_keys`` is None when every record's hash key is its partition key's MD5: :func:`route`
    then hashes the keys only if the stream has more than one open shard.
    """

    partition_keys: list[str]
    data: list[bytes]
    hash_keys: list[int] | None = None

    def __len__(self) -> int:
        return len(self.partition_keys)


@dataclass(frozen=True)
class Appended:
    """Records of a batch (by position) appended to one shard with counters ``first``, ``first + 1``, …"""

    shard_number: int
    first: int
    arrival_ms: int
    indexes: list[int]


@dataclass(frozen=True)
class Rejected:
    """Records of a batch not appended, with Kinesis's per-record ErrorCode and ErrorMessage."""

    indexes: list[int]
    code: str
    message: str


@dataclass(frozen=True)
class PutOutcome:
    stream: StreamInfo
    appended: list[Appended]
    rejected: list[Rejected]


#: A stored record as read: (counter, arrival ms, partition key, data) — a plain tuple, as 10,000 may
#: come back from one read.
StoredRecord = tuple[int, int, str, bytes]


@dataclass(frozen=True)
class ReadBatch:
    """Records read from a shard, and the arrival time of the first one left unread (None: none left)."""

    records: list[StoredRecord]
    next_arrival_ms: int | None


def stream_info(row: Any) -> StreamInfo:
    """A stream row (ORM object or Core row) as a value."""
    return StreamInfo(
        name=row.name, stream_id=row.stream_id, status=row.status, stream_mode=row.stream_mode,
        retention_hours=row.retention_hours, record_store=row.record_store,
        next_shard_number=row.next_shard_number, trimmed_at_ms=row.trimmed_at_ms, created_at=row.created_at,
    )


def shard_info(row: Any) -> ShardInfo:
    """A shard row (ORM object or Core row) as a value."""
    return ShardInfo(
        shard_key=row.shard_key, number=row.shard_number, parent_number=row.parent_number,
        adjacent_parent_number=row.adjacent_parent_number,
        start=int(row.hash_key_start), end=int(row.hash_key_end),
        starting_sequence_number=row.starting_sequence_number,
        ending_sequence_number=row.ending_sequence_number, last_counter=row.last_counter,
        created_at=as_utc(row.created_at), closed_at=as_utc(row.closed_at) if row.closed_at else None,
    )


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"Stream {name} not found; list streams with 'crispml streams list-streams' "
        f"or create it with 'crispml streams create-stream --stream-name {name} --shard-count 1'"
    )


def load_stream(conn: Connection, name: str) -> StreamInfo:
    row = conn.execute(select(STREAMS).where(STREAMS.c.name == name)).first()
    if row is None:
        raise not_found(name)
    return stream_info(row)


def load_shards(conn: Connection, name: str, *, open_only: bool = False) -> list[ShardInfo]:
    """The stream's shards by hash-key start (open ones only if asked), else by shard number."""
    query = select(SHARDS).where(SHARDS.c.stream_name == name).order_by(SHARDS.c.shard_number)
    if open_only:
        query = query.where(SHARDS.c.closed_at.is_(None))
    shards = [shard_info(r) for r in conn.execute(query)]
    return sorted(shards, key=lambda s: s.start) if open_only else shards


@functools.cache
def _shard_map_sql(mark: str) -> str:
    """The stream and its open shards in one statement, for one driver placeholder (``?`` or ``%s``): a
    row per open shard, or one row with no shard columns for a stream that has none."""
    return ("SELECT s.stream_id, s.status, s.stream_mode, s.retention_hours, s.record_store, s.next_shard_number, "
            "s.trimmed_at_ms, s.created_at, h.shard_key, h.shard_number, h.parent_number, h.adjacent_parent_number, "
            "h.hash_key_start, h.hash_key_end, h.starting_sequence_number, h.ending_sequence_number, "
            "h.last_counter, h.created_at "
            "FROM streams_streams s LEFT JOIN streams_shards h ON h.stream_name = s.name AND h.closed_at IS NULL "
            f"WHERE s.name = {mark}")


def read_shard_map(db: Database, cursor: Any, name: str) -> tuple[StreamInfo, list[ShardInfo]]:
    """The stream and its open shards by first hash key, as :func:`load_stream` and ``load_shards(…,
    open_only=True)`` return them, read with one plain SELECT on ``cursor`` (of :meth:`Database.cursor`).

    One statement, so on PostgreSQL the stream and its shards come from one snapshot. Raises
    ResourceNotFoundException if there is no such stream.
    """
    cursor.execute(_shard_map_sql(db.mark), (name,))
    rows = cursor.fetchall()
    if not rows:
        raise not_found(name)
    (stream_id, status, stream_mode, retention_hours, record_store, next_shard_number, trimmed_at_ms,
     created_at) = rows[0][:8]
    stream = StreamInfo(name=name, stream_id=stream_id, status=status, stream_mode=stream_mode,
                        retention_hours=retention_hours, record_store=record_store,
                        next_shard_number=next_shard_number, trimmed_at_ms=trimmed_at_ms,
                        created_at=db.from_driver(STREAMS.c.created_at)(created_at))
    shard_created = db.from_driver(SHARDS.c.created_at)
    shards = [
        ShardInfo(shard_key=key, number=number, parent_number=parent, adjacent_parent_number=adjacent,
                  start=int(start), end=int(end), starting_sequence_number=starting,
                  ending_sequence_number=ending, last_counter=last, created_at=as_utc(shard_created(created)),
                  closed_at=None)
        for *_, key, number, parent, adjacent, start, end, starting, ending, last, created in rows
        if key is not None
    ]
    shards.sort(key=lambda s: s.start)  # the keys are decimal text: SQL would order them as text
    return stream, shards


def check_readable(stream: StreamInfo) -> None:
    """Records can be put and read while a stream is ACTIVE or UPDATING, as on Kinesis."""
    if stream.status == "DELETING":
        raise ResourceNotFoundException(f"Stream {stream.name} is being deleted")
    if stream.status not in ("ACTIVE", "UPDATING"):
        raise ResourceInUseException(f"Stream {stream.name} is {stream.status}, not ACTIVE; try again shortly")


def route(starts: list[int], batch: Batch, indexes: list[int]) -> list[list[int]]:
    """The records (by position in ``batch``) each open shard takes, given the open shards' first
    hash keys in ascending order: one list per shard, in that order."""
    if len(starts) == 1:
        return [indexes]
    groups: list[list[int]] = [[] for _ in starts]
    if batch.hash_keys is None:
        # The digests themselves are compared with the shards' first keys as bytes: no integer per record.
        firsts, keys = [hash_key_bytes(s) for s in starts], batch.partition_keys
        for i in indexes:
            groups[bisect.bisect_right(firsts, md5(keys[i].encode("utf-8")).digest()) - 1].append(i)
    else:
        hash_keys = batch.hash_keys
        for i in indexes:
            groups[bisect.bisect_right(starts, hash_keys[i]) - 1].append(i)
    return groups


class StoreChanged(Exception):
    """The stream keeps its records in another store than the caller thought; look it up again."""


class RecordStore(ABC):
    """Where one family of streams keeps its records."""

    #: Whether a closing shard's last record is fixed after the closing transaction
    #: commits (Redis: the store seals it), rather than inside it (embedded).
    seals_after_commit: bool = False

    def __init__(self, url: str, db: Database) -> None:
        self.url = url
        self.db = db

    def check_store(self, stream: StreamInfo) -> None:
        """Refuse a stream whose records live elsewhere (deleted and created again on another store)."""
        if stream.record_store != self.url:
            raise StoreChanged(stream.name)

    def put_map(self, cursor: Any, name: str) -> tuple[StreamInfo, list[ShardInfo]]:
        """What a put needs first: the stream, if records can be put to it on this store, and its open
        shards by first hash key (:func:`read_shard_map` on ``cursor``, of :meth:`Database.cursor`)."""
        stream, shards = read_shard_map(self.db, cursor, name)
        check_readable(stream)
        self.check_store(stream)
        return stream, shards

    @abstractmethod
    def check(self) -> None:
        """Raise if the store cannot be reached (called when a stream is created on it)."""

    @abstractmethod
    def put(self, stream_name: str, batch: Batch, now_ms: int) -> PutOutcome:
        """Append the batch to the open shards its hash keys pick, in order, each record once."""

    @abstractmethod
    def read(self, stream: StreamInfo, shard: ShardInfo, after: int, *, limit: int, max_bytes: int,
             min_arrival_ms: int, until: int | None) -> ReadBatch:
        """Up to ``limit`` records after ``after`` (arrived at or after ``min_arrival_ms``, up to counter
        ``until`` if given), at least one and no more than ``max_bytes`` of data and keys."""

    @abstractmethod
    def first_counter_at(self, stream: StreamInfo, shard: ShardInfo, ts_ms: int) -> int | None:
        """The counter of the first record that arrived at or after ``ts_ms``, if any."""

    @abstractmethod
    def last_counter(self, stream: StreamInfo, shard: ShardInfo) -> int:
        """A counter no older record is above and every newer one will be (the shard's newest, or less)."""

    @abstractmethod
    def seal(self, stream: StreamInfo, shard: ShardInfo) -> int:
        """Refuse further appends to a closed shard; return its last counter. Idempotent."""

    @abstractmethod
    def trim(self, stream: StreamInfo, shard: ShardInfo, cutoff_ms: int) -> None:
        """Remove the shard's records that arrived before ``cutoff_ms``."""

    @abstractmethod
    def drop(self, conn: Connection, stream: StreamInfo, shards: list[ShardInfo]) -> None:
        """Remove every record of these shards (``conn``: the deleting transaction)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
