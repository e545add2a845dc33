"""A Kinesis stream as a delivery stream's source: read it from TRIM_HORIZON on, into the buffer.

Reads go through the streams service's public operations (``ListShards``,
``GetShardIterator``, ``GetRecords``) as the delivery stream's principal, so
they are authorized and audited like any call. Each page of records is
buffered in the transaction that moves the shard's position
(``firehose_source_positions``: the last sequence number buffered, or
``SHARD_END`` once a closed shard is read to its end), so a record is buffered
exactly once however the reading process ends, and a restart reads on from
the last position; delivery from the buffer is then at least once. Shards are
read independently (a child shard is not held back until its parents are
finished): Firehose promises no order either.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select, update

from crispml.core.context import CallContext
from crispml.core.errors import NotFound
from crispml.core.metadb.engine import Database
from crispml.services.firehose import buffer
from crispml.services.firehose.buffer import StreamInfo
from crispml.services.firehose.store import POSITIONS
from crispml.services.streams.service import (
    GetRecordsRequest,
    GetShardIteratorRequest,
    ListShardsRequest,
    StreamsService,
)

SHARD_END = "SHARD_END"
_PAGE = 1_000


def _positions(db: Database, name: str) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(select(POSITIONS.c.shard_id, POSITIONS.c.sequence_number)
                            .where(POSITIONS.c.delivery_stream == name))
        return {r.shard_id: r.sequence_number for r in rows}


def _shards(streams: StreamsService, ctx: CallContext, stream: str) -> list[str]:
    page = streams.list_shards(ctx, ListShardsRequest(stream_name=stream))
    found = [s.shard_id for s in page.shards]
    while page.next_token:
        page = streams.list_shards(ctx, ListShardsRequest(next_token=page.next_token))
        found += [s.shard_id for s in page.shards]
    return found


def pull(streams: StreamsService, ctx: CallContext, db: Database, stream: StreamInfo, now_ms: int,
         room_bytes: int) -> int:
    """Buffer the source stream's records not read yet, about ``room_bytes`` at most; how many were added."""
    source = stream.source_stream
    assert source is not None
    positions = _positions(db, stream.name)
    added = taken = 0
    for shard in _shards(streams, ctx, source):
        position = positions.get(shard)
        if position == SHARD_END:
            continue
        iterator: str | None
        try:
            if position is None:
                iterator = streams.get_shard_iterator(ctx, GetShardIteratorRequest(
                    stream_name=source, shard_id=shard, shard_iterator_type="TRIM_HORIZON")).shard_iterator
            else:
                iterator = streams.get_shard_iterator(ctx, GetShardIteratorRequest(
                    stream_name=source, shard_id=shard, shard_iterator_type="AFTER_SEQUENCE_NUMBER",
                    starting_sequence_number=position)).shard_iterator
        except NotFound:
            continue  # the shard's records expired and it is gone
        while iterator is not None and taken < room_bytes:
            page = streams.get_records(ctx, GetRecordsRequest(shard_iterator=iterator, limit=_PAGE))
            ended = page.next_shard_iterator is None
            if page.records or ended:
                _buffer(db, stream, shard, page.records, ended, now_ms, known=shard in positions)
                positions[shard] = SHARD_END if ended else page.records[-1].sequence_number
            added += len(page.records)
            taken += sum(len(r.data) for r in page.records)
            if ended or (not page.records and page.millis_behind_latest == 0):
                break
            iterator = page.next_shard_iterator
    return added


def _buffer(db: Database, stream: StreamInfo, shard: str, records: list[Any], ended: bool, now_ms: int,
            *, known: bool) -> None:
    """Buffer one page of a shard and move the shard's position, in one transaction."""
    position = SHARD_END if ended else records[-1].sequence_number
    with db.begin() as conn:
        if records:
            buffer.append(conn, stream.name, [(bytes(r.data), json.dumps({
                "shardId": shard, "partitionKey": r.partition_key, "sequenceNumber": r.sequence_number,
                "subsequenceNumber": 0,
                "approximateArrivalTimestamp": int(r.approximate_arrival_timestamp.timestamp() * 1000),
            })) for r in records], now_ms, stream_id=stream.stream_id)
        if known:
            conn.execute(update(POSITIONS).where(POSITIONS.c.delivery_stream == stream.name,
                                                 POSITIONS.c.shard_id == shard).values(sequence_number=position))
        else:
            conn.execute(insert(POSITIONS).values(delivery_stream=stream.name, shard_id=shard,
                                                  sequence_number=position))
