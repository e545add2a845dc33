"""Shared machinery of the serving operations: ARNs and CRNs, lookups with helpful misses, and row → entity
mappings."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.names import crn
from crispml.services.serving.entities import (
    DataCaptureConfig,
    DataCaptureConfigSummary,
    DeployedImage,
    Endpoint,
    InstanceSummary,
    ProductionVariant,
    ProductionVariantSummary,
)
from crispml.services.serving.errors import ResourceNotFound
from crispml.services.serving.store import EndpointConfigRow, EndpointRow, InstanceRow

PREFIX = "arn:aws:sagemaker:us-east-1:000000000000"


def config_arn(name: str) -> str:
    return f"{PREFIX}:endpoint-config/{name.lower()}"


def endpoint_arn(name: str) -> str:
    return f"{PREFIX}:endpoint/{name.lower()}"


def config_crn(name: str | None) -> str:
    return crn("serving", f"endpoint-config/{name or '*'}")


def endpoint_crn(name: str | None) -> str:
    return crn("serving", f"endpoint/{name or '*'}")


def _missing(what: str, name: str, known: Sequence[str], listing: str) -> ResourceNotFound:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return ResourceNotFound(f"{what} {name!r} does not exist{hint}; list them with 'crispml serving {listing}'")


def get_config(session: Session, name: str) -> EndpointConfigRow:
    row = session.get(EndpointConfigRow, name)
    if row is None:
        raise _missing("endpoint configuration", name, session.scalars(select(EndpointConfigRow.name)).all(),
                       "list-endpoint-configs")
    return row


def get_endpoint(session: Session, name: str, *, lock: bool = False) -> EndpointRow:
    row = session.get(EndpointRow, name, with_for_update=lock)
    if row is None:
        raise _missing("endpoint", name, session.scalars(select(EndpointRow.name)).all(), "list-endpoints")
    return row


class Deployed:
    """An endpoint configuration's definition, as recorded (the CreateEndpointConfig request but its name)."""

    def __init__(self, document: str | dict[str, Any]) -> None:
        self.document: dict[str, Any] = json.loads(document) if isinstance(document, str) else document
        self.production = [ProductionVariant.model_validate(v) for v in self.document["production_variants"]]
        self.shadow = [ProductionVariant.model_validate(v) for v in self.document.get("shadow_production_variants")
                       or []]
        capture = self.document.get("data_capture_config")
        self.capture = DataCaptureConfig.model_validate(capture) if capture else None

    @property
    def variants(self) -> list[ProductionVariant]:
        return [*self.production, *self.shadow]

    def models(self) -> list[str]:
        return [v.model_name for v in self.variants]


def variant_states(deployed: Deployed) -> list[dict[str, Any]]:
    """An endpoint's ``variants`` document for a new deployment: desired as configured, nothing current."""
    return [{"variant_name": v.variant_name, "model_name": v.model_name, "shadow": v in deployed.shadow,
             "desired_weight": v.initial_variant_weight, "desired_instance_count": v.initial_instance_count,
             "current_weight": v.initial_variant_weight, "current_instance_count": 0}
            for v in deployed.variants]


def endpoint_entity(row: EndpointRow, instances: list[InstanceRow], runtime_url: str | None,
                    images: dict[str, str] | None = None) -> Endpoint:
    deployed = Deployed(row.definition)
    by_variant: dict[str, list[InstanceRow]] = {}
    for instance in instances:
        if instance.generation == row.generation or instance.status != "Pending":
            by_variant.setdefault(instance.variant, []).append(instance)
    summaries: dict[bool, list[ProductionVariantSummary]] = {False: [], True: []}
    for state in json.loads(row.variants):
        mine = by_variant.get(state["variant_name"], [])
        image = (images or {}).get(state["model_name"])
        summaries[bool(state.get("shadow"))].append(ProductionVariantSummary(
            variant_name=state["variant_name"], model_name=state["model_name"],
            deployed_images=[DeployedImage(specified_image=image, resolved_image=image,
                                           resolution_time=row.modified_at)] if image else [],
            current_weight=state["current_weight"], desired_weight=state["desired_weight"],
            current_instance_count=state["current_instance_count"],
            desired_instance_count=state["desired_instance_count"],
            instances=[InstanceSummary(instance_id=i.instance_id, status=i.status,  # type: ignore[arg-type]
                                       address=f"http://127.0.0.1:{i.port}" if i.port else None, pid=i.pid,
                                       restarts=i.restarts, last_error=i.last_error) for i in mine]))
    capture = None
    if deployed.capture is not None:
        capture = DataCaptureConfigSummary(
            enable_capture=deployed.capture.enable_capture,
            capture_status="Started" if deployed.capture.enable_capture else "Stopped",
            current_sampling_percentage=deployed.capture.initial_sampling_percentage,
            destination_s3_uri=deployed.capture.destination_s3_uri, kms_key_id=deployed.capture.kms_key_id)
    return Endpoint(endpoint_name=row.name, endpoint_arn=endpoint_arn(row.name), endpoint_config_name=row.config_name,
                    production_variants=summaries[False], shadow_production_variants=summaries[True],
                    data_capture_config=capture, endpoint_status=row.status,  # type: ignore[arg-type]
                    failure_reason=row.failure_reason, creation_time=row.created_at,
                    last_modified_time=row.modified_at,
                    runtime_url=f"{runtime_url}/endpoints/{row.name}" if runtime_url else None)
