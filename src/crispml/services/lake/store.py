"""Lake tables: buckets, object versions, the current version of each key, and
multipart uploads.

Every write of a key adds a row to ``lake_versions`` (delete markers too);
``lake_current`` points each key at its newest version when that version is
an object, so listing the bucket is a range scan over one small table. Bytes
live in the blob store under ``blob_key``; a version row is committed only
after its blob is complete, so no reader ever sees a partial object.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class BucketRow(Base):
    __tablename__ = "lake_buckets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    versioning: Mapped[str | None] = mapped_column(String(16), nullable=True)  # Enabled | Suspended
    lifecycle: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, AWS shape


class VersionRow(Base):
    __tablename__ = "lake_versions"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(ForeignKey("lake_buckets.name", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(BinaryString(1024))
    version_id: Mapped[str] = mapped_column(String(64))
    is_delete_marker: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    etag: Mapped[str] = mapped_column(String(80), default="")
    content_type: Mapped[str] = mapped_column(String(256), default="binary/octet-stream")
    user_metadata: Mapped[str] = mapped_column(Text, default="{}")
    tags: Mapped[str] = mapped_column(Text, default="{}")
    storage_class: Mapped[str] = mapped_column(String(16), default="STANDARD")
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime())
    blob_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    restore_expiry: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    parts_count: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        UniqueConstraint("bucket", "key", "version_id", name="uq_lake_versions_bucket_key_version"),
        Index("ix_lake_versions_bucket_key_seq", "bucket", "key", "seq"),
    )


class CurrentRow(Base):
    __tablename__ = "lake_current"

    bucket: Mapped[str] = mapped_column(
        ForeignKey("lake_buckets.name", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(BinaryString(1024), primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("lake_versions.seq", ondelete="CASCADE"))


class UploadRow(Base):
    __tablename__ = "lake_uploads"

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(ForeignKey("lake_buckets.name", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(BinaryString(1024))
    initiated: Mapped[datetime] = mapped_column(UTCDateTime())
    content_type: Mapped[str] = mapped_column(String(256))
    user_metadata: Mapped[str] = mapped_column(Text, default="{}")
    tags: Mapped[str] = mapped_column(Text, default="{}")
    storage_class: Mapped[str] = mapped_column(String(16), default="STANDARD")

    __table_args__ = (Index("ix_lake_uploads_bucket_key", "bucket", "key"),)


class PartRow(Base):
    __tablename__ = "lake_parts"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("lake_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    etag: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(256))
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime())
