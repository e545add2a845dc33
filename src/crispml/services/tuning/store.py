"""Tuning tables: tuning jobs and their trials — also the search's state.

A tuning job is one row whose ``status`` moves ``InProgress → Completed |
Failed | Stopped`` (``Stopping`` after StopHyperParameterTuningJob); its
definition (every field of the request but the name) is a JSON document read
only whole. ``owner`` (``host:pid``) and ``heartbeat_at`` name the driver
process, so one whose driver died is recognised and driven on by a new one.

A trial is one row per training job the tuning job starts, written *before*
the training job is created: its number, its hyperparameters (as the strings
the training job gets), then its status, the objective's value at every step
it reported (``steps``, a JSON list) and its final value. These rows are the
Optuna study's storage: a driver (re)builds its study from them
(``search.py``), so a new driver continues the search where the dead one
stopped, re-attaching to the training jobs that kept running, creating a
recorded trial whose training job was never created under the same name, and
never asking for a trial twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class TuningJobRow(Base):
    __tablename__ = "tuning_jobs"

    name: Mapped[str] = mapped_column(BinaryString(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    principal: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    drivers: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_tuning_jobs_status", "status"),
    )


class TuningTrialRow(Base):
    __tablename__ = "tuning_trials"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)  # the training job's
    tuning_job: Mapped[str] = mapped_column(BinaryString(32))
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # Pending | InProgress | Completed | Failed | Stopping | Stopped
    objective: Mapped[float | None] = mapped_column(Float, nullable=True)
    steps: Mapped[str] = mapped_column(Text, default="[]")
    early_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("tuning_job", "number", name="uq_tuning_trials_number"),
        Index("ix_tuning_trials_job", "tuning_job"),
    )
