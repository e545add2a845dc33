"""Model package (version) operations: SageMaker's ``CreateModelPackage``, ``DescribeModelPackage``,
``ListModelPackages``, ``UpdateModelPackage``, ``DeleteModelPackage``, and crispml's
``GetModelPackageLineage``.

A version is numbered in its group from 1: the number is the group's largest
plus one, taken in the inserting transaction with the group's row locked (a
concurrent registration that still collides on the key runs again with the
next number). Its approval status starts ``PendingManualApproval`` (or as
given) and each change records who made it, when and why (``LastModifiedBy``
and crispml's ``ApprovalHistory``). With ``SourceTrainingJobName`` the
version copies its training job's lineage — the table snapshots or files
with ETags it read, the code hash and the hyperparameters — and, when no
``InferenceSpecification`` is given, the job's image and model artifact.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.registry.core import (
    created_between,
    get_group,
    get_package,
    new_package_crn,
    package_arn,
    package_crn,
    package_entity,
    package_summary,
    page,
)
from crispml.services.registry.entities import (
    InferenceSpecification,
    InputLineage,
    ModelPackageContainerDefinition,
    ModelPackageLineage,
    TrainingMetric,
)
from crispml.services.registry.errors import ValidationException
from crispml.services.registry.models import ModelOps
from crispml.services.registry.specs import (
    CreateModelPackageRequest,
    CreateModelPackageResponse,
    DescribeModelPackageResponse,
    EmptyResponse,
    GetModelPackageLineageResponse,
    ListModelPackagesRequest,
    ListModelPackagesResponse,
    ModelPackageRequest,
    UpdateModelPackageRequest,
    UpdateModelPackageResponse,
)
from crispml.services.registry.store import ModelPackageRow
from crispml.services.training.service import TrainingJobRequest, TrainingService, hyperparameter_value
from crispml.spine.operations import operation


class PackageOps(ModelOps):
    """Model package versions: registration, approval and lineage."""

    def _from_training_job(self, ctx: CallContext, name: str) -> tuple[InferenceSpecification, ModelPackageLineage]:
        job = self.peer(TrainingService).describe_training_job(ctx, TrainingJobRequest(training_job_name=name))
        if job.training_job_status != "Completed" or job.model_artifacts is None:
            raise ValidationException(f"training job {name!r} is {job.training_job_status}; a version is registered "
                                      "from a Completed job (wait for it, or give InferenceSpecification)")
        spec = job.algorithm_specification
        artifact = job.model_artifacts.s3_model_artifacts
        environment: dict[str, str] = {}
        if spec.algorithm_name is not None:
            image = spec.algorithm_name
        else:
            assert spec.training_image is not None
            image = spec.training_image
            hp = job.hyper_parameters
            environment["SAGEMAKER_PROGRAM"] = hyperparameter_value(hp["sagemaker_program"])
            if "sagemaker_submit_directory" in hp:
                environment["SAGEMAKER_SUBMIT_DIRECTORY"] = hyperparameter_value(hp["sagemaker_submit_directory"])
        inference = InferenceSpecification(containers=[ModelPackageContainerDefinition(
            image=image, model_data_url=artifact, environment=environment)])
        lineage = ModelPackageLineage(
            training_job_name=job.training_job_name, training_job_arn=job.training_job_arn, algorithm=image,
            model_data_url=artifact, code_sha256=job.lineage.code_sha256,
            hyperparameters=job.lineage.hyperparameters, training_end_time=job.training_end_time,
            inputs=[InputLineage.model_validate(c.model_dump()) for c in job.lineage.channels],
            final_metrics=[TrainingMetric(metric_name=m.metric_name, value=m.value)
                           for m in job.final_metric_data_list])
        return inference, lineage

    @operation("CreateModelPackage", resource=lambda r: new_package_crn(r.model_package_group_name))
    def create_model_package(self, ctx: CallContext, request: CreateModelPackageRequest) -> CreateModelPackageResponse:
        """Register a new version of a model in its group (numbered from 1), with its lineage."""
        group = request.model_package_group_name
        with self._reading() as session:
            get_group(session, group)
        lineage = None
        inference = request.inference_specification
        if request.source_training_job_name is not None:
            derived, lineage = self._from_training_job(ctx, request.source_training_job_name)
            inference = inference or derived
        assert inference is not None
        for container in inference.containers:
            container.model_data_url = self._check_container(ctx, container.image, container.model_data_url,
                                                             container.environment)
        definition = request.model_dump(mode="json", exclude={"model_package_group_name", "model_approval_status",
                                                              "inference_specification"})
        definition["inference_specification"] = inference.model_dump(mode="json")
        now = self.clock.now()

        def insert(session: Session) -> int:
            get_group(session, group, lock=True)  # serialises registrations in the group
            version = (session.scalar(select(func.max(ModelPackageRow.version))
                                      .where(ModelPackageRow.group_name == group)) or 0) + 1
            history = [{"model_approval_status": request.model_approval_status, "previous_status": None,
                        "approval_description": None, "changed_by": ctx.principal, "change_time": now.isoformat()}]
            session.add(ModelPackageRow(
                group_name=group, version=version, approval_status=request.model_approval_status,
                definition=json.dumps(definition), lineage=lineage.model_dump_json() if lineage else None,
                history=json.dumps(history), created_by=ctx.principal, modified_by=ctx.principal,
                created_at=now, modified_at=now))
            session.flush()
            return version
        version = self._writing(insert)
        return CreateModelPackageResponse(model_package_arn=package_arn(group, version))

    @operation("DescribeModelPackage", resource=lambda r: package_crn(r.model_package_name), mutating=False,
               positional=("model_package_name",))
    def describe_model_package(self, ctx: CallContext, request: ModelPackageRequest) -> DescribeModelPackageResponse:
        """Show a version: its containers, approval status and history, metrics, metadata and model card."""
        with self._reading() as session:
            row = get_package(session, request.model_package_name)
            return DescribeModelPackageResponse.model_validate(package_entity(row).model_dump())

    @operation("ListModelPackages", resource=lambda r: package_crn(None), mutating=False)
    def list_model_packages(self, ctx: CallContext, request: ListModelPackagesRequest) -> ListModelPackagesResponse:
        """List versions, newest first, filtered by group, approval status, name and creation time."""
        query = select(ModelPackageRow)
        if request.model_package_group_name:
            with self._reading() as session:
                get_group(session, request.model_package_group_name)
            query = query.where(ModelPackageRow.group_name == request.model_package_group_name)
        if request.model_approval_status:
            query = query.where(ModelPackageRow.approval_status == request.model_approval_status)
        if request.name_contains:
            query = query.where(ModelPackageRow.group_name.contains(request.name_contains, autoescape=True))
        with self._reading() as session:
            rows = [package_summary(r) for r in session.scalars(query)] \
                if request.model_package_type != "Unversioned" else []
        rows = created_between(rows, request, lambda r: r.creation_time)
        chosen, token = page(rows, request, {
            "Name": lambda r: (r.model_package_group_name, r.model_package_version),
            "CreationTime": lambda r: (r.creation_time, r.model_package_group_name, r.model_package_version)})
        return ListModelPackagesResponse(model_package_summary_list=chosen, next_token=token)

    @operation("UpdateModelPackage", resource=lambda r: package_crn(r.model_package_arn))
    def update_model_package(self, ctx: CallContext, request: UpdateModelPackageRequest) -> UpdateModelPackageResponse:
        """Approve or reject a version (who and when are recorded), or change its metadata or model card."""
        if request.approval_description is not None and request.model_approval_status is None:
            raise ValidationException("ApprovalDescription goes with ModelApprovalStatus")

        def change(session: Session) -> str:
            row = get_package(session, request.model_package_arn, lock=True)
            definition: dict[str, Any] = json.loads(row.definition)
            now = self.clock.now()
            if request.model_approval_status is not None:
                history = json.loads(row.history)
                history.append({"model_approval_status": request.model_approval_status,
                                "previous_status": row.approval_status,
                                "approval_description": request.approval_description,
                                "changed_by": ctx.principal, "change_time": now.isoformat()})
                row.history = json.dumps(history)
                row.approval_status = request.model_approval_status
                row.approval_description = request.approval_description
            metadata = definition.get("customer_metadata_properties", {})
            for key in request.customer_metadata_properties_to_remove:
                metadata.pop(key, None)
            metadata.update(request.customer_metadata_properties)
            if len(metadata) > 50:
                raise ValidationException(f"at most 50 customer metadata properties, not {len(metadata)}")
            definition["customer_metadata_properties"] = metadata
            if request.model_card is not None:
                definition["model_card"] = request.model_card.model_dump(mode="json")
            row.definition = json.dumps(definition)
            row.modified_by = ctx.principal
            row.modified_at = now
            return package_arn(row.group_name, row.version)
        return UpdateModelPackageResponse(model_package_arn=self._writing(change))

    @operation("DeleteModelPackage", resource=lambda r: package_crn(r.model_package_name),
               positional=("model_package_name",))
    def delete_model_package(self, ctx: CallContext, request: ModelPackageRequest) -> EmptyResponse:
        """Delete a version (its number is not given again while later versions exist)."""
        def delete(session: Session) -> None:
            session.delete(get_package(session, request.model_package_name, lock=True))
        self._writing(delete)
        return EmptyResponse()

    @operation("GetModelPackageLineage", resource=lambda r: package_crn(r.model_package_name), mutating=False,
               positional=("model_package_name",))
    def get_model_package_lineage(self, ctx: CallContext,
                                  request: ModelPackageRequest) -> GetModelPackageLineageResponse:
        """crispml: a version's lineage — training job, input snapshots or files, code hash, hyperparameters."""
        with self._reading() as session:
            row = get_package(session, request.model_package_name)
        return GetModelPackageLineageResponse(
            model_package_arn=package_arn(row.group_name, row.version), model_package_group_name=row.group_name,
            model_package_version=row.version, model_approval_status=row.approval_status,  # type: ignore[arg-type]
            lineage=ModelPackageLineage.model_validate_json(row.lineage) if row.lineage else None)
