"""Endpoint operations (SageMaker ``CreateEndpoint``, ``DescribeEndpoint``, ``ListEndpoints``,
``UpdateEndpoint``, ``UpdateEndpointWeightsAndCapacities``, ``DeleteEndpoint``) and SageMaker Runtime's
``InvokeEndpoint``.

The operations write what the caller wants into the endpoint's row and
return at once, as SageMaker does (``Creating``, ``Updating``); the serving
runtime's supervisor (``runtime/supervisor.py``), started on first need,
converges the instances on it and moves the status on (``InService``, or
``Failed`` with the reason). An update keeps the old instances serving until
the new ones pass ``/ping``. Deleting an endpoint removes its row; the
supervisor stops the instances of an endpoint that is gone.

``InvokeEndpoint`` here is the SDK's and the command line's way in: the call
is authorized and audited by the spine, then sent to the runtime front,
exactly as boto3's ``sagemaker-runtime`` client sends it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.services.registry.service import RegistryService
from crispml.services.serving.core import (
    Deployed,
    endpoint_arn,
    endpoint_crn,
    endpoint_entity,
    get_config,
    get_endpoint,
    variant_states,
)
from crispml.services.serving.entities import EndpointSummary
from crispml.services.serving.errors import ResourceInUse, ValidationException
from crispml.services.serving.runtime import control
from crispml.services.serving.specs import (
    CreateEndpointRequest,
    DescribeEndpointResponse,
    DescribeRuntimeResponse,
    EmptyResponse,
    EndpointArnResponse,
    EndpointRequest,
    InvokeEndpointRequest,
    InvokeEndpointResponse,
    ListEndpointsRequest,
    ListEndpointsResponse,
    RuntimeRequest,
    UpdateEndpointRequest,
    UpdateEndpointWeightsAndCapacitiesRequest,
)
from crispml.services.serving.store import EndpointRow, InstanceRow
from crispml.spine.operations import RuntimeAccess, operation

_SETTLED = ("InService", "Failed")


class EndpointOps(RuntimeAccess):
    """Endpoints: a configuration deployed, kept running by the serving runtime."""

    def _models_of(self, ctx: CallContext, deployed: Deployed) -> list[str]:
        registry = self.peer(RegistryService)
        for model in dict.fromkeys(deployed.models()):
            registry.deployable(ctx, model)  # still there, and not a version rejected since the config was made
        return deployed.models()

    @operation("CreateEndpoint", resource=lambda r: endpoint_crn(r.endpoint_name))
    def create_endpoint(self, ctx: CallContext, request: CreateEndpointRequest) -> EndpointArnResponse:
        """Deploy an endpoint configuration as an endpoint; it answers once it is InService."""
        with self._reading() as session:
            if session.get(EndpointRow, request.endpoint_name) is not None:
                raise ResourceInUse(f"endpoint {request.endpoint_name!r} already exists; change it with "
                                    "update-endpoint, or delete it first")
            config = get_config(session, request.endpoint_config_name)
            deployed = Deployed(config.definition)
        models = self._models_of(ctx, deployed)
        now = self.clock.now()

        def insert(session: Session) -> None:
            if session.get(EndpointRow, request.endpoint_name) is not None:
                raise ResourceInUse(f"endpoint {request.endpoint_name!r} already exists")
            session.add(EndpointRow(
                name=request.endpoint_name, principal=ctx.principal, config_name=config.name,
                definition=json.dumps(deployed.document), generation=1, status="Creating",
                variants=json.dumps(variant_states(deployed)),
                tags=json.dumps([t.model_dump(mode="json") for t in request.tags]), created_at=now,
                modified_at=now))
        self._writing(insert)
        self.peer(RegistryService).use_models(request.endpoint_name, models)
        control.needed(self.runtime)
        return EndpointArnResponse(endpoint_arn=endpoint_arn(request.endpoint_name))

    @operation("DescribeEndpoint", resource=lambda r: endpoint_crn(r.endpoint_name), mutating=False,
               positional=("endpoint_name",))
    def describe_endpoint(self, ctx: CallContext, request: EndpointRequest) -> DescribeEndpointResponse:
        """Show an endpoint: its status, each variant's weights and instances, its capture, where it answers."""
        with self._reading() as session:
            row = get_endpoint(session, request.endpoint_name)
            instances = list(session.scalars(select(InstanceRow).where(InstanceRow.endpoint == row.name)
                                             .order_by(InstanceRow.variant, InstanceRow.instance_id)))
        url = control.runtime_url(self.runtime)
        images = self._images(ctx, [v["model_name"] for v in json.loads(row.variants)])
        return DescribeEndpointResponse.model_validate(endpoint_entity(row, instances, url, images).model_dump())

    def _images(self, ctx: CallContext, models: list[str]) -> dict[str, str]:
        registry = self.peer(RegistryService)
        found = {}
        for model in dict.fromkeys(models):
            try:
                found[model] = registry.container_of(ctx, model)[0]
            except Exception:
                continue
        return found

    @operation("ListEndpoints", resource=lambda r: endpoint_crn(None), mutating=False)
    def list_endpoints(self, ctx: CallContext, request: ListEndpointsRequest) -> ListEndpointsResponse:
        """List endpoints, newest first, filtered by name, status and times."""
        query = select(EndpointRow.name, EndpointRow.status, EndpointRow.created_at, EndpointRow.modified_at)
        if request.name_contains:
            query = query.where(EndpointRow.name.contains(request.name_contains, autoescape=True))
        if request.status_equals:
            query = query.where(EndpointRow.status == request.status_equals)
        with self._reading() as session:
            rows = [EndpointSummary(endpoint_name=n, endpoint_arn=endpoint_arn(n), endpoint_status=s,  # type: ignore[arg-type]
                                    creation_time=c, last_modified_time=m) for n, s, c, m in session.execute(query)]

        def within(value: Any, after: Any, before: Any) -> bool:
            return (after is None or value > after) and (before is None or value < before)
        rows = [r for r in rows if within(r.creation_time, request.creation_time_after, request.creation_time_before)
                and within(r.last_modified_time, request.last_modified_time_after,
                           request.last_modified_time_before)]
        keys = {"Name": lambda r: r.endpoint_name, "CreationTime": lambda r: (r.creation_time, r.endpoint_name),
                "Status": lambda r: (r.endpoint_status, r.endpoint_name)}
        rows.sort(key=keys[request.sort_by], reverse=request.sort_order == "Descending")
        chosen, token = paging.offset_page(rows, request.next_token, request.max_results, ValidationException)
        return ListEndpointsResponse(endpoints=chosen, next_token=token)

    @operation("UpdateEndpoint", resource=lambda r: endpoint_crn(r.endpoint_name))
    def update_endpoint(self, ctx: CallContext, request: UpdateEndpointRequest) -> EndpointArnResponse:
        """Deploy another configuration on an endpoint with no downtime: the new instances start and pass
        /ping, then take the traffic, then the old ones drain."""
        with self._reading() as session:
            config = get_config(session, request.endpoint_config_name)
            deployed = Deployed(config.definition)
        models = self._models_of(ctx, deployed)
        now = self.clock.now()
        old_models: list[str] = []

        def update(session: Session) -> None:
            row = get_endpoint(session, request.endpoint_name, lock=True)
            _check_settled(row, "UpdateEndpoint")
            states = variant_states(deployed)
            if request.retain_all_variant_properties:
                before = {s["variant_name"]: s for s in json.loads(row.variants)}
                for state in states:
                    kept = before.get(state["variant_name"])
                    if kept is not None:
                        state["desired_weight"] = kept["desired_weight"]
                        state["desired_instance_count"] = kept["desired_instance_count"]
            old_models.extend(Deployed(row.definition).models())
            row.pending_config = config.name
            row.pending_definition = json.dumps({**deployed.document, "variants": states})
            row.generation += 1
            row.status = "Updating"
            row.failure_reason = None
            row.modified_at = now
        self._writing(update)
        self.peer(RegistryService).use_models(request.endpoint_name, [*old_models, *models])
        control.needed(self.runtime)
        return EndpointArnResponse(endpoint_arn=endpoint_arn(request.endpoint_name))

    @operation("UpdateEndpointWeightsAndCapacities", resource=lambda r: endpoint_crn(r.endpoint_name))
    def update_endpoint_weights_and_capacities(
            self, ctx: CallContext, request: UpdateEndpointWeightsAndCapacitiesRequest) -> EndpointArnResponse:
        """Change variants' weights (at once) and instance counts (as instances start or drain)."""
        now = self.clock.now()

        def update(session: Session) -> None:
            row = get_endpoint(session, request.endpoint_name, lock=True)
            _check_settled(row, "UpdateEndpointWeightsAndCapacities")
            states = json.loads(row.variants)
            by_name = {s["variant_name"]: s for s in states}
            for item in request.desired_weights_and_capacities:
                state = by_name.get(item.variant_name)
                if state is None:
                    raise ValidationException(f"endpoint {row.name!r} has no variant {item.variant_name!r} (its "
                                              f"variants: {', '.join(by_name)})")
                if item.desired_weight is not None:
                    state["desired_weight"] = state["current_weight"] = item.desired_weight
                if item.desired_instance_count is not None:
                    state["desired_instance_count"] = item.desired_instance_count
            if sum(s["desired_weight"] for s in states if not s.get("shadow")) <= 0:
                raise ValidationException("at least one production variant needs a weight above 0")
            row.variants = json.dumps(states)
            row.status = "Updating"
            row.modified_at = now
        self._writing(update)
        control.needed(self.runtime)
        return EndpointArnResponse(endpoint_arn=endpoint_arn(request.endpoint_name))

    @operation("DeleteEndpoint", resource=lambda r: endpoint_crn(r.endpoint_name), positional=("endpoint_name",))
    def delete_endpoint(self, ctx: CallContext, request: EndpointRequest) -> EmptyResponse:
        """Delete an endpoint: it stops answering and its instances stop."""
        def delete(session: Session) -> None:
            session.delete(get_endpoint(session, request.endpoint_name, lock=True))
        self._writing(delete)
        self.peer(RegistryService).use_models(request.endpoint_name, [])
        control.poke(self.runtime)
        return EmptyResponse()

    # -- SageMaker Runtime ---------------------------------------------------------------------------------

    @operation("InvokeEndpoint", resource=lambda r: endpoint_crn(r.endpoint_name), mutating=False,
               positional=("endpoint_name",), outfile=True)
    def invoke_endpoint(self, ctx: CallContext, request: InvokeEndpointRequest) -> InvokeEndpointResponse:
        """Send a request to an endpoint's model and return its answer (SageMaker Runtime)."""
        with self._reading() as session:
            get_endpoint(session, request.endpoint_name)
        return control.invoke(self.runtime, request)

    # -- the runtime (crispml) -----------------------------------------------------------------------------

    @operation("StartRuntime", resource=lambda r: endpoint_crn(None))
    def start_runtime(self, ctx: CallContext, request: RuntimeRequest) -> DescribeRuntimeResponse:
        """Start the serving runtime (the front on 127.0.0.1 and its supervisor) if it does not run; endpoint
        operations start it on first need."""
        control.ensure_running(self.runtime)
        return control.describe(self.runtime)

    @operation("StopRuntime", resource=lambda r: endpoint_crn(None))
    def stop_runtime(self, ctx: CallContext, request: RuntimeRequest) -> DescribeRuntimeResponse:
        """Stop the serving runtime and every instance (endpoints stay recorded, and run again when it
        starts)."""
        control.stop(self.runtime)
        return control.describe(self.runtime)

    @operation("DescribeRuntime", resource=lambda r: endpoint_crn(None), mutating=False)
    def describe_runtime(self, ctx: CallContext, request: RuntimeRequest) -> DescribeRuntimeResponse:
        """Whether the serving runtime runs, and where its front listens."""
        return control.describe(self.runtime)


def _check_settled(row: EndpointRow, action: str) -> None:
    if row.status not in _SETTLED:
        raise ValidationException(f"cannot {action} endpoint {row.name!r} while it is {row.status}; wait until it "
                                  "is InService (crispml serving wait-endpoint)")
