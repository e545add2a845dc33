"""Stream operations: create, describe, list streams and shards, delete, retention.

Status transitions are immediate: CreateStream commits the stream ACTIVE, and
DeleteStream removes it in one transaction on the embedded store. A stream on
Redis shows DELETING while its Redis keys are removed; if that is cut short,
DeleteStream on the DELETING stream finishes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.ids import new_id
from crispml.core.plugins import redact
from crispml.services.streams.backends.base import (
    ShardInfo,
    StreamInfo,
    load_shards,
    load_stream,
    not_found,
    stream_info,
)
from crispml.services.streams.core import StreamsCore, stream_crn, to_ms
from crispml.services.streams.entities import (
    StreamDescription,
    StreamDescriptionSummary,
    StreamModeDetails,
    StreamSummary,
)
from crispml.services.streams.errors import (
    ExpiredNextTokenException,
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
)
from crispml.services.streams.rules import (
    DEFAULT_RETENTION_HOURS,
    ITERATOR_LIFETIME_MS,
    MAX_STREAM_SHARDS,
    ON_DEMAND_SHARDS,
    SHARD_QUOTA,
    check_retention,
    sequence_number,
    shard_number,
    stream_tag,
    uniform_ranges,
)
from crispml.services.streams.specs import (
    CreateStreamRequest,
    DeleteStreamRequest,
    DescribeStreamRequest,
    DescribeStreamResponse,
    DescribeStreamSummaryResponse,
    EmptyResponse,
    ListShardsRequest,
    ListShardsResponse,
    ListStreamsRequest,
    ListStreamsResponse,
    RetentionRequest,
    ShardFilter,
    StreamRequest,
)
from crispml.services.streams.store import LEASES, SHARDS, STREAMS, ShardRow, StreamRow
from crispml.spine.operations import operation


def token_stream(token: str | None) -> str | None:
    """The stream a ListShards NextToken continues (None if it is not a token), for authorizing the call."""
    try:
        position = paging.decode_token(token) if token else None
    except ValueError:
        return None
    return str(position["s"]) if isinstance(position, dict) and "s" in position else None


def open_shard_count(session: Session) -> int:
    """Open shards over every stream of the home (what the shard quota counts)."""
    return int(session.scalar(select(func.count()).select_from(ShardRow).where(ShardRow.closed_at.is_(None))) or 0)


def new_shard(stream: StreamRow, start: int, end: int, now: datetime, *,
              parent: int | None = None, adjacent: int | None = None) -> ShardRow:
    """A new open shard row of ``stream`` (its number taken from the stream's counter)."""
    number = stream.next_shard_number
    stream.next_shard_number += 1
    return ShardRow(
        stream_name=stream.name, shard_number=number, parent_number=parent, adjacent_parent_number=adjacent,
        hash_key_start=str(start), hash_key_end=str(end),
        starting_sequence_number=sequence_number(stream_tag(stream.stream_id), number, 0),
        ending_sequence_number=None, last_counter=0, last_arrival_ms=0, created_at=now, closed_at=None,
    )


class StreamOps(StreamsCore):
    @operation("CreateStream", resource=lambda r: stream_crn(r.stream_name))
    def create_stream(self, ctx: CallContext, request: CreateStreamRequest) -> EmptyResponse:
        """Create a stream of ShardCount shards with uniform hash-key ranges (or 4, ON_DEMAND)."""
        mode = (request.stream_mode_details or StreamModeDetails()).stream_mode
        if mode == "PROVISIONED" and request.shard_count is None:
            raise InvalidArgumentException("ShardCount is required for a PROVISIONED stream")
        if mode == "ON_DEMAND" and request.shard_count is not None:
            raise InvalidArgumentException(
                f"ShardCount cannot be given for an ON_DEMAND stream (it starts with {ON_DEMAND_SHARDS} shards)")
        count = request.shard_count or ON_DEMAND_SHARDS
        if count > MAX_STREAM_SHARDS:
            raise LimitExceededException(f"ShardCount {count} is above the {MAX_STREAM_SHARDS:,} shards a stream "
                                         "may have")
        store = self._store(request.record_store)
        store.check()
        name, now = request.stream_name, self.clock.now()
        exists = ResourceInUseException(f"Stream {name} already exists; pick another name or delete it first")

        def work(session: Session) -> None:
            if session.get(StreamRow, name) is not None:
                raise exists
            used = open_shard_count(session)
            if used + count > SHARD_QUOTA:
                raise LimitExceededException(
                    f"creating {count} shards would exceed the shard quota of {SHARD_QUOTA} open shards "
                    f"({used} are open); delete streams or lower their shard counts")
            stream = StreamRow(
                name=name, stream_id=new_id("st"), status="ACTIVE", stream_mode=mode,
                retention_hours=DEFAULT_RETENTION_HOURS, record_store=request.record_store,
                next_shard_number=0, trimmed_at_ms=to_ms(now), created_at=now,
            )
            session.add(stream)
            session.flush()  # the stream row before its shards (no ORM relationship orders them)
            session.add_all([new_shard(stream, start, end, now) for start, end in uniform_ranges(count)])

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("DescribeStream", resource=lambda r: stream_crn(r.stream_name), mutating=False)
    def describe_stream(self, ctx: CallContext, request: DescribeStreamRequest) -> DescribeStreamResponse:
        """Show a stream: status, mode, retention and its shards, a page at a time."""
        after = shard_number(request.exclusive_start_shard_id) if request.exclusive_start_shard_id else -1
        with self.db.connect() as conn:
            stream = load_stream(conn, request.stream_name)
            shards = [s for s in load_shards(conn, stream.name) if s.number > after]
        page = shards[: request.limit]
        return DescribeStreamResponse(stream_description=StreamDescription(
            **self._common(stream), shards=[self._shard_entity(stream, s) for s in page],
            has_more_shards=len(shards) > len(page), retention_period_hours=stream.retention_hours,
            record_store=redact(stream.record_store),
        ))

    @operation("DescribeStreamSummary", resource=lambda r: stream_crn(r.stream_name), mutating=False)
    def describe_stream_summary(self, ctx: CallContext, request: StreamRequest) -> DescribeStreamSummaryResponse:
        """Show a stream without its shards: status, mode, retention, open shard count."""
        with self.db.connect() as conn:
            stream = load_stream(conn, request.stream_name)
            shards = load_shards(conn, stream.name, open_only=True)
        return DescribeStreamSummaryResponse(stream_description_summary=StreamDescriptionSummary(
            **self._common(stream), retention_period_hours=stream.retention_hours, open_shard_count=len(shards),
            record_store=redact(stream.record_store),
        ))

    @staticmethod
    def _common(stream: StreamInfo) -> dict[str, Any]:
        return {"stream_name": stream.name, "stream_arn": stream_crn(stream.name),
                "stream_status": stream.status,
                "stream_mode_details": StreamModeDetails.model_validate({"stream_mode": stream.stream_mode}),
                "stream_creation_timestamp": stream.created_at}

    @operation("ListStreams", resource=lambda r: stream_crn(None), mutating=False)
    def list_streams(self, ctx: CallContext, request: ListStreamsRequest) -> ListStreamsResponse:
        """List streams by name, a page at a time."""
        after = request.exclusive_start_stream_name
        if request.next_token is not None:
            after = self._decode(request.next_token, "ListStreams").get("after")
        query = select(StreamRow).order_by(StreamRow.name).limit(request.limit + 1)
        if after:
            query = query.where(StreamRow.name > str(after))
        with self._reading() as session:
            rows = list(session.scalars(query))
        page, more = rows[: request.limit], len(rows) > request.limit
        return ListStreamsResponse(
            stream_names=[r.name for r in page], has_more_streams=more,
            next_token=paging.encode_token({"after": page[-1].name}) if more else None,
            stream_summaries=[StreamSummary(**self._common(stream_info(r))) for r in page],
        )

    @operation("ListShards", resource=lambda r: stream_crn(r.stream_name or token_stream(r.next_token)),
               mutating=False)
    def list_shards(self, ctx: CallContext, request: ListShardsRequest) -> ListShardsResponse:
        """List a stream's shards (all that have not expired, or those a ShardFilter picks)."""
        if request.next_token is not None:
            position = self._decode(request.next_token, "ListShards")
            try:
                issued, name, after = int(position["t"]), str(position["s"]), int(position["a"])
                shard_filter = ShardFilter.model_validate(position["f"]) if position.get("f") else None
            except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
                raise InvalidArgumentException(
                    "NextToken is not valid; pass the one the previous ListShards returned") from exc
            if self._now_ms() - issued > ITERATOR_LIFETIME_MS:
                raise ExpiredNextTokenException(
                    "the NextToken of ListShards lives 300 seconds; list the shards again from the start")
        else:
            assert request.stream_name is not None  # the request checked it
            name, shard_filter = request.stream_name, request.shard_filter
            after = shard_number(request.exclusive_start_shard_id) if request.exclusive_start_shard_id else -1
        with self.db.connect() as conn:
            stream = load_stream(conn, name)
            shards = [s for s in load_shards(conn, name) if s.number > after and self._picked(stream, s, shard_filter)]
        page, more = shards[: request.max_results], len(shards) > request.max_results
        token = None
        if more:
            token = paging.encode_token({
                "s": name, "a": page[-1].number, "t": self._now_ms(),
                "f": shard_filter.model_dump(mode="json", by_alias=False) if shard_filter else None})
        return ListShardsResponse(shards=[self._shard_entity(stream, s) for s in page], next_token=token)

    def _picked(self, stream: StreamInfo, shard: ShardInfo, shard_filter: ShardFilter | None) -> bool:
        if shard_filter is None:
            return True
        kind = shard_filter.type
        if kind == "AFTER_SHARD_ID":
            assert shard_filter.shard_id is not None
            return shard.number > shard_number(shard_filter.shard_id)
        if kind == "AT_LATEST":
            return shard.is_open
        if kind in ("AT_TRIM_HORIZON", "FROM_TRIM_HORIZON"):
            when = max(self._now_ms() - stream.retention_ms, to_ms(stream.created_at))
        else:
            assert shard_filter.timestamp is not None
            when = max(to_ms(shard_filter.timestamp), to_ms(stream.created_at))
        open_then = shard.closed_at is None or to_ms(shard.closed_at) > when
        if kind.startswith("FROM_"):
            return open_then
        return open_then and to_ms(shard.created_at) <= when

    @staticmethod
    def _decode(token: str, action: str) -> dict[str, Any]:
        try:
            position = paging.decode_token(token)
        except ValueError:
            position = None
        if not isinstance(position, dict):
            raise InvalidArgumentException(f"NextToken is not valid; pass the one the previous {action} returned")
        return position

    @operation("DeleteStream", resource=lambda r: stream_crn(r.stream_name))
    def delete_stream(self, ctx: CallContext, request: DeleteStreamRequest) -> EmptyResponse:
        """Delete a stream, its shards, records and consumer leases."""
        name = request.stream_name
        stream = self._stream(name)
        store = self._store(stream.record_store)
        streams = STREAMS
        mine = (streams.c.name == name, streams.c.stream_id == stream.stream_id)
        if store.seals_after_commit:
            # Announce it first: producers and readers get ResourceNotFoundException while the keys go.
            with self.db.begin() as conn:
                conn.execute(update(streams).where(*mine).values(status="DELETING"))
        with self.db.begin() as conn:
            if conn.execute(select(streams.c.name).where(*mine)).first() is None:
                raise not_found(name)
            store.drop(conn, stream, load_shards(conn, name))
            conn.execute(delete(LEASES).where(LEASES.c.stream_name == name))
            conn.execute(delete(SHARDS).where(SHARDS.c.stream_name == name))
            conn.execute(delete(streams).where(*mine))
        return EmptyResponse()

    # -- retention ------------------------------------------------------------------------

    @operation("IncreaseStreamRetentionPeriod", resource=lambda r: stream_crn(r.stream_name))
    def increase_stream_retention_period(self, ctx: CallContext, request: RetentionRequest) -> EmptyResponse:
        """Keep records longer (up to 8,760 hours)."""
        hours = check_retention(request.retention_period_hours)
        self._set_retention(request.stream_name, hours, increase=True)
        return EmptyResponse()

    @operation("DecreaseStreamRetentionPeriod", resource=lambda r: stream_crn(r.stream_name))
    def decrease_stream_retention_period(self, ctx: CallContext, request: RetentionRequest) -> EmptyResponse:
        """Keep records for less time (at least 24 hours); records older than that are removed now."""
        hours = check_retention(request.retention_period_hours)
        stream = self._set_retention(request.stream_name, hours, increase=False)
        self._trim(stream, force=True)
        return EmptyResponse()

    def _set_retention(self, name: str, hours: int, *, increase: bool) -> StreamInfo:
        def work(session: Session) -> StreamInfo:
            row = session.get(StreamRow, name, with_for_update=True)
            if row is None:
                raise not_found(name)
            if row.status != "ACTIVE":
                raise ResourceInUseException(f"Stream {name} is {row.status}; its retention can change when ACTIVE")
            if increase and hours < row.retention_hours:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {name} can not be shorter than "
                    f"existing retention period ({row.retention_hours} hours); use DecreaseStreamRetentionPeriod")
            if not increase and hours > row.retention_hours:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {name} can not be longer than "
                    f"existing retention period ({row.retention_hours} hours); use IncreaseStreamRetentionPeriod")
            row.retention_hours = hours
            return stream_info(row)

        return self._writing(work)

