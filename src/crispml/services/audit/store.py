"""The audit table: one row per operation call. Rows are inserted, and changed once at most: a call that
failed after its first commit (which carried its event, as a success) has the failure written on its event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, UTCDateTime


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime())
    principal: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(2048))
    request_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(256))
    outcome: Mapped[str] = mapped_column(String(16))  # Success | Failure
    error_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    request_parameters: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_audit_events_time", "event_time"),
        Index("ix_audit_events_action_time", "action", "event_time"),
        Index("ix_audit_events_principal_time", "principal", "event_time"),
    )
