"""``crispml sql "SELECT …"``: run one statement over the lake's tables and print its results.

It is the Athena console's Run button in a terminal: ``StartQueryExecution``,
then ``GetQueryExecution`` until the query ends (a spinner on a terminal),
then ``GetQueryResults`` page by page, each page printed as it arrives, so a
result larger than memory streams through. Outputs:

- ``table`` (default): a table, the header once, columns as wide as the first
  page needs; the statistics (rows, bytes scanned, time) go to stderr;
- ``csv``: Athena's CSV, exactly as the results file in the lake holds it
  (every value quoted, NULL as an empty unquoted field);
- ``json``: JSON lines, one object per row (``jq``-friendly and streamable),
  with integers, doubles and booleans as JSON numbers and booleans.

A query that fails ends the command with exit code 2 and one line naming the
error type (``LimitExceeded``, ``NotFound``, ``InvalidArgument`` …) and its
message. Ctrl-C stops the query (StopQueryExecution) before exiting.

The query helpers, the SDK and rich's tables are imported when the command
runs: building the command line (``crispml --help``) imports none of them.
"""

from __future__ import annotations

import contextlib
import enum
import json
import sys
import uuid
from typing import Any

import typer

from crispml.cli.state import state_of
from crispml.core.errors import CrispmlError, InvalidArgument

_MAX_WIDTH = 60


class SqlOutput(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The SQL statement (Athena/Trino dialect); - reads it from stdin."),
    database: str | None = typer.Option(None, "--database", "-d",
                                        help="Database for unqualified table names (default: none)."),
    workgroup: str = typer.Option("primary", "--workgroup", "-w",
                                  help="Workgroup: its output location and bytes-scanned cutoff apply."),
    output: SqlOutput = typer.Option(SqlOutput.table, "--output", "-o",
                                     help="table (for people), csv (Athena's), or json (one object per line)."),
    parameters: list[str] | None = typer.Option(
        None, "--parameter", "-p", help="The value of the next '?' as a SQL literal ('text', 42, DATE "
                                        "'2024-01-01'); repeat in order (ExecutionParameters)."),
) -> None:
    """Run a SQL statement over the lake's tables (Athena) and print its results.

    Examples:

      crispml sql "SELECT species, count(*) AS n FROM demo.penguins GROUP BY 1"

      crispml sql -d demo "SELECT * FROM penguins LIMIT 5" -o csv > sample.csv

      crispml sql -d demo "SELECT * FROM penguins WHERE species = ? AND year > ?" -p "'Adelie'" -p 2008
    """
    from crispml.sdk.queries import raise_for

    text = sys.stdin.read() if query == "-" else query
    if not text.strip():
        raise InvalidArgument("the SQL statement is empty; pass it as an argument, or - to read it from stdin")
    client = state_of(ctx).client()
    # the token makes the start idempotent: a Ctrl-C that lands before the id is known can still find the
    # query (a second start with the same token returns the first one's id) and stop it
    request: dict[str, Any] = {"query_string": text, "work_group": workgroup, "client_request_token": str(uuid.uuid4())}
    if database:
        request["query_execution_context"] = {"Database": database}
    if parameters:
        request["execution_parameters"] = parameters
    query_id: str | None = None
    try:
        query_id = client.query.start_query_execution(**request).query_execution_id
        execution = _wait(client, query_id)
    except KeyboardInterrupt:
        _stop(client, query_id, request)
        raise
    raise_for(execution)
    rows, update_count = _print_results(client, query_id, output)
    if output is SqlOutput.table:
        _print_statistics(execution, rows, update_count)


def _stop(client: Any, query_id: str | None, request: dict[str, Any]) -> None:
    """Stop the query this command started (it runs on a thread of this process, which would keep the
    process alive until the query ends); if the interrupt came before its id was known, the id is asked
    for again with the same token."""
    with contextlib.suppress(CrispmlError):  # not started, or already over: nothing to stop
        if query_id is None:
            query_id = client.query.start_query_execution(**request).query_execution_id
        client.query.stop_query_execution(query_execution_id=query_id)


def _wait(client: Any, query_id: str) -> Any:
    """Wait for the query to end, with a spinner on a terminal."""
    from crispml.render import error_console
    from crispml.sdk.queries import wait

    err = error_console()
    with err.status(f"running query {query_id}", spinner="dots") if err.is_terminal else _Quiet():
        return wait(client, query_id)


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _print_results(client: Any, query_id: str, output: SqlOutput) -> tuple[int, int]:
    """Print every page as it arrives; the number of data rows and the update count."""
    from crispml.sdk.queries import pages

    printer: _Printer | None = None
    rows = 0
    for page in pages(client, query_id):
        if printer is None:
            if not page.columns and page.update_count:
                if output is SqlOutput.json:
                    sys.stdout.write(json.dumps({"update_count": page.update_count}) + "\n")
                return 0, page.update_count
            printer = _Printer(output, [c.name for c in page.columns], [c.type for c in page.columns])
        printer.page(page.rows)
        rows += len(page.rows)
    sys.stdout.flush()
    return rows, 0


class _Printer:
    """Prints pages of rows in one output format, the header once."""

    def __init__(self, output: SqlOutput, names: list[str], types: list[str]) -> None:
        self.output = output
        self.names = names
        self.types = [t.split("(", 1)[0].lower() for t in types]
        self.header_due = True
        self.widths = [min(len(n), _MAX_WIDTH) for n in names]

    def page(self, values: list[list[str | None]]) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        from crispml.render import console
        from crispml.sdk.queries import FLOATS, INTEGERS, typed

        header, self.header_due = self.header_due, False
        if self.output is SqlOutput.csv:
            lines = ([_csv_line(list(self.names))] if header and self.names else []) + [_csv_line(r) for r in values]
            sys.stdout.write("".join(lines))
        elif self.output is SqlOutput.json:
            sys.stdout.write("".join(
                json.dumps({n: typed(v, t) for n, v, t in zip(self.names, r, self.types, strict=False)}) + "\n"
                for r in values))
        elif header or values:
            # columns at least as wide as any page so far needed, so pages line up; a wider value
            # later widens its column from that page on (numbers are never folded, long text is)
            for row in values:
                self.widths = [max(w, 4 if v is None else min(len(v), _MAX_WIDTH))
                               for w, v in zip(self.widths, row, strict=False)]
            table = Table(box=box.SIMPLE_HEAD, show_header=header, show_edge=False, header_style="bold",
                          pad_edge=False)
            for name, kind, width in zip(self.names, self.types, self.widths, strict=True):
                numeric = kind in INTEGERS | FLOATS | {"decimal"}
                table.add_column(name, min_width=width, max_width=None if numeric else max(width, _MAX_WIDTH),
                                 overflow="fold", justify="right" if numeric else "left")
            for r in values:
                table.add_row(*[Text("NULL", style="dim") if v is None else Text(v) for v in r])
            console().print(table)


def _csv_line(values: list[str | None]) -> str:
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"


def _print_statistics(execution: Any, rows: int, update_count: int) -> None:
    from crispml.render import error_console

    stats = execution.statistics
    what = f"{update_count} rows written" if update_count else f"{rows} row{'s' if rows != 1 else ''}"
    error_console().print(
        f"[dim]{what} · {_size(stats.data_scanned_in_bytes)} scanned · "
        f"{stats.total_execution_time_in_millis / 1000:.2f} s · query {execution.query_execution_id}[/dim]",
        highlight=False)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
