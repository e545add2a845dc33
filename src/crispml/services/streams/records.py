"""Record operations: PutRecord, PutRecords, GetShardIterator, GetRecords.

A put checks each record (partition key, size, ExplicitHashKey), hashes its
partition key, and hands the batch to the stream's record store, which appends
it to the open shards in one step (one transaction on the embedded store, one
atomic script per shard on Redis). PutRecords reports a record that failed —
a bad record, or one the store could not take — in its response, with
Kinesis's ErrorCode and ErrorMessage, and stores the others; PutRecord raises.

An iterator is a position after a counter in one shard; GetRecords returns the
records after it that have not expired, and a new iterator after the last one
returned — or none once a closed shard has been read to its end, with the
shard's children so the reader can go on.
"""

from __future__ import annotations

from itertools import repeat
from operator import contains
from typing import cast

from sqlalchemy import or_, select

from crispml.core.context import CallContext
from crispml.services.streams.backends.base import (
    Batch,
    PutOutcome,
    StoreChanged,
    check_readable,
    load_stream,
    not_found,
    shard_info,
)
from crispml.services.streams.core import StreamsCore, collector_paused, stream_crn, to_ms
from crispml.services.streams.entities import ChildShard, HashKeyRange, PutRecordsResultEntry
from crispml.services.streams.errors import (
    InvalidArgumentException,
    RecordStoreUnavailable,
    ResourceInUseException,
    ResourceNotFoundException,
)
from crispml.services.streams.rules import (
    MAX_GET_RECORDS_BYTES,
    MAX_PARTITION_KEY,
    MAX_RECORD_BYTES,
    IteratorPosition,
    check_not_expired,
    check_partition_key,
    check_record_size,
    decode_iterator,
    encode_iterator,
    hash_key_of,
    iterator_stream,
    parse_hash_key,
    parse_sequence_number,
    sequence_number,
    sequence_numbers,
    shard_id,
)
from crispml.services.streams.specs import (
    GetRecordsRequest,
    GetRecordsResponse,
    GetShardIteratorRequest,
    GetShardIteratorResponse,
    PutRecordRequest,
    PutRecordResponse,
    PutRecordsRequest,
    PutRecordsResponse,
)
from crispml.services.streams.store import SHARDS
from crispml.spine.operations import operation


def _hash_key(data: bytes, partition_key: str, explicit_hash_key: str | None) -> int:
    """A record's hash key, once it is checked against Kinesis's limits."""
    check_partition_key(partition_key)
    check_record_size(data, partition_key)
    return parse_hash_key(explicit_hash_key) if explicit_hash_key is not None else hash_key_of(partition_key)


class RecordOps(StreamsCore):
    def _put(self, name: str, batch: Batch) -> PutOutcome:
        """Append checked records to the stream's store, then trim it if due."""
        for _ in range(2):
            url = self._store_urls.get(name)
            if url is None:
                url = self._store_urls[name] = self._stream(name).record_store
            try:
                outcome = self._store(url).put(name, batch, self._now_ms())
            except StoreChanged:  # deleted and created again on another store
                self._store_urls.pop(name, None)
                continue
            except ResourceNotFoundException:
                self._store_urls.pop(name, None)
                raise
            self._trim(outcome.stream)
            return outcome
        raise ResourceInUseException(f"Stream {name} was deleted and created again while records were put")

    @operation("PutRecord", resource=lambda r: stream_crn(r.stream_name))
    def put_record(self, ctx: CallContext, request: PutRecordRequest) -> PutRecordResponse:
        """Write one record to the shard its partition key (or ExplicitHashKey) picks."""
        key = _hash_key(request.data, request.partition_key, request.explicit_hash_key)
        outcome = self._put(request.stream_name, Batch([request.partition_key], [request.data], [key]))
        if outcome.rejected:
            raise RecordStoreUnavailable(f"the record was not stored: {outcome.rejected[0].message}")
        (run,) = outcome.appended
        return PutRecordResponse(shard_id=shard_id(run.shard_number),
                                 sequence_number=sequence_number(outcome.stream.tag, run.shard_number, run.first))

    @operation("PutRecords", resource=lambda r: stream_crn(r.stream_name))
    def put_records(self, ctx: CallContext, request: PutRecordsRequest) -> PutRecordsResponse:
        """Write up to 500 records in one call; each record's success or failure is in the response."""
        records = request.records
        results: list[PutRecordsResultEntry | None] = [None] * len(records)
        keys = [r["partition_key"] for r in records]
        datas = [r["data"] for r in records]
        where = list(range(len(records)))
        # The common case, checked with lengths only (a character is at most 4 bytes in UTF-8), by the
        # longest key and data: a record over a limit, or one with an ExplicitHashKey (even None), takes
        # the path below, which checks each record.
        longest_key = max(map(len, keys))
        if (not any(map(contains, records, repeat("explicit_hash_key"))) and min(map(len, keys)) > 0
                and longest_key <= MAX_PARTITION_KEY and max(map(len, datas)) + 4 * longest_key <= MAX_RECORD_BYTES):
            batch = Batch(keys, datas)  # hash keys: the keys' MD5, computed only if there is more than one shard
        else:
            hash_keys: list[int] = []
            batch, where = Batch([], [], hash_keys), []
            for i, record in enumerate(records):
                try:
                    hash_keys.append(_hash_key(datas[i], keys[i], record.get("explicit_hash_key")))
                except InvalidArgumentException as exc:
                    results[i] = PutRecordsResultEntry(error_code=InvalidArgumentException.code,
                                                       error_message=exc.message)
                    continue
                batch.partition_keys.append(keys[i])
                batch.data.append(datas[i])
                where.append(i)
        stored = 0
        if not where:
            self._stream(request.stream_name)  # an unknown stream is an error even if every record was bad
        else:
            outcome = self._put(request.stream_name, batch)
            tag = outcome.stream.tag
            for run in outcome.appended:
                shard = shard_id(run.shard_number)
                entries = [PutRecordsResultEntry(number, shard)
                           for number in sequence_numbers(tag, run.shard_number, run.first, len(run.indexes))]
                if len(entries) == len(results):  # every record, in order, in one shard
                    results[:] = entries
                else:
                    for i, entry in zip(run.indexes, entries, strict=True):
                        results[where[i]] = entry
                stored += len(entries)
            for failure in outcome.rejected:
                for i in failure.indexes:
                    results[where[i]] = PutRecordsResultEntry(error_code=failure.code, error_message=failure.message)
        assert all(entry is not None for entry in results)  # every record is stored or rejected
        return PutRecordsResponse(failed_record_count=len(records) - stored,
                                  records=cast(list[PutRecordsResultEntry], results))

    @operation("GetShardIterator", resource=lambda r: stream_crn(r.stream_name), mutating=False)
    def get_shard_iterator(self, ctx: CallContext, request: GetShardIteratorRequest) -> GetShardIteratorResponse:
        """A position in a shard to read from (valid for 5 minutes), by ShardIteratorType."""
        with self.db.connect() as conn:
            stream = load_stream(conn, request.stream_name)
            check_readable(stream)
            shard = self._shard(conn, stream, request.shard_id)
        store = self._store(stream.record_store)
        kind, ending = request.shard_iterator_type, self._ending_counter(stream, shard)
        if kind == "TRIM_HORIZON":
            after = -1
        elif kind == "LATEST":
            after = ending if ending is not None else store.last_counter(stream, shard)
        elif kind == "AT_TIMESTAMP":
            assert request.timestamp is not None
            found = store.first_counter_at(stream, shard, to_ms(request.timestamp))
            if found is None:  # nothing at or after that time yet: start at the tip
                after = ending if ending is not None else store.last_counter(stream, shard)
            else:
                after = found - 1
        else:
            assert request.starting_sequence_number is not None
            counter = parse_sequence_number(request.starting_sequence_number, tag=stream.tag,
                                            number=shard.number, stream=stream.name, shard=request.shard_id)
            after = counter - 1 if kind == "AT_SEQUENCE_NUMBER" else counter
        position = IteratorPosition(stream.name, stream.stream_id, shard.number, after, self._now_ms())
        return GetShardIteratorResponse(shard_iterator=encode_iterator(position))

    @operation("GetRecords", resource=lambda r: stream_crn(iterator_stream(r.shard_iterator)), mutating=False)
    def get_records(self, ctx: CallContext, request: GetRecordsRequest) -> GetRecordsResponse:
        """Records after the iterator's position (up to Limit and 10 MiB), and the next iterator."""
        position = decode_iterator(request.shard_iterator)
        now = self._now_ms()
        check_not_expired(position, now)
        with collector_paused():  # up to 10,000 records, each a row, a dict and a model that all live on
            return self._read_page(position, request.limit, now)

    def _read_page(self, position: IteratorPosition, limit: int, now: int) -> GetRecordsResponse:
        with self.db.connect() as conn:
            stream = load_stream(conn, position.stream)
            if stream.stream_id != position.stream_id:
                raise not_found(position.stream)  # deleted, and another stream took the name
            check_readable(stream)
            row = conn.execute(select(SHARDS).where(
                SHARDS.c.stream_name == stream.name, SHARDS.c.shard_number == position.shard_number)).first()
            if row is None:
                raise ResourceNotFoundException(
                    f"Shard {shard_id(position.shard_number)} in stream {stream.name} no longer exists "
                    "(its records expired); read its children (ListShards)")
            shard = shard_info(row)
            ending = self._ending_counter(stream, shard)
            batch = self._store(stream.record_store).read(
                stream, shard, position.after, limit=limit, max_bytes=MAX_GET_RECORDS_BYTES,
                min_arrival_ms=now - stream.retention_ms, until=ending)
            at_end = ending is not None and batch.next_arrival_ms is None
            children = conn.execute(select(SHARDS).where(
                SHARDS.c.stream_name == stream.name,
                or_(SHARDS.c.parent_number == shard.number, SHARDS.c.adjacent_parent_number == shard.number),
            ).order_by(SHARDS.c.shard_number)).all() if at_end else []
        number = shard.number
        base = int(sequence_number(stream.tag, number, 0))  # plus a counter: its sequence number (rules.py)
        last = batch.records[-1][0] if batch.records else position.after
        following = IteratorPosition(stream.name, stream.stream_id, number, last, now)
        # Validated from plain dicts in one call (pydantic's core reads epoch milliseconds as UTC times):
        # 10,000 records come back at most, and building models one by one took five times as long.
        return GetRecordsResponse.model_validate({
            "records": [{"sequence_number": str(base + counter), "approximate_arrival_timestamp": arrival,
                         "data": data, "partition_key": key} for counter, arrival, key, data in batch.records],
            "next_shard_iterator": None if at_end else encode_iterator(following),
            "millis_behind_latest": max(0, now - batch.next_arrival_ms) if batch.next_arrival_ms is not None else 0,
            "child_shards": [self._child(c) for c in children],
        })

    @staticmethod
    def _child(row: object) -> ChildShard:
        info = shard_info(row)
        parents = [shard_id(n) for n in (info.parent_number, info.adjacent_parent_number) if n is not None]
        return ChildShard(shard_id=shard_id(info.number), parent_shards=parents,
                          hash_key_range=HashKeyRange(starting_hash_key=str(info.start),
                                                      ending_hash_key=str(info.end)))
