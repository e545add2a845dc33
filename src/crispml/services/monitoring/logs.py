"""CloudWatch Logs operations: log groups, log streams, PutLogEvents, GetLogEvents, FilterLogEvents.

A stream's events are ordered by (timestamp, seq): by when they happened, and
among equal timestamps by when they were ingested. GetLogEvents' tokens name a
gap in that order (``f/<ts>/<seq>`` reads forward from it, ``b/<ts>/<seq>``
backward), so following a stream is calling again with ``nextForwardToken``:
the next call returns only events past the gap, and with nothing new the same
token comes back, as CloudWatch Logs does. An event put later with a timestamp
before a follower's gap is not shown to that follower (Logs does not promise it
either); a training job's events arrive in time order.

PutLogEvents is one write transaction: lock the stream row, insert the batch
with one executemany, update the stream's first/last event and ingestion times.
"Now" is the platform's clock: events more than 14 days older or 2 hours newer
are refused and reported in ``rejectedLogEventsInfo``. Retention policies,
metric filters, subscriptions, Logs Insights and KMS keys are not here.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.monitoring.entities import FilteredLogEvent, LogGroup, LogStream, OutputLogEvent
from crispml.services.monitoring.entities import RejectedLogEventsInfo as Rejected
from crispml.services.monitoring.errors import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from crispml.services.monitoring.logs_specs import (
    MAX_READ_BYTES,
    CreateLogGroupRequest,
    CreateLogStreamRequest,
    DeleteLogGroupRequest,
    DescribeLogGroupsRequest,
    DescribeLogGroupsResponse,
    DescribeLogStreamsRequest,
    DescribeLogStreamsResponse,
    EmptyResponse,
    FilterLogEventsRequest,
    FilterLogEventsResponse,
    GetLogEventsRequest,
    GetLogEventsResponse,
    PutLogEventsRequest,
    PutLogEventsResponse,
    event_size,
)
from crispml.services.monitoring.patterns import compile_pattern
from crispml.services.monitoring.store import EVENTS, STREAMS, LogGroupRow, LogStreamRow
from crispml.spine.operations import RuntimeAccess, operation

TOO_OLD_MS = 14 * 24 * 3600 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
#: The gap before every event (timestamps are >= 0).
_ORIGIN = (-1, 0)
_TOKEN = re.compile(r"([fb])/(-?\d{1,20})/(-?\d{1,20})")
#: FilterLogEvents reads events in chunks and stops after this many (returning a token), as Logs does.
_FILTER_CHUNK = 2_000
_FILTER_SCAN = 100_000


def group_crn(name: str | None) -> str:
    return crn("monitoring", f"log-group:{name or '*'}")


def stream_crn(group: str, stream: str | None) -> str:
    return crn("monitoring", f"log-group:{group}:log-stream:{stream or '*'}")


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _after(cursor: tuple[int, int]) -> ColumnElement[bool]:
    ts, seq = cursor
    return or_(EVENTS.c.timestamp > ts, and_(EVENTS.c.timestamp == ts, EVENTS.c.seq > seq))


def _read_token(token: str) -> tuple[str, tuple[int, int]]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidParameterException(
            f"nextToken {token!r} is not valid; pass the nextForwardToken or nextBackwardToken of a previous call")
    return match.group(1), (int(match.group(2)), int(match.group(3)))


def _in_range(query: Select[Any], start: int | None, end: int | None) -> Select[Any]:
    if start is not None:
        query = query.where(EVENTS.c.timestamp >= start)
    if end is not None:
        query = query.where(EVENTS.c.timestamp < end)
    return query


def _fit(rows: list[Any], keep_last: bool) -> list[Any]:
    """The rows that fit one response (1 MB), from the start or, reading backward, from the end."""
    total, kept = 0, 0
    for row in reversed(rows) if keep_last else rows:
        total += event_size(row.message)
        if total > MAX_READ_BYTES and kept:
            break
        kept += 1
    return rows[len(rows) - kept:] if keep_last else rows[:kept]


class LogOps(RuntimeAccess):
    """CloudWatch Logs' operations."""

    @operation("CreateLogGroup", resource=lambda r: group_crn(r.log_group_name))
    def create_log_group(self, ctx: CallContext, request: CreateLogGroupRequest) -> EmptyResponse:
        """Create a log group, e.g. /aws/sagemaker/TrainingJobs."""
        exists = ResourceAlreadyExistsException(f"log group {request.log_group_name!r} already exists")

        def work(session: Session) -> None:
            if session.get(LogGroupRow, request.log_group_name) is not None:
                raise exists
            session.add(LogGroupRow(name=request.log_group_name, creation_time=_millis(self.clock.now()),
                                    tags=json.dumps(request.tags or {})))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("DeleteLogGroup", resource=lambda r: group_crn(r.log_group_name))
    def delete_log_group(self, ctx: CallContext, request: DeleteLogGroupRequest) -> EmptyResponse:
        """Delete a log group with its streams and their events."""

        def work(session: Session) -> None:
            group = self._group(session, request.log_group_name)
            ids = select(STREAMS.c.id).where(STREAMS.c.group_name == group.name).scalar_subquery()
            session.execute(delete(EVENTS).where(EVENTS.c.stream_id.in_(ids)))
            session.delete(group)  # its streams go with it (ON DELETE CASCADE)

        self._writing(work)
        return EmptyResponse()

    @operation("DescribeLogGroups", resource=lambda r: group_crn(None), mutating=False)
    def describe_log_groups(self, ctx: CallContext, request: DescribeLogGroupsRequest) -> DescribeLogGroupsResponse:
        """List log groups by name, optionally by prefix, a page at a time."""
        query = select(LogGroupRow).order_by(LogGroupRow.name).limit(request.limit + 1)
        prefix = request.log_group_name_prefix
        if prefix:
            query = query.where(func.substr(LogGroupRow.name, 1, len(prefix)) == prefix)
        if request.next_token is not None:
            query = query.where(LogGroupRow.name > str(self._position(request.next_token)))
        with self._reading() as session:
            rows = list(session.scalars(query))
            page = rows[:request.limit]
            sizes = dict(session.execute(
                select(STREAMS.c.group_name, func.coalesce(func.sum(STREAMS.c.stored_bytes), 0))
                .where(STREAMS.c.group_name.in_([r.name for r in page])).group_by(STREAMS.c.group_name)).all())
        return DescribeLogGroupsResponse(
            log_groups=[LogGroup(log_group_name=r.name, creation_time=r.creation_time, arn=group_crn(r.name),
                                 stored_bytes=int(sizes.get(r.name, 0))) for r in page],
            next_token=paging.encode_token(page[-1].name) if len(rows) > len(page) else None)

    @operation("CreateLogStream", resource=lambda r: stream_crn(r.log_group_name, r.log_stream_name))
    def create_log_stream(self, ctx: CallContext, request: CreateLogStreamRequest) -> EmptyResponse:
        """Create a log stream in a log group, e.g. <job-name>/algo-1-<epoch seconds>."""
        exists = ResourceAlreadyExistsException(
            f"log stream {request.log_stream_name!r} already exists in log group {request.log_group_name!r}")

        def work(session: Session) -> None:
            self._group(session, request.log_group_name)
            if session.scalar(select(STREAMS.c.id).where(STREAMS.c.group_name == request.log_group_name,
                                                         STREAMS.c.name == request.log_stream_name)):
                raise exists
            session.add(LogStreamRow(group_name=request.log_group_name, name=request.log_stream_name,
                                     creation_time=_millis(self.clock.now()), stored_bytes=0))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("DescribeLogStreams", resource=lambda r: stream_crn(r.log_group_name, None), mutating=False)
    def describe_log_streams(self, ctx: CallContext,
                             request: DescribeLogStreamsRequest) -> DescribeLogStreamsResponse:
        """List a group's log streams by name or by last event time, a page at a time."""
        by_time = request.order_by == "LastEventTime"
        key = func.coalesce(LogStreamRow.last_event_timestamp, -1) if by_time else LogStreamRow.name
        query = select(LogStreamRow).where(LogStreamRow.group_name == request.log_group_name)
        prefix = request.log_stream_name_prefix
        if prefix:
            query = query.where(func.substr(LogStreamRow.name, 1, len(prefix)) == prefix)
        if request.next_token is not None:
            after = self._position(request.next_token)
            if not (isinstance(after, list) and len(after) == 2):
                raise InvalidParameterException("nextToken is not valid; pass the one the previous page returned")
            later = (key < after[0]) if request.descending else (key > after[0])
            tie = (LogStreamRow.id < after[1]) if request.descending else (LogStreamRow.id > after[1])
            query = query.where(or_(later, and_(key == after[0], tie)))
        order = [key.desc(), LogStreamRow.id.desc()] if request.descending else [key, LogStreamRow.id]
        with self._reading() as session:
            self._group(session, request.log_group_name)
            rows = list(session.scalars(query.order_by(*order).limit(request.limit + 1)))
        page = rows[:request.limit]
        token = None
        if len(rows) > len(page):
            last = page[-1]
            token = paging.encode_token([
                (last.last_event_timestamp if last.last_event_timestamp is not None else -1) if by_time
                else last.name, last.id])
        return DescribeLogStreamsResponse(log_streams=[LogStream(
            log_stream_name=r.name, creation_time=r.creation_time, first_event_timestamp=r.first_event_timestamp,
            last_event_timestamp=r.last_event_timestamp, last_ingestion_time=r.last_ingestion_time,
            arn=stream_crn(r.group_name, r.name), stored_bytes=r.stored_bytes) for r in page], next_token=token)

    @operation("PutLogEvents", resource=lambda r: stream_crn(r.log_group_name, r.log_stream_name))
    def put_log_events(self, ctx: CallContext, request: PutLogEventsRequest) -> PutLogEventsResponse:
        """Append a batch of events (chronological, up to 10,000 and 1 MB) to a log stream."""
        now = _millis(self.clock.now())
        events = request.log_events
        old_end = sum(1 for e in events if e.timestamp < now - TOO_OLD_MS)  # a prefix: events are in order
        new_start = next((i for i, e in enumerate(events) if e.timestamp > now + TOO_NEW_MS), len(events))
        kept = events[old_end:max(old_end, new_start)]

        def work(session: Session) -> None:
            stream = self._stream(session, request.log_group_name, request.log_stream_name, lock=True)
            if not kept:
                return
            session.execute(insert(EVENTS), [
                {"stream_id": stream.id, "timestamp": e.timestamp, "ingestion_time": now, "message": e.message}
                for e in kept])
            first, last = kept[0].timestamp, kept[-1].timestamp
            if stream.first_event_timestamp is None or first < stream.first_event_timestamp:
                stream.first_event_timestamp = first
            if stream.last_event_timestamp is None or last > stream.last_event_timestamp:
                stream.last_event_timestamp = last
            stream.last_ingestion_time = now
            stream.stored_bytes += sum(event_size(e.message) for e in kept)

        self._writing(work)
        rejected = None
        if old_end or new_start < len(events):
            rejected = Rejected(too_old_log_event_end_index=old_end or None,
                                too_new_log_event_start_index=new_start if new_start < len(events) else None)
        return PutLogEventsResponse(rejected_log_events_info=rejected)

    @operation("GetLogEvents", resource=lambda r: stream_crn(r.log_group_name, r.log_stream_name),
               mutating=False)
    def get_log_events(self, ctx: CallContext, request: GetLogEventsRequest) -> GetLogEventsResponse:
        """Read a log stream's events, from the head, the tail, or a token of a previous call."""
        direction, cursor = _read_token(request.next_token) if request.next_token else (None, _ORIGIN)
        columns = (EVENTS.c.timestamp, EVENTS.c.seq, EVENTS.c.message, EVENTS.c.ingestion_time)
        with self._reading() as session:
            stream = self._stream(session, request.log_group_name, request.log_stream_name)
            query = _in_range(select(*columns).where(EVENTS.c.stream_id == stream.id),
                              request.start_time, request.end_time)
            forward = direction == "f" or (direction is None and request.start_from_head)
            if direction == "f":
                query = query.where(_after(cursor))
            elif direction == "b":
                query = query.where(~_after(cursor))
            if forward:
                query = query.order_by(EVENTS.c.timestamp, EVENTS.c.seq)
            else:
                query = query.order_by(EVENTS.c.timestamp.desc(), EVENTS.c.seq.desc())
            rows = list(session.execute(query.limit(request.limit)))
        if not forward:
            rows.reverse()
        rows = _fit(rows, keep_last=not forward)
        if rows:
            after_last, before_first = (rows[-1].timestamp, rows[-1].seq), (rows[0].timestamp, rows[0].seq - 1)
        else:
            after_last = before_first = cursor
        return GetLogEventsResponse(
            events=[OutputLogEvent(timestamp=r.timestamp, message=r.message, ingestion_time=r.ingestion_time)
                    for r in rows],
            next_forward_token="f/{}/{}".format(*after_last),
            next_backward_token="b/{}/{}".format(*before_first))

    @operation("FilterLogEvents", resource=lambda r: stream_crn(r.log_group_name, None), mutating=False)
    def filter_log_events(self, ctx: CallContext, request: FilterLogEventsRequest) -> FilterLogEventsResponse:
        """Search a log group's events (all streams, some, or by prefix) in time order for terms."""
        matches = compile_pattern(request.filter_pattern)
        cursor = _ORIGIN
        if request.next_token is not None:
            position = self._position(request.next_token)
            if not (isinstance(position, list) and len(position) == 2):
                raise InvalidParameterException("nextToken is not valid; pass the one the previous page returned")
            cursor = (int(position[0]), int(position[1]))
        with self._reading() as session:
            self._group(session, request.log_group_name)
            streams = select(STREAMS.c.id, STREAMS.c.name).where(STREAMS.c.group_name == request.log_group_name)
            if request.log_stream_names is not None:
                streams = streams.where(STREAMS.c.name.in_(request.log_stream_names))
            if request.log_stream_name_prefix:
                prefix = request.log_stream_name_prefix
                streams = streams.where(func.substr(STREAMS.c.name, 1, len(prefix)) == prefix)
            names: dict[int, str] = {id_: name for id_, name in session.execute(streams)}
            found: list[FilteredLogEvent] = []
            size, scanned, more = 0, 0, False
            base = _in_range(select(EVENTS).where(EVENTS.c.stream_id.in_(list(names))),
                             request.start_time, request.end_time).order_by(EVENTS.c.timestamp, EVENTS.c.seq)
            while names:
                chunk = list(session.execute(base.where(_after(cursor)).limit(_FILTER_CHUNK)))
                for i, row in enumerate(chunk):
                    scanned += 1
                    if matches(row.message):
                        size += event_size(row.message)
                        if size > MAX_READ_BYTES and found:
                            more = True
                            break
                        found.append(FilteredLogEvent(
                            log_stream_name=names[row.stream_id], timestamp=row.timestamp, message=row.message,
                            ingestion_time=row.ingestion_time, event_id=str(row.seq)))
                    cursor = (row.timestamp, row.seq)
                    if len(found) >= request.limit or scanned >= _FILTER_SCAN:
                        more = i + 1 < len(chunk) or len(chunk) == _FILTER_CHUNK
                        break
                if more or len(chunk) < _FILTER_CHUNK or len(found) >= request.limit or scanned >= _FILTER_SCAN:
                    break
        return FilterLogEventsResponse(events=found, next_token=paging.encode_token(list(cursor)) if more else None)

    # -- shared lookups ---------------------------------------------------------------------------------

    @staticmethod
    def _position(token: str) -> Any:
        try:
            return paging.decode_token(token)
        except ValueError as exc:
            raise InvalidParameterException("nextToken is not valid; pass the one the previous page returned") \
                from exc

    @staticmethod
    def _group(session: Session, name: str) -> LogGroupRow:
        row = session.get(LogGroupRow, name)
        if row is None:
            names = session.scalars(select(LogGroupRow.name)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ResourceNotFoundException(
                f"the specified log group does not exist: {name!r}{hint}; create it with "
                "'crispml monitoring create-log-group'")
        return row

    def _stream(self, session: Session, group: str, name: str, *, lock: bool = False) -> LogStreamRow:
        query = select(LogStreamRow).where(LogStreamRow.group_name == group, LogStreamRow.name == name)
        row = session.scalar(query.with_for_update() if lock else query)
        if row is None:
            self._group(session, group)
            raise ResourceNotFoundException(
                f"the specified log stream does not exist: {name!r} in log group {group!r}; create it with "
                "'crispml monitoring create-log-stream'")
        return row
