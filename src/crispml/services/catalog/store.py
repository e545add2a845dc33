"""Catalog tables: databases, tables, table versions and partitions.

A table's definitions are JSON documents in Glue's ``TableInput`` shape (the
checked, normalised request), one row per version in
``catalog_table_versions``; ``catalog_tables`` names the current one. Keeping
the document whole, rather than a row per column, is what Glue's API asks for:
every read and write is of a whole definition. A partition is one row with its
values (a JSON list) and its storage descriptor; ``values_hash`` makes the
values unique per table whatever their length. Rows of a database's tables go
with it (foreign keys cascade, and the service deletes them explicitly too).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class DatabaseRow(Base):
    __tablename__ = "catalog_databases"

    name: Mapped[str] = mapped_column(BinaryString(255), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    location_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TableRow(Base):
    __tablename__ = "catalog_tables"

    table_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    database: Mapped[str] = mapped_column(ForeignKey("catalog_databases.name", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(BinaryString(255))
    version_id: Mapped[int] = mapped_column(Integer)  # the current version
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)

    __table_args__ = (UniqueConstraint("database", "name", name="uq_catalog_tables_database_name"),)


class TableVersionRow(Base):
    __tablename__ = "catalog_table_versions"

    table_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_tables.table_id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # TableInput as JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartitionRow(Base):
    __tablename__ = "catalog_partitions"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("catalog_tables.table_id", ondelete="CASCADE"))
    values_hash: Mapped[str] = mapped_column(String(64))
    partition_values: Mapped[str] = mapped_column(Text)  # JSON list of strings
    storage_descriptor: Mapped[str] = mapped_column(Text)  # JSON, Glue's StorageDescriptor shape
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_access_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("table_id", "values_hash", name="uq_catalog_partitions_table_values"),
        Index("ix_catalog_partitions_table_seq", "table_id", "seq"),
    )
