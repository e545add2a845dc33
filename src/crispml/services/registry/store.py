"""Registry tables: models, model package groups and their versions.

A model is one row whose container (image, model data, environment) and tags
are JSON documents read only whole. A model package (a version) is keyed by
its group and its number; the number is the group's largest plus one, taken
in the transaction that inserts it, so two concurrent registrations collide on
the primary key and the loser's transaction runs again with the next number.
Its definition (inference specification, metrics, metadata, model card), its
lineage (copied from its training job) and its approval history are JSON
documents; ``approval_status`` and ``group_name`` are columns because lists
filter on them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class ModelRow(Base):
    __tablename__ = "registry_models"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128))
    definition: Mapped[str] = mapped_column(Text)  # PrimaryContainer, ExecutionRoleArn, Tags
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelPackageGroupRow(Base):
    __tablename__ = "registry_model_package_groups"

    name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    principal: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelPackageRow(Base):
    __tablename__ = "registry_model_packages"

    group_name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    approval_status: Mapped[str] = mapped_column(String(32))
    approval_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    definition: Mapped[str] = mapped_column(Text)
    lineage: Mapped[str | None] = mapped_column(Text, nullable=True)
    history: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(128))
    modified_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_registry_model_packages_status", "approval_status"),
    )


class ModelUseRow(Base):
    """An endpoint serving a model: DeleteModel refuses while one exists (written by the serving service
    through :meth:`RegistryService.use_models`)."""

    __tablename__ = "registry_model_uses"

    model_name: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)
    user: Mapped[str] = mapped_column(BinaryString(63), primary_key=True)  # the endpoint's name
