"""Alembic migrations for every service's tables, in one linear history.

The newest revision is also written down as ``crispml.core.metadb.engine.HEAD``, so that opening a home
can tell whether its schema is current with one plain ``SELECT`` and without importing Alembic (0.3 s);
a test checks the two agree.
"""
