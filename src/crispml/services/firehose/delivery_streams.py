"""Delivery stream operations: create, describe, list, delete.

Creating checks the whole configuration (``config.py``) and that what it
names can be used by the caller creating it: the bucket exists, the catalog
table (for conversion, or a managed table as destination) exists with columns
crispml can convert to, the source stream exists, the processor imports.
Deliveries then act as that caller (Firehose's RoleARN: crispml has no roles
yet, so the creating principal stands in for one). Status transitions are
immediate — a stream is ACTIVE when CreateDeliveryStream returns — except
deletion: DeleteDeliveryStream marks it DELETING (puts are refused), delivers
what is still buffered, then removes it; if that delivery fails the stream
stays DELETING with its records, and a later delivery (or DeleteDeliveryStream
again) finishes it. ``AllowForceDelete`` removes it at once, dropping its
buffered records.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, NotFound
from crispml.core.ids import new_id
from crispml.services.catalog.service import CatalogService, TableRequest
from crispml.services.firehose.buffer import not_found, stream_info
from crispml.services.firehose.config import Destination, check_destination, stored
from crispml.services.firehose.entities import IcebergDestinationConfiguration
from crispml.services.firehose.errors import InvalidArgumentException, ResourceInUseException
from crispml.services.firehose.flush import DeliveryOps
from crispml.services.firehose.rules import bucket_of, delivery_stream_crn, stream_of
from crispml.services.firehose.specs import (
    CreateDeliveryStreamRequest,
    CreateDeliveryStreamResponse,
    DeleteDeliveryStreamRequest,
    DescribeDeliveryStreamRequest,
    DescribeDeliveryStreamResponse,
    EmptyResponse,
    ListDeliveryStreamsRequest,
    ListDeliveryStreamsResponse,
)
from crispml.services.firehose.store import DELIVERY_STREAMS, DeliveryStreamRow
from crispml.services.lake.service import BucketRequest, LakeService
from crispml.services.streams.service import StreamRequest, StreamsService
from crispml.spine.operations import operation


class DeliveryStreamOps(DeliveryOps):
    @operation("CreateDeliveryStream", resource=lambda r: delivery_stream_crn(r.delivery_stream_name))
    def create_delivery_stream(self, ctx: CallContext, request: CreateDeliveryStreamRequest,
                               ) -> CreateDeliveryStreamResponse:
        """Create a delivery stream from direct puts or a Kinesis stream to a lake bucket or a managed table."""
        given = request.extended_s3_destination_configuration or request.iceberg_destination_configuration
        assert given is not None  # the request checked it
        destination = check_destination(given)
        self._check_destination_exists(ctx, destination)
        source = None
        if request.kinesis_stream_source_configuration is not None:
            source = stream_of(request.kinesis_stream_source_configuration.kinesis_stream_arn)
            try:
                self.peer(StreamsService).describe_stream_summary(ctx, StreamRequest(stream_name=source))
            except NotFound:
                raise InvalidArgumentException(
                    f"KinesisStreamARN names stream {source!r}, which does not exist; create it with "
                    f"'crispml streams create-stream --stream-name {source} --shard-count 1'") from None
        name, now = request.delivery_stream_name, self.clock.now()
        exists = ResourceInUseException(f"Firehose {name} already exists; pick another name or delete it first")

        def work(session: Session) -> None:
            if session.get(DeliveryStreamRow, name) is not None:
                raise exists
            session.add(DeliveryStreamRow(
                name=name, stream_id=new_id("ds"), status="ACTIVE", stream_type=request.delivery_stream_type,
                source_stream=source, configuration=stored(destination), principal=ctx.principal, created_at=now,
                buffered_records=0, buffered_bytes=0, oldest_arrival_ms=None, owner=None, owner_expires_ms=None,
                failure=None))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return CreateDeliveryStreamResponse(delivery_stream_arn=delivery_stream_crn(name))

    def _check_destination_exists(self, ctx: CallContext, destination: Destination) -> None:
        """The bucket and tables a destination names exist and can be used, as the creating caller sees them."""
        from crispml.services.firehose.convert import arrow_schema  # pyarrow and sqlglot: here

        if isinstance(destination, IcebergDestinationConfiguration):
            bucket = bucket_of(destination.s3_configuration.bucket_arn)
            target = destination.destination_table_configuration_list[0]
            tables = [(target.destination_database_name, target.destination_table_name, True)]
        else:
            bucket = bucket_of(destination.bucket_arn)
            conversion = destination.data_format_conversion_configuration
            schema = conversion.schema_configuration if conversion is not None and conversion.enabled else None
            tables = [(schema.database_name, schema.table_name, False)] if schema is not None else []
        try:
            self.peer(LakeService).head_bucket(ctx, BucketRequest(bucket=bucket))
        except NotFound:
            raise InvalidArgumentException(
                f"bucket {bucket!r} does not exist; create it with 'crispml lake create-bucket --bucket {bucket}'",
            ) from None
        for database, name, managed in tables:
            try:
                table = self.peer(CatalogService).get_table(ctx, TableRequest(database_name=database, name=name)).table
            except NotFound as exc:
                raise InvalidArgumentException(f"table {database}.{name} cannot be used: {exc.message}") from None
            if managed and not table.is_iceberg:
                raise InvalidArgumentException(
                    f"table {database}.{name} is an external table; a table destination must be a managed "
                    "(Iceberg) table — deliver to its bucket with ExtendedS3DestinationConfiguration instead")
            columns = list(table.storage_descriptor.columns) + (list(table.partition_keys) if managed else [])
            try:
                arrow_schema([(c.name, c.type or "") for c in columns])
            except CrispmlError as exc:
                raise InvalidArgumentException(f"table {database}.{name} cannot take records: {exc.message}") from None

    @operation("DescribeDeliveryStream", resource=lambda r: delivery_stream_crn(r.delivery_stream_name),
               mutating=False)
    def describe_delivery_stream(self, ctx: CallContext, request: DescribeDeliveryStreamRequest,
                                 ) -> DescribeDeliveryStreamResponse:
        """Show a delivery stream: status, source, destination, and what it holds buffered."""
        stream = self._stream(request.delivery_stream_name)
        return DescribeDeliveryStreamResponse(delivery_stream_description=self._description(
            stream, limit=request.limit, after=request.exclusive_start_destination_id))

    @operation("ListDeliveryStreams", resource=lambda r: delivery_stream_crn(None), mutating=False)
    def list_delivery_streams(self, ctx: CallContext, request: ListDeliveryStreamsRequest,
                              ) -> ListDeliveryStreamsResponse:
        """List delivery stream names, a page at a time (ExclusiveStartDeliveryStreamName)."""
        table = DELIVERY_STREAMS
        query = select(table.c.name).order_by(table.c.name).limit(request.limit + 1)
        if request.delivery_stream_type is not None:
            query = query.where(table.c.stream_type == request.delivery_stream_type)
        if request.exclusive_start_delivery_stream_name:
            query = query.where(table.c.name > request.exclusive_start_delivery_stream_name)
        with self.db.connect() as conn:
            names = [r.name for r in conn.execute(query)]
        return ListDeliveryStreamsResponse(delivery_stream_names=names[:request.limit],
                                           has_more_delivery_streams=len(names) > request.limit)

    @operation("DeleteDeliveryStream", resource=lambda r: delivery_stream_crn(r.delivery_stream_name))
    def delete_delivery_stream(self, ctx: CallContext, request: DeleteDeliveryStreamRequest) -> EmptyResponse:
        """Delete a delivery stream once its buffered records are delivered (at once with AllowForceDelete)."""
        name, table = request.delivery_stream_name, DELIVERY_STREAMS
        with self.db.begin() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
            if row is None:
                raise not_found(name)
            stream = stream_info(row)
            if request.allow_force_delete:
                conn.execute(delete(table).where(table.c.name == name, table.c.stream_id == stream.stream_id))
                return EmptyResponse()
            conn.execute(update(table).where(table.c.name == name, table.c.stream_id == stream.stream_id)
                         .values(status="DELETING"))
        self._deliver_stream(name, self.clock.now(), force=True)
        return EmptyResponse()
