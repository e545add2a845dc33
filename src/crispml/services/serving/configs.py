"""Endpoint configuration operations (SageMaker ``CreateEndpointConfig``, ``DescribeEndpointConfig``,
``ListEndpointConfigs``, ``DeleteEndpointConfig``).

A configuration names the models its variants serve; each must exist (and
not be a rejected model package version) when the configuration is created,
as SageMaker checks. It never changes; an endpoint copies the definition it
deploys, so a configuration may be deleted while an endpoint still runs it,
as on SageMaker.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.services.registry.service import ModelRequest, RegistryService
from crispml.services.serving.core import config_arn, config_crn, get_config
from crispml.services.serving.entities import EndpointConfigSummary
from crispml.services.serving.errors import ResourceInUse, ValidationException
from crispml.services.serving.specs import (
    CreateEndpointConfigRequest,
    CreateEndpointConfigResponse,
    DescribeEndpointConfigResponse,
    EmptyResponse,
    EndpointConfigRequest,
    ListEndpointConfigsRequest,
    ListEndpointConfigsResponse,
)
from crispml.services.serving.store import EndpointConfigRow
from crispml.spine.operations import RuntimeAccess, operation


class ConfigOps(RuntimeAccess):
    """Endpoint configurations: which models serve, with what weights, instances and capture."""

    def _check_models(self, ctx: CallContext, models: list[str]) -> None:
        registry = self.peer(RegistryService)
        for model in dict.fromkeys(models):
            registry.describe_model(ctx, ModelRequest(model_name=model))  # exists, and ctx may read it
            registry.deployable(ctx, model)

    @operation("CreateEndpointConfig", resource=lambda r: config_crn(r.endpoint_config_name))
    def create_endpoint_config(self, ctx: CallContext,
                               request: CreateEndpointConfigRequest) -> CreateEndpointConfigResponse:
        """Create an endpoint configuration: production variants (model, instances, weight), an optional
        shadow variant and data capture."""
        with self._reading() as session:
            if session.get(EndpointConfigRow, request.endpoint_config_name) is not None:
                raise ResourceInUse(f"endpoint configuration {request.endpoint_config_name!r} already exists; "
                                    "configurations never change: create one with another name")
        self._check_models(ctx, [v.model_name for v in
                                 (*request.production_variants, *request.shadow_production_variants)])
        definition = request.model_dump(mode="json", exclude={"endpoint_config_name"})
        now = self.clock.now()

        def insert(session: Session) -> None:
            if session.get(EndpointConfigRow, request.endpoint_config_name) is not None:
                raise ResourceInUse(f"endpoint configuration {request.endpoint_config_name!r} already exists")
            session.add(EndpointConfigRow(name=request.endpoint_config_name, principal=ctx.principal,
                                          definition=json.dumps(definition), created_at=now))
        self._writing(insert)
        return CreateEndpointConfigResponse(endpoint_config_arn=config_arn(request.endpoint_config_name))

    @operation("DescribeEndpointConfig", resource=lambda r: config_crn(r.endpoint_config_name), mutating=False,
               positional=("endpoint_config_name",))
    def describe_endpoint_config(self, ctx: CallContext,
                                 request: EndpointConfigRequest) -> DescribeEndpointConfigResponse:
        """Show an endpoint configuration: its variants, shadow variant and data capture."""
        with self._reading() as session:
            row = get_config(session, request.endpoint_config_name)
            definition = json.loads(row.definition)
            return DescribeEndpointConfigResponse(
                endpoint_config_name=row.name, endpoint_config_arn=config_arn(row.name),
                production_variants=definition["production_variants"],
                shadow_production_variants=definition.get("shadow_production_variants") or [],
                data_capture_config=definition.get("data_capture_config"), kms_key_id=definition.get("kms_key_id"),
                creation_time=row.created_at)

    @operation("ListEndpointConfigs", resource=lambda r: config_crn(None), mutating=False)
    def list_endpoint_configs(self, ctx: CallContext,
                              request: ListEndpointConfigsRequest) -> ListEndpointConfigsResponse:
        """List endpoint configurations, newest first, filtered by name and creation time."""
        query = select(EndpointConfigRow.name, EndpointConfigRow.created_at)
        if request.name_contains:
            query = query.where(EndpointConfigRow.name.contains(request.name_contains, autoescape=True))
        with self._reading() as session:
            rows = [EndpointConfigSummary(endpoint_config_name=n, endpoint_config_arn=config_arn(n), creation_time=t)
                    for n, t in session.execute(query)]
        after, before = request.creation_time_after, request.creation_time_before
        rows = [r for r in rows if (after is None or r.creation_time > after)
                and (before is None or r.creation_time < before)]
        rows.sort(key=(lambda r: r.endpoint_config_name) if request.sort_by == "Name"
                  else (lambda r: (r.creation_time, r.endpoint_config_name)),
                  reverse=request.sort_order == "Descending")
        chosen, token = paging.offset_page(rows, request.next_token, request.max_results, ValidationException)
        return ListEndpointConfigsResponse(endpoint_configs=chosen, next_token=token)

    @operation("DeleteEndpointConfig", resource=lambda r: config_crn(r.endpoint_config_name),
               positional=("endpoint_config_name",))
    def delete_endpoint_config(self, ctx: CallContext, request: EndpointConfigRequest) -> EmptyResponse:
        """Delete an endpoint configuration (an endpoint running it keeps running, as on SageMaker)."""
        def delete(session: Session) -> None:
            session.delete(get_config(session, request.endpoint_config_name))
        self._writing(delete)
        return EmptyResponse()
