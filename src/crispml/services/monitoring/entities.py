"""Monitoring value objects."""

from __future__ import annotations

from pydantic import BaseModel


class CallMetric(BaseModel):
    """Calls of one action: how many, how many failed, and how long they took."""

    action: str
    calls: int
    errors: int
    avg_latency_ms: float
    max_latency_ms: float
