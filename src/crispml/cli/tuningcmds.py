"""``crispml tuning leaderboard JOB``: a tuning job's trials, best first, as a table.

One call (``ListTrainingJobsForHyperParameterTuningJob`` sorted by the final
objective), rendered: rank, training job, status (``early-stopped`` for a
trial stopped by early stopping or Hyperband), the objective, the steps it
reported and its tuned hyperparameters. Trials without an objective come
last. With ``--output json`` it prints the operation's response.
"""

from __future__ import annotations

import json
import sys

import typer

from crispml.cli.generated import OutputFormat
from crispml.cli.state import state_of


def leaderboard(
    ctx: typer.Context,
    job: str = typer.Argument(..., help="The hyperparameter tuning job.", show_default=False),
    top: int = typer.Option(100, "--top", min=1, max=100, help="Show the best N trials."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o",
                                        help="table (for people) or json (for scripts)."),
) -> None:
    """Print a tuning job's trials ranked by their final objective (best first), with their hyperparameters."""
    client = state_of(ctx).client()
    described = client.tuning.describe_hyper_parameter_tuning_job(hyper_parameter_tuning_job_name=job)
    objective = described.hyper_parameter_tuning_job_config.hyper_parameter_tuning_job_objective
    order = "Ascending" if objective.type == "Minimize" else "Descending"
    response = client.tuning.list_training_jobs_for_hyper_parameter_tuning_job(
        hyper_parameter_tuning_job_name=job, sort_by="FinalObjectiveMetricValue", sort_order=order, max_results=top)
    if output == OutputFormat.json:
        sys.stdout.write(json.dumps(response.to_json_dict(), indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{job}: {objective.metric_name} ({objective.type}) — "
                        f"{described.hyper_parameter_tuning_job_status}")
    for column in ("rank", "training job", "status", objective.metric_name, "steps", "hyperparameters"):
        table.add_column(column, justify="right" if column in ("rank", "steps") else "left")
    for rank, trial in enumerate(response.training_job_summaries, 1):
        final = trial.final_hyper_parameter_tuning_job_objective_metric
        status = "early-stopped" if trial.early_stopped else trial.training_job_status
        table.add_row(str(rank), trial.training_job_name, status, f"{final.value:.6g}" if final else "-",
                      str(trial.objective_steps),
                      ", ".join(f"{k}={_short(v)}" for k, v in sorted(trial.tuned_hyper_parameters.items())))
    Console(soft_wrap=True, highlight=False).print(table)


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value else f"{number:.4g}"


def register(group: typer.Typer) -> None:
    group.command("leaderboard", short_help="Print a tuning job's trials ranked by their objective.")(leaderboard)
