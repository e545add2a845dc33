"""Workgroup operations (Athena): create, get, list, update, delete; and the ``primary`` workgroup.

A workgroup holds the settings its queries run with: where results go, whether
its settings override the client's (``EnforceWorkGroupConfiguration``), the
bytes-scanned cutoff per query, the query timeout (``QueryTimeoutInMinutes``,
Athena's DML query timeout: 30 minutes unless set), and whether per-query
metrics are published.
As in Athena, ``primary`` always exists — it is created on first use, with
results in ``lake://crispml-query-results/`` and no cutoff — and cannot be
deleted. A ``DISABLED`` workgroup refuses new queries. Deleting a workgroup
that has query history needs ``RecursiveDeleteOption``, which deletes the
history too (result files stay in the lake).
"""

from __future__ import annotations

import difflib
import json

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.query.entities import WorkGroup, WorkGroupConfiguration, WorkGroupSummary
from crispml.services.query.errors import (
    InvalidRequestException,
    WorkGroupAlreadyExists,
)
from crispml.services.query.specs import (
    PRIMARY,
    CreateWorkGroupRequest,
    DeleteWorkGroupRequest,
    EmptyResponse,
    GetWorkGroupResponse,
    ListWorkGroupsRequest,
    ListWorkGroupsResponse,
    UpdateWorkGroupRequest,
    WorkGroupRequest,
)
from crispml.services.query.store import NamedQueryRow, PreparedStatementRow, QueryExecutionRow, WorkGroupRow
from crispml.spine.operations import RuntimeAccess, operation

#: Where the primary workgroup's results go (the bucket is made on first use).
DEFAULT_OUTPUT = "lake://crispml-query-results/"


def workgroup_crn(name: str | None) -> str:
    return crn("query", f"workgroup/{name or '*'}")


def decode_token(token: str | None) -> object:
    """The position a NextToken stands for (None on the first page)."""
    if token is None:
        return None
    try:
        return paging.decode_token(token)
    except ValueError as exc:
        raise InvalidRequestException("NextToken is not valid; pass the one the previous page returned") from exc


class WorkGroupOps(RuntimeAccess):
    """Workgroups, and the lookups the other operation groups share."""

    @operation("CreateWorkGroup", resource=lambda r: workgroup_crn(r.name))
    def create_work_group(self, ctx: CallContext, request: CreateWorkGroupRequest) -> EmptyResponse:
        """Create a workgroup: its results location, bytes-scanned cutoff and metrics setting."""
        self._ensure_primary()
        exists = WorkGroupAlreadyExists(f"workgroup {request.name!r} already exists")

        def work(session: Session) -> None:
            if session.get(WorkGroupRow, request.name) is not None:
                raise exists
            session.add(WorkGroupRow(
                name=request.name, state="ENABLED", description=request.description,
                configuration=request.configuration.stored().model_dump_json(),
                tags=json.dumps([t.model_dump() for t in request.tags]), created_at=self.clock.now()))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise exists from exc
        return EmptyResponse()

    @operation("GetWorkGroup", resource=lambda r: workgroup_crn(r.work_group), mutating=False)
    def get_work_group(self, ctx: CallContext, request: WorkGroupRequest) -> GetWorkGroupResponse:
        """Show a workgroup: state, configuration, description."""
        self._ensure_primary()
        with self._reading() as session:
            return GetWorkGroupResponse(work_group=_entity(self._workgroup(session, request.work_group)))

    @operation("ListWorkGroups", resource=lambda r: workgroup_crn(None), mutating=False)
    def list_work_groups(self, ctx: CallContext, request: ListWorkGroupsRequest) -> ListWorkGroupsResponse:
        """List workgroups by name, a page at a time."""
        self._ensure_primary()
        after = decode_token(request.next_token)
        query = select(WorkGroupRow).order_by(WorkGroupRow.name).limit(request.max_results + 1)
        if after is not None:
            query = query.where(WorkGroupRow.name > str(after))
        with self._reading() as session:
            rows = list(session.scalars(query))
        page = rows[:request.max_results]
        return ListWorkGroupsResponse(
            work_groups=[WorkGroupSummary.model_validate({
                "name": r.name, "state": r.state, "description": r.description, "creation_time": r.created_at,
            }) for r in page],
            next_token=paging.encode_token(page[-1].name) if len(rows) > len(page) else None)

    @operation("UpdateWorkGroup", resource=lambda r: workgroup_crn(r.work_group))
    def update_work_group(self, ctx: CallContext, request: UpdateWorkGroupRequest) -> EmptyResponse:
        """Change a workgroup's state, description or configuration; fields left out keep their value."""
        self._ensure_primary()

        def work(session: Session) -> None:
            row = self._workgroup(session, request.work_group, lock=True)
            if request.state is not None:
                row.state = request.state
            if request.description is not None:
                row.description = request.description
            updates = request.configuration_updates
            if updates is None:
                return
            config = WorkGroupConfiguration.model_validate_json(row.configuration)
            if updates.enforce_work_group_configuration is not None:
                config.enforce_work_group_configuration = updates.enforce_work_group_configuration
            if updates.publish_cloud_watch_metrics_enabled is not None:
                config.publish_cloud_watch_metrics_enabled = updates.publish_cloud_watch_metrics_enabled
            if updates.bytes_scanned_cutoff_per_query is not None:
                config.bytes_scanned_cutoff_per_query = updates.bytes_scanned_cutoff_per_query
            if updates.query_timeout_in_minutes is not None:
                config.query_timeout_in_minutes = updates.query_timeout_in_minutes
            if updates.remove_bytes_scanned_cutoff_per_query:
                config.bytes_scanned_cutoff_per_query = None
            results = updates.result_configuration_updates
            if results is not None and results.output_location:
                config.result_configuration.output_location = results.output_location
            if results is not None and results.remove_output_location:
                config.result_configuration.output_location = None
            row.configuration = config.model_dump_json()

        self._writing(work)
        return EmptyResponse()

    @operation("DeleteWorkGroup", resource=lambda r: workgroup_crn(r.work_group))
    def delete_work_group(self, ctx: CallContext, request: DeleteWorkGroupRequest) -> EmptyResponse:
        """Delete a workgroup (not primary); with RecursiveDeleteOption also its query history."""
        if request.work_group == PRIMARY:
            raise InvalidRequestException("the primary workgroup cannot be deleted; disable it with "
                                          "UpdateWorkGroup --state DISABLED instead")

        def work(session: Session) -> None:
            row = self._workgroup(session, request.work_group, lock=True)
            held = session.scalar(select(func.count()).select_from(QueryExecutionRow)
                                  .where(QueryExecutionRow.workgroup == row.name)) or 0
            named = session.scalar(select(func.count()).select_from(NamedQueryRow)
                                   .where(NamedQueryRow.workgroup == row.name)) or 0
            if (held or named) and not request.recursive_delete_option:
                raise InvalidRequestException(
                    f"workgroup {row.name!r} holds {held} query executions and {named} named queries; delete it "
                    "with RecursiveDeleteOption to delete them too (result files stay in the lake)")
            for kind in (QueryExecutionRow, NamedQueryRow, PreparedStatementRow):
                for item in session.scalars(select(kind).where(kind.workgroup == row.name)):
                    session.delete(item)  # a query still running sees its row gone and stops
            session.delete(row)

        self._writing(work)
        return EmptyResponse()

    # -- shared lookups -------------------------------------------------------------------------

    def _ensure_primary(self) -> None:
        """Create the primary workgroup if this home has none yet."""
        with self._reading() as session:
            if session.get(WorkGroupRow, PRIMARY) is not None:
                return
        config = WorkGroupConfiguration.model_validate({
            "result_configuration": {"output_location": DEFAULT_OUTPUT},
            "enforce_work_group_configuration": False})

        def work(session: Session) -> None:
            if session.get(WorkGroupRow, PRIMARY) is None:
                session.add(WorkGroupRow(name=PRIMARY, state="ENABLED", description="The default workgroup",
                                         configuration=config.model_dump_json(), tags="[]",
                                         created_at=self.clock.now()))

        self._writing(work)

    @staticmethod
    def _workgroup(session: Session, name: str, *, lock: bool = False) -> WorkGroupRow:
        row = session.get(WorkGroupRow, name, with_for_update=lock)
        if row is None:
            names = session.scalars(select(WorkGroupRow.name)).all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise InvalidRequestException(  # Athena's code for a missing workgroup, not ResourceNotFoundException
                f"workgroup {name!r} does not exist{hint}; list them with 'crispml query list-work-groups'")
        return row


def _entity(row: WorkGroupRow) -> WorkGroup:
    return WorkGroup.model_validate({
        "name": row.name, "state": row.state, "description": row.description, "creation_time": row.created_at,
        "configuration": WorkGroupConfiguration.model_validate_json(row.configuration)})


def configuration_of(row: WorkGroupRow) -> WorkGroupConfiguration:
    return WorkGroupConfiguration.model_validate_json(row.configuration)
