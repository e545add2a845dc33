"""Monitoring value objects: CloudWatch Logs' and CloudWatch's shapes in snake_case.

Shapes given in requests (:class:`InputLogEvent`, :class:`Dimension`, :class:`MetricDatum` …) accept
AWS's spellings as aliases: PascalCase, as CloudWatch's metrics API and the spine's other requests use,
and camelCase, as CloudWatch Logs' wire format does (``logGroupName``, ``timestamp``). Times of Logs are
integers of milliseconds since the epoch, as in Logs' API; metrics' times are datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, AliasChoices, AliasGenerator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_pascal

from crispml.services.monitoring.errors import InvalidParameterValueException
from crispml.spine.models import Shape


def _aws_names(name: str) -> AliasChoices:
    """``log_group_name`` as ``LogGroupName`` or ``logGroupName``; ``id`` also as ``ID``."""
    return AliasChoices(*dict.fromkeys([to_pascal(name), to_camel(name), "ID" if name == "id" else name]))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: A time given in a request: one without a zone is taken as UTC.
UtcTime = Annotated[datetime, AfterValidator(_utc)]

#: The alias settings of every monitoring request and request shape.
AWS_NAMES = AliasGenerator(validation_alias=_aws_names)


class CloudWatchShape(Shape):
    """A nested value of a monitoring request, with PascalCase and camelCase aliases."""

    model_config = ConfigDict(alias_generator=AWS_NAMES)


class CallMetric(BaseModel):
    """Calls of one action: how many, how many failed, and how long they took."""

    action: str
    calls: int
    errors: int
    avg_latency_ms: float
    max_latency_ms: float


# -- CloudWatch Logs ---------------------------------------------------------------------------------------


class LogGroup(BaseModel):
    log_group_name: str
    creation_time: int = Field(description="Milliseconds since the epoch.")
    arn: str
    stored_bytes: int


class LogStream(BaseModel):
    log_stream_name: str
    creation_time: int
    first_event_timestamp: int | None = None
    last_event_timestamp: int | None = None
    last_ingestion_time: int | None = None
    arn: str
    stored_bytes: int


class InputLogEvent(CloudWatchShape):
    timestamp: int = Field(ge=0, description="When the event happened, in milliseconds since the epoch.")
    message: str = Field(min_length=1, description="The event's text.")


class OutputLogEvent(BaseModel):
    timestamp: int
    message: str
    ingestion_time: int


class FilteredLogEvent(BaseModel):
    log_stream_name: str
    timestamp: int
    message: str
    ingestion_time: int
    event_id: str


class RejectedLogEventsInfo(BaseModel):
    """Events PutLogEvents did not store: ``[0, too_old_log_event_end_index)`` were too old,
    ``[too_new_log_event_start_index, end)`` too new."""

    too_new_log_event_start_index: int | None = None
    too_old_log_event_end_index: int | None = None
    expired_log_event_end_index: int | None = None


# -- CloudWatch metrics ------------------------------------------------------------------------------------

_Units = Literal[
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
]


def _known_unit(value: object) -> object:
    if isinstance(value, str) and value not in get_args(_Units):
        raise InvalidParameterValueException(
            f"unit {value!r} is not a CloudWatch unit; use one of {', '.join(get_args(_Units))}")
    return value


#: A CloudWatch unit; an unknown one is InvalidParameterValue, as CloudWatch says.
Unit = Annotated[_Units, BeforeValidator(_known_unit)]
Statistic = Literal["SampleCount", "Average", "Sum", "Minimum", "Maximum"]


class Dimension(CloudWatchShape):
    name: str = Field(min_length=1, max_length=255)
    value: str = Field(min_length=1, max_length=1024)


class DimensionFilter(CloudWatchShape):
    name: str = Field(min_length=1, max_length=255)
    value: str | None = Field(None, min_length=1, max_length=1024, description="Any value if left out.")


class MetricDatum(CloudWatchShape):
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: list[Dimension] = Field(default_factory=list)
    timestamp: UtcTime | None = Field(None, description="When the value was measured (default: now).")
    value: float
    unit: Unit = "None"
    storage_resolution: Literal[1, 60] = 60


class Metric(CloudWatchShape):
    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: list[Dimension] = Field(default_factory=list)


class MetricStat(CloudWatchShape):
    metric: Metric
    period: int = Field(ge=1, description="Seconds per data point: 1, 5, 10, 20, 30, 60 or a multiple of 60.")
    stat: str = Field(description="SampleCount, Average, Sum, Minimum or Maximum.")
    unit: Unit | None = None


class MetricDataQuery(CloudWatchShape):
    id: str = Field(min_length=1, max_length=255)
    metric_stat: MetricStat | None = None
    expression: str | None = Field(None, description="Metric math (not supported).")
    label: str | None = None
    return_data: bool = True
    period: int | None = None


class Datapoint(BaseModel):
    timestamp: datetime
    sample_count: float | None = None
    average: float | None = None
    sum: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str


class MetricDataResult(BaseModel):
    id: str
    label: str
    timestamps: list[datetime]
    values: list[float]
    status_code: Literal["Complete", "InternalError", "PartialData", "Forbidden"] = "Complete"
