"""The command table: every service's operations as the command line shows them, without the services.

The CLI's commands and help come from the operation declarations, but reading
the declarations means importing every service, and a service module imports
its engines (pyiceberg, DuckDB, pyarrow, sqlglot …): 1.3 s before ``crispml
--version`` could answer. So the declarations are read once, by
:mod:`crispml.cli.tablegen`, into the committed data module
:mod:`crispml.cli.table_data` — per service its help and short names, per
operation its command name, summary, doc and, per request field, how it is
given on the command line (kind, type, choices, flag, help, required) — and the
CLI reads only that. ``tests/cli/test_command_table.py`` regenerates the table
and compares, so it cannot drift from the declarations: after changing an
operation, run ``python -m crispml.cli.tablegen``.

This module holds the table's typed records and reads them; it imports nothing
of crispml. It does not validate requests: the operation does that when the
command calls it, exactly as for the SDK.
"""

from __future__ import annotations

import functools
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


def from_data(data: list[dict[str, Any]]) -> tuple[ServiceEntry, ...]:
    """The records of the table's plain data (as :mod:`crispml.cli.table_data` holds it)."""
    return tuple(
        ServiceEntry(
            name=service["name"], help=service["help"],
            aliases=tuple((alias, method) for alias, method in service["aliases"].items()),
            operations=tuple(
                OperationEntry(
                    service=service["name"], name=op["name"], method=op["method"], command=op["command"],
                    summary=op["summary"], doc=op["doc"], outfile=op.get("outfile", False),
                    fields=tuple(FieldEntry(**{**f, "choices": tuple(f.get("choices", ()))})
                                 for f in op["fields"]),
                )
                for op in service["operations"]
            ),
        )
        for service in data
    )


@functools.cache
def services() -> tuple[ServiceEntry, ...]:
    """Every service of the command line, in the order the help lists them."""
    from crispml.cli.table_data import SERVICES

    return from_data(SERVICES)


def service(name: str) -> ServiceEntry:
    for entry in services():
        if entry.name == name:
            return entry
    raise KeyError(f"no service {name!r} in the command table")
