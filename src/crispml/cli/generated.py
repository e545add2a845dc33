"""CLI commands derived from operation declarations.

For each operation ``lake:PutObject`` with request fields ``bucket, key, body,
…`` this builds ``crispml lake put-object --bucket … --key … --body FILE``:
one option per field (kebab-case), required fields required, enums as
choices, nested shapes as JSON (inline or ``file://path``, as the AWS CLI
does), byte bodies as file paths (``-`` for stdin), and ``--output
table|json``. The command parses, calls the one operation, renders — nothing
else — so it behaves exactly like the SDK method.
"""

from __future__ import annotations

import enum
import inspect
import json
import shutil
import sys
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import typer
from pydantic.fields import FieldInfo

from crispml.cli.render import render
from crispml.cli.state import state_of
from crispml.core.errors import InvalidArgument
from crispml.spine.operations import OperationSpec, kebab


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


def _unwrap_optional(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
    if origin is typing.Annotated:
        return _unwrap_optional(get_args(annotation)[0])
    return annotation


def _is_stream(field: FieldInfo) -> bool:
    return bool((field.json_schema_extra or {}).get("stream"))  # type: ignore[union-attr]


def _kind(field: FieldInfo) -> tuple[str, Any]:
    """How a field is given on the command line: (kind, python type)."""
    if _is_stream(field):
        return "file", Path
    annotation = _unwrap_optional(field.annotation)
    if get_origin(annotation) is Literal:
        return "choice", [str(a) for a in get_args(annotation)]
    if annotation in (str, int, float):
        return "plain", annotation
    if annotation is bool:
        return "flag", bool
    if annotation is datetime:
        return "plain", str
    return "json", str


def parse_json_option(name: str, text: str) -> Any:
    """JSON given inline or as ``file://path`` (the AWS CLI convention)."""
    if text.startswith("file://"):
        path = Path(text[len("file://"):]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidArgument(f"--{kebab(name)}: cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"--{kebab(name)} must be JSON (inline or file://path): {exc.msg} at position {exc.pos}"
        ) from exc


_CHOICES: dict[tuple[str, str], type[enum.Enum]] = {}


def _choices(spec: OperationSpec, name: str, values: list[str]) -> type[enum.Enum]:
    """A str Enum for a Literal field, so typer offers and checks the choices."""
    key = (spec.action, name)
    if key not in _CHOICES:
        choices: Any = enum.Enum(f"{spec.name}_{name}", {v: v for v in values}, type=str)  # type: ignore[misc]
        _CHOICES[key] = choices
    return _CHOICES[key]


def _parameters(spec: OperationSpec) -> list[inspect.Parameter]:
    params: list[inspect.Parameter] = []
    for name, field in spec.request_model.model_fields.items():
        kind, typ = _kind(field)
        flag = f"--{kebab(name)}"
        help_text = field.description or ""
        required = field.is_required()
        default: Any = ... if required else None
        if name in spec.cli.positional:
            option: Any = typer.Argument(default, help=help_text, show_default=False)
            annotation: Any = str
        elif kind == "choice":
            option = typer.Option(default, flag, help=help_text, show_default=False)
            annotation = _choices(spec, name, typ)
        elif kind == "flag":
            option = typer.Option(None if not required else ..., f"{flag}/--no-{kebab(name)}", help=help_text)
            annotation = bool | None if not required else bool
        elif kind == "file":
            option = typer.Option(default, flag, help=help_text or "A file path, or - for standard input.",
                                  show_default=False)
            annotation = str
        elif kind == "json":
            example = " (JSON, or file://path)"
            option = typer.Option(default, flag, help=help_text + example, show_default=False)
            annotation = str
        else:
            option = typer.Option(default, flag, help=help_text, show_default=False)
            annotation = typ
        if not required and annotation is not bool | None and kind != "flag":
            annotation = annotation | None
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=annotation))
    if spec.cli.outfile:
        params.append(inspect.Parameter(
            "outfile", inspect.Parameter.KEYWORD_ONLY, annotation=str,
            default=typer.Argument(..., help="Where to write the bytes: a file path, or - for standard output."),
        ))
    params.append(inspect.Parameter(
        "output", inspect.Parameter.KEYWORD_ONLY, annotation=OutputFormat,
        default=typer.Option(OutputFormat.table, "--output", "-o", help="table (for people) or json (for scripts)."),
    ))
    params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))
    return params


def make_command(spec: OperationSpec) -> Any:
    """The CLI function for one operation, with a signature typer can read."""
    fields = spec.request_model.model_fields

    def command(**kwargs: Any) -> None:
        ctx: typer.Context = kwargs.pop("ctx")
        output: OutputFormat = kwargs.pop("output")
        outfile = kwargs.pop("outfile", None)
        request: dict[str, Any] = {}
        opened: list[Any] = []
        try:
            for name, value in kwargs.items():
                if value is None:
                    continue
                kind, _ = _kind(fields[name])
                if kind == "json":
                    request[name] = parse_json_option(name, value)
                elif kind == "file":
                    handle = sys.stdin.buffer if value == "-" else _open_input(name, value)
                    opened.append(handle)
                    request[name] = handle
                else:
                    request[name] = value.value if isinstance(value, enum.Enum) else value
            client = state_of(ctx).client()
            method = getattr(getattr(client, spec.service), spec.method_name)
            response = method(**request)
        finally:
            for handle in opened:
                if handle is not sys.stdin.buffer:
                    handle.close()
        if outfile is not None:
            _write_body(response.body, outfile)
            if outfile == "-":
                return
        render(response, output.value)

    command.__name__ = spec.method_name
    command.__doc__ = spec.doc + f"\n\nOperation: {spec.action}."
    command.__signature__ = inspect.Signature(_parameters(spec))  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in _parameters(spec)}
    return command


def _open_input(name: str, value: str) -> Any:
    try:
        return open(Path(value).expanduser(), "rb")
    except OSError as exc:
        raise InvalidArgument(f"--{kebab(name)}: cannot open {value}: {exc.strerror}") from exc


def _write_body(body: Any, outfile: str) -> None:
    with body:
        if outfile == "-":
            shutil.copyfileobj(body, sys.stdout.buffer, 1024 * 1024)
            sys.stdout.buffer.flush()
            return
        try:
            with open(Path(outfile).expanduser(), "wb") as out:
                shutil.copyfileobj(body, out, 8 * 1024 * 1024)
        except OSError as exc:
            raise InvalidArgument(f"cannot write {outfile}: {exc.strerror}") from exc


def add_operations(group: typer.Typer, specs: list[OperationSpec]) -> None:
    """Add one command per operation to a service's group."""
    for spec in specs:
        group.command(spec.cli_name, help=spec.doc + f"\n\nOperation: {spec.action}.",
                      short_help=spec.summary)(make_command(spec))
