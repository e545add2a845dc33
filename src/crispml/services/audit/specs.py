"""Audit requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from crispml.services.audit.entities import AuditEvent
from crispml.spine.models import Request, Response


class ListEventsRequest(Request):
    action: str | None = Field(None, description="Only this action, e.g. lake:PutObject; 'lake:*' for a service.")
    principal: str | None = Field(None, description="Only calls by this principal.")
    start_time: datetime | None = Field(None, description="Only events at or after this time (ISO 8601).")
    end_time: datetime | None = Field(None, description="Only events before this time (ISO 8601).")
    outcome: Literal["Success", "Failure"] | None = Field(None, description="Only successes or only failures.")
    max_results: int = Field(50, ge=1, le=1000, description="Events per page (1-1000).")
    next_token: str | None = Field(None, description="Token from a previous page.")


class ListEventsResponse(Response):
    #: what a table shows (JSON output has every field)
    table_columns: ClassVar[dict[str, list[str]]] = {
        "events": ["event_time", "principal", "action", "resource", "outcome", "error_code", "duration_ms"],
    }

    events: list[AuditEvent]
    next_token: str | None = None
