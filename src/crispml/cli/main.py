"""``crispml``: the command-line shell.

Service groups (``crispml lake …``, ``crispml audit …``) hold one command per
operation, derived from the operation declarations, plus short forms where
users expect them (``crispml lake ls|cp|rm``). Every command accepts
``--output table|json``. Errors crispml raises on purpose end the process with
exit code 2 and one line on stderr; anything else is an internal error (exit 1)
whose traceback shows only with ``CRISPML_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.markup import escape

from crispml import __version__
from crispml.cli.generated import add_operations, make_command
from crispml.cli.render import error_console
from crispml.cli.state import state_of
from crispml.core.errors import CrispmlError

SERVICE_HELP = {
    "lake": "S3: buckets, objects, versions, storage classes, lifecycle.",
    "catalog": "Glue Data Catalog: databases, external tables, partitions, table versions, crawlers.",
    "iam": "IAM: principals and who you are.",
    "audit": "CloudTrail: the record of every operation.",
    "monitoring": "CloudWatch: call metrics (alarms and Model Monitor later).",
    "query": "Athena: SQL over the catalog's tables, workgroups, query history, results in the lake.",
    "streams": "Kinesis Data Streams: streams, shards, records, iterators, resharding.",
    "firehose": "Firehose: delivery streams that buffer records into the lake (JSON lines, GZIP, Parquet).",
    "ingest": "Glue/DMS batch loads: files and SQL databases into catalog tables, full or incremental.",
}

#: Short names for commands people type often: (service, alias) → operation (method) name.
ALIASES = {("firehose", "flush"): "flush_delivery_stream"}

app = typer.Typer(
    name="crispml", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="crispml: the AWS ML workflow (S3, Glue, Athena, SageMaker, …) self-hosted. "
         "Run [bold]crispml demo[/bold] for a tour.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crispml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: str | None = typer.Option(None, "--home", envvar="CRISPML_HOME",
                                    help="Home folder (default ~/.crispml)."),
    principal: str | None = typer.Option(None, "--principal", envvar="CRISPML_PRINCIPAL",
                                         help="Act as this principal (default root)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    state = state_of(ctx)
    state.home, state.principal = home, principal
    ctx.call_on_close(state.close)


def _build() -> None:
    import crispml.platform as platform
    from crispml.cli import db, demo, lakecmds, sqlcmd
    from crispml.services import SERVICES
    from crispml.spine.operations import REGISTRY

    for cls in map(platform.service_class, SERVICES):
        group = typer.Typer(help=SERVICE_HELP.get(cls.name, cls.__doc__ or ""), no_args_is_help=True)
        add_operations(group, REGISTRY.for_service(cls.name))
        for (service, alias), method in ALIASES.items():
            if service == cls.name:
                spec = cls.operations[method]
                group.command(alias, help=f"Same as '{spec.cli_name}'. {spec.doc}\n\nOperation: {spec.action}.",
                              short_help=f"Same as {spec.cli_name}: {spec.summary}")(make_command(spec))
        if cls.name == "lake":
            lakecmds.register(group)
        app.add_typer(group, name=cls.name)
    app.add_typer(db.app, name="db")
    app.command("demo")(demo.demo)
    app.command("sql")(sqlcmd.sql)


_build()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 internal error, 2 bad input or refused)."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # not standalone: usage errors come back here, to be shown as one line like any other
        result = command.main(args=args, prog_name="crispml", standalone_mode=False)
    except CrispmlError as exc:
        _error_line(exc.code, exc.message)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        return _usage_error(exc)
    except typer.Abort:
        error_console().print("aborted")
        return 130
    except KeyboardInterrupt:
        error_console().print("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: no tracebacks for users
        if os.environ.get("CRISPML_DEBUG"):
            raise
        error_console().print(
            f"[bold red]internal error[/bold red] {type(exc).__name__}: {escape(str(exc))} "
            "(set CRISPML_DEBUG=1 for the traceback, and please report it)", highlight=False,
        )
        return 1
    # typer returns the code of a typer.Exit (e.g. from --version) instead of raising it
    return result if isinstance(result, int) else 0


def _error_line(code: str, message: str) -> None:
    # messages quote user input (keys, paths) that may hold '[...]': never read it as markup
    error_console().print(f"[bold red]error[/bold red] {code}: {escape(message)}", highlight=False)


def _usage_error(exc: typer.TyperException) -> int:
    """A bad command line (unknown option, missing value) as one error line, exit code 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its message is the help
        if exc.format_message():  # rich help has printed itself already and left this empty
            typer.echo(exc.format_message())
        return 2
    ctx = getattr(exc, "ctx", None)
    hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    _error_line("InvalidArgument", exc.format_message().rstrip(".") + hint)
    return 2


def entrypoint() -> Any:
    sys.exit(main())
