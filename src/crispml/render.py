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
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):  # nested shapes (dimensions)
        return json.dumps([v.model_dump(mode="json", exclude_none=True) for v in value], separators=(",", ":"))
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(",", ":")) if value else ""
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
    """Print a response: list fields as tables and the rest as key/value lines, or all as JSON."""
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
    for name, rows in lists.items():
        if name in columns:
            rows = [{c: (_fields(r) or {}).get(c) for c in columns[name]} for r in rows]
        out.print(table_of(rows, title=name.replace("_", " ") if len(lists) > 1 or title else None))
    shown = {k: v for k, v in scalars.items() if v not in (None, [], {}, "")}
    if shown:
        if lists:
            out.print("  ".join(f"[dim]{k.replace('_', ' ')}:[/dim] {escape(_cell(v))}" for k, v in shown.items()))
        else:
            kv = Table(show_header=False, box=None, pad_edge=False)
            kv.add_column(style="dim")
            kv.add_column(overflow="fold")
            for k, v in shown.items():
                kv.add_row(k.replace("_", " "), Text(_cell(v)))
            out.print(kv)
    elif not lists:
        out.print("[green]done[/green]")


def _is_stream(response: Any, name: str) -> bool:
    fields = getattr(type(response), "model_fields", {})
    field = fields.get(name)
    return bool(field is not None and (field.json_schema_extra or {}).get("stream"))
