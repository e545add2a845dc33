"""``crispml training logs|wait`` and ``create-training-job --wait``: following a job from the shell.

``logs JOB [--follow]`` prints a job's log lines, and with ``--follow`` keeps
reading new ones until the job is over, as ``aws logs tail --follow`` does.
``wait JOB`` and ``create-training-job … --wait`` show the job's progress —
on a terminal a live line with its secondary status under its last log lines,
otherwise plain lines, both on stderr so stdout keeps only the result — then
its outcome: status, failure reason, model, final metrics and the
cross-validation summary. A job that ends Failed or Stopped ends the command
with exit code 2 and one error line, as any refused command does.

Polling is :mod:`crispml.sdk.jobs`'s, shared with the SDK's estimator; this
module only shows what it sees. Ctrl-C ends a command at once (exit 130; the
job goes on: stop it with ``stop-training-job``).
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import typer

from crispml.cli.generated import Extension, OutputFormat
from crispml.cli.state import state_of

if TYPE_CHECKING:
    from rich.console import Console

    from crispml.sdk.jobs import Progress

#: Log lines the live display keeps above its status line.
LIVE_LINES = 8
_OUTPUT = typer.Option(OutputFormat.table, "--output", "-o", help="table (for people) or json (for scripts).")


def logs(
    ctx: typer.Context,
    training_job_name: str = typer.Argument(..., help="The training job.", show_default=False),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the job is over."),
    output: OutputFormat = _OUTPUT,
) -> None:
    """Print a training job's log lines; with --follow, new ones as they come until the job is over."""
    from crispml.sdk.jobs import follow as follow_job

    client = state_of(ctx).client()
    out = _stdout()
    for progress in follow_job(client, training_job_name, keep_going=follow):
        for line in progress.lines:
            if output == OutputFormat.json:
                sys.stdout.write(json.dumps({"timestamp": line.timestamp.isoformat(), "message": line.message})
                                 + "\n")
            else:
                out.print(_line_text(line))
        sys.stdout.flush()


def wait(
    ctx: typer.Context,
    training_job_name: str = typer.Argument(..., help="The training job.", show_default=False),
    output: OutputFormat = _OUTPUT,
) -> None:
    """Wait for a training job to end, showing its progress; exit code 2 unless it Completed."""
    _wait(ctx, training_job_name, output)


def _wait_after_create(ctx: typer.Context, request: dict[str, Any], response: Any, output: OutputFormat,
                       *, wait: bool) -> bool:
    if not wait:
        return False
    _wait(ctx, request["training_job_name"], output)
    return True


EXTENSIONS = {"create_training_job": Extension(
    parameters=(inspect.Parameter(
        "wait", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
        default=typer.Option(False, "--wait", help="Wait for the job to end, showing its progress; print its "
                                                   "outcome (exit code 2 unless it Completed).")),),
    finish=_wait_after_create)}


def _wait(ctx: typer.Context, name: str, output: OutputFormat) -> None:
    from crispml.render import error_console, render
    from crispml.sdk.jobs import check_status, wait_for_training_job

    client = state_of(ctx).client()
    progress_console = error_console()
    if output == OutputFormat.json:
        job = wait_for_training_job(client, name, allowed=("Completed", "Failed", "Stopped"))
    elif progress_console.is_terminal:
        job = _wait_live(client, name, progress_console)
    else:
        job = wait_for_training_job(client, name, logs=True, on_progress=_PlainProgress(name, progress_console),
                                    allowed=("Completed", "Failed", "Stopped"))
    if output == OutputFormat.json:
        render(job, "json")
    else:
        _show_outcome(job)
    check_status(job)


class _PlainProgress:
    """Progress as plain lines (not a terminal): each status change, and each log line indented."""

    def __init__(self, name: str, console: Console) -> None:
        self.name, self.console, self.last = name, console, ("", "")

    def __call__(self, progress: Progress) -> None:
        for line in progress.lines:
            self.console.print(f"  {line.message}", markup=False, highlight=False)
        now = (progress.status, progress.secondary_status)
        if now != self.last:
            self.last = now
            self.console.print(f"{self.name}: {progress.status} - {progress.secondary_status}", markup=False,
                               highlight=False)


def _wait_live(client: Any, name: str, console: Console) -> Any:
    """Wait with a live display: the last log lines, and a spinner with the statuses and the time taken."""
    from collections import deque

    from rich.console import Group
    from rich.live import Live
    from rich.spinner import Spinner
    from rich.text import Text

    from crispml.sdk.jobs import wait_for_training_job

    started = time.monotonic()
    recent: deque[Any] = deque(maxlen=LIVE_LINES)
    spinner = Spinner("dots", text=Text(f"{name}: starting"))

    def view() -> Group:
        return Group(*[_line_text(line, width=console.width) for line in recent], spinner)

    with Live(view(), console=console, transient=True, refresh_per_second=8) as live:
        def show(progress: Progress) -> None:
            recent.extend(progress.lines)
            elapsed = int(time.monotonic() - started)
            spinner.update(text=Text.assemble((name, "bold"), f": {progress.status} - ",
                                              (progress.secondary_status, "cyan"), (f"  {elapsed} s", "dim")))
            live.update(view())
        return wait_for_training_job(client, name, logs=True, on_progress=show,
                                     allowed=("Completed", "Failed", "Stopped"))


def _show_outcome(job: Any) -> None:
    """The job's end for people: statuses, failure reason, model, then metrics and CV summary as tables."""
    from rich.table import Table
    from rich.text import Text

    from crispml.render import table_of

    out = _stdout()
    style = {"Completed": "green", "Failed": "red", "Stopped": "yellow"}.get(job.training_job_status, "")
    rows: list[tuple[str, Text]] = [
        ("training job", Text(job.training_job_name)),
        ("status", Text.assemble((job.training_job_status, f"bold {style}"), f" ({job.secondary_status})")),
    ]
    if job.failure_reason:
        rows.append(("failure reason", Text(job.failure_reason)))
    if job.model_artifacts is not None:
        rows.append(("model", Text(job.model_artifacts.s3_model_artifacts)))
    if job.training_time_in_seconds is not None:
        rows.append(("training time", Text(f"{job.training_time_in_seconds} s")))
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="dim")
    summary.add_column(overflow="fold")
    for key, value in rows:
        summary.add_row(key, value)
    out.print(summary)
    if job.final_metric_data_list:
        out.print(table_of([{"metric": m.metric_name, "value": f"{m.value:.6g}"} for m in job.final_metric_data_list],
                           title="final metrics"))
    cv = job.cross_validation_results
    if cv is not None and cv.summary:
        out.print(table_of([{"metric": metric, "mean": s.mean, "standard deviation": s.standard_deviation}
                            for metric, s in cv.summary.items()],
                           title=f"cross-validation ({cv.strategy}, {len(cv.folds)} folds)"))


def _line_text(line: Any, width: int | None = None) -> Any:
    from rich.text import Text

    text = Text.assemble((line.timestamp.strftime("%Y-%m-%d %H:%M:%S"), "dim"), "  ", line.message)
    if width is not None:  # the live view keeps one row per line
        text.truncate(width, overflow="ellipsis")
    return text


def _stdout() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


def register(group: typer.Typer) -> None:
    group.command("logs", short_help="Print a job's log lines (--follow: until it is over).")(logs)
    group.command("wait", short_help="Wait for a job to end, showing its progress.")(wait)
