"""``crispml registry lineage GROUP VERSION``: where a model version comes from, as a tree.

One call (``GetModelPackageLineage``), rendered: the version and its approval
status, its training job, each input it read — a table's snapshot id and rows,
or files with their ETags — the code's SHA-256 and the hyperparameters. With
``--output json`` it prints the operation's response, the same data Python
gets from ``client.registry.get_model_package_lineage``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from crispml.cli.generated import OutputFormat
from crispml.cli.state import state_of

#: Files of one input shown before "… and N more".
SHOWN_FILES = 5


def lineage(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The model package group.", show_default=False),
    version: int = typer.Argument(..., help="The version, from 1.", show_default=False),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o",
                                        help="table (a tree, for people) or json (for scripts)."),
) -> None:
    """Print a model version's lineage: training job, input snapshots or files, code hash, hyperparameters."""
    response = state_of(ctx).client().registry.get_model_package_lineage(model_package_name=f"{group}/{version}")
    if output == OutputFormat.json:
        sys.stdout.write(json.dumps(response.to_json_dict(), indent=2) + "\n")
        return
    from rich.console import Console

    Console(soft_wrap=True, highlight=False).print(tree(response))


def tree(response: Any) -> Any:
    """The lineage response as a rich Tree."""
    from rich.markup import escape
    from rich.tree import Tree

    root = Tree(f"[bold]{escape(response.model_package_group_name)}/{response.model_package_version}[/] "
                f"({response.model_approval_status})")
    found = response.lineage
    if found is None:
        root.add("no training job recorded (registered with its InferenceSpecification only)")
        return root
    job = root.add(f"training job [bold]{escape(found.training_job_name)}[/] ({escape(found.algorithm)})")
    if found.model_data_url:
        job.add(f"model {escape(found.model_data_url)}")
    inputs = job.add("inputs")
    for item in found.inputs:
        branch = inputs.add(f"{escape(item.channel_name)}: {escape(item.source)}")
        if item.snapshot_id is not None:
            branch.add(f"snapshot {item.snapshot_id}")
        if item.rows is not None:
            branch.add(f"{item.rows} rows")
        for pinned in item.files[:SHOWN_FILES]:
            branch.add(f"{escape(pinned.uri)} ETag {escape(pinned.e_tag)} ({pinned.size} bytes)")
        if len(item.files) > SHOWN_FILES:
            branch.add(f"… and {len(item.files) - SHOWN_FILES} more files")
    job.add(f"code sha256 {found.code_sha256 or '(none)'}")
    hyperparameters = job.add("hyperparameters")
    for key, value in sorted(found.hyperparameters.items()):
        hyperparameters.add(f"{escape(key)} = {escape(value)}")
    if found.final_metrics:
        metrics = job.add("final metrics")
        for metric in found.final_metrics:
            metrics.add(f"{escape(metric.metric_name)} = {metric.value:g}")
    return root


def register(group: typer.Typer) -> None:
    group.command("lineage", short_help="Print a model version's lineage as a tree.")(lineage)
