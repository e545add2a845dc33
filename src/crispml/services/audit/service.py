"""Audit: record every operation call and look them up.

Each call of any operation — allowed or refused, successful or failed —
leaves one event with time, principal, action, resource, request id, source,
outcome, error code and duration. A call that commits a change to the
metadata DB commits its event with it: the spine hands the call a
:class:`PendingEvent`, whose insert rides on the call's first write
transaction (:mod:`crispml.core.metadb.riders`), so a process killed after
that commit cannot leave the change without its event. A call that commits
nothing — a read, a refusal, a failure that rolled back — gets its event
appended in a transaction of its own afterwards, except a read-only call made
inside another call (``GetQueryResults`` reading its results' object): its
event goes with the outer call's, in one transaction, at most
:data:`HANDED_ON` at a time (the events of a ``run_each`` step's read-only
calls too). Work a call leaves running on a thread of its own (a query's run)
gathers the events of its read-only calls the same way
(:meth:`AuditService.gathering`), and they commit with its end state. The one
change ever made to a stored event: a call that failed after its first commit
turns its event (written as a success) into a failure, with the error and the
full duration. The duration of an event carried by a commit runs to that
commit.
Events are listed newest first by event time (the platform clock), as
CloudTrail's LookupEvents does; the id breaks ties. A page token is the
position (time, id) of the last event handed out, so paging never repeats or
skips an event, even while new ones arrive.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, InvalidArgument
from crispml.core.ids import new_id
from crispml.core.metadb.riders import Rider, aside, riding
from crispml.core.names import crn
from crispml.services.audit.entities import AuditEvent
from crispml.services.audit.specs import (
    ListEventsRequest,
    ListEventsResponse,
)
from crispml.services.audit.store import AuditEventRow
from crispml.spine.operations import Service, operation

_MAX_PARAMS = 4096
#: At most this many events of read-only calls wait for the call they run inside; then they are appended.
HANDED_ON = 100
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
    try:
        text = json.dumps(parameters, default=str, sort_keys=True)
    except RecursionError:
        return json.dumps({"truncated": "request parameters nested too deeply to record"})
    return text if len(text) <= _MAX_PARAMS else json.dumps({"truncated": text[:_MAX_PARAMS]})


@functools.cache
def _insert_sql(mark: str) -> str:
    """One event's INSERT for the driver's placeholder ``mark``."""
    marks = ", ".join([mark] * len(_COLUMNS))
    return f"INSERT INTO {AuditEventRow.__tablename__} ({', '.join(_COLUMNS)}) VALUES ({marks})"


@functools.cache
def _fail_sql(mark: str) -> str:
    """A pending event's UPDATE to a failure, for the driver's placeholder ``mark``."""
    return (f"UPDATE {AuditEventRow.__tablename__} SET outcome = 'Failure', error_code = {mark}, "
            f"error_message = {mark}, duration_ms = {mark} WHERE event_id = {mark}")


class PendingEvent:
    """The event of a call in progress: its insert rides on the call's first commit (:attr:`rider`), else
    :meth:`AuditService.finish` appends it when the call ends. A read-only call made inside another call
    (:attr:`parent`, on the same thread) hands its event to that call (:attr:`children`): those handed
    before the call's first commit ride on it too, the rest are appended when the call ends, in one
    transaction."""

    __slots__ = ("_action", "_carried", "_ctx", "_elapsed", "_parameters", "_resource", "_service", "children",
                 "closed", "event_id", "parent", "rider")

    def __init__(self, service: AuditService, ctx: CallContext, action: str, resource: str,
                 parameters: dict[str, Any] | None, elapsed: Callable[[], float],
                 parent: PendingEvent | Gathering | None = None) -> None:
        self.event_id = new_id("evt")
        self._service, self._ctx, self._action, self._resource = service, ctx, action, resource
        self._parameters, self._elapsed = parameters, elapsed
        self.rider = Rider(service.db, _insert_sql(service.db.mark), self._carry, many=True)
        self.parent: PendingEvent | Gathering | None = parent
        #: The values of the events of read-only calls made inside this one, to append with its own.
        self.children: list[tuple[Any, ...]] = []
        self._carried: list[tuple[Any, ...]] = []  # children a boarding took (kept until it is known to have landed)
        self.closed = False

    def _values(self, error: CrispmlError | None = None) -> tuple[Any, ...]:
        return self._service._row(self._ctx, self._action, self._resource, error, self._elapsed(),
                                  self._parameters, self._service.clock.now(), self.event_id)

    def _carry(self) -> list[tuple[Any, ...]]:
        """This call's event and those handed to it so far, for the transaction the rider boards."""
        self._carried, self.children = self._carried + self.children, []
        return [self._values(), *self._carried]

    def left(self, error: CrispmlError | None) -> list[tuple[Any, ...]]:
        """What no commit carried: the children handed on after it, or every event if none landed."""
        return self.children if self.rider.landed else [self._values(error), *self._carried, *self.children]


class Gathering:
    """The events of the read-only calls made on one thread by work a call started and left running (a
    query's run on its worker thread), which has no event of its own to hand them to: they ride on the first
    write transaction that work commits outside a call (:attr:`rider`: the run's end state), else
    :meth:`AuditService.gathering` appends them when the work ends."""

    __slots__ = ("_carried", "children", "closed", "rider")

    def __init__(self, service: AuditService) -> None:
        self.children: list[tuple[Any, ...]] = []
        self.closed = False
        self._carried: list[tuple[Any, ...]] = []
        self.rider = Rider(service.db, _insert_sql(service.db.mark), self._carry, many=True)

    def _carry(self) -> list[tuple[Any, ...]]:
        """The events waiting, for the transaction the rider boards (kept until it is known to have landed)."""
        self._carried, self.children = self._carried + self.children, []
        return self._carried

    def left(self) -> list[tuple[Any, ...]]:
        """What no commit carried."""
        return self.children if self.rider.landed else self._carried + self.children


#: The event of the call running on this thread (the parent of a read-only call made inside it), or the
#: gathering of the work running on it.
_OPEN: ContextVar[PendingEvent | Gathering | None] = ContextVar("crispml_open_event", default=None)


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
        row = self._row(ctx, action, resource, error, duration_ms, parameters, self.clock.now(), new_id("evt"))
        with self.db.cursor(write=True) as cursor:
            cursor.execute(_insert_sql(self.db.mark), row)
        return str(row[0])

    def pending(self, ctx: CallContext, action: str, resource: str, parameters: dict[str, Any] | None,
                elapsed: Callable[[], float], *, read_only: bool = False) -> PendingEvent:
        """The event of a call about to run: make its :attr:`~PendingEvent.rider` current while the call runs
        (:func:`~crispml.core.metadb.riders.riding`) and the event open (:meth:`opened`), then
        :meth:`finish` it. A ``read_only`` call's event goes with the event of the call it runs inside,
        if any: a read that commits nothing has nothing to commit its event with, and one transaction for
        both costs half of two."""
        return PendingEvent(self, ctx, action, resource, parameters, elapsed,
                            parent=_OPEN.get() if read_only else None)

    @contextmanager
    def opened(self, event: PendingEvent) -> Iterator[None]:
        """``event`` is the running call's until the block ends: read-only calls inside hand it theirs."""
        token = _OPEN.set(event)
        try:
            yield
        finally:
            _OPEN.reset(token)

    @contextmanager
    def gathering(self) -> Iterator[None]:
        """Work a call started and left running on this thread (a query's run) until the block ends: the
        read-only calls it makes hand their events to a :class:`Gathering`, whose rider carries them in the
        work's first own write transaction (its calls' writes carry their own events); what none carried is
        appended when the block ends, and at most :data:`HANDED_ON` wait."""
        gathered = Gathering(self)
        token = _OPEN.set(gathered)
        try:
            with riding(gathered.rider):
                yield
        finally:
            _OPEN.reset(token)
            gathered.closed = True
            self._append(gathered.left())

    def finish(self, event: PendingEvent, error: CrispmlError | None) -> None:
        """End a call's event: append it if no commit of the call carried it (with the events handed to it),
        or hand it to its parent call; if a commit carried it and the call then failed, record the failure
        on it."""
        event.closed = True
        if event.rider.landed and error is not None:
            with self.db.cursor(write=True) as cursor:
                cursor.execute(_fail_sql(self.db.mark), (error.code, error.message[:2000],
                                                         round(event._elapsed(), 3), event.event_id))
        self._hand_on(event.parent, event.left(error))

    def _hand_on(self, parent: PendingEvent | Gathering | None, rows: list[tuple[Any, ...]]) -> None:
        """Give ``rows`` to ``parent`` if it is open (appending them once :data:`HANDED_ON` wait), else append
        them now."""
        if not rows:
            return
        if parent is not None and not parent.closed:
            parent.children.extend(rows)
            if len(parent.children) < HANDED_ON:
                return
            rows, parent.children = parent.children, []  # a long call's reads are not all held to its end
        self._append(rows)

    def _append(self, rows: list[tuple[Any, ...]]) -> None:
        """Append events, in one write transaction."""
        if not rows:
            return
        with aside(), self.db.cursor(write=True) as cursor:
            if len(rows) == 1:
                cursor.execute(_insert_sql(self.db.mark), rows[0])
            else:
                cursor.executemany(_insert_sql(self.db.mark), rows)

    def record_many(self, ctx: CallContext, action: str,
                    events: list[tuple[str, CrispmlError | None, dict[str, Any] | None]], *,
                    duration_ms: float, read_only: bool = False) -> None:
        """Append one event per (resource, error, parameters), all in one write transaction: the calls
        of one :meth:`~crispml.platform.Platform.run_each` step (``read_only`` ones are handed to the call
        or work they run inside, as :meth:`pending`'s are)."""
        now = self.clock.now()
        rows = [self._row(ctx, action, resource, error, duration_ms, parameters, now, new_id("evt"))
                for resource, error, parameters in events]
        self._hand_on(_OPEN.get() if read_only else None, rows)

    def _row(self, ctx: CallContext, action: str, resource: str, error: CrispmlError | None, duration_ms: float,
             parameters: dict[str, Any] | None, now: datetime, event_id: str) -> tuple[Any, ...]:
        """One event's values, in :data:`_COLUMNS` order, as the driver takes them."""
        return (
            event_id, self.db.to_driver(_EVENTS.c.event_time)(now), ctx.principal, action, resource,
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
