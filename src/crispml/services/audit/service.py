"""Audit: record every operation call and look them up.

Each call of any operation — allowed or refused, successful or failed —
leaves one event with time, principal, action, resource, request id, source,
outcome, error code and duration. Events are appended in their own
transaction, so a failed operation that rolled back is still recorded.
Events are listed newest first by event time (the platform clock), as
CloudTrail's LookupEvents does; the id breaks ties. A page token is the
position (time, id) of the last event handed out, so paging never repeats or
skips an event, even while new ones arrive.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, InvalidArgument
from crispml.core.ids import new_id
from crispml.core.names import crn
from crispml.services.audit.entities import AuditEvent
from crispml.services.audit.specs import (
    ListEventsRequest,
    ListEventsResponse,
)
from crispml.services.audit.store import AuditEventRow
from crispml.spine.operations import Service, operation

_MAX_PARAMS = 4096
_EVENTS = AuditEventRow.__table__
#: The columns :meth:`AuditService.record` writes, in its plain INSERT's order.
_COLUMNS = ("event_id", "event_time", "principal", "action", "resource", "request_id", "source", "outcome",
            "error_code", "error_message", "duration_ms", "request_parameters")


def _entity(row: AuditEventRow) -> AuditEvent:
    params = json.loads(row.request_parameters) if row.request_parameters else None
    return AuditEvent(
        event_id=row.event_id, event_time=row.event_time, principal=row.principal,
        action=row.action, resource=row.resource, request_id=row.request_id, source=row.source,
        outcome=row.outcome, error_code=row.error_code, error_message=row.error_message,
        duration_ms=row.duration_ms, request_parameters=params,
    )


def summarize(parameters: dict[str, Any] | None) -> str | None:
    """Request parameters as stored: JSON, cut to a bounded size."""
    if not parameters:
        return None
    text = json.dumps(parameters, default=str, sort_keys=True)
    return text if len(text) <= _MAX_PARAMS else json.dumps({"truncated": text[:_MAX_PARAMS]})


@functools.cache
def _insert_sql(mark: str) -> str:
    """One event's INSERT for the driver's placeholder ``mark``."""
    marks = ", ".join([mark] * len(_COLUMNS))
    return f"INSERT INTO {AuditEventRow.__tablename__} ({', '.join(_COLUMNS)}) VALUES ({marks})"

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "AuditService", "ListEventsRequest"
]


class AuditService(Service):
    name = "audit"

    def record(
        self, ctx: CallContext, action: str, resource: str, *, error: CrispmlError | None,
        duration_ms: float, parameters: dict[str, Any] | None = None,
    ) -> str:
        """Append one event; return its id."""
        # Every call pays for this insert, so it is plain SQL on the driver's cursor (Database.cursor),
        # in its own write transaction.
        row = self._row(ctx, action, resource, error, duration_ms, parameters, self.clock.now())
        with self.db.cursor(write=True) as cursor:
            cursor.execute(_insert_sql(self.db.mark), row)
        return str(row[0])

    def record_many(self, ctx: CallContext, action: str,
                    events: list[tuple[str, CrispmlError | None, dict[str, Any] | None]], *,
                    duration_ms: float) -> None:
        """Append one event per (resource, error, parameters), all in one write transaction: the calls
        of one :meth:`~crispml.platform.Platform.run_each` step."""
        now = self.clock.now()
        rows = [self._row(ctx, action, resource, error, duration_ms, parameters, now)
                for resource, error, parameters in events]
        if rows:
            with self.db.cursor(write=True) as cursor:
                cursor.executemany(_insert_sql(self.db.mark), rows)

    def _row(self, ctx: CallContext, action: str, resource: str, error: CrispmlError | None, duration_ms: float,
             parameters: dict[str, Any] | None, now: datetime) -> tuple[Any, ...]:
        """One event's values, in :data:`_COLUMNS` order, as the driver takes them."""
        return (
            new_id("evt"), self.db.to_driver(_EVENTS.c.event_time)(now), ctx.principal, action, resource,
            ctx.request_id, ctx.source, "Failure" if error else "Success", error.code if error else None,
            error.message[:2000] if error else None, round(duration_ms, 3), summarize(parameters),
        )

    def call_statistics(
        self, action: str | None, start: datetime | None, end: datetime | None
    ) -> list[tuple[str, int, int, float, float]]:
        """(action, calls, errors, average ms, max ms) per action, from the record."""
        e = AuditEventRow
        query = select(
            e.action, func.count(), func.sum(case((e.outcome == "Failure", 1), else_=0)),
            func.avg(e.duration_ms), func.max(e.duration_ms),
        ).group_by(e.action).order_by(e.action)
        query = _filter_action(query, action)
        if start:
            query = query.where(e.event_time >= _aware(start))
        if end:
            query = query.where(e.event_time < _aware(end))
        with self.db.read() as session:
            return [
                (a, int(n), int(err or 0), float(avg or 0), float(mx or 0))
                for a, n, err, avg, mx in session.execute(query).all()
            ]

    @operation("ListEvents", resource=lambda r: crn("audit", "event/*"), mutating=False)
    def list_events(self, ctx: CallContext, request: ListEventsRequest) -> ListEventsResponse:
        """List audit events, newest first, filtered by action, principal, time and outcome."""
        e = AuditEventRow
        query = select(e).order_by(e.event_time.desc(), e.event_id.desc())
        query = _filter_action(query, request.action)
        if request.principal:
            query = query.where(AuditEventRow.principal == request.principal)
        if request.start_time:
            query = query.where(AuditEventRow.event_time >= _aware(request.start_time))
        if request.end_time:
            query = query.where(AuditEventRow.event_time < _aware(request.end_time))
        if request.outcome:
            query = query.where(AuditEventRow.outcome == request.outcome)
        if request.next_token:
            time, event_id = _decode_token(request.next_token)
            query = query.where(or_(e.event_time < time, and_(e.event_time == time, e.event_id < event_id)))
        with self.db.read() as session:
            rows = list(session.scalars(query.limit(request.max_results + 1)))
        more = len(rows) > request.max_results
        rows = rows[: request.max_results]
        return ListEventsResponse(
            events=[_entity(r) for r in rows], next_token=_encode_token(rows[-1]) if more else None
        )


def _encode_token(row: AuditEventRow) -> str:
    return paging.encode_token({"t": _aware(row.event_time).isoformat(), "id": row.event_id})


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        position = paging.decode_token(token)
        return datetime.fromisoformat(position["t"]), str(position["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(
            "next_token is not a token from ListEvents; pass the one from the previous page"
        ) from exc


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _filter_action(query: Any, action: str | None) -> Any:
    if not action:
        return query
    if action.endswith("*"):
        return query.where(AuditEventRow.action.startswith(action[:-1]))
    return query.where(AuditEventRow.action == action)
