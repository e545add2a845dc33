"""Alembic migrations for every service's tables, in one linear history."""
