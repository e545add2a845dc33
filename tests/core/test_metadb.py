"""The metadata DB on SQLite and PostgreSQL: migrations, pragmas, locking, reachability."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

import crispml
from crispml.core.errors import InvalidArgument, Unavailable
from crispml.core.metadb.engine import MIGRATIONS, Database, detached
from crispml.services import load_models
from crispml.services.iam.store import PrincipalRow
from tests.fixtures.forkserver import spawn

HEAD = Database.head_revision()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names())


def _model_tables() -> set[str]:
    return set(load_models().tables)


def test_one_linear_history() -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations found"
    for revision in revisions:
        down = revision.down_revision
        assert down is None or isinstance(down, str), f"{revision.revision} merges {down}"
        assert not revision.branch_labels
    assert script.get_current_head() == HEAD


def test_fresh_database_is_upgraded_on_first_connect(db: Database) -> None:
    assert db.current_revision() is None
    assert not _tables(db) & _model_tables()
    db.ensure_upgraded()
    assert db.current_revision() == HEAD
    assert _model_tables() <= _tables(db)


def test_connect_upgrades_a_fresh_home(home: Path, db_url: str) -> None:
    with crispml.connect(home=str(home), db_url=db_url) as client:
        assert client.platform.db.current_revision() == HEAD
        assert _model_tables() <= _tables(client.platform.db)


def test_upgrade_is_idempotent(db: Database) -> None:
    assert db.upgrade() == HEAD
    tables = _tables(db)
    with db.write() as session:
        session.execute(text(
            "INSERT INTO iam_principals (name, principal_id, kind, account_id, status, created_at) "
            "VALUES ('keep', 'AID-KEEP', 'User', '000000000001', 'Active', '2026-01-01 00:00:00')"
        ))
    assert db.upgrade() == HEAD
    assert Database(str(db.url.render_as_string(hide_password=False))).upgrade() == HEAD
    assert _tables(db) == tables
    with db.read() as session:
        assert session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        assert session.scalar(select(func.count()).select_from(PrincipalRow)) == 1  # data kept


def test_migrations_produce_exactly_the_models(db: Database) -> None:
    db.upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, load_models())
    assert differences == [], "migrations and models disagree; add a migration"
    assert _tables(db) == _model_tables() | {"alembic_version"}


def test_sqlite_pragmas_are_set(home: Path) -> None:
    db = Database(f"sqlite:///{home / 'meta.db'}")
    db.ensure_upgraded()
    try:
        for session_of in (db.read, db.write):
            with session_of() as session:
                assert session.scalar(text("PRAGMA journal_mode")) == "wal"
                assert session.scalar(text("PRAGMA foreign_keys")) == 1
                assert session.scalar(text("PRAGMA busy_timeout")) == 30000
        # the WAL mode is persistent in the file: another client sees it too
        with sqlite3.connect(home / "meta.db") as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.dispose()


def test_sqlite_foreign_keys_are_enforced(home: Path) -> None:
    db = Database(f"sqlite:///{home / 'meta.db'}")
    db.ensure_upgraded()
    try:
        with pytest.raises(Exception, match="FOREIGN KEY"), db.write() as session:
            session.execute(text(
                "INSERT INTO lake_uploads (upload_id, bucket, key, initiated, content_type, "
                "user_metadata, tags, storage_class) VALUES ('u1', 'no-such-bucket', 'k', "
                "'2026-01-01 00:00:00', 'text/plain', '{}', '{}', 'STANDARD')"
            ))
    finally:
        db.dispose()


def test_sqlite_write_sessions_take_the_write_lock_at_begin(home: Path) -> None:
    # BEGIN IMMEDIATE: a writer holds the lock from its first statement, even a read,
    # so two writers queue instead of failing when one upgrades a read to a write.
    db = Database(f"sqlite:///{home / 'meta.db'}")
    db.ensure_upgraded()
    other = sqlite3.connect(home / "meta.db", timeout=0, isolation_level=None)
    try:
        with db.read() as session:
            session.execute(text("SELECT count(*) FROM iam_principals"))
            other.execute("BEGIN IMMEDIATE")  # a reader does not block a writer
            other.execute("ROLLBACK")
        with db.write() as session:
            session.execute(text("SELECT count(*) FROM iam_principals"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        # the same for the Core connections the spine uses
        with db.connect() as conn:
            conn.execute(text("SELECT count(*) FROM iam_principals"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with db.begin() as conn:
            conn.execute(text("SELECT count(*) FROM iam_principals"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        # and for the driver's own cursor
        with db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM iam_principals")
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with db.cursor(write=True) as cursor:
            cursor.execute("SELECT count(*) FROM iam_principals")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        db.dispose()


def test_a_write_session_commits_all_or_nothing(db: Database) -> None:
    db.ensure_upgraded()
    insert = text(
        "INSERT INTO iam_principals (name, principal_id, kind, account_id, status, created_at) "
        "VALUES (:n, :i, 'User', '000000000001', 'Active', '2026-01-01 00:00:00')"
    )
    with pytest.raises(RuntimeError), db.write() as session:
        session.execute(insert, {"n": "first", "i": "AID-1"})
        raise RuntimeError("stop halfway")
    with pytest.raises(RuntimeError), db.begin() as conn:
        conn.execute(insert, {"n": "third", "i": "AID-3"})
        raise RuntimeError("stop halfway")
    with db.write() as session:
        session.execute(insert, {"n": "second", "i": "AID-2"})
    with db.begin() as conn:
        conn.execute(insert, {"n": "fourth", "i": "AID-4"})
    with db.read() as session:
        names = session.scalars(text("SELECT name FROM iam_principals ORDER BY name"))
        assert list(names) == ["fourth", "second"]


def test_a_driver_cursor_commits_all_or_nothing_and_reports_errors_as_sqlalchemy_does(db: Database) -> None:
    db.ensure_upgraded()
    insert = ("INSERT INTO iam_principals (name, principal_id, kind, account_id, status, created_at) "
              f"VALUES ({db.mark}, {db.mark}, 'User', '000000000001', 'Active', {db.mark})")
    created = db.to_driver(PrincipalRow.__table__.c.created_at)
    moment = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    with pytest.raises(RuntimeError), db.cursor(write=True) as cursor:
        cursor.execute(insert, ("first", "AID-1", created(moment)))
        raise RuntimeError("stop halfway")
    with db.cursor() as cursor:  # a read-only cursor's transaction is rolled back
        cursor.execute(insert, ("second", "AID-2", created(moment)))
    with db.cursor(write=True) as cursor:
        cursor.execute(insert, ("third", "AID-3", created(moment)))
    # a driver error is SQLAlchemy's, as from a Core statement, and the transaction is rolled back
    with pytest.raises(IntegrityError), db.cursor(write=True) as cursor:
        cursor.execute(insert, ("fourth", "AID-4", created(moment)))
        cursor.execute(insert, ("third", "AID-5", created(moment)))
    with db.read() as session:
        rows = session.execute(select(PrincipalRow.name, PrincipalRow.created_at)
                               .where(PrincipalRow.kind == "User").order_by(PrincipalRow.name)).all()
    assert [tuple(r) for r in rows] == [("third", moment)]  # stored as Core stores it
    with db.cursor() as cursor:
        cursor.execute(f"SELECT created_at FROM iam_principals WHERE name = {db.mark}", ("third",))
        (raw,) = cursor.fetchone()
    assert db.from_driver(PrincipalRow.__table__.c.created_at)(raw) == moment  # and read back as Core reads it


def test_a_driver_cursor_on_an_unreachable_server_is_unavailable() -> None:
    db = Database("postgresql://crispml:pg-secret-pw@127.0.0.1:1/meta")
    with pytest.raises(Unavailable) as info, db.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert "127.0.0.1" in str(info.value) and "pg-secret-pw" not in str(info.value)


_CHILD = textwrap.dedent("""
    import json, os, sys, time
    home, db_url, ready, go = sys.argv[1:5]
    from crispml.sdk.client import connect
    import crispml.platform, crispml.services.iam.service  # import before the start line
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.001)
    client = connect(home=home, db_url=db_url or None)
    who = client.iam.get_caller_identity()
    print(json.dumps({"account": who.account, "arn": who.arn,
                      "revision": client.platform.db.current_revision()}))
    client.close()
""")


@pytest.mark.load
def test_processes_opening_a_fresh_home_together_all_succeed(
    tmp_path: Path, home: Path, db_url: str
) -> None:
    """Real child processes race to migrate and bootstrap the same fresh home."""
    count = 4
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])}
    children = [
        spawn(
            ["-c", _CHILD, str(home), db_url, str(tmp_path / f"ready-{i}"), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{i}").exists() for i in range(count)):
            assert time.monotonic() < deadline, "children did not start"
            assert all(c.poll() is None for c in children), [c.communicate() for c in children]
            time.sleep(0.01)
        go.touch()
        results = [c.communicate(timeout=120) for c in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    answers = [json.loads(out) for out, _ in results]
    assert {a["revision"] for a in answers} == {HEAD}
    assert len({a["account"] for a in answers}) == 1  # one root account, made once
    db = Database(db_url)
    try:
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(PrincipalRow)) == 1
            assert session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        db.dispose()


@pytest.mark.timeout(30)
def test_unreachable_postgresql_is_unavailable_without_the_password(home: Path) -> None:
    url = "postgresql://crispml:pg-secret-pw@127.0.0.1:1/meta"
    db = Database(url)  # opening does not connect
    with pytest.raises(Unavailable) as info:
        db.ensure_upgraded()
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "pg-secret-pw" not in message
    assert "CRISPML_DB_URL" in message  # says what to check
    with pytest.raises(Unavailable) as info:
        crispml.connect(home=str(home), db_url=url)
    assert "pg-secret-pw" not in str(info.value)
    assert isinstance(info.value, ConnectionError)


def test_a_malformed_database_url_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="not a database URL"):
        Database("postgresql://user@host:notaport/db")


def test_a_detached_row_reads_its_values_and_can_still_be_written(db: Database) -> None:
    """``detached`` builds a row as a load does (no constructor): it reads back its values, is in no session,
    tracks a change like any row, and inserts with every value it holds."""
    now = datetime(2026, 1, 2, tzinfo=UTC)
    row = detached(PrincipalRow, {"name": "ada", "principal_id": "AIDADA", "kind": "User", "account_id": "1" * 12,
                                  "status": "Active", "created_at": now})
    assert (row.name, row.principal_id, row.kind, row.created_at) == ("ada", "AIDADA", "User", now)
    state = inspect(row)
    assert state.transient and state.session is None
    row.status = "Inactive"
    assert state.attrs.status.history.added == ["Inactive"]
    db.upgrade()
    with db.write() as session:
        session.add(row)
    with db.read() as session:
        stored = session.get(PrincipalRow, "ada")
        assert stored is not None
        assert (stored.principal_id, stored.status, stored.created_at) == ("AIDADA", "Inactive", now)
