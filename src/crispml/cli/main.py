"""``crispml``: the command-line shell.

Service groups (``crispml lake …``, ``crispml audit …``) hold one command per
operation, derived from the operation declarations, plus short forms where
users expect them (``crispml lake ls|cp|rm``). Every command accepts
``--output table|json``. Errors crispml raises on purpose end the process with
exit code 2 and one line on stderr; anything else is an internal error (exit 1)
whose traceback shows only with ``CRISPML_DEBUG=1``.

Starting is cheap: building the command line imports no service. Of the two
ways to get there — a generated command table, or click groups that import a
service module when the group is invoked — this uses the table
(:mod:`crispml.cli.table`, kept in step with the declarations by a test),
because a service module is where its engines are imported: with lazy groups
``crispml catalog --help`` would still load pyiceberg, and whether ``crispml
lake ls`` stays quick would hang on what each service module happens to import.
With the table, the CLI imports a service only through the SDK, when a command
calls an operation. On top of it each service's group is built on first use
(``_ServiceGroup``): the top level's help lists the groups from their names and
help lines, and ``crispml lake ls`` builds the lake's commands only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperGroup

from crispml import __version__
from crispml.cli import table
from crispml.cli.state import state_of
from crispml.core.errors import CrispmlError

if TYPE_CHECKING:
    from typer._click import Command

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


class _ServiceGroup(TyperGroup):
    """A service's group whose commands are built from the command table when first asked for.

    Its name and help are known without them, so the top level's help (which reads every
    group's help line) builds none; listing, resolving or helping this group builds them all.
    """

    service: ClassVar[str]

    def __init__(self, **attrs: Any) -> None:
        self._built: MutableMapping[str, Command] | None = None
        super().__init__(**attrs)

    @property
    def commands(self) -> MutableMapping[str, Command]:
        if self._built is None:
            self._built = _service_commands(self.service, self.rich_markup_mode)
        return self._built

    @commands.setter
    def commands(self, value: MutableMapping[str, Command]) -> None:
        if value:  # typer hands an empty mapping to a group made without commands
            self._built = value


def _service_commands(name: str, rich_markup_mode: Any) -> MutableMapping[str, Command]:
    """The click commands of a service's group: its operations, short names and shell commands."""
    from crispml.cli.generated import add_operations

    service = table.service(name)
    group = typer.Typer(rich_markup_mode=rich_markup_mode)
    module: Any = None  # hand-written commands: register(group) adds them; EXTENSIONS add generated options
    if name == "lake":
        from crispml.cli import lakecmds as module
    elif name == "training":
        from crispml.cli import trainingcmds as module
    elif name == "registry":
        from crispml.cli import registrycmds as module
    elif name == "tuning":
        from crispml.cli import tuningcmds as module
    elif name == "ingest":
        from crispml.cli import ingestcmds as module
    add_operations(group, service, getattr(module, "EXTENSIONS", None))
    if module is not None:
        module.register(group)
    return typer.main.get_group(group).commands


def _build() -> None:
    from crispml.cli import db, demo, sqlcmd

    for name, help_line in table.listed():
        group_class = type(f"_{name.title()}Group", (_ServiceGroup,), {"service": name})
        app.add_typer(typer.Typer(cls=group_class, help=help_line, no_args_is_help=True), name=name)
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
        _error_console().print("aborted")
        return 130
    except KeyboardInterrupt:
        _error_console().print("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: no tracebacks for users
        if os.environ.get("CRISPML_DEBUG"):
            raise
        from rich.markup import escape

        _error_console().print(
            f"[bold red]internal error[/bold red] {type(exc).__name__}: {escape(str(exc))} "
            "(set CRISPML_DEBUG=1 for the traceback, and please report it)", highlight=False,
        )
        return 1
    # typer returns the code of a typer.Exit (e.g. from --version) instead of raising it
    return result if isinstance(result, int) else 0


def _error_console() -> Any:
    from crispml.render import error_console  # rich and pydantic: not needed to start

    return error_console()


def _error_line(code: str, message: str) -> None:
    from rich.markup import escape

    # messages quote user input (keys, paths) that may hold '[...]': never read it as markup
    _error_console().print(f"[bold red]error[/bold red] {code}: {escape(message)}", highlight=False)


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
    """The ``crispml`` console script and ``python -m crispml``: run, then leave quickly (:func:`_leave`)."""
    _leave(main())


def _leave(code: int) -> None:
    """End the process the way the interpreter would, without its teardown.

    Tearing down the modules a command imported (SQLAlchemy, pydantic, rich) takes longer than many commands
    run (measured: 0.1 s of a 0.5 s ``crispml catalog get-databases``). What an ending must keep is done
    here first: threads that are not daemons run to their end (a query started by this command finishes,
    as it would at a normal exit), exit handlers run, and what was printed is flushed.
    """
    import atexit
    import threading

    # What the interpreter does first at exit: the threading atexit hooks — which tell the worker threads of
    # concurrent.futures pools (pyiceberg's, for one) to finish — then a join of every non-daemon thread.
    # Joining without the hooks waits for ever on an idle pool's workers.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is None:  # not CPython: the interpreter's own way out
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # a reader gone, or a closed stream: nothing to keep
            stream.flush()
    os._exit(code)
