"""Model operations (SageMaker ``CreateModel``, ``DescribeModel``, ``ListModels``, ``DeleteModel``).

A model is an artifact and the code that serves it: a built-in algorithm's
handler (``Image`` is the algorithm's name) or a script in a framework
(``Image`` as a training job's ``TrainingImage``), whose entry point and code
come in ``SAGEMAKER_PROGRAM`` and ``SAGEMAKER_SUBMIT_DIRECTORY`` as the
SageMaker SDK passes them. ``CreateModel`` checks what SageMaker checks before
recording it: the name is free, the image is one this machine serves, and the
model data exists in the lake. A container may instead name a registered
version (``ModelPackageName``), whose container it copies.

Deleting a model that an endpoint serves is refused, naming the endpoint (the
serving service records what each endpoint serves, ``RegistryService.use_models``).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.lake.service import LakeService
from crispml.services.registry.core import (
    created_between,
    get_model,
    get_package,
    model_arn,
    model_crn,
    model_entity,
    page,
)
from crispml.services.registry.entities import ContainerDefinition, ModelSummary
from crispml.services.registry.errors import ResourceInUse, ValidationException
from crispml.services.registry.specs import (
    CreateModelRequest,
    CreateModelResponse,
    DescribeModelResponse,
    EmptyResponse,
    ListModelsRequest,
    ListModelsResponse,
    ModelRequest,
)
from crispml.services.registry.store import ModelRow, ModelUseRow
from crispml.services.training.service import builtin_algorithm_names, framework_of
from crispml.spine.operations import RuntimeAccess, operation


def lake_uri(uri: str, what: str) -> str:
    """``uri`` as ``lake://bucket/key`` (``s3://`` names the same lake)."""
    scheme, sep, rest = uri.strip().partition("://")
    if not sep or scheme not in ("lake", "s3", "s3a") or "/" not in rest.strip("/"):
        raise ValidationException(f"{what} {uri!r} must name an object in the lake: lake://bucket/key/model.tar.gz "
                                  "('s3://' names the same lake)")
    return f"lake://{rest}"


def check_image(image: str, environment: dict[str, str]) -> None:
    """Refuse an image this machine cannot serve, and a script image without its entry point."""
    if image in builtin_algorithm_names():
        return
    try:
        framework_of(image)
    except CrispmlError as exc:
        builtins = ", ".join(builtin_algorithm_names())
        raise ValidationException(f"Image {image!r} is neither a built-in algorithm ({builtins}) nor a framework "
                                  f"serving a script: {exc}") from exc
    if not environment.get("SAGEMAKER_PROGRAM"):
        raise ValidationException(f"Image {image!r} serves a script: name it in Environment SAGEMAKER_PROGRAM (and "
                                  "its code, a lake:// sourcedir.tar.gz, in SAGEMAKER_SUBMIT_DIRECTORY), as the "
                                  "SageMaker SDK does")


class ModelOps(RuntimeAccess):
    """Models: an artifact plus the code that serves it."""

    def _check_artifact(self, ctx: CallContext, uri: str, what: str) -> str:
        uri = lake_uri(uri, what)
        fs = self.peer(LakeService).filesystem(ctx)
        if not fs.exists(uri):
            raise ValidationException(f"{what} {uri!r} does not exist in the lake; give the model.tar.gz a training "
                                      "job wrote (DescribeTrainingJob ModelArtifacts S3ModelArtifacts)")
        return uri

    def _check_container(self, ctx: CallContext, image: str, model_data_url: str | None,
                         environment: dict[str, str]) -> str | None:
        check_image(image, environment)
        submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if submit:
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = self._check_artifact(ctx, submit, "SAGEMAKER_SUBMIT_DIRECTORY")
        return self._check_artifact(ctx, model_data_url, "ModelDataUrl") if model_data_url else None

    @operation("CreateModel", resource=lambda r: model_crn(r.model_name))
    def create_model(self, ctx: CallContext, request: CreateModelRequest) -> CreateModelResponse:
        """Create a model: a model.tar.gz and the built-in algorithm or script that serves it."""
        container = request.primary_container
        with self._reading() as session:
            if session.get(ModelRow, request.model_name) is not None:
                raise ResourceInUse(f"model {request.model_name!r} already exists; delete it first or choose "
                                    "another name")
            if container.model_package_name is not None:
                from crispml.services.registry.core import package_entity

                spec = package_entity(get_package(session, container.model_package_name)).inference_specification
                first = spec.containers[0]
                container = ContainerDefinition(image=first.image, model_data_url=first.model_data_url,
                                                environment={**first.environment, **container.environment},
                                                model_package_name=container.model_package_name)
        assert container.image is not None
        container.model_data_url = self._check_container(ctx, container.image, container.model_data_url,
                                                         container.environment)
        definition = {"primary_container": container.model_dump(mode="json"),
                      "execution_role_arn": request.execution_role_arn,
                      "tags": [t.model_dump(mode="json") for t in request.tags]}
        now = self.clock.now()

        def insert(session: Session) -> None:
            if session.get(ModelRow, request.model_name) is not None:
                raise ResourceInUse(f"model {request.model_name!r} already exists")
            session.add(ModelRow(name=request.model_name, principal=ctx.principal,
                                 definition=json.dumps(definition), created_at=now))
        self._writing(insert)
        return CreateModelResponse(model_arn=model_arn(request.model_name))

    @operation("DescribeModel", resource=lambda r: model_crn(r.model_name), mutating=False,
               positional=("model_name",))
    def describe_model(self, ctx: CallContext, request: ModelRequest) -> DescribeModelResponse:
        """Show a model: its container (image, model data, environment), role and tags."""
        with self._reading() as session:
            row = get_model(session, request.model_name)
            return DescribeModelResponse.model_validate(model_entity(row).model_dump())

    @operation("ListModels", resource=lambda r: model_crn(None), mutating=False)
    def list_models(self, ctx: CallContext, request: ListModelsRequest) -> ListModelsResponse:
        """List models, newest first, filtered by name and creation time."""
        query = select(ModelRow.name, ModelRow.created_at)
        if request.name_contains:
            query = query.where(ModelRow.name.contains(request.name_contains, autoescape=True))
        with self._reading() as session:
            rows = [ModelSummary(model_name=n, model_arn=model_arn(n), creation_time=t)
                    for n, t in session.execute(query)]
        rows = created_between(rows, request, lambda r: r.creation_time)
        chosen, token = page(rows, request, {"Name": lambda r: r.model_name,
                                             "CreationTime": lambda r: (r.creation_time, r.model_name)})
        return ListModelsResponse(models=chosen, next_token=token)

    @operation("DeleteModel", resource=lambda r: model_crn(r.model_name), positional=("model_name",))
    def delete_model(self, ctx: CallContext, request: ModelRequest) -> EmptyResponse:
        """Delete a model (its artifact stays in the lake)."""
        def delete(session: Session) -> None:
            row = get_model(session, request.model_name)
            users = session.scalars(select(ModelUseRow.user).where(ModelUseRow.model_name == row.name)
                                    .order_by(ModelUseRow.user)).all()
            if users:
                raise ResourceInUse(f"model {row.name!r} is served by endpoint{'s' if len(users) > 1 else ''} "
                                    f"{', '.join(map(repr, users))}; delete the endpoint or update it to a "
                                    "configuration without this model first")
            session.delete(row)
        self._writing(delete)
        return EmptyResponse()
