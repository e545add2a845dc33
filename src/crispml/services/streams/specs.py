"""Streams requests and responses: Kinesis's operations and fields, in snake_case.

Limits that make a whole request invalid (more than 500 records or 5 MiB in a
PutRecords call, a Limit above 10,000) are checked here, once. Limits of one
record (its size, its partition key, its ExplicitHashKey) are checked by the
service per record, so that PutRecords can report a bad record in its
response and still store the others.

Record data is bytes; a ``str`` is taken as UTF-8 text, as boto3 does (and as the
AWS CLI does with ``--cli-binary-format raw-in-base64-out``). GetRecords returns
data as bytes, base64-encoded in JSON output as on Kinesis's wire.
"""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter
from typing import Annotated, Any, ClassVar, Literal, NotRequired

from pydantic import AfterValidator, AliasGenerator, BeforeValidator, ConfigDict, Field, model_validator, with_config
from pydantic.alias_generators import to_pascal
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from crispml.services.streams.entities import (
    ChildShard,
    PutRecordsResultEntry,
    Record,
    Shard,
    StreamDescription,
    StreamDescriptionSummary,
    StreamModeDetails,
    StreamSummary,
)
from crispml.services.streams.errors import InvalidArgumentException
from crispml.services.streams.rules import (
    MAX_GET_RECORDS,
    MAX_PUT_RECORDS,
    MAX_PUT_RECORDS_BYTES,
    MAX_RECORD_BYTES,
    check_stream_name,
    record_size,
)
from crispml.spine.models import Request, Response, Shape

#: A body field: a file path (or -) on the CLI, kept out of the audit record.
STREAM: Any = {"stream": True}
#: Record data inside a JSON field: kept out of the audit record as bodies are
#: (the spine skips fields marked so); the CLI still takes it as JSON.
UNAUDITED: Any = {"secret": True}

StreamName = Annotated[str, AfterValidator(check_stream_name), Field(description="Stream name.")]
ShardIdField = Annotated[str, Field(description="Shard id, e.g. shardId-000000000000.", max_length=128)]
IteratorType = Literal["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]


def _read_data(value: Any) -> Any:
    """Bytes from bytes-like values and binary files (read up to one byte past the record limit)."""
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if hasattr(value, "read"):
        try:
            data = value.read(MAX_RECORD_BYTES + 1)
        except OSError as exc:
            raise InvalidArgumentException(f"Data: cannot read it: {exc}") from exc
        if isinstance(data, str):
            raise InvalidArgumentException("Data: open the file in binary mode ('rb')")
        return bytes(data)
    return value


RecordData = Annotated[bytes, BeforeValidator(_read_data)]


class StreamRequest(Request):
    stream_name: StreamName


class EmptyResponse(Response):
    """A streams operation that returns nothing but success."""


# -- streams -----------------------------------------------------------------------------


class CreateStreamRequest(Request):
    stream_name: StreamName
    shard_count: int | None = Field(None, ge=1, description="Shards (PROVISIONED streams; required there).")
    stream_mode_details: StreamModeDetails | None = Field(
        None, description='{"StreamMode": "PROVISIONED"} (default) or {"StreamMode": "ON_DEMAND"} (4 shards).')
    record_store: str = Field(
        "embedded", max_length=1024,
        description="Where records live: 'embedded' (the metadata DB) or redis://HOST:PORT/DB (Redis Streams).")


class DescribeStreamRequest(Request):
    stream_name: StreamName
    limit: int = Field(100, ge=1, le=10_000, description="Shards per page (1-10,000).")
    exclusive_start_shard_id: str | None = Field(None, description="List shards after this one.")


class DescribeStreamResponse(Response):
    stream_description: StreamDescription


class DescribeStreamSummaryResponse(Response):
    stream_description_summary: StreamDescriptionSummary


class ListStreamsRequest(Request):
    limit: int = Field(100, ge=1, le=10_000, description="Streams per page (1-10,000).")
    exclusive_start_stream_name: str | None = Field(None, description="List streams after this name.")
    next_token: str | None = Field(None, description="Token from the previous page.")


class ListStreamsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "stream_summaries": ["stream_name", "stream_status", "stream_creation_timestamp"]}
    stream_names: list[str]
    has_more_streams: bool
    next_token: str | None = None
    stream_summaries: list[StreamSummary]


class ShardFilter(Shape):
    type: Literal["AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST",
                  "AT_TIMESTAMP", "FROM_TIMESTAMP"]
    shard_id: str | None = None
    timestamp: datetime | None = None

    @model_validator(mode="after")
    def _check(self) -> ShardFilter:
        if self.type == "AFTER_SHARD_ID" and not self.shard_id:
            raise InvalidArgumentException("ShardFilter of type AFTER_SHARD_ID needs a ShardId")
        if self.type in ("AT_TIMESTAMP", "FROM_TIMESTAMP") and self.timestamp is None:
            raise InvalidArgumentException(f"ShardFilter of type {self.type} needs a Timestamp")
        return self


class ListShardsRequest(Request):
    stream_name: StreamName | None = None
    next_token: str | None = Field(None, description="Token from the previous page (without StreamName).")
    exclusive_start_shard_id: str | None = Field(None, description="List shards after this one.")
    max_results: int = Field(1000, ge=1, le=10_000, description="Shards per page (1-10,000).")
    shard_filter: ShardFilter | None = Field(None, description='e.g. {"Type": "AT_LATEST"} for the open shards.')

    @model_validator(mode="after")
    def _check(self) -> ListShardsRequest:
        if self.next_token is None and self.stream_name is None:
            raise InvalidArgumentException("ListShards needs a StreamName (or the NextToken of a previous page)")
        if self.next_token is not None and (
                self.stream_name is not None or self.exclusive_start_shard_id or self.shard_filter):
            raise InvalidArgumentException(
                "NextToken and StreamName, ExclusiveStartShardId or ShardFilter cannot be given together; "
                "pass only the NextToken of the previous page")
        return self


class ListShardsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"shards": [
        "shard_id", "parent_shard_id", "adjacent_parent_shard_id", "sequence_number_range"]}
    shards: list[Shard]
    next_token: str | None = None


class DeleteStreamRequest(Request):
    stream_name: StreamName
    enforce_consumer_deletion: bool = Field(False, description="Delete even with registered consumers.")


class RetentionRequest(Request):
    stream_name: StreamName
    retention_period_hours: int = Field(description="Hours records are kept (24-8,760).")


# -- resharding ------------------------------------------------------------------------


class UpdateShardCountRequest(Request):
    stream_name: StreamName
    target_shard_count: int = Field(ge=1, description="Open shards wanted (half to double the current count).")
    scaling_type: Literal["UNIFORM_SCALING"] = "UNIFORM_SCALING"


class UpdateShardCountResponse(Response):
    stream_name: str
    current_shard_count: int
    target_shard_count: int
    stream_arn: str


class SplitShardRequest(Request):
    stream_name: StreamName
    shard_to_split: ShardIdField
    new_starting_hash_key: str = Field(description="First hash key of the upper child (decimal).")


class MergeShardsRequest(Request):
    stream_name: StreamName
    shard_to_merge: ShardIdField
    adjacent_shard_to_merge: ShardIdField


# -- records -----------------------------------------------------------------------------


class PutRecordRequest(Request):
    stream_name: StreamName
    data: RecordData = Field(description="The bytes: a file path (or -) on the CLI; bytes or str in Python.",
                             json_schema_extra=STREAM)
    partition_key: str = Field(description="Picks the shard (MD5 hash); 1-256 characters.")
    explicit_hash_key: str | None = Field(None, description="A hash key (decimal) that picks the shard instead.")
    sequence_number_for_ordering: str | None = Field(
        None, description="Accepted for compatibility; sequence numbers always increase per shard.")


class PutRecordResponse(Response):
    shard_id: str
    sequence_number: str
    encryption_type: str = "NONE"


_AWS_KEYS = AliasGenerator(validation_alias=to_pascal)


@with_config(ConfigDict(extra="forbid", populate_by_name=True, alias_generator=_AWS_KEYS, loc_by_alias=False))
class PutRecordsRequestEntry(TypedDict):
    """One record of PutRecords (AWS's ``Data``/``PartitionKey`` or snake_case keys); a dict rather than
    a model because 500 come in every call (measured: validating them as models took 2.6 times as long)."""

    data: bytes
    partition_key: str
    explicit_hash_key: NotRequired[str | None]


class PutRecordsRequest(Request):
    stream_name: StreamName
    records: list[PutRecordsRequestEntry] = Field(
        min_length=1, max_length=MAX_PUT_RECORDS, json_schema_extra=UNAUDITED,
        description='[{"Data": "text", "PartitionKey": "k"}, …] (1-500 records, 5 MiB in all).')

    @model_validator(mode="after")
    def _check_total(self) -> PutRecordsRequest:
        records = self.records  # 500 in every call: summed without a Python loop
        total = (sum(map(len, map(itemgetter("data"), records)))
                 + sum(map(len, map(itemgetter("partition_key"), records))))
        if total > MAX_PUT_RECORDS_BYTES:  # keys may hold multi-byte characters: count their bytes
            total = sum(record_size(r["data"], r["partition_key"]) for r in self.records)
        if total > MAX_PUT_RECORDS_BYTES:
            raise InvalidArgumentException(
                f"PutRecords request of {total:,} bytes is larger than the 5 MiB ({MAX_PUT_RECORDS_BYTES:,} "
                "bytes) one call may carry; send the records in smaller batches")
        return self


class PutRecordsResponse(Response):
    failed_record_count: int
    records: list[PutRecordsResultEntry]
    encryption_type: str = "NONE"


class GetShardIteratorRequest(Request):
    stream_name: StreamName
    shard_id: ShardIdField
    shard_iterator_type: IteratorType
    starting_sequence_number: str | None = Field(
        None, description="For AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER.")
    timestamp: datetime | None = Field(None, description="For AT_TIMESTAMP (ISO 8601 or epoch seconds).")

    @model_validator(mode="after")
    def _check(self) -> GetShardIteratorRequest:
        wants_number = self.shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if wants_number and self.starting_sequence_number is None:
            raise InvalidArgumentException(f"StartingSequenceNumber is required with {self.shard_iterator_type}")
        if not wants_number and self.starting_sequence_number is not None:
            raise InvalidArgumentException(
                "StartingSequenceNumber is only allowed with AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER, "
                f"not {self.shard_iterator_type}")
        if (self.shard_iterator_type == "AT_TIMESTAMP") != (self.timestamp is not None):
            raise InvalidArgumentException(
                "Timestamp is required with AT_TIMESTAMP" if self.timestamp is None else
                f"Timestamp is only allowed with AT_TIMESTAMP, not {self.shard_iterator_type}")
        return self


class GetShardIteratorResponse(Response):
    shard_iterator: str


class GetRecordsRequest(Request):
    shard_iterator: str = Field(max_length=512, description="From GetShardIterator or a previous GetRecords.")
    limit: int = Field(MAX_GET_RECORDS, ge=1, le=MAX_GET_RECORDS, description="Records at most (1-10,000).")


class GetRecordsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"records": [
        "sequence_number", "approximate_arrival_timestamp", "partition_key", "data"]}
    records: list[Record]
    next_shard_iterator: str | None = None
    millis_behind_latest: int
    child_shards: list[ChildShard] = Field(default_factory=list)

