"""Alembic migrations for every service's tables, in one linear history.

:data:`HEAD` names the newest revision so that opening a home can tell whether
its schema is current with one plain ``SELECT`` and without importing Alembic
(0.3 s); a test checks it against Alembic's own head, so a new migration that
forgets to bump it fails the suite.
"""

#: The newest revision in ``versions/``; bump it with every new migration.
HEAD = "0008"
