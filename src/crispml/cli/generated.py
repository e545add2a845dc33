"""CLI commands derived from operation declarations, through the command table.

For each operation ``lake:PutObject`` with request fields ``bucket, key, body,
…`` this builds ``crispml lake put-object --bucket … --key … --body FILE``:
one option per field (kebab-case), required fields required, enums as
choices, nested shapes as JSON (inline or ``file://path``, as the AWS CLI
does), byte bodies as file paths (``-`` for stdin), and ``--output
table|json``. The command parses, calls the one operation, renders — nothing
else — so it behaves exactly like the SDK method.

What each field is comes from the command table (:mod:`crispml.cli.table`),
not from the request models, so building a command imports no service; the
operation validates the request when the command calls it.
"""

from __future__ import annotations

import enum
import inspect
import json
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from crispml.cli.state import state_of
from crispml.cli.table import FieldEntry, OperationEntry, ServiceEntry
from crispml.core.errors import InvalidArgument


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


@dataclass(frozen=True)
class Extension:
    """What a shell module adds to one generated command (``--wait`` on ``create-training-job``).

    ``parameters`` are more options, after the operation's own; ``finish(ctx, request, response, output,
    **values)`` runs after the call with those options' values and returns True when it has shown the
    result itself (else the response is rendered as usual). The operation is still called exactly once,
    as without the extension.
    """

    parameters: tuple[inspect.Parameter, ...]
    finish: Callable[..., bool]


def parse_json_option(option: str, text: str) -> Any:
    """JSON given inline or as ``file://path`` (the AWS CLI convention); ``option`` names it in errors."""
    if text.startswith("file://"):
        path = Path(text[len("file://"):]).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidArgument(f"{option}: cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"{option} must be JSON (inline or file://path): {exc.msg} at position {exc.pos}"
        ) from exc
    except RecursionError:  # json's C decoder stops at Python's recursion limit
        raise InvalidArgument(
            f"{option}: the JSON is nested too deeply to read (arrays or objects more than "
            f"{sys.getrecursionlimit():,} levels inside each other); no request needs that depth: check the value"
        ) from None


_CHOICES: dict[tuple[str, str], type[enum.Enum]] = {}


def _choices(op: OperationEntry, field: FieldEntry) -> type[enum.Enum]:
    """A str Enum for a Literal field, so typer offers and checks the choices."""
    key = (op.action, field.name)
    if key not in _CHOICES:
        values = {v: v for v in field.choices}
        choices: Any = enum.Enum(f"{op.name}_{field.name}", values, type=str)  # type: ignore[misc]
        _CHOICES[key] = choices
    return _CHOICES[key]


_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _parameters(op: OperationEntry) -> list[inspect.Parameter]:
    params: list[inspect.Parameter] = []
    for field in op.fields:
        kind, flag, help_text, required = field.kind, field.option, field.help, field.required
        default: Any = ... if required else None
        if field.positional:
            option: Any = typer.Argument(default, help=help_text, show_default=False)
            annotation: Any = str
        elif kind == "choice":
            option = typer.Option(default, flag, help=help_text, show_default=False)
            annotation = _choices(op, field)
        elif kind == "flag":
            option = typer.Option(None if not required else ..., f"{flag}/--no-{flag[2:]}", help=help_text)
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
            annotation = _TYPES[field.type]
        if not required and annotation is not bool | None and kind != "flag":
            annotation = annotation | None
        params.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=annotation))
    if op.outfile:
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


def make_command(op: OperationEntry, extension: Extension | None = None) -> Any:
    """The CLI function for one operation, with a signature typer can read."""
    fields = {field.name: field for field in op.fields}
    added = [p.name for p in extension.parameters] if extension is not None else []

    def command(**kwargs: Any) -> None:
        from crispml.render import render

        ctx: typer.Context = kwargs.pop("ctx")
        output: OutputFormat = kwargs.pop("output")
        outfile = kwargs.pop("outfile", None)
        values = {name: kwargs.pop(name) for name in added}
        request: dict[str, Any] = {}
        opened: list[Any] = []
        try:
            for name, value in kwargs.items():
                if value is None:
                    continue
                field = fields[name]
                if field.kind == "json":
                    request[name] = parse_json_option(field.option, value)
                elif field.kind == "file":
                    handle = sys.stdin.buffer if value == "-" else _open_input(field.option, value)
                    opened.append(handle)
                    request[name] = handle
                else:
                    request[name] = value.value if isinstance(value, enum.Enum) else value
            client = state_of(ctx).client()
            method = getattr(getattr(client, op.service), op.method)
            response = method(**request)
        finally:
            for handle in opened:
                if handle is not sys.stdin.buffer:
                    handle.close()
        if outfile is not None:
            _write_body(response.body, outfile)
            if outfile == "-":
                return
        if extension is not None and extension.finish(ctx, request, response, output, **values):
            return
        render(response, output.value)

    parameters = _parameters(op)
    if extension is not None:  # before ctx, which typer passes by name
        parameters[-1:-1] = extension.parameters
    command.__name__ = op.method
    command.__doc__ = _help(op)
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    return command


def _help(op: OperationEntry) -> str:
    return op.doc + f"\n\nOperation: {op.action}."


def _open_input(option: str, value: str) -> Any:
    try:
        return open(Path(value).expanduser(), "rb")
    except OSError as exc:
        raise InvalidArgument(f"{option}: cannot open {value}: {exc.strerror}") from exc


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


def add_operations(group: typer.Typer, service: ServiceEntry,
                   extensions: Mapping[str, Extension] | None = None) -> None:
    """Add one command per operation to a service's group, then its short names; ``extensions`` (by
    operation method) add options to some of them."""
    for op in service.operations:
        group.command(op.command, help=_help(op), short_help=op.summary)(
            make_command(op, (extensions or {}).get(op.method)))
    for alias, method in service.aliases:
        op = service.operation(method)
        group.command(alias, help=f"Same as '{op.command}'. {_help(op)}",
                      short_help=f"Same as {op.command}: {op.summary}")(make_command(op))
