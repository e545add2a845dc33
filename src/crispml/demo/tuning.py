"""The demo's tuning phase (CRISP-DM: modelling again): a Bayesian tuning job of xgboost (SageMaker automatic
model tuning), the best trial's model evaluated on the held-out rows and registered as a new version.

SQL splits ``demo.penguins_train`` once more, stratified and deterministic (one penguin in four of each species
for validation), into ``demo.penguins_tune_train`` and ``demo.penguins_tune_validation``; the tuning job runs
:data:`TRIALS` xgboost trials, :data:`PARALLEL` at a time on warm workers, over ``eta``, ``max_depth``,
``min_child_weight`` and ``subsample``, minimising ``validation:mlogloss`` with AWS's ``AUTO`` early stopping.
The leaderboard is printed as ``crispml tuning leaderboard`` prints it; the best trial's model is judged on
``demo.penguins_test`` — rows neither the trials nor their validation saw — and becomes a new version of the
group ``penguins``, pending approval (the approved version stays the one the evaluation phase chose). Names
carry the run's time, so the demo runs again on the same home.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crispml.core.errors import NotFound
from crispml.demo.evaluation import EVALUATIONS, GROUP, _test_channel
from crispml.demo.modelling import COLUMNS, OUTPUT, TEST_TABLE, TRAIN_TABLE
from crispml.demo.phases import CURATED_BUCKET, DATABASE, DemoState, _sql
from crispml.demo.report import Section
from crispml.render import table_of

TRIALS = 20
PARALLEL = 2
TUNE_TRAIN = "penguins_tune_train"
TUNE_VALIDATION = "penguins_tune_validation"
#: One penguin in this many (of each species) of the training table validates the trials.
VALIDATE_EVERY = 4
STATIC = {"objective": "multi:softprob", "num_class": "3", "num_round": "30", "eval_metric": "mlogloss",
          "seed": "7"}
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.02", "MaxValue": "0.6", "ScalingType": "Logarithmic"},
        {"Name": "min_child_weight", "MinValue": "0.5", "MaxValue": "8"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1"}],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "6"}]}
OBJECTIVE = {"Type": "Minimize", "MetricName": "validation:mlogloss"}


def _split(state: DemoState) -> dict[str, int]:
    """The two tables written afresh from the training table: their rows."""
    client = state.client
    rows = {}
    features = ", ".join(COLUMNS)
    for table, validation in ((TUNE_TRAIN, False), (TUNE_VALIDATION, True)):
        with contextlib.suppress(NotFound):
            client.catalog.delete_table(database_name=DATABASE, name=table)
        if client.fs.exists(f"{CURATED_BUCKET}/{table}"):
            client.fs.rm(f"{CURATED_BUCKET}/{table}", recursive=True)
        sql = (f"CREATE TABLE {DATABASE}.{table} WITH (table_type = 'ICEBERG', "
               f"location = 'lake://{CURATED_BUCKET}/{table}/') AS SELECT {features} FROM ("
               f"SELECT {features}, row_number() OVER (PARTITION BY label ORDER BY {features}) AS n "
               f"FROM {DATABASE}.{TRAIN_TABLE}) WHERE n % {VALIDATE_EVERY} {'=' if validation else '<>'} 0 "
               f"ORDER BY {features}")
        rows[table] = _sql(state, sql).update_count
    return rows


def _channel(name: str, table: str) -> dict[str, Any]:
    return {"ChannelName": name, "ContentType": "text/csv",
            "DataSource": {"CatalogDataSource": {"DatabaseName": DATABASE, "TableName": table,
                                                 "LabelColumn": "label"}}}


def _follow(state: DemoState, name: str) -> Any:
    """Poll the tuning job until it ends, showing its trial counts and best objective so far; its description."""
    tuning = state.client.tuning
    delay = 0.2
    with Progress(SpinnerColumn(), TextColumn("  {task.description}"), TextColumn("[cyan]{task.fields[status]}"),
                  TimeElapsedColumn(), console=state.console, transient=True) as progress:
        task = progress.add_task(name, total=None, status="InProgress")
        while True:
            job = tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=name)
            counts = job.training_job_status_counters
            best = job.best_training_job
            progress.update(task, status=f"{job.hyper_parameter_tuning_job_status}: {counts.completed} completed, "
                                         f"{counts.stopped} early-stopped, {counts.in_progress} running"
                                         + (f"; best {best.final_hyper_parameter_tuning_job_objective_metric.value:.4f}"
                                            if best and best.final_hyper_parameter_tuning_job_objective_metric else ""))
            if job.hyper_parameter_tuning_job_status not in ("InProgress", "Stopping"):
                return job
            time.sleep(delay)
            delay = min(delay * 1.3, 0.3)  # a read of one row: polling often ends the phase as the job ends


def _board_row(rank: int, trial: Any) -> dict[str, Any]:
    final = trial.final_hyper_parameter_tuning_job_objective_metric
    hp = trial.tuned_hyper_parameters
    return {"rank": rank, "trial": trial.training_job_name[len(trial.tuning_job_name) + 1:],
            "status": "early-stopped" if trial.early_stopped else trial.training_job_status,
            "validation:mlogloss": round(final.value, 4) if final else None, "rounds": trial.objective_steps,
            "eta": round(float(hp["eta"]), 4), "max_depth": int(hp["max_depth"]),
            "min_child_weight": round(float(hp["min_child_weight"]), 3),
            "subsample": round(float(hp["subsample"]), 3)}


def tuning_phase(state: DemoState) -> Section:
    """Tuning (SageMaker automatic model tuning): 20 Bayesian xgboost trials, 2 at a time; the best registered."""
    client, out = state.client, state.console
    split = _split(state)
    out.print(f"  SQL split {DATABASE}.{TRAIN_TABLE} into {DATABASE}.{TUNE_TRAIN} ({split[TUNE_TRAIN]} rows) and "
              f"{DATABASE}.{TUNE_VALIDATION} ({split[TUNE_VALIDATION]} rows, one in {VALIDATE_EVERY} of each "
              "species) for the trials")
    name = f"penguins-tune-{state.started.strftime('%Y%m%d-%H%M%S')}"
    client.tuning.create_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=name,
        hyper_parameter_tuning_job_config={
            "Strategy": "Bayesian", "HyperParameterTuningJobObjective": OBJECTIVE, "ParameterRanges": RANGES,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": TRIALS, "MaxParallelTrainingJobs": PARALLEL},
            "TrainingJobEarlyStoppingType": "Auto", "RandomSeed": 7},
        training_job_definition={
            "AlgorithmSpecification": {"AlgorithmName": "xgboost"}, "StaticHyperParameters": STATIC,
            "InputDataConfig": [_channel("train", TUNE_TRAIN), _channel("validation", TUNE_VALIDATION)],
            "OutputDataConfig": {"S3OutputPath": OUTPUT}, "ResourceConfig": {"KeepAlivePeriodInSeconds": 30}})
    out.print(f"  started [bold]{name}[/bold]: Bayesian (TPE) over eta, max_depth, min_child_weight, subsample; "
              f"{TRIALS} trials, {PARALLEL} at a time on warm workers; AUTO early stopping")
    began = time.perf_counter()
    job = _follow(state, name)
    seconds = time.perf_counter() - began
    counts = job.training_job_status_counters
    board = client.tuning.list_training_jobs_for_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=name, sort_by="FinalObjectiveMetricValue", sort_order="Ascending")
    rows = [_board_row(i, t) for i, t in enumerate(board.training_job_summaries, 1)]
    out.print(table_of(rows[:5], title=f"{name}: leaderboard (best 5 of {len(rows)}; crispml tuning leaderboard "
                                       f"{name}) — {job.hyper_parameter_tuning_job_status} in {seconds:.0f}s"))
    facts: dict[str, Any] = {"job": name, "status": job.hyper_parameter_tuning_job_status, "trials": len(rows),
                             "completed": counts.completed, "early_stopped": counts.stopped,
                             "failed": counts.non_retryable_error, "seconds": round(seconds, 1)}
    state.facts["tuning"] = facts
    best = job.best_training_job
    if best is None:
        out.print(f"  [red]no trial reported the objective: {job.failure_reason}[/red]")
        return Section(title="8 · Tuning", text=f"The tuning job {name} ended {job.hyper_parameter_tuning_job_status}.")
    objective = best.final_hyper_parameter_tuning_job_objective_metric
    evaluation = client.evaluation.create_evaluation_job(
        evaluation_job_name=f"eval-{best.training_job_name}"[:63],
        model_source={"TrainingJobName": best.training_job_name},
        test_data=_test_channel(), problem_type="MulticlassClassification", output_location=EVALUATIONS)
    arn = client.registry.create_model_package(
        model_package_group_name=GROUP, source_training_job_name=best.training_job_name,
        model_package_description=f"best trial of {name}, evaluated by {evaluation.evaluation_job_name}",
        model_metrics={"ModelQuality": {"Statistics": {"ContentType": "text/html", "S3Uri": evaluation.report_uri}}},
        customer_metadata_properties={"tuning_job": name, "evaluation": evaluation.evaluation_job_name,
                                      "accuracy": f"{evaluation.metrics['accuracy']:.4f}"}).model_package_arn
    version = "/".join(arn.rsplit("/", 2)[-2:])
    out.print(f"  best trial [bold]{best.training_job_name}[/bold] (validation:mlogloss {objective.value:.4f}): "
              f"held-out accuracy {evaluation.metrics['accuracy']:.4f}, macro F1 {evaluation.metrics['f1']:.4f} on "
              f"{DATABASE}.{TEST_TABLE}; registered as [bold]{version}[/bold] (pending approval)")
    facts.update({"best_job": best.training_job_name, "best_objective": objective.value,
                  "best_hyperparameters": best.tuned_hyper_parameters, "evaluation": evaluation.evaluation_job_name,
                  "evaluation_status": evaluation.status, "accuracy": evaluation.metrics["accuracy"],
                  "f1": evaluation.metrics["f1"], "registered": version})
    return Section(
        title="8 · Tuning (SageMaker automatic model tuning)",
        text=f"The tuning job {name} ran {len(rows)} xgboost trials, {PARALLEL} at a time, each a training job on "
             f"{DATABASE}.{TUNE_TRAIN} validated on {DATABASE}.{TUNE_VALIDATION}; Optuna's TPE chose each trial's "
             f"hyperparameters from the earlier ones, and AUTO early stopping stopped {counts.stopped} trials whose "
             f"validation loss was worse than the median of earlier trials' running averages. The best trial, "
             f"{best.training_job_name}, scored accuracy {evaluation.metrics['accuracy']:.4f} on the held-out "
             f"{DATABASE}.{TEST_TABLE} and is version {version} of {GROUP}, pending approval.",
        tables=[("Leaderboard", rows)],
        bars=[("validation:mlogloss per trial (lower is better)",
               {r["trial"]: r["validation:mlogloss"] for r in rows
                if r["validation:mlogloss"] is not None})],
    )
