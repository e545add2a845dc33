"""Serving tables: endpoint configurations, endpoints, their instances, the runtime, autoscaling and
transform jobs.

An endpoint configuration is immutable: one row whose definition (variants,
shadow variants, data capture) is a JSON document read only whole. An
endpoint row holds what the caller asked for — its configuration, and per
variant the desired weight and instance count (``variants``, JSON) — and its
``status``; the supervisor converges the running instances on it and writes
back what is current. An update names the new configuration in
``pending_config`` until its instances pass ``/ping``; then it becomes
``config_name``.

An instance row is one process serving one variant of one configuration
(``generation`` counts the endpoint's deployments, so instances of an update
and of the configuration it replaces are told apart), written only by the
supervisor: ``Pending → InService → Draining`` and gone, or ``Failed`` with
its error. The runtime row (one per home) says which process supervises and
where the front listens.

Scalable targets and scaling policies follow Application Auto Scaling; the
target row also remembers the last scale-out and scale-in times, for the
cooldowns. A transform job is one row with the same life cycle as a training
job (``InProgress → Completed | Failed``, or ``Stopping → Stopped``; a worker
``owner`` and its heartbeat): its request, the input files listed when it was
created (``inputs``), and its progress, written by its worker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class EndpointConfigRow(Base):
    __tablename__ = "serving_endpoint_configs"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128))
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EndpointRow(Base):
    __tablename__ = "serving_endpoints"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128))
    config_name: Mapped[str] = mapped_column(BinaryString(63))
    pending_config: Mapped[str | None] = mapped_column(BinaryString(63), nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[str] = mapped_column(Text)  # the configuration deployed (a copy: it may be deleted)
    pending_definition: Mapped[str | None] = mapped_column(Text, nullable=True)
    variants: Mapped[str] = mapped_column(Text)  # [{variant_name, model_name, shadow, desired_*, current_*}]
    tags: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_serving_endpoints_config", "config_name"),
    )


class InstanceRow(Base):
    __tablename__ = "serving_instances"

    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(BinaryString(63))
    generation: Mapped[int] = mapped_column(Integer)
    config_name: Mapped[str] = mapped_column(BinaryString(63))
    variant: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))  # Pending | InService | Draining | Failed
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_serving_instances_endpoint", "endpoint"),
    )


class RuntimeRow(Base):
    __tablename__ = "serving_runtime"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # always "runtime"
    owner: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScalableTargetRow(Base):
    __tablename__ = "serving_scalable_targets"

    resource_id: Mapped[str] = mapped_column(String(1600), primary_key=True)  # endpoint/<e>/variant/<v>
    scalable_dimension: Mapped[str] = mapped_column(String(64))
    min_capacity: Mapped[int] = mapped_column(Integer)
    max_capacity: Mapped[int] = mapped_column(Integer)
    role_arn: Mapped[str | None] = mapped_column(String(1600), nullable=True)
    suspended_state: Mapped[str] = mapped_column(Text, default="{}")
    last_scale_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_scale_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScalingPolicyRow(Base):
    __tablename__ = "serving_scaling_policies"

    resource_id: Mapped[str] = mapped_column(String(1600), primary_key=True)
    policy_name: Mapped[str] = mapped_column(String(256), primary_key=True)
    scalable_dimension: Mapped[str] = mapped_column(String(64))
    policy_type: Mapped[str] = mapped_column(String(32))
    configuration: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScalingActivityRow(Base):
    __tablename__ = "serving_scaling_activities"

    activity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(1600))
    scalable_dimension: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    status_code: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_serving_scaling_activities_resource", "resource_id", "start_time"),
    )


class TransformJobRow(Base):
    __tablename__ = "serving_transform_jobs"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, unique=True)
    principal: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[str] = mapped_column(Text)
    model_name: Mapped[str] = mapped_column(BinaryString(63))
    inputs: Mapped[str] = mapped_column(Text, default="[]")  # the input files listed at creation, or the table
    progress: Mapped[str] = mapped_column(Text, default="{}")
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_serving_transform_jobs_status", "status"),
    )
