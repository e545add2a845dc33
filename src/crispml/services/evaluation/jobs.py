"""Evaluation operations: CreateEvaluationJob, DescribeEvaluationJob, ListEvaluationJobs, CompareEvaluations.

``CreateEvaluationJob`` runs in the caller's process and returns when the
evaluation has ended (an evaluation reads, predicts and scores; it commits
nothing but its own record and files): the job is recorded ``InProgress``,
then ``Completed`` with its metrics, or ``Failed`` with the reason, and a
failure is also raised to the caller. Bad requests — a model that does not
exist, a test table without a column the model learned from, a regression
metric asked of a classifier — are refused before anything is recorded.

What a completed job leaves, beside its record: the HTML report
(``<OutputLocation><job>/report.html``) and the rows' truth, predictions and
scores (``predictions.parquet``), which ``CompareEvaluations`` reads to compare
two models on the same test rows (deltas with paired bootstrap intervals,
McNemar's test). Evaluations are listed by the model they judged: that is
how they are attached to it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.names import crn
from crispml.services.evaluation.entities import EvaluationJob, EvaluationJobSummary, ModelSource
from crispml.services.evaluation.errors import ResourceInUse, ResourceNotFound, ValidationException
from crispml.services.evaluation.specs import (
    CompareEvaluationsRequest,
    CompareEvaluationsResponse,
    CreateEvaluationJobRequest,
    DescribeEvaluationJobResponse,
    EvaluationJobRequest,
    ListEvaluationJobsRequest,
    ListEvaluationJobsResponse,
)
from crispml.services.evaluation.store import EvaluationJobRow
from crispml.services.lake.service import LakeService
from crispml.services.registry.service import LoadedModel, RegistryService
from crispml.services.training.service import ChannelLineage, TrainingJobRequest, TrainingService, hyperparameter_value
from crispml.spine.operations import RuntimeAccess, operation


def evaluation_crn(name: str | None) -> str:
    return crn("evaluation", f"evaluation-job/{name or '*'}")


def evaluation_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:000000000000:evaluation-job/{name.lower()}"


class EvaluationOps(RuntimeAccess):
    """Evaluation jobs and comparisons."""

    @operation("CreateEvaluationJob", resource=lambda r: evaluation_crn(r.evaluation_job_name))
    def create_evaluation_job(self, ctx: CallContext,
                              request: CreateEvaluationJobRequest) -> DescribeEvaluationJobResponse:
        """Judge a model on held-out rows: metrics, curves, a threshold, feature importance, an HTML report."""
        from crispml.services.evaluation import run, unsupervised

        with self._reading() as session:
            if session.get(EvaluationJobRow, request.evaluation_job_name) is not None:
                raise ResourceInUse(f"evaluation job {request.evaluation_job_name!r} already exists")
        labelled = _labelled(request)
        if request.problem_type in unsupervised.UNSUPERVISED:
            unsupervised.check(request.problem_type, request.metrics)
        else:
            if not labelled:
                raise ValidationException(
                    f"a {request.problem_type} model is judged against true values: give TestData a LabelColumn "
                    "(a table) or label-first CSV (a lake prefix)")
            if request.metrics:
                from crispml.services.evaluation import metrics as metric_math

                metric_math.check_metrics(request.problem_type, request.metrics)
        source = request.model_source
        expected = self._training_features(ctx, source)
        rows, pinned = self.peer(TrainingService).channel_rows(ctx, request.test_data)
        y_true, X, names = run.features_of(rows, expected, labelled=labelled)
        self._record(ctx, request, pinned)
        folder = Path(tempfile.mkdtemp(prefix="crispml-evaluation-"))
        try:
            model = self._open_model(ctx, source, folder)
            result = self._judge(request, model, X, y_true, names)
            uris = self._write_files(ctx, request, source, pinned, result)
        except CrispmlError as exc:
            self._finish(request.evaluation_job_name, failure=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._finish(request.evaluation_job_name, result=result, uris=uris)
        return self.describe_evaluation_job(ctx, EvaluationJobRequest(
            evaluation_job_name=request.evaluation_job_name))

    @staticmethod
    def _judge(request: CreateEvaluationJobRequest, model: LoadedModel, X: Any, y_true: Any,
               names: list[str]) -> Any:
        from crispml.services.evaluation import run, unsupervised

        if request.problem_type in unsupervised.UNSUPERVISED:
            found, answers = unsupervised.judge(request.problem_type, model.invoke, X, y_true)
            is_score = request.problem_type == "AnomalyDetection"
            return run.Result(found, None, {}, y_true, answers, answers if is_score else None)
        assert y_true is not None
        outputs = run.predict(model, X)
        y_pred, y_score = run.decide(request.problem_type, y_true, outputs, request.positive_label)
        cost = (request.cost.false_positive, request.cost.false_negative) if request.cost else None
        result = run.score_all(request.problem_type, y_true, y_pred, y_score, positive_label=request.positive_label,
                               requested=request.metrics, threshold_metric=request.threshold_metric, cost=cost)
        if request.feature_importance and names:
            result.importance = run.permutation_importance(model, request.problem_type, y_true, X, names,
                                                           request.positive_label)
        return result

    # -- the model and what it learned from --------------------------------------------------------------

    def _training_job(self, ctx: CallContext, source: ModelSource) -> str | None:
        if source.training_job_name:
            return source.training_job_name
        registry = self.peer(RegistryService)
        return registry.source_training_job(ctx, source.model_name, source.model_package_arn)

    def _training_features(self, ctx: CallContext, source: ModelSource) -> list[str] | None:
        """The feature columns of the table the model learned from, in order; None when it learned from files."""
        job_name = self._training_job(ctx, source)
        if job_name is None:
            return None
        job = self.peer(TrainingService).describe_training_job(ctx, TrainingJobRequest(training_job_name=job_name))
        train = next((c for c in job.input_data_config if c.channel_name == "train"), None)
        table = train.data_source.catalog_data_source if train is not None else None
        if table is None:
            return None
        if table.columns:
            return [c for c in table.columns if not table.label_column or c.lower() != table.label_column.lower()]
        from crispml.services.catalog.service import CatalogService, TableRequest

        found = self.peer(CatalogService).get_table(ctx, TableRequest(database_name=table.database_name,
                                                                      name=table.table_name)).table
        names = [c.name for c in found.storage_descriptor.columns] + [k.name for k in found.partition_keys]
        return [n for n in names if not table.label_column or n.lower() != table.label_column.lower()]

    def _open_model(self, ctx: CallContext, source: ModelSource, folder: Path) -> LoadedModel:
        registry = self.peer(RegistryService)
        if source.training_job_name:
            job = self.peer(TrainingService).describe_training_job(
                ctx, TrainingJobRequest(training_job_name=source.training_job_name))
            if job.training_job_status != "Completed" or job.model_artifacts is None:
                raise ValidationException(f"training job {job.training_job_name!r} is {job.training_job_status}; "
                                          "only a Completed job's model can be evaluated")
            spec = job.algorithm_specification
            environment = {}
            if spec.training_image is not None:
                environment = {"SAGEMAKER_PROGRAM": hyperparameter_value(job.hyper_parameters["sagemaker_program"]),
                               "SAGEMAKER_SUBMIT_DIRECTORY": job.hyper_parameters["sagemaker_submit_directory"]}
            image = spec.algorithm_name or spec.training_image or ""
            return registry.open_container(ctx, image, job.model_artifacts.s3_model_artifacts, environment, folder)
        return registry.open_model(ctx, source.model_name or source.model_package_arn or "", folder)

    # -- records and files ---------------------------------------------------------------------------------

    def _record(self, ctx: CallContext, request: CreateEvaluationJobRequest, pinned: ChannelLineage) -> None:
        now = self.clock.now()

        def insert(session: Session) -> None:
            seq = (session.scalar(select(func.max(EvaluationJobRow.seq))) or 0) + 1
            session.add(EvaluationJobRow(
                name=request.evaluation_job_name, seq=seq, principal=ctx.principal, status="InProgress",
                model_source=request.model_source.describe(), problem_type=request.problem_type,
                request=request.model_dump_json(), test_data=pinned.model_dump_json(), metrics="{}",
                feature_importance="{}", created_at=now))
        try:
            self._writing(insert)
        except CrispmlError as exc:
            raise ResourceInUse(f"evaluation job {request.evaluation_job_name!r} already exists") from exc

    def _finish(self, name: str, *, failure: str | None = None, result: Any = None,
                uris: tuple[str, str, str] | None = None) -> None:
        def change(session: Session) -> None:
            row = session.get(EvaluationJobRow, name, with_for_update=True)
            assert row is not None
            row.ended_at = self.clock.now()
            if failure is not None:
                row.status, row.failure_reason = "Failed", failure
                return
            row.status = "Completed"
            row.metrics = json.dumps(result.metrics, default=str)
            row.threshold = json.dumps(result.threshold, default=str) if result.threshold else None
            row.feature_importance = json.dumps(result.importance)
            if uris is not None:
                row.report_uri, row.predictions_uri, row.metrics_uri = uris
        self._writing(change)

    def _write_files(self, ctx: CallContext, request: CreateEvaluationJobRequest, source: ModelSource,
                     pinned: ChannelLineage, result: Any) -> tuple[str, str, str]:
        """The report, the rows' truth and answers (for comparisons), and the metrics as JSON, in the lake."""
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        from crispml.services.evaluation.report import EvaluationReport, render

        base = f"{request.output_location}{request.evaluation_job_name}/"
        snapshot = f"{pinned.source} (snapshot {pinned.snapshot_id}, {pinned.rows} rows)" if pinned.snapshot_id \
            else f"{pinned.source} ({len(pinned.files)} files, {pinned.rows} rows)"
        regression = request.problem_type == "Regression"
        page = render(EvaluationReport(
            title=f"Evaluation {request.evaluation_job_name}", model_version=source.describe(),
            data_snapshot=snapshot, classification=result.classification, curves=result.curves,
            regression=result.regression, y_true=result.y_true if regression else None,
            y_pred=result.y_pred if regression else None, feature_importance=result.importance))
        columns: dict[str, Any] = {"y_pred": result.y_pred}
        if result.y_true is not None:
            columns = {"y_true": result.y_true, **columns}
        if result.y_score is not None:
            columns["y_score"] = result.y_score
        buffer = io.BytesIO()
        pq.write_table(pa.table(columns), buffer)
        fs = self.peer(LakeService).filesystem(ctx)
        written = []
        for name, data in (("report.html", page.encode("utf-8")), ("predictions.parquet", buffer.getvalue()),
                           ("evaluation.json", json.dumps({"problem_type": request.problem_type,
                                                           "metrics": result.metrics}, default=str).encode())):
            with fs.open(base + name, "wb") as out:
                out.write(data)
            written.append(base + name)
        return written[0], written[1], written[2]

    # -- reading -----------------------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, name: str) -> EvaluationJobRow:
        row = session.get(EvaluationJobRow, name)
        if row is None:
            raise ResourceNotFound(f"evaluation job {name!r} does not exist; list them with "
                                   "'crispml evaluation list-evaluation-jobs'")
        return row

    @operation("DescribeEvaluationJob", resource=lambda r: evaluation_crn(r.evaluation_job_name), mutating=False,
               positional=("evaluation_job_name",))
    def describe_evaluation_job(self, ctx: CallContext,
                                request: EvaluationJobRequest) -> DescribeEvaluationJobResponse:
        """Show an evaluation: its model, test data, metrics, threshold, importances and report."""
        with self._reading() as session:
            row = self._row(session, request.evaluation_job_name)
        return DescribeEvaluationJobResponse.model_validate(_entity(row).model_dump())

    @operation("ListEvaluationJobs", resource=lambda r: evaluation_crn(None), mutating=False)
    def list_evaluation_jobs(self, ctx: CallContext, request: ListEvaluationJobsRequest) -> ListEvaluationJobsResponse:
        """List evaluations, newest first, by the model they judged or their status."""
        query = select(EvaluationJobRow).order_by(EvaluationJobRow.seq.desc())
        if request.model_source_contains:
            query = query.where(EvaluationJobRow.model_source.contains(request.model_source_contains,
                                                                       autoescape=True))
        if request.status_equals:
            query = query.where(EvaluationJobRow.status == request.status_equals)
        start = paging.offset_of(request.next_token, ValidationException)
        with self._reading() as session:
            rows = list(session.scalars(query.offset(start).limit(request.max_results + 1)))
        more = len(rows) > request.max_results
        return ListEvaluationJobsResponse(
            evaluation_job_summaries=[_summary(r) for r in rows[:request.max_results]],
            next_token=paging.offset_token(start + request.max_results) if more else None)

    @operation("CompareEvaluations", resource=lambda r: evaluation_crn(r.evaluation_job_name_b), mutating=False)
    def compare_evaluations(self, ctx: CallContext, request: CompareEvaluationsRequest) -> CompareEvaluationsResponse:
        """Compare two models evaluated on the same test rows: B − A with bootstrap intervals, McNemar's test."""
        import io

        import pyarrow.parquet as pq

        from crispml.services.evaluation import compare

        with self._reading() as session:
            a = self._row(session, request.evaluation_job_name_a)
            b = self._row(session, request.evaluation_job_name_b)
        for row in (a, b):
            if row.status != "Completed" or not row.predictions_uri:
                raise ValidationException(f"evaluation {row.name!r} is {row.status}; compare Completed evaluations")
        if a.problem_type in ("Clustering", "AnomalyDetection"):
            raise ValidationException(f"{a.name!r} judged a {a.problem_type} model; comparisons are of classifiers "
                                      "and regressors, whose answers can be right or wrong row by row")
        if a.problem_type != b.problem_type:
            raise ValidationException(f"{a.name!r} judged a {a.problem_type} model and {b.name!r} a {b.problem_type} "
                                      "one; compare models of one kind")
        if _pin(a) != _pin(b):
            raise ValidationException(f"{a.name!r} and {b.name!r} were not evaluated on the same test rows "
                                      "(their test data's snapshot or files differ); evaluate both on one pin")
        fs = self.peer(LakeService).filesystem(ctx)
        tables = [pq.read_table(io.BytesIO(fs.cat_file(str(row.predictions_uri)))) for row in (a, b)]
        truth = tables[0].column("y_true").to_numpy()
        if len(truth) != tables[1].num_rows:
            raise ValidationException("the two evaluations scored a different number of rows")
        preds = [t.column("y_pred").to_numpy() for t in tables]
        if a.problem_type == "Regression":
            result = compare.compare_regressors(truth, preds[0], preds[1], request.metrics or ("rmse", "mae", "r2"),
                                                resamples=request.resamples, confidence=request.confidence,
                                                seed=request.seed)
        else:
            default = ("accuracy", "f1") if a.problem_type == "BinaryClassification" else ("accuracy",)
            result = compare.compare_classifiers(truth, preds[0], preds[1], request.metrics or default,
                                                 resamples=request.resamples, confidence=request.confidence,
                                                 seed=request.seed)
        document = result.to_dict()
        return CompareEvaluationsResponse(rows=document["rows"], resamples=document["resamples"],
                                          deltas=document["deltas"], mcnemar=document.get("mcnemar"),
                                          verdicts=document["verdicts"])


def _labelled(request: CreateEvaluationJobRequest) -> bool:
    """Whether the test rows carry true values first: a table with a LabelColumn, or label-first files (not
    ``text/csv;label_size=0``)."""
    table = request.test_data.data_source.catalog_data_source
    if table is not None:
        return table.label_column is not None
    return "label_size=0" not in (request.test_data.content_type or "").replace(" ", "")


def _pin(row: EvaluationJobRow) -> tuple[Any, ...]:
    pinned = ChannelLineage.model_validate_json(row.test_data or "{}")
    return pinned.source, pinned.snapshot_id, tuple(sorted((f.uri, f.e_tag) for f in pinned.files))


def _entity(row: EvaluationJobRow) -> EvaluationJob:
    request = json.loads(row.request)
    return EvaluationJob(
        evaluation_job_name=row.name, evaluation_job_arn=evaluation_arn(row.name), status=row.status,  # type: ignore[arg-type]
        failure_reason=row.failure_reason, model_source=ModelSource.model_validate(request["model_source"]),
        problem_type=row.problem_type,  # type: ignore[arg-type]
        test_data=ChannelLineage.model_validate_json(row.test_data) if row.test_data else None,
        metrics=json.loads(row.metrics), threshold=json.loads(row.threshold) if row.threshold else None,
        feature_importance=json.loads(row.feature_importance), report_uri=row.report_uri,
        predictions_uri=row.predictions_uri, metrics_uri=row.metrics_uri, creation_time=row.created_at,
        end_time=row.ended_at)


def _summary(row: EvaluationJobRow) -> EvaluationJobSummary:
    metrics = json.loads(row.metrics)
    key = {"Regression": "rmse", "Clustering": "silhouette", "AnomalyDetection": "roc_auc"}.get(row.problem_type,
                                                                                                 "accuracy")
    headline = f"{key} {metrics[key]:.4f}" if isinstance(metrics.get(key), int | float) else None
    return EvaluationJobSummary(evaluation_job_name=row.name, status=row.status,  # type: ignore[arg-type]
                                model_source=row.model_source, problem_type=row.problem_type,  # type: ignore[arg-type]
                                headline=headline, creation_time=row.created_at)


