"""CloudWatch Logs requests and responses: Logs' operations and fields, in snake_case.

Requests accept Logs' camelCase names (``logGroupName``) besides PascalCase and
snake_case. Limits that make a whole request invalid are checked here, once, and
raise Logs' own ``InvalidParameterException``: names, a PutLogEvents batch of more
than 10,000 events or 1,048,576 bytes (each event's UTF-8 message plus 26 bytes),
events out of chronological order or spanning more than 24 hours, a page size
outside its range. Which events are too old or too new depends on the clock and
is decided by the service (PutLogEvents stores the others and says which it
refused).
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from crispml.services.monitoring.entities import (
    AWS_NAMES,
    FilteredLogEvent,
    InputLogEvent,
    LogGroup,
    LogStream,
    OutputLogEvent,
    RejectedLogEventsInfo,
)
from crispml.services.monitoring.errors import InvalidParameterException
from crispml.spine.models import Request, Response

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
#: GetLogEvents and FilterLogEvents return at most this many events, and as many as fit 1 MB.
MAX_READ_EVENTS = 10_000
MAX_READ_BYTES = 1_048_576

_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")


def event_size(message: str) -> int:
    """What an event counts against a batch or a response: its UTF-8 message plus 26 bytes."""
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def check_group_name(name: str) -> str:
    if not _GROUP_NAME.fullmatch(name):
        raise InvalidParameterException(
            f"log group name {name!r} is not valid: use 1-512 characters among letters, digits, "
            "'_', '-', '/', '.' and '#' (for example /aws/sagemaker/TrainingJobs)")
    return name


def check_stream_name(name: str) -> str:
    if not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise InvalidParameterException(
            f"log stream name {name!r} is not valid: use 1-512 characters, none of them ':' or '*'")
    return name


GroupName = Annotated[str, AfterValidator(check_group_name), Field(description="Log group name.")]
StreamName = Annotated[str, AfterValidator(check_stream_name), Field(description="Log stream name.")]
Millis = Annotated[int, Field(ge=0, description="Milliseconds since the epoch.")]


class LogsRequest(Request):
    """A CloudWatch Logs request: also accepts Logs' camelCase field names."""

    model_config = ConfigDict(alias_generator=AWS_NAMES)


class EmptyResponse(Response):
    """A monitoring operation that returns nothing but success."""


class CreateLogGroupRequest(LogsRequest):
    log_group_name: GroupName
    tags: dict[str, str] | None = Field(None, description='Tags, e.g. {"team": "ml"}.')


class DeleteLogGroupRequest(LogsRequest):
    log_group_name: GroupName


class DescribeLogGroupsRequest(LogsRequest):
    log_group_name_prefix: str | None = Field(None, min_length=1, max_length=512,
                                              description="Only groups whose name starts with this.")
    next_token: str | None = Field(None, description="Token from the previous page.")
    limit: int = Field(50, ge=1, le=50, description="Groups per page (1-50).")


class DescribeLogGroupsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "log_groups": ["log_group_name", "creation_time", "stored_bytes"]}
    log_groups: list[LogGroup]
    next_token: str | None = None


class CreateLogStreamRequest(LogsRequest):
    log_group_name: GroupName
    log_stream_name: StreamName


class DescribeLogStreamsRequest(LogsRequest):
    log_group_name: GroupName
    log_stream_name_prefix: str | None = Field(None, min_length=1, max_length=512,
                                               description="Only streams whose name starts with this.")
    order_by: Literal["LogStreamName", "LastEventTime"] = Field(
        "LogStreamName", description="Order by name, or by the time of each stream's last event.")
    descending: bool = Field(False, description="Newest or last name first.")
    next_token: str | None = Field(None, description="Token from the previous page.")
    limit: int = Field(50, ge=1, le=50, description="Streams per page (1-50).")

    @model_validator(mode="after")
    def _prefix_only_by_name(self) -> DescribeLogStreamsRequest:
        if self.order_by == "LastEventTime" and self.log_stream_name_prefix is not None:
            raise InvalidParameterException(
                "logStreamNamePrefix cannot be given with orderBy LastEventTime; order by LogStreamName "
                "to list streams by prefix")
        return self


class DescribeLogStreamsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"log_streams": [
        "log_stream_name", "first_event_timestamp", "last_event_timestamp", "last_ingestion_time", "stored_bytes"]}
    log_streams: list[LogStream]
    next_token: str | None = None


class PutLogEventsRequest(LogsRequest):
    log_group_name: GroupName
    log_stream_name: StreamName
    log_events: list[InputLogEvent] = Field(
        description='Events in chronological order: [{"timestamp": ms, "message": "..."}] (up to 10,000).')
    sequence_token: str | None = Field(None, description="Ignored, as CloudWatch Logs now ignores it.")

    @model_validator(mode="after")
    def _batch_limits(self) -> PutLogEventsRequest:
        events = self.log_events
        if not 1 <= len(events) <= MAX_BATCH_EVENTS:
            raise InvalidParameterException(
                f"logEvents holds {len(events)} events; a batch holds 1 to {MAX_BATCH_EVENTS:,}")
        for i in range(1, len(events)):
            if events[i].timestamp < events[i - 1].timestamp:
                raise InvalidParameterException(
                    f"log events in a single PutLogEvents request must be in chronological order: event {i} "
                    f"({events[i].timestamp}) is earlier than event {i - 1} ({events[i - 1].timestamp})")
        if events[-1].timestamp - events[0].timestamp > MAX_BATCH_SPAN_MS:
            raise InvalidParameterException(
                "the log events of one PutLogEvents request cannot span more than 24 hours; send them in "
                "several batches")
        size = sum(event_size(e.message) for e in events)
        if size > MAX_BATCH_BYTES:
            raise InvalidParameterException(
                f"the batch is {size:,} bytes (each message in UTF-8 plus 26 bytes per event); the maximum is "
                f"{MAX_BATCH_BYTES:,}: send fewer events per request")
        return self


class PutLogEventsResponse(Response):
    next_sequence_token: str | None = None
    rejected_log_events_info: RejectedLogEventsInfo | None = None


class GetLogEventsRequest(LogsRequest):
    log_group_name: GroupName
    log_stream_name: StreamName
    start_time: Millis | None = Field(None, description="Only events at or after this time (ms).")
    end_time: Millis | None = Field(None, description="Only events before this time (ms).")
    next_token: str | None = Field(None, description="nextForwardToken or nextBackwardToken of a previous call.")
    limit: int = Field(MAX_READ_EVENTS, ge=1, le=MAX_READ_EVENTS, description="Events at most (1-10,000).")
    start_from_head: bool = Field(False, description="Without a token: the earliest events, not the latest.")


class GetLogEventsResponse(Response):
    events: list[OutputLogEvent]
    next_forward_token: str
    next_backward_token: str


class FilterLogEventsRequest(LogsRequest):
    log_group_name: GroupName
    log_stream_names: list[str] | None = Field(None, min_length=1, max_length=100,
                                               description="Only these streams (up to 100).")
    log_stream_name_prefix: str | None = Field(None, min_length=1, max_length=512,
                                               description="Only streams whose name starts with this.")
    start_time: Millis | None = Field(None, description="Only events at or after this time (ms).")
    end_time: Millis | None = Field(None, description="Only events before this time (ms).")
    filter_pattern: str | None = Field(
        None, max_length=1024,
        description='Terms that must all occur: ERROR "out of memory"; -term excludes a term.')
    next_token: str | None = Field(None, description="Token from the previous page.")
    limit: int = Field(MAX_READ_EVENTS, ge=1, le=MAX_READ_EVENTS, description="Events at most (1-10,000).")

    @model_validator(mode="after")
    def _streams_one_way(self) -> FilterLogEventsRequest:
        if self.log_stream_names is not None and self.log_stream_name_prefix is not None:
            raise InvalidParameterException(
                "give logStreamNames or logStreamNamePrefix, not both")
        return self


class FilterLogEventsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "events": ["log_stream_name", "timestamp", "message", "event_id"]}
    events: list[FilteredLogEvent]
    next_token: str | None = None
