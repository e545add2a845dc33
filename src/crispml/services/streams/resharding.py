"""Resharding: UpdateShardCount (UNIFORM_SCALING), SplitShard and MergeShards.

Every change is made of two primitives, as on Kinesis: a split closes one shard
and opens two children that share its hash-key range; a merge closes two
adjacent shards and opens one child over both. A closed parent keeps its
records, readable until its EndingSequenceNumber; its children record it as
``ParentShardId`` (and ``AdjacentParentShardId`` for a merge), so a consumer can
finish parents before children. UpdateShardCount reaches uniform ranges by
splitting shards at the new boundaries, then merging the pieces of each new
range; that can open and close intermediate shards within the operation (they
hold no records), as Kinesis's own UpdateShardCount may.

Closing a shard takes its row's lock, which every put on it takes too: on the
embedded store the shard's end is its last counter at that moment. On Redis the
close is committed first (status UPDATING) and the store then seals the shard
and reports its end, after which the stream is ACTIVE again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.streams.backends.base import RecordStore, not_found
from crispml.services.streams.core import StreamsCore, stream_crn
from crispml.services.streams.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from crispml.services.streams.rules import (
    MAX_STREAM_SHARDS,
    SHARD_QUOTA,
    parse_hash_key,
    sequence_number,
    shard_id,
    shard_number,
    stream_tag,
    uniform_ranges,
)
from crispml.services.streams.specs import (
    EmptyResponse,
    MergeShardsRequest,
    SplitShardRequest,
    UpdateShardCountRequest,
    UpdateShardCountResponse,
)
from crispml.services.streams.store import SHARDS, ShardRow, StreamRow
from crispml.services.streams.streams import new_shard, open_shard_count
from crispml.spine.operations import operation


class _Reshard:
    """The shard changes of one resharding operation, inside its transaction."""

    def __init__(self, session: Session, stream: StreamRow, store: RecordStore) -> None:
        self.session, self.stream, self.store = session, stream, store
        # Lock the open shards now, in key order as producers do (PostgreSQL; SQLite's write lock covers all).
        self.open: list[ShardRow] = sorted(
            session.scalars(select(ShardRow).where(ShardRow.stream_name == stream.name, ShardRow.closed_at.is_(None))
                            .order_by(ShardRow.shard_key).with_for_update()),
            key=lambda r: int(r.hash_key_start))
        self.created: set[int] = set()
        self.closed_any = False

    def find(self, shard: str) -> ShardRow:
        number = shard_number(shard)
        for row in self.open:
            if row.shard_number == number:
                return row
        exists = self.session.scalar(select(ShardRow.shard_key).where(
            ShardRow.stream_name == self.stream.name, ShardRow.shard_number == number))
        if exists is not None:
            raise InvalidArgumentException(f"Shard {shard} in stream {self.stream.name} is closed; "
                                           "only open shards can be split or merged")
        raise ResourceNotFoundException(f"Shard {shard} in stream {self.stream.name} does not exist")

    def close(self, row: ShardRow, now: datetime) -> None:
        self.open.remove(row)
        if row.shard_number in self.created:  # an intermediate shard: it never took a record
            row.closed_at, row.ending_sequence_number = now, row.starting_sequence_number
            return
        # Take the row's lock (puts on this shard wait on it), then fix the end.
        self.session.flush()
        last = self.session.execute(
            update(SHARDS).where(SHARDS.c.shard_key == row.shard_key, SHARDS.c.closed_at.is_(None))
            .values(closed_at=now).returning(SHARDS.c.last_counter)).scalar()
        if last is None:
            raise ResourceInUseException(f"Shard {shard_id(row.shard_number)} was closed by another change")
        self.session.expire(row)
        if not self.store.seals_after_commit:
            row.ending_sequence_number = sequence_number(stream_tag(self.stream.stream_id), row.shard_number, last)
        self.closed_any = True

    def add(self, start: int, end: int, now: datetime, parent: int, adjacent: int | None = None) -> ShardRow:
        row = new_shard(self.stream, start, end, now, parent=parent, adjacent=adjacent)
        self.session.add(row)
        self.created.add(row.shard_number)
        self.open.append(row)
        self.open.sort(key=lambda r: int(r.hash_key_start))
        return row

    def split(self, row: ShardRow, at: int, now: datetime) -> tuple[ShardRow, ShardRow]:
        start, end = int(row.hash_key_start), int(row.hash_key_end)
        self.close(row, now)
        return (self.add(start, at - 1, now, row.shard_number), self.add(at, end, now, row.shard_number))

    def merge(self, row: ShardRow, adjacent: ShardRow, now: datetime) -> ShardRow:
        low, high = sorted((row, adjacent), key=lambda r: int(r.hash_key_start))
        if int(low.hash_key_end) + 1 != int(high.hash_key_start):
            raise InvalidArgumentException(
                f"Shards {shard_id(row.shard_number)} and {shard_id(adjacent.shard_number)} are not adjacent: "
                "their hash-key ranges must meet; see ListShards")
        start, end = int(low.hash_key_start), int(high.hash_key_end)
        self.close(row, now)
        self.close(adjacent, now)
        return self.add(start, end, now, row.shard_number, adjacent.shard_number)

    def uniform(self, target: int, now: datetime) -> None:
        ranges = uniform_ranges(target)
        for row in list(self.open):
            piece = row
            for cut in [s for s, _ in ranges if int(row.hash_key_start) < s <= int(row.hash_key_end)]:
                _, piece = self.split(piece, cut, now)
        for start, end in ranges:
            pieces = [r for r in self.open if start <= int(r.hash_key_start) and int(r.hash_key_end) <= end]
            merged = pieces[0]
            for piece in pieces[1:]:
                merged = self.merge(merged, piece, now)


class ReshardOps(StreamsCore):
    def _reshard(self, name: str, change: Callable[[_Reshard, datetime], None], *,
                 added: int) -> tuple[int, int]:
        """Run ``change(reshard, now)`` in one transaction; return the open shard counts before and after."""
        self._finish_closing(name)  # a change cut short before: finish it first
        stream = self._stream(name)
        store = self._store(stream.record_store)
        now = self.clock.now()

        def work(session: Session) -> tuple[int, int]:
            row = session.get(StreamRow, name, with_for_update=True)
            if row is None or row.stream_id != stream.stream_id:
                raise not_found(name)
            if row.status != "ACTIVE":
                raise ResourceInUseException(f"Stream {name} is {row.status}; it can be resharded when ACTIVE")
            if added > 0 and open_shard_count(session) + added > SHARD_QUOTA:
                raise LimitExceededException(
                    f"this change would exceed the shard quota of {SHARD_QUOTA} open shards; "
                    "delete streams or lower their shard counts")
            reshard = _Reshard(session, row, store)
            before = len(reshard.open)
            change(reshard, now)
            if reshard.closed_any and store.seals_after_commit:
                row.status = "UPDATING"
            return before, len(reshard.open)

        counts = self._writing(work)
        self._finish_closing(name)
        self._trim(self._stream(name))
        return counts

    @operation("UpdateShardCount", resource=lambda r: stream_crn(r.stream_name))
    def update_shard_count(self, ctx: CallContext, request: UpdateShardCountRequest) -> UpdateShardCountResponse:
        """Change the number of open shards to TargetShardCount, with uniform hash-key ranges."""
        stream = self._stream(request.stream_name)
        if stream.stream_mode == "ON_DEMAND":
            raise InvalidArgumentException(f"Stream {stream.name} is ON_DEMAND; UpdateShardCount needs a "
                                           "PROVISIONED stream")
        target = request.target_shard_count
        if target > MAX_STREAM_SHARDS:
            raise LimitExceededException(f"a stream may have at most {MAX_STREAM_SHARDS:,} shards")
        with self.db.connect() as conn:
            current = int(conn.scalar(select(func.count()).select_from(SHARDS).where(
                SHARDS.c.stream_name == stream.name, SHARDS.c.closed_at.is_(None))) or 0)
        if target > 2 * current or 2 * target < current:
            raise InvalidArgumentException(
                f"TargetShardCount {target} is out of range for {current} open shards: UpdateShardCount scales "
                f"to between half and double the current count ({(current + 1) // 2}-{2 * current})")

        def change(reshard: _Reshard, now: datetime) -> None:
            if len(reshard.open) == target and [(int(r.hash_key_start), int(r.hash_key_end))
                                                for r in reshard.open] == uniform_ranges(target):
                raise InvalidArgumentException(
                    f"Stream {stream.name} has {target} shards with uniform ranges already")
            reshard.uniform(target, now)

        before, _ = self._reshard(stream.name, change, added=target - current)
        return UpdateShardCountResponse(stream_name=stream.name, current_shard_count=before,
                                        target_shard_count=target, stream_arn=stream_crn(stream.name))

    @operation("SplitShard", resource=lambda r: stream_crn(r.stream_name))
    def split_shard(self, ctx: CallContext, request: SplitShardRequest) -> EmptyResponse:
        """Close a shard and open two children: below NewStartingHashKey, and from it on."""
        at = parse_hash_key(request.new_starting_hash_key, "NewStartingHashKey")

        def change(reshard: _Reshard, now: datetime) -> None:
            row = reshard.find(request.shard_to_split)
            start, end = int(row.hash_key_start), int(row.hash_key_end)
            if not start < at <= end:
                raise InvalidArgumentException(
                    f"NewStartingHashKey {at} must be above the shard's starting hash key {start} and at most "
                    f"its ending hash key {end}")
            reshard.split(row, at, now)

        self._reshard(request.stream_name, change, added=1)
        return EmptyResponse()

    @operation("MergeShards", resource=lambda r: stream_crn(r.stream_name))
    def merge_shards(self, ctx: CallContext, request: MergeShardsRequest) -> EmptyResponse:
        """Close two adjacent shards and open one child over both ranges."""
        if request.shard_to_merge == request.adjacent_shard_to_merge:
            raise InvalidArgumentException("ShardToMerge and AdjacentShardToMerge must be two different shards")

        def change(reshard: _Reshard, now: datetime) -> None:
            reshard.merge(reshard.find(request.shard_to_merge), reshard.find(request.adjacent_shard_to_merge), now)

        self._reshard(request.stream_name, change, added=-1)
        return EmptyResponse()

