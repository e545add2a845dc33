"""Write the command table (the package :mod:`crispml.cli.table_data`) from the operation declarations.

``python -m crispml.cli.tablegen`` rewrites the table after an operation was
added or changed; ``python -m crispml.cli.tablegen --check`` exits 1 when the
committed table differs from the declarations (the test suite runs the same
comparison). This is the one CLI module that imports every service: it runs
when the table is made, never when a command runs.

A request field becomes an option by its type: ``str``, ``int``, ``float`` and
datetimes are plain values, a ``Literal`` offers its choices, ``bool`` is a
``--flag/--no-flag`` pair, a streamed body is a file path (``-`` for stdin),
and any nested shape is JSON (inline or ``file://path``).
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from crispml.spine.operations import OperationSpec, Service

#: The help line of each service's group (a service class's docstring where none is given here).
SERVICE_HELP = {
    "lake": "S3: buckets, objects, versions, storage classes, lifecycle.",
    "catalog": "Glue Data Catalog: databases, external tables, partitions, table versions, crawlers.",
    "iam": "IAM: principals and who you are.",
    "audit": "CloudTrail: the record of every operation.",
    "monitoring": "CloudWatch: logs (groups, streams, events), metrics and statistics, call metrics.",
    "query": "Athena: SQL over the catalog's tables, workgroups, query history, results in the lake.",
    "streams": "Kinesis Data Streams: streams, shards, records, iterators, resharding.",
    "firehose": "Firehose: delivery streams that buffer records into the lake (JSON lines, GZIP, Parquet).",
    "ingest": "Glue/DMS batch loads: files and SQL databases into catalog tables, full or incremental.",
    "training": "SageMaker training jobs: built-in algorithms and scripts, their logs, metrics and models.",
    "tuning": "SageMaker automatic model tuning: Grid, Random, Bayesian and Hyperband searches of training jobs.",
    "evaluation": "Model quality: metrics, curves, thresholds, HTML reports, two models compared.",
    "registry": "SageMaker Model Registry: models, model package groups, versions, approval, lineage.",
    "serving": "SageMaker endpoints: configurations, variants, the runtime that answers InvokeEndpoint.",
}

#: Short names for commands people type often: service → {short name: operation (method) name}.
ALIASES = {"firehose": {"flush": "flush_delivery_stream"}}

#: The table's package: ``__init__.py`` lists the services (name and help, in help's order), and one module
#: per service holds its operations, so a command loads the table of its own service only.
TABLE = Path(__file__).with_name("table_data")

_HEADER = '''"""{what}, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

'''


def declarations() -> list[tuple[type[Service], list[OperationSpec]]]:
    """Every service class with its declared operations, in the platform's order (imports every service)."""
    import crispml.platform as platform
    from crispml.spine.operations import REGISTRY

    return [(cls, REGISTRY.for_service(cls.name)) for cls in platform.load_services()]


def _unwrap_optional(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
    if origin is typing.Annotated:
        return _unwrap_optional(get_args(annotation)[0])
    return annotation


def _field(spec: OperationSpec, name: str, field: FieldInfo) -> dict[str, Any]:
    """How one request field is given on the command line, as the table records it."""
    from crispml.spine.operations import kebab

    entry: dict[str, Any] = {"name": name, "option": f"--{kebab(name)}"}
    annotation = _unwrap_optional(field.annotation)
    if (field.json_schema_extra or {}).get("stream"):  # type: ignore[union-attr]
        entry.update(kind="file", type="str")
    elif get_origin(annotation) is Literal:
        entry.update(kind="choice", type="str")
    elif annotation in (str, int, float):
        entry.update(kind="plain", type=annotation.__name__)
    elif annotation is bool:
        entry.update(kind="flag", type="bool")
    elif annotation is datetime:
        entry.update(kind="plain", type="str")
    else:
        entry.update(kind="json", type="str")
    entry.update(required=field.is_required(), help=field.description or "")
    if entry["kind"] == "choice":
        entry["choices"] = [str(a) for a in get_args(annotation)]
    if name in spec.cli.positional:
        entry["positional"] = True
    return entry


def _operation(spec: OperationSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": spec.name, "method": spec.method_name, "command": spec.cli_name,
        "summary": spec.summary, "doc": spec.doc,
        "fields": [_field(spec, name, field) for name, field in spec.request_model.model_fields.items()],
    }
    if spec.cli.outfile:
        entry["outfile"] = True
    return entry


def build() -> list[dict[str, Any]]:
    """The table's data, read from the declarations."""
    data = []
    for cls, specs in declarations():
        aliases = ALIASES.get(cls.name, {})
        unknown = set(aliases.values()) - set(cls.operations)
        if unknown:
            raise ValueError(f"{cls.name}: short names for unknown operations {sorted(unknown)}")
        data.append({"name": cls.name, "help": SERVICE_HELP.get(cls.name, cls.__doc__ or ""),
                     "aliases": aliases, "operations": [_operation(spec) for spec in specs]})
    return data


def render(data: list[dict[str, Any]]) -> dict[str, str]:
    """The source text of each module of :mod:`crispml.cli.table_data` holding ``data``, by file name: one
    line per field, so a changed declaration shows as a changed line in the diff."""
    index = [_HEADER.format(what="The command table's services") + "SERVICES: list[tuple[str, str]] = ["]
    index += [f"    ({service['name']!r}, {service['help']!r})," for service in data]
    files = {"__init__.py": "\n".join([*index, "]"]) + "\n"}
    for service in data:
        lines = [_HEADER.format(what=f"The {service['name']} service's commands")
                 + "from typing import Any\n\nSERVICE: dict[str, Any] = {"]
        lines += [f"    {key!r}: {service[key]!r}," for key in ("name", "help", "aliases")]
        lines.append("    'operations': [")
        for op in service["operations"]:
            lines.append("        {")
            lines += [f"            {key!r}: {value!r}," for key, value in op.items() if key != "fields"]
            lines.append("            'fields': [")
            lines += [f"                {field!r}," for field in op["fields"]]
            lines += ["            ],", "        },"]
        lines += ["    ],", "}"]
        files[f"{service['name']}.py"] = "\n".join(lines) + "\n"
    return files


def committed() -> dict[str, str]:
    """The table's modules as they are on disk, by file name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(TABLE.glob("*.py"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crispml.cli.tablegen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed table is out of date")
    args = parser.parse_args(argv)
    files = render(build())
    current = committed()
    if args.check:
        if current != files:
            print(f"{TABLE} is out of date; run: python -m crispml.cli.tablegen", file=sys.stderr)
            return 1
        return 0
    TABLE.mkdir(exist_ok=True)
    for name in sorted(set(current) - set(files)):  # a service that is gone
        (TABLE / name).unlink()
        print(f"removed {TABLE / name}")
    for name, text in files.items():
        if current.get(name) != text:
            (TABLE / name).write_text(text, encoding="utf-8")
            print(f"wrote {TABLE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
