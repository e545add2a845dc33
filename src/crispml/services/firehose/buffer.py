"""The durable buffer: records in the metadata DB from acknowledgement to delivery.

A put adds its records and the stream row's running totals in one transaction
(the row is updated first, so puts to one delivery stream queue on its lock
and the totals stay exact); the delivery marks a batch delivered by deleting
its rows and taking their sizes off the totals, again in one transaction. A
batch is read in RecordId order up to the buffer size. Whether a buffer is
due reads the totals alone: its bytes against ``SizeInMBs``, the age of its
oldest record against ``IntervalInSeconds``.

One process delivers a delivery stream at a time: :func:`claim` names it in
the stream row (compare-and-set) until :data:`DELIVERY_LEASE_MS` of platform
time have passed since it was taken or last renewed (:func:`renew`, after each
batch), or its process is seen to have ended; :func:`release` clears it. A
claim that cannot be taken means another process is delivering now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from crispml.core.metadb.engine import Database
from crispml.core.owners import owner_alive
from crispml.services.firehose.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from crispml.services.firehose.rules import DELIVERY_LEASE_MS
from crispml.services.firehose.store import DELIVERY_STREAMS, RECORDS

_IDS_PER_STATEMENT = 1_000
_T = DELIVERY_STREAMS


@dataclass(frozen=True)
class StreamInfo:
    """A delivery stream row as a plain value."""

    name: str
    stream_id: str
    status: str
    stream_type: str
    source_stream: str | None
    configuration: str
    principal: str
    created_at: datetime
    buffered_records: int
    buffered_bytes: int
    oldest_arrival_ms: int | None
    owner: str | None
    owner_expires_ms: int | None
    failure: str | None


@dataclass(frozen=True)
class Totals:
    records: int
    bytes: int
    oldest_arrival_ms: int | None


@dataclass(frozen=True)
class Buffered:
    """One buffered record as a delivery reads it."""

    record_id: int
    arrival_ms: int
    data: bytes
    source: dict[str, Any] | None


def stream_info(row: Any) -> StreamInfo:
    return StreamInfo(**{name: getattr(row, name) for name in StreamInfo.__dataclass_fields__})


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(
        f"Firehose {name} was not found; list delivery streams with "
        "'crispml firehose list-delivery-streams'")


def load_stream(conn: Connection, name: str) -> StreamInfo:
    row = conn.execute(select(_T).where(_T.c.name == name)).first()
    if row is None:
        raise not_found(name)
    return stream_info(row)


def record_id_text(stream_id: str, record_id: int) -> str:
    """A RecordId as PutRecord returns it: the stream's id and the buffer row's."""
    return f"{stream_id}-{record_id:019d}"


def is_due(totals: Totals, size_bytes: int, interval_ms: int, now_ms: int) -> bool:
    """Whether a buffer must be delivered now: full enough, or its oldest record old enough."""
    if totals.records == 0:
        return False
    if totals.bytes >= size_bytes:
        return True
    return totals.oldest_arrival_ms is not None and now_ms - totals.oldest_arrival_ms >= interval_ms


def totals(conn: Connection, name: str) -> Totals:
    row = conn.execute(select(_T.c.buffered_records, _T.c.buffered_bytes, _T.c.oldest_arrival_ms)
                       .where(_T.c.name == name)).first()
    if row is None:
        raise not_found(name)
    return Totals(row.buffered_records, row.buffered_bytes, row.oldest_arrival_ms)


def append(conn: Connection, name: str, records: list[tuple[bytes, str | None]], arrival_ms: int,
           *, stream_id: str | None = None) -> tuple[StreamInfo, list[int], Totals]:
    """Buffer records (data, source metadata JSON) of an ACTIVE delivery stream; their ids and the new totals.

    ``stream_id`` given: records read from the stream's source (the row must still be that stream);
    none: records put directly (PutRecord, PutRecordBatch), which a stream-sourced delivery stream refuses.
    """
    size = sum(len(data) for data, _ in records)
    where = [_T.c.name == name, _T.c.status == "ACTIVE"]
    where.append(_T.c.stream_id == stream_id if stream_id is not None else _T.c.stream_type == "DirectPut")
    changed = conn.execute(update(_T).where(*where).values(
        buffered_records=_T.c.buffered_records + len(records), buffered_bytes=_T.c.buffered_bytes + size,
        oldest_arrival_ms=func.coalesce(_T.c.oldest_arrival_ms, arrival_ms))).rowcount
    stream = load_stream(conn, name)
    if not changed:
        check_direct_put(stream)
        raise ResourceInUseException(f"Firehose {name} was deleted and created again while it was read")
    rows = [{"delivery_stream": name, "arrival_ms": arrival_ms, "size": len(data), "data": data, "source": source}
            for data, source in records]
    ids = list(conn.execute(insert(RECORDS).returning(RECORDS.c.record_id, sort_by_parameter_order=True),
                            rows).scalars())
    return stream, ids, Totals(stream.buffered_records, stream.buffered_bytes, stream.oldest_arrival_ms)


def check_direct_put(stream: StreamInfo) -> None:
    """Refuse records put directly to a stream that is not ACTIVE or reads a Kinesis stream."""
    if stream.status != "ACTIVE":
        raise ResourceInUseException(
            f"Firehose {stream.name} is {stream.status}; records can be put to an ACTIVE delivery stream only")
    if stream.stream_type != "DirectPut":
        raise InvalidArgumentException(
            f"This operation is not permitted on KinesisStreamAsSource delivery stream type: Firehose "
            f"{stream.name} reads stream {stream.source_stream}; put records to that stream instead")


def take_batch(conn: Connection, name: str, limit_bytes: int, up_to: int) -> list[Buffered]:
    """The oldest buffered records (RecordId order, ids up to ``up_to``), ``limit_bytes`` at most (one at least)."""
    query = (select(RECORDS.c.record_id, RECORDS.c.arrival_ms, RECORDS.c.data, RECORDS.c.source)
             .where(RECORDS.c.delivery_stream == name, RECORDS.c.record_id <= up_to)
             .order_by(RECORDS.c.record_id))
    batch: list[Buffered] = []
    size = 0
    for row in conn.execute(query.execution_options(yield_per=500)):
        data = bytes(row.data)
        if batch and size + len(data) > limit_bytes:
            break
        batch.append(Buffered(row.record_id, row.arrival_ms, data, json.loads(row.source) if row.source else None))
        size += len(data)
        if size >= limit_bytes:
            break
    return batch


def newest_id(conn: Connection, name: str) -> int:
    return int(conn.execute(select(func.max(RECORDS.c.record_id))
                            .where(RECORDS.c.delivery_stream == name)).scalar() or 0)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield ids[start:start + _IDS_PER_STATEMENT]


def remove(conn: Connection, name: str, stream_id: str, ids: list[int]) -> Totals:
    """Mark records delivered: delete them and take them off the totals (records already gone count nothing)."""
    count = size = 0
    for part in _chunks(ids):
        found = conn.execute(select(func.count(), func.coalesce(func.sum(RECORDS.c.size), 0)).where(
            RECORDS.c.delivery_stream == name, RECORDS.c.record_id.in_(part))).one()
        count, size = count + int(found[0]), size + int(found[1])
        conn.execute(delete(RECORDS).where(RECORDS.c.delivery_stream == name, RECORDS.c.record_id.in_(part)))
    oldest = conn.execute(select(func.min(RECORDS.c.arrival_ms)).where(RECORDS.c.delivery_stream == name)).scalar()
    conn.execute(update(_T).where(_T.c.name == name, _T.c.stream_id == stream_id).values(
        buffered_records=_T.c.buffered_records - count, buffered_bytes=_T.c.buffered_bytes - size,
        oldest_arrival_ms=oldest, failure=None))
    return totals(conn, name)


# -- claims -------------------------------------------------------------------------------


def claim(db: Database, name: str, owner: str, now_ms: int) -> StreamInfo | None:
    """Take the delivery of ``name`` for ``owner``; None if another live process holds it (or no such stream)."""
    with db.connect() as conn:
        row = conn.execute(select(_T).where(_T.c.name == name)).first()
    if row is None:
        return None
    current = stream_info(row)
    held = (current.owner is not None and current.owner != owner and (current.owner_expires_ms or 0) > now_ms
            and owner_alive(current.owner))
    if held:
        return None
    expected = _T.c.owner.is_(None) if current.owner is None else _T.c.owner == current.owner
    with db.begin() as conn:
        taken = conn.execute(update(_T).where(_T.c.name == name, _T.c.stream_id == current.stream_id, expected)
                             .values(owner=owner, owner_expires_ms=now_ms + DELIVERY_LEASE_MS)).rowcount
        return load_stream(conn, name) if taken else None


def renew(conn: Connection, name: str, owner: str, now_ms: int) -> None:
    """Extend ``owner``'s claim (a long run renews it after each batch it marks)."""
    conn.execute(update(_T).where(_T.c.name == name, _T.c.owner == owner)
                 .values(owner_expires_ms=now_ms + DELIVERY_LEASE_MS))


def release(db: Database, name: str, owner: str) -> None:
    with db.begin() as conn:
        conn.execute(update(_T).where(_T.c.name == name, _T.c.owner == owner)
                     .values(owner=None, owner_expires_ms=None))


def set_failure(db: Database, name: str, stream_id: str, kind: str, details: str) -> None:
    with db.begin() as conn:
        conn.execute(update(_T).where(_T.c.name == name, _T.c.stream_id == stream_id)
                     .values(failure=json.dumps({"type": kind, "details": details[:2000]})))


def candidates(conn: Connection) -> list[str]:
    """Delivery streams a delivery run looks at: those holding records, reading a stream, or being deleted."""
    rows = conn.execute(select(_T.c.name).where(or_(_T.c.buffered_records > 0, _T.c.status == "DELETING",
                                                    _T.c.stream_type == "KinesisStreamAsSource"))
                        .order_by(_T.c.name))
    return [r.name for r in rows]
