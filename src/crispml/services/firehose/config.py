"""A delivery stream's destination, checked once at creation and turned into a delivery plan.

:func:`check_destination` applies Firehose's rules that tie fields together —
prefix expressions (``prefixes.py``), a processor that names an importable
callable and known parameters, a MetadataExtraction query (``partitioning.py``)
when dynamic partitioning uses one, record format conversion with
``UNCOMPRESSED`` output, the 64 MiB minimum buffer (default 128 MiB) with
conversion or dynamic partitioning — and fills in the defaults, so the stored
configuration shows what runs. :func:`plan_of` reads a stored configuration
back as the :class:`DeliveryPlan` a delivery follows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from crispml.services.firehose.entities import (
    BufferingHints,
    ExtendedS3DestinationConfiguration,
    IcebergDestinationConfiguration,
    ProcessingConfiguration,
)
from crispml.services.firehose.errors import InvalidArgumentException
from crispml.services.firehose.partitioning import ExtractionQuery, parse_query
from crispml.services.firehose.prefixes import KeyPlan, key_plan
from crispml.services.firehose.processor import DEFAULT_RETRIES, ProcessorSpec, load_handler
from crispml.services.firehose.rules import (
    DEFAULT_SIZE_MB,
    LARGE_BUFFER_DEFAULT_MB,
    LARGE_BUFFER_MIN_MB,
    MIB,
    bucket_of,
    check_handler,
)

Destination = ExtendedS3DestinationConfiguration | IcebergDestinationConfiguration

#: Parquet compression codecs a conversion may use, as Firehose names them.
ParquetCompression = Literal["SNAPPY", "GZIP", "UNCOMPRESSED"]


@dataclass(frozen=True)
class Conversion:
    """Record format conversion to Parquet with a catalog table's schema."""

    database: str
    table: str
    compression: ParquetCompression
    case_insensitive: bool


@dataclass(frozen=True)
class DeliveryPlan:
    """How one delivery stream delivers: where, when, and what happens to records on the way."""

    kind: Literal["s3", "iceberg"]
    bucket: str  # the data bucket (s3) or the error bucket (iceberg)
    keys: KeyPlan
    size_bytes: int
    interval_ms: int
    compression: Literal["UNCOMPRESSED", "GZIP"]
    processor: ProcessorSpec | None
    extraction: ExtractionQuery | None
    dynamic_partitioning: bool
    conversion: Conversion | None
    table: tuple[str, str] | None  # (database, table) of an iceberg destination


def _processors(config: ProcessingConfiguration | None) -> tuple[ProcessorSpec | None, ExtractionQuery | None]:
    """The Lambda processor and the MetadataExtraction query a ProcessingConfiguration holds."""
    if config is None or not config.enabled:
        return None, None
    lambda_spec: ProcessorSpec | None = None
    query: ExtractionQuery | None = None
    for processor in config.processors:
        params: dict[str, str] = {p.parameter_name: p.parameter_value for p in processor.parameters}
        if len(params) != len(processor.parameters):
            raise InvalidArgumentException(f"the {processor.type} processor gives a parameter twice")
        allowed = ({"LambdaArn", "NumberOfRetries", "BufferSizeInMBs"} if processor.type == "Lambda"
                   else {"MetadataExtractionQuery", "JsonParsingEngine"})
        extra = sorted(set(params) - allowed)
        if extra:
            raise InvalidArgumentException(f"the {processor.type} processor does not take {', '.join(extra)} "
                                           f"(it takes: {', '.join(sorted(allowed))})")
        if processor.type == "Lambda":
            if lambda_spec is not None:
                raise InvalidArgumentException("only one Lambda processor may be configured")
            lambda_spec = _lambda(params)
        else:
            if query is not None:
                raise InvalidArgumentException("only one MetadataExtraction processor may be configured")
            if params.get("JsonParsingEngine", "JQ-1.6") != "JQ-1.6":
                raise InvalidArgumentException("JsonParsingEngine must be 'JQ-1.6'")
            if "MetadataExtractionQuery" not in params:
                raise InvalidArgumentException("the MetadataExtraction processor needs a MetadataExtractionQuery")
            query = parse_query(params["MetadataExtractionQuery"])
    return lambda_spec, query


def _lambda(params: dict[str, str]) -> ProcessorSpec:
    if "LambdaArn" not in params:
        raise InvalidArgumentException("the Lambda processor needs a LambdaArn ('module:function')")
    handler = check_handler(params["LambdaArn"])
    retries = _number(params, "NumberOfRetries", DEFAULT_RETRIES, 0, 300, int)
    size = _number(params, "BufferSizeInMBs", 1.0, 0.2, 3.0, float)
    return ProcessorSpec(handler=handler, retries=int(retries), buffer_bytes=int(size * MIB))


def _number(params: dict[str, str], name: str, default: float, low: float, high: float,
            kind: type[int] | type[float]) -> float:
    if name not in params:
        return default
    try:
        value = kind(params[name])
    except ValueError:
        raise InvalidArgumentException(f"processor parameter {name} must be a number, not {params[name]!r}") from None
    if not low <= value <= high:
        raise InvalidArgumentException(f"processor parameter {name} must be {low}-{high}, not {value}")
    return value


def _buffering(hints: BufferingHints, large: bool, why: str) -> BufferingHints:
    size = hints.size_in_mbs
    if size is None:
        size = LARGE_BUFFER_DEFAULT_MB if large else DEFAULT_SIZE_MB
    if large and size < LARGE_BUFFER_MIN_MB:
        raise InvalidArgumentException(
            f"BufferingHints.SizeInMBs must be at least {LARGE_BUFFER_MIN_MB} with {why} (it is {size})")
    return BufferingHints(size_in_mbs=size, interval_in_seconds=hints.interval_in_seconds)


def check_destination(destination: Destination) -> Destination:
    """Check a destination's cross-field rules, import its processor, and fill in its defaults."""
    spec, query = _processors(destination.processing_configuration)
    if spec is not None:
        load_handler(spec.handler)
    if isinstance(destination, IcebergDestinationConfiguration):
        bucket_of(destination.s3_configuration.bucket_arn)
        if query is not None:
            raise InvalidArgumentException("a table destination does not partition records; remove the "
                                           "MetadataExtraction processor")
        key_plan("", destination.s3_configuration.error_output_prefix, dynamic_partitioning=False,
                 query_keys=[], lambda_keys=False)
        return destination.model_copy(update={"buffering_hints": _buffering(destination.buffering_hints, False, "")})
    bucket_of(destination.bucket_arn)
    conversion = destination.data_format_conversion_configuration
    converting = conversion is not None and conversion.enabled
    if converting:
        assert conversion is not None
        if conversion.schema_configuration is None:
            raise InvalidArgumentException("DataFormatConversionConfiguration needs a SchemaConfiguration naming "
                                           "the catalog table whose columns the records are converted to")
        if destination.compression_format != "UNCOMPRESSED":
            raise InvalidArgumentException(
                "CompressionFormat must be UNCOMPRESSED with record format conversion; compress the Parquet "
                "output with OutputFormatConfiguration.Serializer.ParquetSerDe.Compression instead")
    dynamic = destination.dynamic_partitioning_configuration
    partitioning = dynamic is not None and dynamic.enabled
    if query is not None and not partitioning:
        raise InvalidArgumentException("a MetadataExtraction processor needs DynamicPartitioningConfiguration "
                                       "{\"Enabled\": true}")
    key_plan(destination.prefix, destination.error_output_prefix, dynamic_partitioning=partitioning,
             query_keys=query.keys if query is not None else [], lambda_keys=spec is not None)
    why = "record format conversion" if converting else "dynamic partitioning"
    hints = _buffering(destination.buffering_hints, converting or partitioning, why)
    return destination.model_copy(update={"buffering_hints": hints})


def stored(destination: Destination) -> str:
    """A checked destination as the JSON the delivery stream row keeps."""
    kind = "iceberg" if isinstance(destination, IcebergDestinationConfiguration) else "s3"
    return json.dumps({"kind": kind, "config": destination.model_dump(mode="json")})


def destination_of(text: str) -> Destination:
    """The destination configuration a stored row holds."""
    document: dict[str, Any] = json.loads(text)
    if document["kind"] == "iceberg":
        return IcebergDestinationConfiguration.model_validate(document["config"])
    return ExtendedS3DestinationConfiguration.model_validate(document["config"])


def plan_of(text: str) -> DeliveryPlan:
    """The delivery plan of a stored destination configuration."""
    destination = destination_of(text)
    spec, query = _processors(destination.processing_configuration)
    hints = destination.buffering_hints
    size = (hints.size_in_mbs or DEFAULT_SIZE_MB) * MIB
    interval = hints.interval_in_seconds * 1000
    if isinstance(destination, IcebergDestinationConfiguration):
        errors = destination.s3_configuration
        table = destination.destination_table_configuration_list[0]
        return DeliveryPlan(
            kind="iceberg", bucket=bucket_of(errors.bucket_arn),
            keys=key_plan("", errors.error_output_prefix, dynamic_partitioning=False, query_keys=[],
                          lambda_keys=False),
            size_bytes=size, interval_ms=interval, compression="UNCOMPRESSED", processor=spec, extraction=None,
            dynamic_partitioning=False, conversion=None,
            table=(table.destination_database_name, table.destination_table_name))
    conversion = None
    given = destination.data_format_conversion_configuration
    if given is not None and given.enabled and given.schema_configuration is not None:
        conversion = Conversion(
            database=given.schema_configuration.database_name, table=given.schema_configuration.table_name,
            compression=given.output_format_configuration.serializer.parquet_ser_de.compression,
            case_insensitive=given.input_format_configuration.deserializer.open_x_json_ser_de.case_insensitive)
    dynamic = destination.dynamic_partitioning_configuration
    partitioning = dynamic is not None and dynamic.enabled
    return DeliveryPlan(
        kind="s3", bucket=bucket_of(destination.bucket_arn),
        keys=key_plan(destination.prefix, destination.error_output_prefix, dynamic_partitioning=partitioning,
                      query_keys=query.keys if query is not None else [], lambda_keys=spec is not None),
        size_bytes=size, interval_ms=interval, compression=destination.compression_format, processor=spec,
        extraction=query, dynamic_partitioning=partitioning, conversion=conversion, table=None)
