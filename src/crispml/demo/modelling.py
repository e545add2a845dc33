"""The demo's modelling phase (CRISP-DM: modelling): training jobs (SageMaker) on a table SQL made.

SQL turns ``demo.penguins_clean`` into two numeric Iceberg tables by a deterministic stratified split,
``demo.penguins_train`` and the held-out ``demo.penguins_test`` (one penguin in five of each species), both
with the species as a label 0/1/2 first, the measurements, island and sex one-hot; two training jobs read the
training table through a
``CatalogDataSource`` channel, pinned to the table's snapshot: the built-in ``xgboost`` with 5-fold stratified
cross-validation, and a scikit-learn script in SageMaker's script mode whose ``accuracy=`` lines are scraped
by ``MetricDefinitions``. Both run at once (each in its own worker), followed by polling
``GetTrainingJobLogs`` (its status, secondary status and newest lines in one call). Job names carry the run's
time, so the demo runs again on the same home; the tables are dropped and written again, as phase 3 does.

It does not evaluate or register the models: the next phase (``evaluation.py``) does, on the held-out table.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crispml.core.errors import NotFound
from crispml.demo.phases import CURATED_BUCKET, DATABASE, DemoState, _sql
from crispml.demo.report import Section
from crispml.render import table_of

TRAIN_TABLE = "penguins_train"
TEST_TABLE = "penguins_test"
#: One penguin in this many (of each species) is held out for the evaluation phase.
HOLD_OUT_EVERY = 5
MODELS_BUCKET = "demo-models"
OUTPUT = f"lake://{MODELS_BUCKET}/jobs/"
SPECIES = ("Adelie", "Chinstrap", "Gentoo")
ISLANDS = ("Biscoe", "Dream", "Torgersen")
COLUMNS = ("label", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
           *(f"island_{i.lower()}" for i in ISLANDS), "sex_male")
XGB_HYPERPARAMETERS = {"objective": "multi:softprob", "num_class": "3", "num_round": "50",
                       "eval_metric": "mlogloss,merror", "max_depth": "4", "eta": "0.2", "seed": "7"}
CROSS_VALIDATION = {"Strategy": "StratifiedKFold", "Folds": 5, "Shuffle": True, "Seed": 7}
RF_HYPERPARAMETERS = {"n-estimators": "200", "max-depth": "6", "random-state": "7"}
METRIC_DEFINITIONS = [{"Name": "train:accuracy", "Regex": r"^train accuracy=([0-9.]+)"},
                      {"Name": "test:accuracy", "Regex": r"^test accuracy=([0-9.]+)"}]
TERMINAL = ("Completed", "Failed", "Stopped")

SCRIPT = '''\
"""A random forest on the penguins, in SageMaker's script mode (written by `crispml demo`).

Run by a training job with TrainingImage="sklearn": the hyperparameters arrive as --name value arguments,
the train channel's CSV files (label first, no header) in SM_CHANNEL_TRAIN, and what is left in
SM_MODEL_DIR becomes model.tar.gz. model_fn lets the model be served and evaluated.
"""
import argparse
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split


def model_fn(model_dir):
    """How the model is served (SageMaker's scikit-learn container, crispml's evaluation and registry): loaded
    from the unpacked model.tar.gz; the container's defaults take CSV rows and answer model.predict."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    files = sorted(Path(args.train).glob("*.csv"))  # not glob.glob: the folder's name may hold [ or *
    data = pd.concat([pd.read_csv(f, header=None) for f in files])
    y, X = data.iloc[:, 0].to_numpy(), data.iloc[:, 1:].to_numpy()
    print(f"read {len(data)} rows x {X.shape[1]} features from {len(files)} file(s)")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, stratify=y, random_state=args.random_state)
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth,
                                   random_state=args.random_state)
    model.fit(X_train, y_train)
    print(f"train accuracy={model.score(X_train, y_train):.4f}")
    print(f"test accuracy={model.score(X_test, y_test):.4f}")
    model.fit(X, y)  # the model kept learns from every row
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
'''


def _split_sql(table: str, held_out: bool) -> str:
    """CTAS of one side of the split: every fifth penguin of each species (by its measurements' order) is held
    out, so the split is stratified, deterministic, and the same on every run."""
    label = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(SPECIES))
    islands = ", ".join(f"CASE WHEN island = '{i}' THEN 1 ELSE 0 END AS island_{i.lower()}" for i in ISLANDS)
    order = "bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, island, sex"
    return (f"CREATE TABLE {DATABASE}.{table} WITH (table_type = 'ICEBERG', "
            f"location = 'lake://{CURATED_BUCKET}/{table}/') AS "
            f"SELECT {', '.join(COLUMNS)} FROM ("
            f"SELECT CASE species {label} END AS label, bill_length_mm, bill_depth_mm, "
            "CAST(flipper_length_mm AS double) AS flipper_length_mm, CAST(body_mass_g AS double) AS body_mass_g, "
            f"{islands}, CASE WHEN sex = 'male' THEN 1 ELSE 0 END AS sex_male, "
            f"row_number() OVER (PARTITION BY species ORDER BY {order}) AS n "
            f"FROM {DATABASE}.penguins_clean WHERE species IN ({', '.join(repr(s) for s in SPECIES)})) "
            f"WHERE n % {HOLD_OUT_EVERY} {'=' if held_out else '<>'} 0 ORDER BY {', '.join(COLUMNS)}")


def _make_split(state: DemoState) -> list[tuple[str, int]]:
    """``demo.penguins_train`` and ``demo.penguins_test`` written afresh (a re-run drops the tables and their
    files first): the statements and the rows each wrote."""
    client = state.client
    done = []
    for table, held_out in ((TRAIN_TABLE, False), (TEST_TABLE, True)):
        with contextlib.suppress(NotFound):
            client.catalog.delete_table(database_name=DATABASE, name=table)
        if client.fs.exists(f"{CURATED_BUCKET}/{table}"):
            client.fs.rm(f"{CURATED_BUCKET}/{table}", recursive=True)
        sql = _split_sql(table, held_out)
        done.append((sql, _sql(state, sql).update_count))
    return done


def _free_name(state: DemoState, base: str) -> str:
    """``base``, or ``base-2``, ``base-3`` … if a job of that name exists (two runs in one second)."""
    name, n = base, 1
    while True:
        try:
            state.client.training.describe_training_job(training_job_name=name)
        except NotFound:
            return name
        n += 1
        name = f"{base}-{n}"


def _channel() -> list[dict[str, Any]]:
    return [{"ChannelName": "train", "ContentType": "text/csv",
             "DataSource": {"CatalogDataSource": {"DatabaseName": DATABASE, "TableName": TRAIN_TABLE,
                                                  "LabelColumn": "label"}}}]


def _follow(state: DemoState, names: list[str]) -> dict[str, Any]:
    """Poll the jobs until they end, showing each one's secondary status and newest log line; their
    DescribeTrainingJob."""
    training = state.client.training
    tokens: dict[str, str | None] = dict.fromkeys(names)
    done: dict[str, Any] = {}
    delay = 0.05
    with Progress(SpinnerColumn(), TextColumn("  {task.description}"), TextColumn("[cyan]{task.fields[status]}"),
                  TimeElapsedColumn(), TextColumn("[dim]{task.fields[line]}"), console=state.console,
                  transient=True) as progress:
        tasks = {n: progress.add_task(n, total=None, status="Starting", line="") for n in names}
        while len(done) < len(names):
            for name in names:
                if name in done:
                    continue
                page = training.get_training_job_logs(training_job_name=name, next_token=tokens[name])
                tokens[name] = page.next_token or tokens[name]
                line = page.lines[-1].message.replace("#011", " ")[:60] if page.lines else None
                fields: dict[str, Any] = {"status": f"{page.training_job_status}/{page.secondary_status}"}
                if line:
                    fields["line"] = line
                progress.update(tasks[name], **fields)
                if page.training_job_status in TERMINAL:
                    done[name] = training.describe_training_job(training_job_name=name)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
    for name in names:
        job = done[name]
        steps = " → ".join(
            f"{t.status} {((t.end_time or t.start_time) - t.start_time).total_seconds():.1f}s"
            for t in job.secondary_status_transitions)
        colour = "green" if job.training_job_status == "Completed" else "red"
        state.console.print(f"  [{colour}]{job.training_job_status}[/{colour}] [bold]{name}[/bold]: {steps}")
        if job.failure_reason:
            state.console.print(f"  [red]{job.failure_reason}[/red]")
    return done


def _cv_rows(job: Any) -> list[dict[str, Any]]:
    cv = job.cross_validation_results
    if cv is None:
        return []
    rows: list[dict[str, Any]] = [
        {"fold": str(f.fold), "mlogloss": round(f.metrics["validation:mlogloss"], 4),
         "merror": round(f.metrics["validation:merror"], 4),
         "accuracy": round(1 - f.metrics["validation:merror"], 4)} for f in cv.folds]
    loss, error = cv.summary["validation:mlogloss"], cv.summary["validation:merror"]
    rows.append({"fold": "mean ± std", "mlogloss": f"{loss.mean:.4f} ± {loss.standard_deviation:.4f}",
                 "merror": f"{error.mean:.4f} ± {error.standard_deviation:.4f}",
                 "accuracy": f"{1 - error.mean:.4f} ± {error.standard_deviation:.4f}"})
    return rows


def _lineage_row(job: Any) -> dict[str, Any]:
    spec = job.algorithm_specification
    data = []
    for channel in job.lineage.channels:
        pinned = f"snapshot {channel.snapshot_id}" if channel.snapshot_id is not None else \
            f"{len(channel.files)} file(s)"
        data.append(f"{channel.channel_name}: {channel.source} ({pinned}, {channel.rows} rows)")
    hps = {k: v for k, v in job.lineage.hyperparameters.items() if not k.startswith("sagemaker_")}
    return {"job": job.training_job_name,
            "algorithm / image": spec.algorithm_name or f"script ({spec.training_image})",
            "status": job.training_job_status, "seconds": job.training_time_in_seconds,
            "data": "; ".join(data), "code sha256": (job.lineage.code_sha256 or "")[:12],
            "hyperparameters": ", ".join(f"{k}={v}" for k, v in sorted(hps.items())),
            "model": job.model_artifacts.s3_model_artifacts if job.model_artifacts else None}


def modelling_training(state: DemoState) -> Section:
    """Training jobs (SageMaker): xgboost with 5-fold cross-validation, and a scikit-learn script."""
    client, out = state.client, state.console
    (table_sql, rows), (test_sql, test_rows) = _make_split(state)
    out.print(f"  SQL wrote {rows} rows to {DATABASE}.{TRAIN_TABLE} and held out {test_rows} (one in "
              f"{HOLD_OUT_EVERY} of each species) in {DATABASE}.{TEST_TABLE}, both Iceberg in lake://{CURATED_BUCKET}/"
              f": label = species as 0/1/2 ({', '.join(SPECIES)}), then {len(COLUMNS) - 1} numeric features")
    try:
        client.lake.head_bucket(bucket=MODELS_BUCKET)
    except NotFound:
        client.lake.create_bucket(bucket=MODELS_BUCKET)
    folder = script_folder(client.settings.home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(SCRIPT)

    stamp = state.started.strftime("%Y%m%d-%H%M%S")
    xgb_name = _free_name(state, f"penguins-xgb-cv-{stamp}")
    rf_name = _free_name(state, f"penguins-rf-{stamp}")
    client.training.create_training_job(
        training_job_name=xgb_name, algorithm_specification={"AlgorithmName": "xgboost"},
        hyper_parameters=XGB_HYPERPARAMETERS, input_data_config=_channel(),
        output_data_config={"S3OutputPath": OUTPUT}, cross_validation=CROSS_VALIDATION)
    client.training.create_training_job(
        training_job_name=rf_name,
        algorithm_specification={"TrainingImage": "sklearn", "MetricDefinitions": METRIC_DEFINITIONS},
        hyper_parameters={"sagemaker_program": "train.py", "sagemaker_submit_directory": str(folder),
                          **RF_HYPERPARAMETERS},
        input_data_config=_channel(), output_data_config={"S3OutputPath": OUTPUT})
    out.print(f"  started [bold]{xgb_name}[/bold] (built-in xgboost, {CROSS_VALIDATION['Folds']}-fold stratified "
              f"CV) and [bold]{rf_name}[/bold] (script {folder / 'train.py'} on TrainingImage sklearn)")
    jobs = _follow(state, [xgb_name, rf_name])
    xgb, rf = jobs[xgb_name], jobs[rf_name]

    cv_rows = _cv_rows(xgb)
    out.print(table_of(cv_rows, title=f"{xgb_name}: {CROSS_VALIDATION['Folds']}-fold stratified cross-validation "
                                      "(validation metrics per fold)"))
    scraped = {m.metric_name: m.value for m in rf.final_metric_data_list}
    out.print(f"  {rf_name}: metrics scraped from its log by MetricDefinitions: "
              + ", ".join(f"{k} = {v:.4f}" for k, v in sorted(scraped.items())))
    listed = client.training.list_training_jobs(name_contains=stamp, sort_by="Name", sort_order="Ascending")
    lineage = [_lineage_row(jobs.get(s.training_job_name) or client.training.describe_training_job(
        training_job_name=s.training_job_name)) for s in listed.training_job_summaries]
    # one column per job: the lineage's long values fit a terminal's width better down than across
    out.print(table_of([{"": field, **{row["job"]: row[field] for row in lineage}}
                        for field in list(lineage[0])[1:]] if lineage else [],
                       title="training jobs of this run (ListTrainingJobs), their lineage and model artifacts"))

    cv = xgb.cross_validation_results
    state.facts["training"] = {
        "train_table": f"{DATABASE}.{TRAIN_TABLE}", "train_rows": rows,
        "test_table": f"{DATABASE}.{TEST_TABLE}", "test_rows": test_rows,
        "cv_job": xgb_name, "cv_status": xgb.training_job_status,
        "cv_folds": len(cv.folds) if cv else 0,
        "cv_merror_mean": cv.summary["validation:merror"].mean if cv else None,
        "cv_mlogloss_mean": cv.summary["validation:mlogloss"].mean if cv else None,
        "script_job": rf_name, "script_status": rf.training_job_status, "script_metrics": scraped,
        "failures": {j.training_job_name: j.failure_reason for j in (xgb, rf) if j.failure_reason},
        "models": [r["model"] for r in lineage]}
    return Section(
        title="5 · Training jobs (SageMaker)",
        text=f"SQL wrote {rows} numeric rows to the Iceberg table {DATABASE}.{TRAIN_TABLE} and held out {test_rows} "
             f"(one penguin in {HOLD_OUT_EVERY} of each species) in {DATABASE}.{TEST_TABLE}. The built-in xgboost "
             f"({XGB_HYPERPARAMETERS['num_round']} rounds, multi:softprob) was cross-validated in "
             f"{CROSS_VALIDATION['Folds']} stratified folds, then fitted on every row; a scikit-learn random forest "
             f"ran as a script in SageMaker's script mode. Both read the table through a catalog channel pinned "
             f"to its snapshot: the lineage below names the snapshot, the code's hash and the hyperparameters.",
        tables=[("Cross-validation of " + xgb_name, cv_rows),
                ("Training jobs and their lineage", lineage),
                ("Metrics scraped from " + rf_name, [{"metric": k, "value": v} for k, v in sorted(scraped.items())]),
                ("SQL", [{"statement": table_sql}, {"statement": test_sql}])],
        bars=[("Cross-validation accuracy per fold (1 − merror)",
               {f"fold {f.fold}": 1 - f.metrics["validation:merror"] for f in cv.folds} if cv else {}),
              ("Cross-validation mlogloss per fold",
               {f"fold {f.fold}": f.metrics["validation:mlogloss"] for f in cv.folds} if cv else {})],
    )


def script_folder(home: Path) -> Path:
    """Where the demo writes its training script."""
    return home / "demo" / "penguins-rf"
