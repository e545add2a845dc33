"""Firehose value objects: the destination configuration shapes (taken in CreateDeliveryStream and
shown by DescribeDeliveryStream) and what operations return, in snake_case with Firehose's
PascalCase names accepted as input.

The shapes hold plain ranges (buffering hints); the rules that tie fields
together (prefix expressions, conversion needs UNCOMPRESSED, the 64 MiB buffer
of conversion and dynamic partitioning, a processor that imports) are checked
by ``config.py`` when a stream is created, so stored configurations always
read back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crispml.spine.models import Shape

DeliveryStreamStatus = Literal["CREATING", "ACTIVE", "DELETING"]
DeliveryStreamType = Literal["DirectPut", "KinesisStreamAsSource"]


class BufferingHints(Shape):
    size_in_mbs: int | None = Field(
        None, ge=1, le=128, validation_alias="SizeInMBs",
        description="Deliver when the buffer holds this many MiB (1-128; default 5, or 128 with record format "
                    "conversion or dynamic partitioning, which need at least 64).")
    interval_in_seconds: int = Field(300, ge=0, le=900,
                                     description="…or when its oldest record is this old (0-900 s; default 300).")


class ProcessorParameter(Shape):
    parameter_name: Literal["LambdaArn", "NumberOfRetries", "BufferSizeInMBs", "MetadataExtractionQuery",
                            "JsonParsingEngine"]
    parameter_value: str = Field(min_length=1, max_length=5120)


class Processor(Shape):
    type: Literal["Lambda", "MetadataExtraction"]
    parameters: list[ProcessorParameter] = Field(default_factory=list)


class ProcessingConfiguration(Shape):
    enabled: bool = True
    processors: list[Processor] = Field(default_factory=list)


class ParquetSerDe(Shape):
    compression: Literal["SNAPPY", "GZIP", "UNCOMPRESSED"] = "SNAPPY"


class Serializer(Shape):
    parquet_ser_de: ParquetSerDe = Field(default_factory=ParquetSerDe)


class OutputFormatConfiguration(Shape):
    serializer: Serializer = Field(default_factory=Serializer)


class OpenXJsonSerDe(Shape):
    case_insensitive: bool = True


class Deserializer(Shape):
    open_x_json_ser_de: OpenXJsonSerDe = Field(default_factory=OpenXJsonSerDe)


class InputFormatConfiguration(Shape):
    deserializer: Deserializer = Field(default_factory=Deserializer)


class SchemaConfiguration(Shape):
    database_name: str = Field(min_length=1, max_length=255)
    table_name: str = Field(min_length=1, max_length=255)
    version_id: Literal["LATEST"] = "LATEST"


class DataFormatConversionConfiguration(Shape):
    enabled: bool = True
    schema_configuration: SchemaConfiguration | None = None
    input_format_configuration: InputFormatConfiguration = Field(default_factory=InputFormatConfiguration)
    output_format_configuration: OutputFormatConfiguration = Field(default_factory=OutputFormatConfiguration)


class DynamicPartitioningConfiguration(Shape):
    enabled: bool = False


class ExtendedS3DestinationConfiguration(Shape):
    """Firehose's S3 destination: a bucket of the lake, prefixes, buffering, compression, conversion."""

    bucket_arn: str = Field(validation_alias="BucketARN", max_length=2048,
                            description="arn:aws:s3:::BUCKET, lake://BUCKET or crn:crispml:lake:::bucket/BUCKET.")
    prefix: str = Field("", max_length=1024)
    error_output_prefix: str | None = Field(None, max_length=1024)
    buffering_hints: BufferingHints = Field(default_factory=BufferingHints)
    compression_format: Literal["UNCOMPRESSED", "GZIP"] = "UNCOMPRESSED"
    processing_configuration: ProcessingConfiguration | None = None
    data_format_conversion_configuration: DataFormatConversionConfiguration | None = None
    dynamic_partitioning_configuration: DynamicPartitioningConfiguration | None = None


class DestinationTableConfiguration(Shape):
    destination_database_name: str = Field(min_length=1, max_length=255)
    destination_table_name: str = Field(min_length=1, max_length=255)


class S3Configuration(Shape):
    """Where the records that could not be delivered to a table go."""

    bucket_arn: str = Field(validation_alias="BucketARN", max_length=2048)
    error_output_prefix: str | None = Field(None, max_length=1024)


class IcebergDestinationConfiguration(Shape):
    """Firehose's Apache Iceberg Tables destination, on crispml's catalog: a managed table."""

    destination_table_configuration_list: list[DestinationTableConfiguration] = Field(min_length=1, max_length=1)
    buffering_hints: BufferingHints = Field(default_factory=BufferingHints)
    processing_configuration: ProcessingConfiguration | None = None
    s3_configuration: S3Configuration


class KinesisStreamSourceConfiguration(Shape):
    kinesis_stream_arn: str = Field(validation_alias="KinesisStreamARN", max_length=512,
                                    description="crn:crispml:streams:::stream/NAME, an arn:aws:kinesis ARN or "
                                                "the stream's name.")


# -- what operations return ---------------------------------------------------------------


class KinesisStreamSourceDescription(BaseModel):
    kinesis_stream_arn: str
    delivery_start_timestamp: datetime


class SourceDescription(BaseModel):
    kinesis_stream_source_description: KinesisStreamSourceDescription


class FailureDescription(BaseModel):
    type: str
    details: str


class DestinationDescription(BaseModel):
    destination_id: str
    extended_s3_destination_description: ExtendedS3DestinationConfiguration | None = None
    iceberg_destination_description: IcebergDestinationConfiguration | None = None


class DeliveryStreamDescription(BaseModel):
    delivery_stream_name: str
    delivery_stream_arn: str
    delivery_stream_status: DeliveryStreamStatus
    delivery_stream_type: DeliveryStreamType
    version_id: str
    create_timestamp: datetime
    source: SourceDescription | None = None
    destinations: list[DestinationDescription]
    has_more_destinations: bool = False
    failure_description: FailureDescription | None = None
    buffered_records: int = Field(description="crispml: records acknowledged and not yet delivered.")
    buffered_bytes: int = Field(description="crispml: their bytes.")
    oldest_buffered_arrival: datetime | None = Field(None, description="crispml: when the oldest of them arrived.")
    delivery_principal: str = Field(description="crispml: whom deliveries act as (Firehose's role).")


class PutRecordBatchResponseEntry(BaseModel):
    record_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class DeliveryResult(BaseModel):
    """What one delivery stream's flush did (crispml's FlushDeliveryStream)."""

    model_config = ConfigDict(frozen=False)

    delivery_stream_name: str
    records_delivered: int = 0
    records_failed: int = Field(0, description="Records written to the error output.")
    records_dropped: int = Field(0, description="Records the processor dropped.")
    objects: list[str] = Field(default_factory=list, description="lake:// objects written.")
    buffered_records: int = Field(0, description="Records still buffered after the flush.")
    error_code: str | None = None
    error_message: str | None = None
