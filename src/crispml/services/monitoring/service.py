"""Monitoring (CloudWatch): call metrics, CloudWatch Logs and CloudWatch metrics.

One class combining the operation groups: call metrics per action, computed
from the audit record (one source of truth instead of a second counter table
that could disagree with it); CloudWatch Logs' log groups, streams and events
(``logs.py``, where training jobs keep their logs: group
``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<epoch seconds>``); and
CloudWatch metrics' data points, statistics and queries (``metrics.py``, where
training jobs keep scraped metric values: namespace
``/aws/sagemaker/TrainingJobs``, dimension ``Host`` = ``<job>/algo-1``).
Alarms, dashboards and Model Monitor come later.
"""

from __future__ import annotations

from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.audit.service import AuditService
from crispml.services.monitoring.entities import (
    CallMetric,
    Datapoint,
    Dimension,
    DimensionFilter,
    FilteredLogEvent,
    InputLogEvent,
    LogGroup,
    LogStream,
    Metric,
    MetricDataQuery,
    MetricDataResult,
    MetricDatum,
    MetricStat,
    OutputLogEvent,
    RejectedLogEventsInfo,
)
from crispml.services.monitoring.errors import (
    InvalidParameterCombinationException,
    InvalidParameterException,
    InvalidParameterValueException,
    MissingRequiredParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from crispml.services.monitoring.logs import LogOps
from crispml.services.monitoring.logs_specs import (
    CreateLogGroupRequest,
    CreateLogStreamRequest,
    DeleteLogGroupRequest,
    DescribeLogGroupsRequest,
    DescribeLogStreamsRequest,
    FilterLogEventsRequest,
    GetLogEventsRequest,
    PutLogEventsRequest,
)
from crispml.services.monitoring.metrics import MetricOps
from crispml.services.monitoring.metrics_specs import (
    GetMetricDataRequest,
    GetMetricStatisticsRequest,
    ListMetricsRequest,
    PutMetricDataRequest,
)
from crispml.services.monitoring.specs import (
    GetCallMetricsRequest,
    GetCallMetricsResponse,
)
from crispml.spine.operations import Service, operation

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "CallMetric",
    "CreateLogGroupRequest",
    "CreateLogStreamRequest",
    "Datapoint",
    "DeleteLogGroupRequest",
    "DescribeLogGroupsRequest",
    "DescribeLogStreamsRequest",
    "Dimension",
    "DimensionFilter",
    "FilterLogEventsRequest",
    "FilteredLogEvent",
    "GetCallMetricsRequest",
    "GetLogEventsRequest",
    "GetMetricDataRequest",
    "GetMetricStatisticsRequest",
    "InputLogEvent",
    "InvalidParameterCombinationException",
    "InvalidParameterException",
    "InvalidParameterValueException",
    "ListMetricsRequest",
    "LogGroup",
    "LogStream",
    "Metric",
    "MetricDataQuery",
    "MetricDataResult",
    "MetricDatum",
    "MetricStat",
    "MissingRequiredParameterException",
    "MonitoringService",
    "OutputLogEvent",
    "PutLogEventsRequest",
    "PutMetricDataRequest",
    "RejectedLogEventsInfo",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
]


class MonitoringService(Service, LogOps, MetricOps):
    name = "monitoring"

    @operation("GetCallMetrics", resource=lambda r: crn("monitoring", "metric/calls"), mutating=False)
    def get_call_metrics(self, ctx: CallContext, request: GetCallMetricsRequest) -> GetCallMetricsResponse:
        """Calls, errors and latency per action, from the audit record."""
        rows = self.peer(AuditService).call_statistics(request.action, request.start_time, request.end_time)
        return GetCallMetricsResponse(metrics=[
            CallMetric(action=a, calls=int(n), errors=int(err or 0),
                       avg_latency_ms=round(float(avg or 0), 3), max_latency_ms=round(float(mx or 0), 3))
            for a, n, err, avg, mx in rows
        ])
