"""``crispml.core.metadb.engine.HEAD`` and the migration check that opening a home makes without Alembic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from crispml.core.metadb.engine import HEAD, MIGRATIONS, Database


def test_head_is_alembics_head() -> None:
    """A new migration must bump HEAD: otherwise homes would not be upgraded to it on open."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_database_behind_head_is_upgraded_on_open(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    older = Database(url)  # a home last opened by the release before the newest migration
    older.upgrade("0007")
    older.dispose()
    db = Database(url)
    try:
        assert db.current_revision() == "0007"
        db.ensure_upgraded()
        assert db.current_revision() == HEAD
    finally:
        db.dispose()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    db = Database(url)
    db.upgrade()
    db.dispose()
    code = textwrap.dedent(f"""
        import sys
        from crispml.core.metadb.engine import Database
        db = Database({url!r})
        db.ensure_upgraded()
        print(sorted(m for m in sys.modules if m.split(".")[0] == "alembic"))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
