"""``crispml db``: the metadata database's schema.

SQLAlchemy and Alembic are imported when a command runs, not when the command
line is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from crispml.cli.generated import OutputFormat

if TYPE_CHECKING:
    from crispml.core.metadb.engine import Database

app = typer.Typer(help="The metadata database: migrate and inspect its schema.", no_args_is_help=True)


def _database(ctx: typer.Context) -> Database:
    from crispml.cli.state import state_of
    from crispml.core.config import load_settings
    from crispml.core.metadb.engine import Database

    state = state_of(ctx)
    return Database(load_settings(home=state.home).db_url)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: str = typer.Option("head", "--revision", help="Target revision (default: the newest)."),
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help="table or json."),
) -> None:
    """Migrate the metadata DB to the newest schema (safe to run any time)."""
    from crispml.render import render

    db = _database(ctx)
    try:
        before = db.current_revision() if _reachable(db) else None
        after = db.upgrade(revision)
    finally:
        db.dispose()
    render({"database": db.display_url, "from_revision": before, "to_revision": after}, output.value)


@app.command("current")
def current(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.table, "--output", "-o", help="table or json."),
) -> None:
    """Show the schema revision of the metadata DB and the newest one available."""
    from crispml.render import render

    db = _database(ctx)
    try:
        db.check()
        render({"database": db.display_url, "revision": db.current_revision(),
                "head": db.head_revision()}, output.value)
    finally:
        db.dispose()


def _reachable(db: Database) -> bool:
    db.check()
    return True
