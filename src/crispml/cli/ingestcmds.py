"""``crispml ingest start-job-run``: the run's outcome as a readable summary, not a record folded into a cell.

StartJobRun returns the run when it has ended; on a terminal (``--output
table``) this prints what a person looks for — the state, rows and bytes read
and written, files read, the snapshot committed, the table created or
replaced, the bookmark before and after spelled out (``updated_at > 2024-03-02
09:00:00``, or ``3 files``), times and the error message. ``--output json``
prints the whole response, as before. The operation is called exactly once,
as without this module.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from crispml.cli.generated import Extension, OutputFormat


def bookmark_text(stored: str | None) -> str:
    """A job bookmark (JSON) in words: a watermark as ``column > value``, files as how many."""
    if not stored:
        return "none (the run loads everything)"
    try:
        value = json.loads(stored)
    except json.JSONDecodeError:
        return stored
    if isinstance(value, dict) and "column" in value:
        mark = value.get("watermark")
        if not mark:
            return f"{value['column']}: no rows yet"
        return f"{value['column']} > {mark.get('value')} ({mark.get('type')})"
    if isinstance(value, dict) and "files" in value:
        files = value["files"]
        return f"{len(files)} file{'s' if len(files) != 1 else ''} loaded"
    return stored


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{count:,} B" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return f"{count:,} B"


def summary_rows(run: Any) -> list[tuple[str, str]]:
    """The lines of a run's summary, as (label, value)."""
    rows = [
        ("state", str(run.job_run_state)),
        ("rows", f"{run.rows_read:,} read, {run.rows_written:,} written"),
        ("bytes", f"{_size(run.bytes_read)} read, {_size(run.bytes_written)} written"),
        ("files read", f"{run.files_read:,}"),
        ("snapshot", str(run.snapshot_id) if run.snapshot_id is not None else "none (no managed-table commit)"),
        ("bookmark before", bookmark_text(run.bookmark_before)),
        ("bookmark after", bookmark_text(run.bookmark_after) if run.job_run_state == "SUCCEEDED"
         else "unchanged (the run did not succeed)"),
        ("started", run.started_on.strftime("%Y-%m-%d %H:%M:%S")),
        ("completed", run.completed_on.strftime("%Y-%m-%d %H:%M:%S") if run.completed_on else ""),
        ("execution time", f"{run.execution_time} s"),
    ]
    if run.error_message:
        rows.append(("error", run.error_message))
    return rows


def _show_run(ctx: typer.Context, request: dict[str, Any], response: Any, output: OutputFormat) -> bool:
    if output == OutputFormat.json:
        return False  # the whole response, as rendered for every command
    from rich.table import Table
    from rich.text import Text

    from crispml.render import console

    run = response.job_run
    table = Table(title=f"job run {run.id} of job {run.job_name}", title_justify="left", show_header=False,
                  box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column(overflow="fold")
    for label, value in summary_rows(run):
        table.add_row(Text(label), Text(value))
    console().print(table)
    return True


EXTENSIONS = {"start_job_run": Extension(parameters=(), finish=_show_run)}


def register(group: typer.Typer) -> None:
    """No commands of its own: the summary extends the generated ``start-job-run``."""
