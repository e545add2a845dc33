"""The command table: every service's operations as the command line shows them, without the services.

The CLI's commands and help come from the operation declarations, but reading
the declarations means importing every service, and a service module imports
its engines (pyiceberg, DuckDB, pyarrow, sqlglot …): 1.3 s before ``crispml
--version`` could answer. So the declarations are read once, by
:mod:`crispml.cli.tablegen`, into the committed data package
:mod:`crispml.cli.table_data` — its ``__init__`` lists the services with their
help lines; one module per service holds its short names and, per operation,
its command name, summary, doc and, per request field, how it is given on the
command line (kind, type, choices, flag, help, required) — and the CLI reads
only that: the list for the top-level help, and the module of the one service a
command belongs to. ``tests/cli/test_command_table.py`` regenerates the table
and compares, so it cannot drift from the declarations: after changing an
operation, run ``python -m crispml.cli.tablegen``.

This module holds the table's typed records and reads them; it imports nothing
of crispml. It does not validate requests: the operation does that when the
command calls it, exactly as for the SDK.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Literal

#: How a request field is given on the command line.
Kind = Literal["plain", "choice", "flag", "file", "json"]


@dataclass(frozen=True)
class FieldEntry:
    """One request field: ``--name VALUE`` (or an argument, when positional)."""

    name: str
    option: str  # "--copy-source"
    kind: Kind
    type: Literal["str", "int", "float", "bool"]
    required: bool
    help: str
    choices: tuple[str, ...] = ()
    positional: bool = False


@dataclass(frozen=True)
class OperationEntry:
    """One operation: ``crispml <service> <command>``."""

    service: str
    name: str  # "CreateBucket"
    method: str  # "create_bucket", the SDK method the command calls
    command: str  # "create-bucket"
    summary: str
    doc: str
    fields: tuple[FieldEntry, ...]
    outfile: bool = False

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass(frozen=True)
class ServiceEntry:
    """One service's group: ``crispml <service> …``."""

    name: str
    help: str
    operations: tuple[OperationEntry, ...]
    aliases: tuple[tuple[str, str], ...] = ()  # (short name, method)

    def operation(self, method: str) -> OperationEntry:
        for entry in self.operations:
            if entry.method == method:
                return entry
        raise KeyError(f"{self.name} has no operation {method!r}")


def from_data(service: dict[str, Any]) -> ServiceEntry:
    """The records of one service's plain data (as its module in :mod:`crispml.cli.table_data` holds it)."""
    return ServiceEntry(
        name=service["name"], help=service["help"],
        aliases=tuple((alias, method) for alias, method in service["aliases"].items()),
        operations=tuple(
            OperationEntry(
                service=service["name"], name=op["name"], method=op["method"], command=op["command"],
                summary=op["summary"], doc=op["doc"], outfile=op.get("outfile", False),
                fields=tuple(FieldEntry(**{**f, "choices": tuple(f.get("choices", ()))}) for f in op["fields"]),
            )
            for op in service["operations"]
        ),
    )


def listed() -> list[tuple[str, str]]:
    """Every service of the command line as (name, help line), in the order the help lists them."""
    from crispml.cli.table_data import SERVICES

    return SERVICES


@functools.cache
def service(name: str) -> ServiceEntry:
    """One service's commands (its module of the table is imported now)."""
    if name not in dict(listed()):
        raise KeyError(f"no service {name!r} in the command table")
    module = importlib.import_module(f"crispml.cli.table_data.{name}")
    return from_data(module.SERVICE)


def services() -> tuple[ServiceEntry, ...]:
    """Every service's commands (imports the whole table: for tools and tests, not for a command)."""
    return tuple(service(name) for name, _ in listed())
