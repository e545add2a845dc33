"""Monitoring: call metrics per action (count, errors, latency).

The figures are computed from the audit record, which already holds every
call's outcome and duration — one source of truth instead of a second
counter table that could disagree with it. Alarms and dashboards come later.
"""

from __future__ import annotations

from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.audit.service import AuditService
from crispml.services.monitoring.entities import CallMetric
from crispml.services.monitoring.specs import (
    GetCallMetricsRequest,
    GetCallMetricsResponse,
)
from crispml.spine.operations import Service, operation

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "GetCallMetricsRequest", "MonitoringService"
]


class MonitoringService(Service):
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

