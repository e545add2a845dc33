"""The contract between the query service and a SQL engine.

The service (``query/service.py``) owns executions, workgroups, states,
results files and the cutoff; an engine owns SQL: parsing, resolving catalog
tables, reading lake files, writing CTAS/INSERT output. The split is two steps,
because Athena validates a statement when it is submitted and runs it later:

1. ``engine.prepare(caller, sql, database)`` runs inside
   ``StartQueryExecution``: it parses the statement (a syntax error raises
   ``InvalidArgument`` with the engine's message and line:column), resolves
   every table through ``caller.catalog`` (an unknown one raises ``NotFound``
   naming close matches) and returns a :class:`PreparedQuery`. It reads no
   data files.
2. ``prepared.plan()`` and ``prepared.execute(plan, cancelled)`` run on the execution's worker thread. It
   plans the files to read (after partition pruning), so that
   ``data_scanned_bytes`` is known before any row is read (``plan()``, which
   reads Parquet footers only, to count the column chunks read; the service
   checks the workgroup's bytes-scanned cutoff against it), then
   ``execute(plan, cancelled)`` returns the result rows as a pyarrow
   ``RecordBatchReader``.

Everything the engine reads or writes goes through ``caller`` (a :class:`Caller`:
the catalog's and the lake's operations, as the principal who started the query,
so each is authorized and audited as that principal's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from crispml.core.context import CallContext
from crispml.services.catalog.service import CatalogService
from crispml.services.lake.service import LakeService

StatementType = Literal["DDL", "DML", "UTILITY"]


@dataclass(frozen=True)
class Caller:
    """Whom a statement reads and writes as: the context of the ``StartQueryExecution`` that started it,
    and the services it calls in that caller's name (``caller.catalog.get_table(caller.ctx, …)``)."""

    ctx: CallContext
    catalog: CatalogService
    lake: LakeService


@dataclass
class ColumnInfo:
    """One result column as Athena describes it (``ResultSetMetadata.ColumnInfo``)."""

    name: str
    type: str  # Athena/Trino type name: varchar, bigint, double, boolean, date, timestamp, decimal(p,s) …
    nullable: str = "UNKNOWN"  # NOT_NULL | NULLABLE | UNKNOWN
    precision: int = 0
    scale: int = 0


@dataclass
class ExecutionPlan:
    """What ``execute`` decided to read, before reading it."""

    data_scanned_bytes: int = 0
    files: list[str] = field(default_factory=list)  # lake URIs read, for messages and tests
    tables: list[str] = field(default_factory=list)  # "db.table" of every table read


@dataclass
class EngineResult:
    """The rows of a finished statement, streamed, and what the statement changed."""

    columns: list[ColumnInfo]
    batches: Any  # pyarrow.RecordBatchReader; a CTAS/INSERT/DELETE returns one row with column "rows"
    plan: ExecutionPlan
    # A CTAS or INSERT/DELETE reports the table it wrote ("db.table"); None for a SELECT.
    written_table: str | None = None


class PreparedQuery(Protocol):
    statement_type: StatementType
    #: Athena's substatement type: ``SELECT`` | ``CREATE_TABLE_AS_SELECT`` | ``INSERT`` | ``DELETE`` | …
    substatement_type: str
    #: The catalog database the statement runs in (the request's, or the first qualified table's).
    database: str | None

    def plan(self) -> ExecutionPlan:
        """Decide which files the statement reads (partition pruning included), reading none of them."""
        ...

    def execute(self, plan: ExecutionPlan, cancelled: Callable[[], bool]) -> EngineResult:
        """Run the statement; poll ``cancelled()`` while it runs and stop soon after it turns true
        (raising :class:`QueryCancelled`). Engine failures raise :class:`QueryFailed`."""
        ...

    def interrupt(self) -> None:
        """Stop a running ``execute`` from another thread (it then raises :class:`QueryCancelled`)."""
        ...


class QueryEngine(Protocol):
    def prepare(self, caller: Caller, sql: str, database: str | None, *, output_location: str | None,
                query_execution_id: str) -> PreparedQuery:
        """Parse and resolve ``sql``; ``output_location`` (``lake://bucket/prefix/``) is where a CTAS
        without ``external_location`` puts its table (``<output>/tables/<query id>/``)."""
        ...


class QueryCancelled(Exception):
    """The statement was stopped (StopQueryExecution) before it finished."""


class QueryFailed(Exception):
    """A statement that was accepted failed while running.

    ``error_type`` is the name of the :mod:`crispml.core.errors` class a
    synchronous caller (``crispml sql``) should raise — ``InvalidArgument``
    for a column that does not exist, ``NotFound`` for deleted files,
    ``InvalidObjectState`` for archived ones, ``InternalError`` for an engine
    fault — and ``message`` says what went wrong, naming lake files as
    ``lake://bucket/key`` (never the blob paths behind them).
    """

    def __init__(self, message: str, error_type: str = "InvalidArgument") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
