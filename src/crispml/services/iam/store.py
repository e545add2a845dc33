"""IAM tables: principals (the root account now; users and roles later)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, UTCDateTime


class PrincipalRow(Base):
    __tablename__ = "iam_principals"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # Root | User | Role
    account_id: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16), default="Active")  # Active | Inactive
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
