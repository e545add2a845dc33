"""Monitoring requests and responses."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from crispml.services.monitoring.entities import CallMetric
from crispml.spine.models import Request, Response


class GetCallMetricsRequest(Request):
    action: str | None = Field(None, description="Only this action; 'lake:*' for a whole service.")
    start_time: datetime | None = Field(None, description="Only calls at or after this time.")
    end_time: datetime | None = Field(None, description="Only calls before this time.")


class GetCallMetricsResponse(Response):
    metrics: list[CallMetric]
