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

import typer

from crispml.cli.generated import OutputFormat
from crispml.cli.state import state_of
from crispml.render import lineage_tree


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

    Console(soft_wrap=True, highlight=False).print(lineage_tree(response))


def register(group: typer.Typer) -> None:
    group.command("lineage", short_help="Print a model version's lineage as a tree.")(lineage)
