"""Open the metadata DB, keep it migrated, and hand out short transactions.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write
transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the
lock instead of failing when one upgrades a read to a write. PostgreSQL runs
through psycopg 3. Migrations are Alembic's, in ``crispml/migrations``; the
embedded mode upgrades on first use under a lock (a file lock for SQLite, an
advisory lock for PostgreSQL), so two processes starting together migrate once.
Whether the schema is current is one plain ``SELECT`` of ``alembic_version``
against :data:`HEAD`: Alembic (0.3 s to import) loads only
when an upgrade is due, or for the ``crispml db`` commands.

Services use ORM sessions (:meth:`Database.read`, :meth:`Database.write`), or
plain Core connections (:meth:`Database.connect`, :meth:`Database.begin`) where a
session's set-up, identity map and flush would cost more than the statements.
The few statements every call runs — the caller lookup and the audit insert of
the spine, a stream's put — go one step further: text on the driver's own cursor
(:meth:`Database.cursor`). Measured, SQLAlchemy's work around one statement
(connection object, compiled-cache lookup, result processing) costs several
times the statement itself (reading the caller: 0.21 ms against 0.05 ms).
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, configure_mappers, sessionmaker
from sqlalchemy.orm.instrumentation import manager_of_class

from crispml.core.errors import CrispmlError, InvalidArgument, Unavailable
from crispml.core.faults import os_fault, postgres_fault, sqlite_fault
from crispml.core.metadb.riders import Rider, boarding
from crispml.core.plugins import METADATA_DBS, redact

#: Where the migrations are (Alembic's ``script_location``; the package sits above core and is not imported).
MIGRATIONS = "crispml:migrations"
#: The newest revision in ``crispml/migrations/versions/``; bump it with every new migration (a test checks
#: it against Alembic's own head, so a migration that forgets it fails the suite).
HEAD = "0015"
T = TypeVar("T")
S = TypeVar("S")
#: How often a write transaction is retried after losing a race on a unique key.
_WRITE_RETRIES = 8
_ADVISORY_KEY = 0x637269_73706D6C  # "crispml"


def normalize_url(url: str) -> URL:
    """Parse a DB URL, choosing psycopg 3 for plain ``postgresql://``."""
    METADATA_DBS.resolve(url)  # unknown scheme or missing driver: a clear error
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise InvalidArgument(f"{redact(url)!r} is not a database URL: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """One metadata DB: an engine, sessions, and its migration state."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        self.display_url = self.url.render_as_string(hide_password=True)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if database and database != ":memory:":
                folder = Path(database).expanduser().parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise os_fault(exc, "creating the metadata database's folder", folder) or Unavailable(
                        f"cannot create the folder {folder} of the metadata database: {exc.strerror}") from exc
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["connect_args"] = {"connect_timeout": 5}
        self.engine: Engine = create_engine(self.url, **kwargs)
        #: The engine of the Core connections (:meth:`connect`, :meth:`begin`). On SQLite it is a second
        #: engine with no "begin" listener: such a listener makes SQLAlchemy dispatch events around every
        #: statement on its engine (a third of a one-row read), so these connections issue BEGIN themselves.
        self._core: Engine = self.engine
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)
            self._core = create_engine(self.url, **kwargs)
            _install_sqlite_pragmas(self._core)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._writes = sessionmaker(bind=self._write_engine, expire_on_commit=False)
        self._upgraded = False
        self._lock = threading.Lock()
        #: SQLite has one writer at a time, and a writer that finds the lock taken sleeps in the driver's busy
        #: handler (1 ms, then longer) however soon it is free. Threads of this process that write take
        #: turns here instead, and wake as soon as the one before them commits; another process still
        #: waits in the busy handler. Reentrant: a write inside a write in one thread would deadlock on the
        #: DB anyway, not here. PostgreSQL has row locks and needs no turns.
        self._turns: Any = threading.RLock() if self.dialect == "sqlite" else nullcontext()
        self._processors: dict[tuple[ColumnElement[Any], bool], Callable[[Any], Any]] = {}
        self._statements: dict[Callable[[Database], Any], Any] = {}

    # -- sessions ----------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; closed (its transaction ended, its objects kept) at the end."""
        with self._translate(), self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits together at the end, or not at all (with the current call's rider,
        :mod:`~crispml.core.metadb.riders`)."""
        with self._turns, self._translate(), self._writes() as session:
            rider = None
            try:
                with session.begin():
                    yield session
                    rider = self._board(session.connection().connection)
            except BaseException:
                if rider is not None:
                    rider.settle(committed=False)
                raise
            if rider is not None:
                rider.settle(committed=True)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection for a quick read; its transaction is rolled back at the end."""
        if self._core is self.engine:
            with self._translate(), self.engine.connect() as conn:
                yield conn
        else:
            with self._sqlite_transaction("DEFERRED", commit=False) as conn:
                yield conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A Core connection whose statements commit together at the end, or not at all
        (taking the write lock at BEGIN on SQLite, as :meth:`write` does)."""
        if self._core is self.engine:
            rider = None
            try:
                with self._translate(), self._write_engine.begin() as conn:
                    yield conn
                    rider = self._board(conn.connection)
            except BaseException:
                if rider is not None:
                    rider.settle(committed=False)
                raise
            if rider is not None:
                rider.settle(committed=True)
        else:
            with self._turns, self._sqlite_transaction("IMMEDIATE", commit=True) as conn:
                yield conn

    @contextmanager
    def _sqlite_transaction(self, mode: str, *, commit: bool) -> Iterator[Connection]:
        """A connection of the Core engine in a transaction begun (and ended) on the driver itself:
        committed at the end if ``commit`` and nothing failed, else rolled back."""
        with self._translate(), self._core.connect() as conn:
            driver: Any = conn.connection.driver_connection
            driver.execute(f"BEGIN {mode}")
            rider = None
            try:
                yield conn
                if commit:
                    rider = self._board(driver)
                    driver.commit()
            except BaseException:
                driver.rollback()
                if rider is not None:
                    rider.settle(committed=False)
                raise
            if rider is not None:
                rider.settle(committed=True)
            if not commit:
                driver.rollback()

    @property
    def mark(self) -> str:
        """The driver's placeholder in plain SQL (:meth:`cursor`): ``?`` for sqlite3, ``%s`` for psycopg."""
        return "?" if self.dialect == "sqlite" else "%s"

    @contextmanager
    def cursor(self, *, write: bool = False) -> Iterator[Any]:
        """The driver's own cursor in a transaction of its own: committed at the end if ``write`` and
        nothing failed, else rolled back (``write`` takes SQLite's write lock at BEGIN, as :meth:`begin`).

        Statements are text with :attr:`mark` placeholders, values as the driver takes them
        (:meth:`to_driver` and :meth:`from_driver` convert a column's values). A driver error comes
        out as SQLAlchemy's, so a lost server is reported as :meth:`connect`'s would be.
        """
        with self._turns if write else nullcontext(), self._translate(), driver_errors(self._core.dialect):
            raw = self._core.raw_connection()
            driver: Any = raw.driver_connection
            rider = None
            try:
                if self.dialect == "sqlite":
                    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
                cursor = raw.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
                if write:
                    rider = self._board(raw)
                    raw.commit()
                    if rider is not None:
                        rider.settle(committed=True)
                else:
                    raw.rollback()
            except BaseException as exc:
                if rider is not None and not rider.landed:
                    rider.settle(committed=False)
                if isinstance(exc, self._core.dialect.loaded_dbapi.Error) and self._core.dialect.is_disconnect(
                        exc, driver, None):
                    raw.invalidate()  # the pool must not hand this connection out again
                else:
                    with suppress(Exception):  # a connection that cannot roll back is dropped on return
                        raw.rollback()
                raise
            finally:
                raw.close()

    def _board(self, connection: Any) -> Rider | None:
        """Run the current call's rider (if any is waiting for this database) on ``connection``, inside the
        transaction about to commit; return it, to be settled once the commit succeeded or failed."""
        rider = boarding(self)
        if rider is not None:
            try:
                rider.ride(connection)
            except BaseException:
                rider.settle(committed=False)
                raise
        return rider

    def statements(self, kind: Callable[[Database], S]) -> S:
        """One ``kind(self)`` per database, made on first use: a service's plain-SQL statements for
        :meth:`cursor`, built once for this database's placeholders and converters."""
        found = self._statements.get(kind)
        if found is None:
            found = self._statements.setdefault(kind, kind(self))
        return cast(S, found)

    def to_driver(self, column: ColumnElement[Any]) -> Callable[[Any], Any]:
        """How ``column``'s values go to the driver in plain SQL (as Core would bind them)."""
        return self._processor(column, bind=True)

    def from_driver(self, column: ColumnElement[Any]) -> Callable[[Any], Any]:
        """How the driver's values of ``column`` come back as Python's (as Core would read them)."""
        return self._processor(column, bind=False)

    def _processor(self, column: ColumnElement[Any], *, bind: bool) -> Callable[[Any], Any]:
        key = (column, bind)
        found = self._processors.get(key)
        if found is None:
            dialect = self._core.dialect
            typed = column.type.dialect_impl(dialect)  # e.g. SQLite's DATETIME, stored as text
            made = typed.bind_processor(dialect) if bind else typed.result_processor(dialect, None)
            found = self._processors[key] = made if made is not None else _same
        return found

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, again when a concurrent writer won a race.

        Two writers that both insert the same new key (PostgreSQL, READ COMMITTED) make one of
        them fail with an IntegrityError; running its work again sees the winner's row.
        """
        for attempt in range(_WRITE_RETRIES):
            try:
                with self.write() as session:
                    return work(session)
            except IntegrityError:
                if attempt == _WRITE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            fault = self.fault(exc)
            if fault is not None:
                raise fault from exc
            if isinstance(exc, OperationalError) and _is_connection_error(exc):
                raise self._unavailable(exc) from exc
            raise

    def fault(self, exc: BaseException) -> CrispmlError | None:
        """The storage fault (full, read-only, damaged: :mod:`crispml.core.faults`) behind a database error,
        or None."""
        orig = getattr(exc, "orig", None) or exc
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if not database or database == ":memory:":
                return None
            return sqlite_fault(orig, Path(database).expanduser(), self.display_url)
        return postgres_fault(orig, self.display_url)

    def _unavailable(self, exc: BaseException) -> CrispmlError:
        fault = self.fault(exc)
        if fault is not None:
            return fault
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
        return Unavailable(
            f"cannot reach the metadata database {self.display_url}: {reason}; "
            "check CRISPML_DB_URL and that the database server is running"
        )

    def check(self) -> None:
        """Raise Unavailable (or the storage fault) if the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            raise self._unavailable(exc) from exc

    # -- migrations ----------------------------------------------------------

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()

    def upgrade(self, revision: str = "head", *, on_empty: Callable[[], None] | None = None) -> str | None:
        """Bring the schema to ``revision`` (default: the newest); return the new revision.

        ``on_empty`` runs first, under the migration lock, if the database holds no schema at all (a new
        home, or one whose database was lost): it may refuse, by raising, to build a new one."""
        self.check()  # an unreachable database fails here, before Alembic is loaded
        from alembic import command

        with self._migration_lock():
            if on_empty is not None and self._stored_revision() is None:
                on_empty()
            with self._translate(), self.engine.begin() as conn:
                config = _alembic_config(conn)
                command.upgrade(config, revision)
            self._upgraded = True
            return self.current_revision()

    def ensure_upgraded(self, *, on_empty: Callable[[], None] | None = None) -> None:
        """Upgrade on first use if the schema is behind; cheap once it is current (``on_empty``: as for
        :meth:`upgrade`)."""
        with self._lock:
            if self._upgraded:
                return
            # one statement when the schema is current; an unreachable database reads as unmigrated, and
            # upgrade() then checks the connection first, failing with Unavailable
            if self._stored_revision() != HEAD:
                self.upgrade(on_empty=on_empty)
            self._upgraded = True

    def _stored_revision(self) -> str | None:
        """The revision in ``alembic_version``, read without Alembic; None when it cannot be read
        (a database never migrated has no such table), which leaves the decision to :meth:`upgrade`."""
        try:
            with self.engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except DBAPIError as exc:
            fault = self.fault(exc)
            if fault is not None:
                raise fault from exc
            return None
        return str(rows[0][0]) if len(rows) == 1 else None

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            database = self.url.database or ""
            if not database or database == ":memory:":
                yield
                return
            with open(f"{database}.migrate.lock", "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_KEY})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._core is not self.engine:
            self._core.dispose()


@contextmanager
def driver_errors(dialect: Any) -> Iterator[None]:
    """Driver (DB-API) errors raised inside come out as SQLAlchemy's, as from a Core statement."""
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(None, None, exc, dbapi_error, dialect=dialect) from exc


def detached(kind: type[T], values: dict[str, Any]) -> T:
    """A row of the mapped class ``kind`` holding ``values`` (column values as Python's), in no session: what a
    plain-SQL read returns. Made as the ORM makes the rows it loads — the instance, then its values — not by the
    constructor, whose instrumented set of each attribute costs ~15 µs a row of 15 columns against ~1 µs, on
    paths that make one row per partition or object a query reads."""
    manager = manager_of_class(kind)
    if not manager.mapper.configured:  # as a first construction would (the attributes are set up then)
        configure_mappers()
    row: T = manager.new_instance()
    row.__dict__.update(values)
    return row


def _same(value: Any) -> Any:
    return value


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def _is_connection_error(exc: OperationalError) -> bool:
    message = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return any(
        word in message
        for word in ("connection", "could not connect", "unable to open", "timeout expired", "server closed")
    )


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below, or in Database.connect/begin), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _install_sqlite_hooks(engine: Engine) -> None:
    _install_sqlite_pragmas(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
