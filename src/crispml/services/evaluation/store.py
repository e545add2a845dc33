"""Evaluation tables: one row per evaluation job.

The request, the test data's pin, the metrics, the chosen threshold and the
feature importances are JSON documents read only whole; the report and the
predictions (for comparisons) are files in the lake, named by URI here.
``seq`` orders jobs by creation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class EvaluationJobRow(Base):
    __tablename__ = "evaluation_jobs"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    principal: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_source: Mapped[str] = mapped_column(String(255))
    problem_type: Mapped[str] = mapped_column(String(32))
    request: Mapped[str] = mapped_column(Text)
    test_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[str] = mapped_column(Text, default="{}")
    threshold: Mapped[str | None] = mapped_column(Text, nullable=True)
    feature_importance: Mapped[str] = mapped_column(Text, default="{}")
    report_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    predictions_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_evaluation_jobs_model_source", "model_source"),)
