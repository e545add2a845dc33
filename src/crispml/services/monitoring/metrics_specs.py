"""CloudWatch metrics requests and responses: PutMetricData, ListMetrics, GetMetricStatistics, GetMetricData.

Limits that make a whole request invalid are checked here, once, with CloudWatch's
codes: more than 1,000 data in a PutMetricData call or 30 dimensions on a metric
(InvalidParameterValue), a value that is not finite or beyond ±2^360, a namespace
starting with ``AWS/`` (reserved), a period that is not 1, 5, 10, 20, 30 or a
multiple of 60, an unknown statistic, a start time not before the end time.
The 1,440 data points of GetMetricStatistics and the timestamp window of
PutMetricData (two weeks back, two hours ahead of the platform's clock) are the
service's checks. Extended (percentile) statistics, statistic sets
(``StatisticValues``, ``Values``/``Counts``) and metric math are not supported.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from crispml.services.monitoring.entities import (
    AWS_NAMES,
    Datapoint,
    Dimension,
    DimensionFilter,
    Metric,
    MetricDataQuery,
    MetricDataResult,
    MetricDatum,
    Unit,
    UtcTime,
)
from crispml.services.monitoring.errors import (
    InvalidParameterCombinationException,
    InvalidParameterValueException,
)
from crispml.spine.models import Request, Response

MAX_METRIC_DATA = 1_000
MAX_DIMENSIONS = 30
MAX_VALUE = 2.0 ** 360
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_QUERIES = 500
_QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")


def check_dimensions(dimensions: list[Dimension], where: str) -> None:
    if len(dimensions) > MAX_DIMENSIONS:
        raise InvalidParameterValueException(
            f"{where}: the collection Dimensions must not have a size greater than {MAX_DIMENSIONS} "
            f"(it has {len(dimensions)})")
    names = [d.name for d in dimensions]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidParameterValueException(f"{where}: dimension names must be unique: {', '.join(twice)}")


def check_period(period: int, where: str = "Period") -> None:
    if period not in (1, 5, 10, 20, 30) and period % 60:
        raise InvalidParameterValueException(
            f"the parameter {where} must be 1, 5, 10, 20, 30 or a multiple of 60 seconds (it is {period})")


def check_statistic(stat: str) -> None:
    if stat not in STATISTICS:
        raise InvalidParameterValueException(
            f"statistic {stat!r} is not supported; use one of {', '.join(STATISTICS)}")


class MetricsRequest(Request):
    """A CloudWatch metrics request: PascalCase (CloudWatch's wire names) or camelCase field names."""

    model_config = ConfigDict(alias_generator=AWS_NAMES)


class PutMetricDataRequest(MetricsRequest):
    namespace: str = Field(min_length=1, max_length=255, description="e.g. /aws/sagemaker/TrainingJobs.")
    metric_data: list[MetricDatum] = Field(
        description='[{"MetricName": "train:loss", "Dimensions": [{"Name": "Host", "Value": "job/algo-1"}], '
                    '"Value": 0.42}] (up to 1,000).')

    @model_validator(mode="after")
    def _limits(self) -> PutMetricDataRequest:
        if self.namespace.startswith("AWS/"):
            raise InvalidParameterValueException(
                f"the value {self.namespace!r} for parameter Namespace is invalid: the AWS/ prefix is reserved")
        if not 1 <= len(self.metric_data) <= MAX_METRIC_DATA:
            raise InvalidParameterValueException(
                f"the collection MetricData must hold 1 to {MAX_METRIC_DATA:,} items (it has "
                f"{len(self.metric_data):,}); send the rest in another request")
        for i, datum in enumerate(self.metric_data):
            check_dimensions(datum.dimensions, f"MetricData.member.{i + 1}")
            if not math.isfinite(datum.value) or abs(datum.value) > MAX_VALUE:
                raise InvalidParameterValueException(
                    f"MetricData.member.{i + 1}: the value {datum.value} of {datum.metric_name!r} is not "
                    "supported; values are finite numbers between -2^360 and 2^360")
        return self


class EmptyMetricsResponse(Response):
    """PutMetricData's response: nothing but success."""


class ListMetricsRequest(MetricsRequest):
    namespace: str | None = Field(None, min_length=1, max_length=255, description="Only this namespace.")
    metric_name: str | None = Field(None, min_length=1, max_length=255, description="Only this metric name.")
    dimensions: list[DimensionFilter] = Field(
        default_factory=list, max_length=10,
        description='Only metrics with these dimensions: [{"Name": "Host"}] or with a Value too (up to 10).')
    recently_active: Literal["PT3H"] | None = Field(None, description="Only metrics with data in the last 3 hours.")
    next_token: str | None = Field(None, description="Token from the previous page.")


class ListMetricsResponse(Response):
    metrics: list[Metric]
    next_token: str | None = None


class GetMetricStatisticsRequest(MetricsRequest):
    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: list[Dimension] = Field(default_factory=list,
                                        description="The metric's exact dimensions (all of them).")
    start_time: UtcTime = Field(description="First period starts here (inclusive).")
    end_time: UtcTime = Field(description="Data points before this time (exclusive).")
    period: int = Field(ge=1, description="Seconds per data point: 1, 5, 10, 20, 30 or a multiple of 60.")
    statistics: list[str] = Field(default_factory=list,
                                  description='Any of SampleCount, Average, Sum, Minimum, Maximum: ["Average"].')
    unit: Unit | None = Field(None, description="Only data published with this unit.")

    @model_validator(mode="after")
    def _valid(self) -> GetMetricStatisticsRequest:
        check_dimensions(self.dimensions, "Dimensions")
        check_period(self.period)
        if not 1 <= len(self.statistics) <= len(STATISTICS):
            raise InvalidParameterCombinationException(
                f"give 1 to 5 Statistics ({', '.join(STATISTICS)}); ExtendedStatistics are not supported")
        for stat in self.statistics:
            check_statistic(stat)
        if self.start_time >= self.end_time:
            raise InvalidParameterValueException("the parameter StartTime must be less than the parameter EndTime")
        return self


class GetMetricStatisticsResponse(Response):
    label: str
    datapoints: list[Datapoint]


class GetMetricDataRequest(MetricsRequest):
    metric_data_queries: list[MetricDataQuery] = Field(
        description='[{"Id": "loss", "MetricStat": {"Metric": {"Namespace": …, "MetricName": …, "Dimensions": '
                    '[…]}, "Period": 60, "Stat": "Average"}}] (up to 500).')
    start_time: UtcTime = Field(description="Earliest data (inclusive).")
    end_time: UtcTime = Field(description="Latest data (exclusive).")
    scan_by: Literal["TimestampDescending", "TimestampAscending"] = Field(
        "TimestampDescending", description="Newest data points first (default) or oldest first.")
    max_datapoints: int = Field(100_800, ge=1, le=100_800, description="Data points at most, over all queries.")

    @model_validator(mode="after")
    def _valid(self) -> GetMetricDataRequest:
        if not 1 <= len(self.metric_data_queries) <= MAX_QUERIES:
            raise InvalidParameterValueException(
                f"MetricDataQueries must hold 1 to {MAX_QUERIES} queries (it has {len(self.metric_data_queries)})")
        seen: set[str] = set()
        for query in self.metric_data_queries:
            if not _QUERY_ID.fullmatch(query.id):
                raise InvalidParameterValueException(
                    f"query id {query.id!r} is not valid: it starts with a lowercase letter and holds only "
                    "letters, digits and '_'")
            if query.id in seen:
                raise InvalidParameterValueException(f"query id {query.id!r} is used twice; ids must be unique")
            seen.add(query.id)
            if query.expression is not None:
                raise InvalidParameterValueException(
                    f"query {query.id!r}: metric math expressions are not supported; use MetricStat")
            if query.metric_stat is None:
                raise InvalidParameterCombinationException(f"query {query.id!r}: give a MetricStat")
            check_dimensions(query.metric_stat.metric.dimensions, f"query {query.id!r}")
            check_period(query.metric_stat.period, f"Period of query {query.id!r}")
            check_statistic(query.metric_stat.stat)
        if self.start_time >= self.end_time:
            raise InvalidParameterValueException("the parameter StartTime must be less than the parameter EndTime")
        return self


class GetMetricDataResponse(Response):
    metric_data_results: list[MetricDataResult]
    next_token: str | None = None
