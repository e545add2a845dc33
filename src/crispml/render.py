"""Render operation responses as tables (for people) or JSON (for scripts): what the command line prints,
and the tables the demo shows. It imports only pydantic and rich, so any shell can use it."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

Output = Literal["table", "json"]


def console() -> Console:
    return Console(soft_wrap=False)


def error_console() -> Console:
    return Console(stderr=True, soft_wrap=True)


def _cell(value: Any) -> str:
    """A value as plain text; callers wrap it in Text (or escape it): keys may hold '[...]'."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, BaseModel):
        return json.dumps(value.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
    if _fields(value) is not None:  # a dataclass entry
        return json.dumps(to_jsonable_python(value, exclude_none=True), separators=(",", ":"))
    if isinstance(value, dict | list):  # models inside as their JSON too, not their repr
        return json.dumps(to_jsonable_python(value, fallback=str, exclude_none=True),
                          separators=(",", ":")) if value else ""
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def _fields(value: Any) -> dict[str, Any] | None:
    """A row's fields by name: a model's, a dataclass's (entries returned by the hundred) or a dict's;
    None for any other value."""
    if isinstance(value, dict):
        return value
    if isinstance(value, BaseModel):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def table_of(rows: list[Any], title: str | None = None) -> Table:
    """A table with one column per field of the rows (models, dataclasses or dicts)."""
    table = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    dicts = [_fields(r) or {} for r in rows]
    columns: list[str] = []
    for d in dicts:
        columns += [k for k in d if k not in columns]
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for d in dicts:
        table.add_row(*[Text(_cell(d.get(c))) for c in columns])
    return table


def render(response: BaseModel | dict[str, Any], output: Output, *, title: str | None = None) -> None:
    """Print a response: list fields as tables and the rest as key/value lines, or all as JSON.

    A response that is one record with nested parts (a description: DescribeTrainingJob, GetTable) reads
    as sections: its fields as key/value rows, each nested model or mapping indented under its name, then
    its lists as titled tables. A response that is mostly a list keeps its few other fields on one line
    under the table (``key count: 3``).
    """
    data = response.to_json_dict() if hasattr(response, "to_json_dict") else (
        response.model_dump(mode="json") if isinstance(response, BaseModel) else response)
    if output == "json":
        # to_jsonable_python: datetimes in plain dicts (lake ls) as ISO 8601, like in responses
        sys.stdout.write(json.dumps(to_jsonable_python(data, fallback=str), indent=2) + "\n")
        return
    out = console()
    fields = dict(response)
    lists = {k: v for k, v in fields.items() if isinstance(v, list) and v and _fields(v[0]) is not None}
    scalars = {k: v for k, v in fields.items() if k not in lists and not _is_stream(response, k)}
    columns: dict[str, list[str]] = getattr(type(response), "table_columns", {})
    shown = {k: v for k, v in scalars.items() if not _empty(v)}
    record = any(_nested(v) for v in shown.values())
    if record and shown:
        out.print(_key_values(shown))
    for name, rows in lists.items():
        if name in columns:
            rows = [{c: (_fields(r) or {}).get(c) for c in columns[name]} for r in rows]
        titled = len(lists) > 1 or title or record
        out.print(table_of(rows, title=name.replace("_", " ") if titled else None))
    if record:
        return
    if shown:
        if lists:
            out.print("  ".join(f"[dim]{k.replace('_', ' ')}:[/dim] {escape(_cell(v))}" for k, v in shown.items()))
        else:
            out.print(_key_values(shown))
    elif not lists:
        out.print("[green]done[/green]")


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _nested(value: Any) -> bool:
    """A model or a mapping: shown as indented rows of its own, not as one JSON cell."""
    return isinstance(value, dict) or (not isinstance(value, datetime) and _fields(value) is not None)


#: How deep nested models are drawn as rows; deeper ones are one JSON cell.
_DEPTH = 4


def _key_values(values: dict[str, Any], depth: int = 1, *, names: bool = True) -> Table:
    """Rows of name and value; a nested model or mapping is a table of its own in the value's cell, a list of
    models a table of them. ``names``: the keys are field names (shown with spaces), not a mapping's own keys
    (hyperparameters, tags: shown as they are)."""
    kv = Table(show_header=False, box=None, pad_edge=False)
    kv.add_column(style="dim")
    kv.add_column(overflow="fold")
    for k, v in values.items():
        kv.add_row(Text(k.replace("_", " ") if names else str(k)), _value(v, depth))
    return kv


def _value(value: Any, depth: int) -> Any:
    if depth < _DEPTH:
        if isinstance(value, list) and value and all(_fields(v) is not None and not isinstance(v, dict)
                                                     for v in value):
            return table_of(value)
        if _nested(value):
            inner = {k: v for k, v in (_fields(value) or {}).items() if not _empty(v)}
            if inner:
                return _key_values(inner, depth + 1, names=not isinstance(value, dict))
    return Text(_cell(value))


def _is_stream(response: Any, name: str) -> bool:
    fields = getattr(type(response), "model_fields", {})
    field = fields.get(name)
    return bool(field is not None and (field.json_schema_extra or {}).get("stream"))


#: Files of one lineage input shown before "… and N more".
SHOWN_FILES = 5


def lineage_tree(response: Any) -> Any:
    """A model version's lineage (``GetModelPackageLineage``'s response) as a rich Tree: what ``crispml registry
    lineage`` prints and the demo shows."""
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
