"""Training tables: training jobs and warm workers.

A job is one row whose ``status`` moves ``InProgress → Completed | Failed |
Stopped`` (``Stopping`` after StopTrainingJob) and whose ``secondary_status``
follows the work (``Starting → Downloading → Training → Uploading →
Completed``); the transitions, the definition (every field of the
CreateTrainingJob request but the name), its lineage, final metrics and
cross-validation results are JSON documents read only whole. ``owner``
(``host:pid``) and ``heartbeat_at`` name the worker process driving the job,
so that one whose worker died is recognised and closed, or resumed from its
checkpoint. ``seq`` orders jobs by creation (timestamps may tie).

A warm worker (SageMaker's warm pool) is a row per kept process: its
``pool_key`` (what it runs and with which resources), its socket, and
``status`` ``Available → InUse`` when a job claims it (one UPDATE … WHERE
status = 'Available', so two jobs never claim one worker) or ``Terminated``
when its keep-alive period ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class TrainingJobRow(Base):
    __tablename__ = "training_jobs"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    principal: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    secondary_status: Mapped[str] = mapped_column(String(32))
    transitions: Mapped[str] = mapped_column(Text, default="[]")
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[str] = mapped_column(Text)
    lineage: Mapped[str] = mapped_column(Text, default="{}")
    model_artifacts: Mapped[str | None] = mapped_column(Text, nullable=True)
    final_metrics: Mapped[str] = mapped_column(Text, default="[]")
    cross_validation_results: Mapped[str | None] = mapped_column(Text, nullable=True)
    warm_pool_status: Mapped[str | None] = mapped_column(Text, nullable=True)
    pool_key: Mapped[str] = mapped_column(String(255))
    log_stream: Mapped[str | None] = mapped_column(String(512), nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_training_jobs_status", "status"),
    )


class WarmWorkerRow(Base):
    __tablename__ = "training_warm_workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # Available | InUse | Terminated
    owner: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(Text)  # the worker's Unix socket
    last_job: Mapped[str | None] = mapped_column(String(63), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(63), nullable=True)
    available_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_training_warm_workers_pool", "pool_key", "status"),
    )
