"""The metadata DB: SQLAlchemy 2 models, Alembic migrations, SQLite or PostgreSQL."""

from crispml.core.metadb.base import Base, utcnow_column
from crispml.core.metadb.engine import Database

__all__ = ["Base", "Database", "utcnow_column"]
