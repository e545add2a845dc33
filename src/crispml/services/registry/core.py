"""Shared machinery of the registry operations: ARNs and CRNs, lookups with helpful misses, row → entity
mappings, and one paging helper for the List operations."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.names import crn
from crispml.services.registry.entities import (
    ApprovalChange,
    ContainerDefinition,
    InferenceSpecification,
    Model,
    ModelCard,
    ModelMetrics,
    ModelPackage,
    ModelPackageGroup,
    ModelPackageSummary,
    Tag,
    UserContext,
)
from crispml.services.registry.errors import ResourceNotFound, ValidationException
from crispml.services.registry.specs import parse_package_name
from crispml.services.registry.store import ModelPackageGroupRow, ModelPackageRow, ModelRow

PREFIX = "arn:aws:sagemaker:us-east-1:000000000000"
T = TypeVar("T")


def model_arn(name: str) -> str:
    return f"{PREFIX}:model/{name.lower()}"


def group_arn(name: str) -> str:
    return f"{PREFIX}:model-package-group/{name}"


def package_arn(group: str, version: int) -> str:
    """A version's ARN; unlike SageMaker's, it keeps the group's case, so it names the group back."""
    return f"{PREFIX}:model-package/{group}/{version}"


def model_crn(name: str | None) -> str:
    return crn("registry", f"model/{name or '*'}")


def group_crn(name: str | None) -> str:
    return crn("registry", f"model-package-group/{name or '*'}")


def new_package_crn(group: str) -> str:
    """What CreateModelPackage acts on: the group's next version (its number is not known before)."""
    return crn("registry", f"model-package/{group}/*")


def package_crn(name: str | None) -> str:
    """A version's CRN (``model-package/<group>/<version>``) from its ARN or ``group/version``."""
    if name is None:
        return crn("registry", "model-package/*")
    try:
        group, version = parse_package_name(name)
    except ValidationException:
        return crn("registry", "model-package/*")
    return crn("registry", f"model-package/{group}/{version}")


def _missing(what: str, name: str, known: Sequence[str], listing: str) -> ResourceNotFound:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return ResourceNotFound(f"{what} {name!r} does not exist{hint}; list them with 'crispml registry {listing}'")


def get_model(session: Session, name: str) -> ModelRow:
    row = session.get(ModelRow, name)
    if row is None:
        raise _missing("model", name, session.scalars(select(ModelRow.name)).all(), "list-models")
    return row


def get_group(session: Session, name: str, *, lock: bool = False) -> ModelPackageGroupRow:
    row = session.get(ModelPackageGroupRow, name, with_for_update=lock)
    if row is None:
        raise _missing("model package group", name, session.scalars(select(ModelPackageGroupRow.name)).all(),
                       "list-model-package-groups")
    return row


def get_package(session: Session, name: str, *, lock: bool = False) -> ModelPackageRow:
    group, version = parse_package_name(name)
    get_group(session, group)
    row = session.get(ModelPackageRow, (group, version), with_for_update=lock)
    if row is None:
        versions = session.scalars(select(ModelPackageRow.version).where(ModelPackageRow.group_name == group)
                                   .order_by(ModelPackageRow.version)).all()
        have = f"its versions are {', '.join(map(str, versions))}" if versions else "it has no versions yet"
        raise ResourceNotFound(f"model package group {group!r} has no version {version} ({have}); list them with "
                               f"'crispml registry list-model-packages --model-package-group-name {group}'")
    return row


def user(principal: str) -> UserContext:
    return UserContext(user_profile_name=principal)


def model_entity(row: ModelRow) -> Model:
    definition = json.loads(row.definition)
    return Model(model_name=row.name, model_arn=model_arn(row.name),
                 primary_container=ContainerDefinition.model_validate(definition["primary_container"]),
                 execution_role_arn=definition.get("execution_role_arn"), creation_time=row.created_at,
                 tags=[Tag.model_validate(t) for t in definition.get("tags", [])])


def group_entity(row: ModelPackageGroupRow) -> ModelPackageGroup:
    return ModelPackageGroup(model_package_group_name=row.name, model_package_group_arn=group_arn(row.name),
                             model_package_group_description=row.description, creation_time=row.created_at,
                             created_by=user(row.principal))


def package_entity(row: ModelPackageRow) -> ModelPackage:
    definition = json.loads(row.definition)
    card = definition.get("model_card")
    metrics = definition.get("model_metrics")
    return ModelPackage(
        model_package_name=row.group_name, model_package_group_name=row.group_name,
        model_package_version=row.version, model_package_arn=package_arn(row.group_name, row.version),
        model_package_description=definition.get("model_package_description"), creation_time=row.created_at,
        inference_specification=InferenceSpecification.model_validate(definition["inference_specification"]),
        model_approval_status=row.approval_status,  # type: ignore[arg-type]
        approval_description=row.approval_description, created_by=user(row.created_by),
        last_modified_time=row.modified_at, last_modified_by=user(row.modified_by),
        model_metrics=ModelMetrics.model_validate(metrics) if metrics else None,
        customer_metadata_properties=definition.get("customer_metadata_properties", {}),
        model_card=ModelCard.model_validate(card) if card else None,
        domain=definition.get("domain"), task=definition.get("task"),
        source_training_job_name=definition.get("source_training_job_name"),
        approval_history=[ApprovalChange.model_validate(c) for c in json.loads(row.history)])


def package_summary(row: ModelPackageRow) -> ModelPackageSummary:
    return ModelPackageSummary(
        model_package_name=row.group_name, model_package_group_name=row.group_name,
        model_package_version=row.version, model_package_arn=package_arn(row.group_name, row.version),
        model_package_description=json.loads(row.definition).get("model_package_description"),
        creation_time=row.created_at, model_approval_status=row.approval_status)  # type: ignore[arg-type]


def page(rows: list[T], request: Any, keys: dict[str, Callable[[T], Any]]) -> tuple[list[T], str | None]:
    """Sort ``rows`` by ``request.sort_by`` (one of ``keys``) and ``sort_order``; the page from its NextToken on
    and the token of the next page."""
    rows.sort(key=keys[request.sort_by], reverse=request.sort_order == "Descending")
    return paging.offset_page(rows, request.next_token, request.max_results, ValidationException)


def created_between(rows: list[T], request: Any, created: Callable[[T], Any]) -> list[T]:
    after, before = request.creation_time_after, request.creation_time_before
    return [r for r in rows if (after is None or created(r) > after) and (before is None or created(r) < before)]
