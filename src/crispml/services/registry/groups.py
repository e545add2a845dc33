"""Model package group operations (SageMaker ``CreateModelPackageGroup``, ``DescribeModelPackageGroup``,
``ListModelPackageGroups``, ``DeleteModelPackageGroup``).

A group holds the versions of one model. As on SageMaker, a group that still
has versions cannot be deleted: its versions are named in the refusal.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.registry.core import created_between, get_group, group_arn, group_crn, group_entity, page
from crispml.services.registry.entities import ModelPackageGroupSummary
from crispml.services.registry.errors import ResourceInUse
from crispml.services.registry.specs import (
    CreateModelPackageGroupRequest,
    CreateModelPackageGroupResponse,
    DescribeModelPackageGroupResponse,
    EmptyResponse,
    ListModelPackageGroupsRequest,
    ListModelPackageGroupsResponse,
    ModelPackageGroupRequest,
)
from crispml.services.registry.store import ModelPackageGroupRow, ModelPackageRow
from crispml.spine.operations import RuntimeAccess, operation


class GroupOps(RuntimeAccess):
    """Model package groups: the versions of one model, together."""

    @operation("CreateModelPackageGroup", resource=lambda r: group_crn(r.model_package_group_name))
    def create_model_package_group(self, ctx: CallContext,
                                   request: CreateModelPackageGroupRequest) -> CreateModelPackageGroupResponse:
        """Create a model package group, to which versions of a model are registered."""
        name = request.model_package_group_name
        now = self.clock.now()

        def insert(session: Session) -> None:
            if session.get(ModelPackageGroupRow, name) is not None:
                raise ResourceInUse(f"model package group {name!r} already exists; register versions to it with "
                                    "CreateModelPackage")
            session.add(ModelPackageGroupRow(
                name=name, principal=ctx.principal, description=request.model_package_group_description,
                tags=json.dumps([t.model_dump(mode="json") for t in request.tags]), created_at=now))
        self._writing(insert)
        return CreateModelPackageGroupResponse(model_package_group_arn=group_arn(name))

    @operation("DescribeModelPackageGroup", resource=lambda r: group_crn(r.model_package_group_name),
               mutating=False, positional=("model_package_group_name",))
    def describe_model_package_group(self, ctx: CallContext,
                                     request: ModelPackageGroupRequest) -> DescribeModelPackageGroupResponse:
        """Show a model package group."""
        with self._reading() as session:
            row = get_group(session, request.model_package_group_name)
            return DescribeModelPackageGroupResponse.model_validate(group_entity(row).model_dump())

    @operation("ListModelPackageGroups", resource=lambda r: group_crn(None), mutating=False)
    def list_model_package_groups(self, ctx: CallContext,
                                  request: ListModelPackageGroupsRequest) -> ListModelPackageGroupsResponse:
        """List model package groups, newest first, filtered by name and creation time."""
        query = select(ModelPackageGroupRow)
        if request.name_contains:
            query = query.where(ModelPackageGroupRow.name.contains(request.name_contains, autoescape=True))
        with self._reading() as session:
            rows = [ModelPackageGroupSummary(
                model_package_group_name=r.name, model_package_group_arn=group_arn(r.name),
                model_package_group_description=r.description, creation_time=r.created_at)
                for r in session.scalars(query)]
        rows = created_between(rows, request, lambda r: r.creation_time)
        chosen, token = page(rows, request, {"Name": lambda r: r.model_package_group_name,
                                             "CreationTime": lambda r: (r.creation_time, r.model_package_group_name)})
        return ListModelPackageGroupsResponse(model_package_group_summary_list=chosen, next_token=token)

    @operation("DeleteModelPackageGroup", resource=lambda r: group_crn(r.model_package_group_name),
               positional=("model_package_group_name",))
    def delete_model_package_group(self, ctx: CallContext, request: ModelPackageGroupRequest) -> EmptyResponse:
        """Delete an empty model package group (refused while it has versions, as on SageMaker)."""
        name = request.model_package_group_name

        def delete(session: Session) -> None:
            row = get_group(session, name, lock=True)
            versions = session.scalars(select(ModelPackageRow.version).where(ModelPackageRow.group_name == name)
                                       .order_by(ModelPackageRow.version)).all()
            if versions:
                shown = ", ".join(map(str, versions[:10])) + (" …" if len(versions) > 10 else "")
                raise ResourceInUse(f"model package group {name!r} still has {len(versions)} version(s) ({shown}); "
                                    "a group is deleted once it is empty")
            session.delete(row)
        self._writing(delete)
        return EmptyResponse()
