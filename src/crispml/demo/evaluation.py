"""The demo's evaluation phase (CRISP-DM: evaluation): both models judged on held-out rows, compared, the better
one registered and approved (SageMaker model quality and Model Registry).

The two models of the training phase — the cross-validated xgboost (A) and the scikit-learn random forest
(B), served through its script's ``model_fn`` — are evaluated on ``demo.penguins_test``, the penguins that
training never saw (``CreateEvaluationJob``, multiclass: accuracy, macro F1, a per-class report, permutation
importance). ``CompareEvaluations`` gives B − A with a paired bootstrap interval and McNemar's test on the
same rows. B must beat A to be chosen (a tie keeps the cross-validated model); the chosen one becomes a
version of the group ``penguins`` (``CreateModelPackage`` from its training job), is approved with a reason
(``UpdateModelPackage``), and its lineage is printed as ``crispml registry lineage`` prints it, down to the
table snapshot it learned from. Each evaluation's HTML report is copied beside the demo's and linked from it.

Evaluation names come from the training jobs' names, which are new each run, and each run adds a version to
the group, so the demo runs again on the same home. It does not deploy the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispml.core.errors import NotFound
from crispml.demo.modelling import MODELS_BUCKET, SPECIES, TEST_TABLE
from crispml.demo.phases import DATABASE, DemoState
from crispml.demo.report import Section
from crispml.render import lineage_tree, table_of

GROUP = "penguins"
EVALUATIONS = f"lake://{MODELS_BUCKET}/evaluations/"


def _test_channel() -> dict[str, Any]:
    return {"ChannelName": "test", "ContentType": "text/csv",
            "DataSource": {"CatalogDataSource": {"DatabaseName": DATABASE, "TableName": TEST_TABLE,
                                                 "LabelColumn": "label"}}}


def _download(state: DemoState, uri: str, to: Path) -> Path:
    """A lake object (``lake://bucket/key``) copied to a local file, through the lake's GetObject."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    got = state.client.lake.get_object(bucket=bucket, key=key)
    with got.body as body:
        to.write_bytes(body.read())
    return to


def _metric_row(label: str, job: Any) -> dict[str, Any]:
    m = job.metrics
    return {"model": label, "evaluation": job.evaluation_job_name, "rows": m["rows"],
            "accuracy": round(m["accuracy"], 4), "macro precision": round(m["precision"], 4),
            "macro recall": round(m["recall"], 4), "macro F1": round(m["f1"], 4)}


def _class_rows(label: str, job: Any) -> list[dict[str, Any]]:
    return [{"model": label, "species": SPECIES[int(c["label"])], "precision": round(c["precision"], 4),
             "recall": round(c["recall"], 4), "specificity": round(c["specificity"], 4), "F1": round(c["f1"], 4),
             "support": c["support"]} for c in job.metrics["per_class"]]


def _lineage_rows(response: Any) -> list[dict[str, Any]]:
    """The lineage tree, flattened for the HTML report."""
    found = response.lineage
    rows = [{"what": "version", "value": f"{response.model_package_group_name}/{response.model_package_version} "
                                         f"({response.model_approval_status})"}]
    if found is None:
        return rows
    rows += [{"what": "training job", "value": f"{found.training_job_name} ({found.algorithm})"},
             {"what": "model", "value": found.model_data_url}]
    rows += [{"what": f"input {i.channel_name}", "value": f"{i.source}, snapshot {i.snapshot_id}, {i.rows} rows"}
             for i in found.inputs]
    rows += [{"what": "code sha256", "value": found.code_sha256},
             {"what": "hyperparameters", "value": ", ".join(f"{k}={v}" for k, v in sorted(
                 found.hyperparameters.items()) if not k.startswith("sagemaker_"))}]
    return rows


def _register(state: DemoState, job_name: str, evaluation: Any, why: str) -> Any:
    """``job_name``'s model as a new version of :data:`GROUP`, approved with ``why``; its lineage."""
    registry = state.client.registry
    try:
        registry.describe_model_package_group(model_package_group_name=GROUP)
    except NotFound:
        registry.create_model_package_group(model_package_group_name=GROUP,
                                            model_package_group_description="Penguin species from measurements "
                                                                            "(crispml demo)")
    arn = registry.create_model_package(
        model_package_group_name=GROUP, source_training_job_name=job_name,
        model_package_description=f"{job_name}, evaluated by {evaluation.evaluation_job_name}",
        model_metrics={"ModelQuality": {"Statistics": {"ContentType": "text/html",
                                                       "S3Uri": evaluation.report_uri}}},
        customer_metadata_properties={"evaluation": evaluation.evaluation_job_name,
                                      "accuracy": f"{evaluation.metrics['accuracy']:.4f}"}).model_package_arn
    registry.update_model_package(model_package_arn=arn, model_approval_status="Approved",
                                  approval_description=why[:1024])
    return registry.get_model_package_lineage(model_package_name=arn)


def evaluation_registry(state: DemoState) -> Section:
    """Evaluation and the model registry (SageMaker): two models judged on held-out rows, the better one approved.

    Both models evaluated and compared on ``demo.penguins_test``; the chosen one registered in ``penguins``,
    approved, and its lineage printed down to the table snapshot it learned from."""
    client, out = state.client, state.console
    training = state.facts["training"]
    models = {"A": training["cv_job"], "B": training["script_job"]}
    if training["cv_status"] != "Completed" or training["script_status"] != "Completed":
        out.print("  [red]a training job did not complete; nothing to evaluate[/red]")
        return Section(title="6 · Evaluation and the model registry", text="A training job did not complete.")
    reports = client.settings.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    judged: dict[str, Any] = {}
    for key, job_name in models.items():
        judged[key] = client.evaluation.create_evaluation_job(
            evaluation_job_name=f"eval-{job_name}"[:63], model_source={"TrainingJobName": job_name},
            test_data=_test_channel(), problem_type="MulticlassClassification", output_location=EVALUATIONS)
    a, b = judged["A"], judged["B"]
    copies = {k: _download(state, j.report_uri, reports / f"{j.evaluation_job_name}.html") for k, j in judged.items()}
    pinned = a.test_data
    out.print(f"  evaluated A = [bold]{models['A']}[/bold] and B = [bold]{models['B']}[/bold] on "
              f"{DATABASE}.{TEST_TABLE} (snapshot {pinned.snapshot_id}, {pinned.rows} held-out rows): "
              + ", ".join(f"{j.evaluation_job_name} {j.status}" for j in judged.values()))
    metric_rows = [_metric_row(k, j) for k, j in judged.items()]
    class_rows = [row for k, j in judged.items() for row in _class_rows(k, j)]
    out.print(table_of(metric_rows, title="held-out metrics (macro averages over the three species)"))
    out.print(table_of(class_rows, title="per-class report (each species taken as the positive class)"))

    compared = client.evaluation.compare_evaluations(evaluation_job_name_a=a.evaluation_job_name,
                                                     evaluation_job_name_b=b.evaluation_job_name, seed=7)
    delta_rows = [{"metric": d["metric"], "A": round(d["a"], 4), "B": round(d["b"], 4),
                   "B − A": round(d["delta"], 4), f"{d['confidence']:.0%} interval":
                   f"[{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"} for d in compared.deltas]
    mcnemar = compared.mcnemar or {}
    out.print(table_of(delta_rows, title=f"B − A on the same {compared.rows} rows, paired bootstrap "
                                         f"({compared.resamples:,} resamples)"))
    if mcnemar:
        out.print(f"  McNemar: only A right on {mcnemar['only_a_right']} rows, only B on {mcnemar['only_b_right']}, "
                  f"p = {mcnemar['p_value']:.3g} ({mcnemar['method']})")
    for verdict in compared.verdicts:
        out.print(f"  verdict: {verdict}")

    better = "B" if (b.metrics["accuracy"], b.metrics["f1"]) > (a.metrics["accuracy"], a.metrics["f1"]) else "A"
    chosen = judged[better]
    why = (f"{'B beats A' if better == 'B' else 'B does not beat A'} on {DATABASE}.{TEST_TABLE} (snapshot "
           f"{pinned.snapshot_id}): accuracy {chosen.metrics['accuracy']:.4f}, macro F1 {chosen.metrics['f1']:.4f}; "
           + " ".join(compared.verdicts))
    lineage = _register(state, models[better], chosen, why)
    version = f"{lineage.model_package_group_name}/{lineage.model_package_version}"
    out.print(f"  registered {better} = [bold]{models[better]}[/bold] as [bold]{version}[/bold] and approved it: "
              f"{why}")
    out.print(lineage_tree(lineage))

    learned = lineage.lineage.inputs[0] if lineage.lineage and lineage.lineage.inputs else None
    state.facts["evaluation"] = {
        "test_table": f"{DATABASE}.{TEST_TABLE}", "test_snapshot": pinned.snapshot_id, "test_rows": pinned.rows,
        "evaluations": {j.evaluation_job_name: j.status for j in judged.values()},
        "metrics": {j.evaluation_job_name: {"accuracy": j.metrics["accuracy"], "f1": j.metrics["f1"]}
                    for j in judged.values()},
        "comparison": {"deltas": compared.deltas, "mcnemar": compared.mcnemar, "verdicts": compared.verdicts},
        "reports": [str(p) for p in copies.values()],
        "registered": {"version": version, "training_job": models[better],
                       "status": lineage.model_approval_status,
                       "lineage_source": learned.source if learned else None,
                       "lineage_snapshot": learned.snapshot_id if learned else None}}
    return Section(
        title="6 · Evaluation and the model registry (SageMaker)",
        text=f"Both models were judged on the {pinned.rows} penguins held out in {DATABASE}.{TEST_TABLE} (snapshot "
             f"{pinned.snapshot_id}), then compared on the same rows: B − A with a paired bootstrap interval and "
             f"McNemar's test. {why} The chosen model is version {version}, approved; its lineage runs down to "
             "the snapshot of the table it learned from. Each evaluation's own report (curves, confusion matrix, "
             "permutation importance) is linked below.",
        links=[(f"Evaluation report of {k} ({judged[k].evaluation_job_name})", p.name) for k, p in copies.items()],
        tables=[("Held-out metrics", metric_rows), ("Per-class report", class_rows),
                ("B − A (paired bootstrap)", delta_rows),
                ("McNemar's test", [mcnemar] if mcnemar else []),
                ("Verdicts", [{"verdict": v} for v in compared.verdicts]),
                (f"Lineage of {version}", _lineage_rows(lineage))],
        bars=[("Held-out accuracy", {f"{k}: {models[k]}": j.metrics["accuracy"] for k, j in judged.items()})],
    )
