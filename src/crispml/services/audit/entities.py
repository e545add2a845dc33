"""Audit value objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEvent(BaseModel):
    """One operation call as CloudTrail would record it."""

    event_id: str
    event_time: datetime
    principal: str
    action: str
    resource: str
    request_id: str
    source: str
    outcome: str
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: float
    request_parameters: dict[str, Any] | None = None
