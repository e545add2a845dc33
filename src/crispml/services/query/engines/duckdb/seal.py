"""The seal: a statement reads catalog tables through the lake, and nothing else.

Athena reads only what the catalog and the caller's permissions allow. DuckDB
can read any file, list folders, load extensions, attach databases and show
its own settings; this module keeps a user's statement away from all of that,
in two layers:

1. **At parse time** (:func:`check_text` before sqlglot parses, :func:`check_tree`
   after), on the user's statement — before the engine renders its own
   ``read_parquet``/``read_csv`` for the catalog tables it resolved:

   - statements that act on DuckDB itself — ``ATTACH``, ``DETACH``, ``COPY``,
     ``EXPORT``/``IMPORT``, ``PRAGMA``, ``SET``/``RESET``, ``CALL``, ``LOAD``,
     ``INSTALL``, ``USE``, ``CHECKPOINT``, ``CREATE MACRO|FUNCTION|SECRET`` —
     are refused by their first keyword;
   - a function call whose name is a DuckDB table function, table macro or
     pragma (``read_csv``, ``read_text``, ``glob``, ``query``, ``duckdb_*()``,
     ``pragma_*()``, ``parquet_metadata``, ``sniff_csv`` …, listed from
     DuckDB's own ``duckdb_functions()``) and not on :data:`ALLOWED_TABLE_FUNCTIONS`,
     or one of :data:`DENIED_SCALARS` (``current_setting``, ``current_query`` …),
     is refused wherever it stands — found on the token stream (``name (``),
     so comments, case, quoting and schema prefixes (``main.read_csv``) do not
     hide it, and again on the parse tree (a table function in ``FROM`` must
     be on the allow-list);
   - a table reference that is a path (``FROM '/etc/passwd'``) is refused.

   Each refusal is :class:`InvalidArgument` naming the function or statement,
   never quoting its arguments (a path names a file the caller may not know).

2. **At run time** (:func:`sealed_database`): every DuckDB database the engine
   opens has external access off (``enable_external_access=false``) except for
   the exact files the statement's tables resolved to (``allowed_paths``) and
   its own scratch folder (``allowed_directories``), extensions are neither
   installed nor loaded automatically, Python replacement scans are off, and
   the configuration is locked, so not even a statement that slipped past the
   first layer could read another file or widen the seal.

Written by hand because no library seals DuckDB: sqlglot parses and DuckDB
enforces, this module decides what a user's statement may name.
Deliberately not here: which files a table reads (``scan.py``) and the
authorization of each read (``access.py``, the lake).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlglot import Token, TokenType, exp

import duckdb
from crispml.core.errors import InvalidArgument

#: Table functions a statement may call: they read no file and no engine state.
ALLOWED_TABLE_FUNCTIONS = frozenset({"unnest", "range", "generate_series", "sequence", "repeat", "repeat_row",
                                     "json_each", "json_tree", "values"})
#: Scalar functions that show the engine's state: settings (allowed paths), the rewritten statement (real
#: file paths), environment variables, or that run SQL given as data.
DENIED_SCALARS = frozenset({"current_setting", "current_query", "getenv", "getvariable", "json_execute_serialized_sql",
                            "write_log", "query", "query_table", "glob", "load_extension", "install_extension"})
#: Name prefixes refused whatever DuckDB's build lists (extensions add functions when they load).
DENIED_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "sniff_", "iceberg_", "delta_", "sqlite_", "postgres_",
                   "mysql_", "st_read", "excel_", "arrow_scan", "pandas_", "python_", "seq_scan", "which_secret",
                   "http_", "s3_", "ducklake_", "tpch", "tpcds", "dbgen", "dsdgen", "from_substrait", "get_substrait")
#: Statements that act on DuckDB itself, by first keyword.
DENIED_STATEMENTS = frozenset({"ATTACH", "DETACH", "COPY", "EXPORT", "IMPORT", "PRAGMA", "SET", "RESET", "CALL",
                               "LOAD", "INSTALL", "FORCE", "USE", "CHECKPOINT", "SUMMARIZE"})
#: Objects ``CREATE`` may not make: code (macros, functions) and credentials.
DENIED_CREATES = frozenset({"MACRO", "FUNCTION", "SECRET", "PERSISTENT", "TYPE", "SEQUENCE", "INDEX"})
_CREATE_MODIFIERS = frozenset({"OR", "REPLACE", "TEMP", "TEMPORARY", "IF", "NOT", "EXISTS"})
_PATH_LIKE = re.compile(r"[/\\:~]|^\.|\.(csv|tsv|txt|json|jsonl|ndjson|parquet|gz|zst|db|duckdb|sqlite)$",
                        re.IGNORECASE)
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)
_WHAT = ("the query service reads catalog tables only (through the lake, as the caller); "
         "create a table over the files with 'crispml catalog create-table' or a crawler, then query it")


@functools.cache
def engine_functions() -> frozenset[str]:
    """DuckDB's table functions, table macros and pragmas, by name (lower case), minus the allowed ones and
    those that are also scalar or aggregate functions (``histogram(x)``, ``version()``: as a table function
    in ``FROM`` they are refused by :func:`check_tree`'s allow-list)."""
    con = sealed_database({})
    try:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('table', 'table_macro', 'pragma') EXCEPT "
            "SELECT lower(function_name) FROM duckdb_functions() WHERE function_type IN ('scalar', 'aggregate', "
            "'macro')").fetchall()
    finally:
        con.close()
    return frozenset(str(r[0]) for r in rows) - ALLOWED_TABLE_FUNCTIONS


def denied(name: str) -> bool:
    """Whether a function called ``name`` (any case, any schema prefix) is refused."""
    lowered = name.lower().rsplit(".", 1)[-1]
    if lowered in ALLOWED_TABLE_FUNCTIONS:
        return False
    return lowered in DENIED_SCALARS or lowered.startswith(DENIED_PREFIXES) or lowered in engine_functions()


def _refuse_function(name: str) -> InvalidArgument:
    return InvalidArgument(f"function {name.lower()}() is not allowed: {_WHAT}. Table functions allowed: "
                           f"{', '.join(sorted(ALLOWED_TABLE_FUNCTIONS - {'values'}))}")


def check_tokens(tokens: Sequence[Token]) -> None:
    """Refuse a statement by its first keyword, or a call of a refused function anywhere in it."""
    tokens = [t for t in tokens if t.text]  # Athena's tokenizer marks Hive DDL with an empty first token
    starts = [0] + [i + 1 for i, t in enumerate(tokens) if t.token_type == TokenType.SEMICOLON]
    for start in starts:
        if start < len(tokens):
            _check_statement(tokens, start)
    for position, token in enumerate(tokens[:-1]):
        if token.token_type in _NAME_TOKENS or token.token_type.name not in _NOT_NAMES:
            following = tokens[position + 1]
            if following.token_type == TokenType.L_PAREN and _is_word(token) and denied(token.text) \
                    and not _names_a_table(tokens, position):
                raise _refuse_function(token.text)


#: Token types that never name a function (literals, operators, punctuation).
_NOT_NAMES = frozenset({"STRING", "NUMBER", "NATIONAL_STRING", "RAW_STRING", "HEX_STRING", "BIT_STRING",
                        "BYTE_STRING", "L_PAREN", "R_PAREN", "COMMA", "DOT", "SEMICOLON", "PARAMETER",
                        "PLACEHOLDER", "STAR"})
_WORD = re.compile(r"^[A-Za-z_][\w$]*$")


def _names_a_table(tokens: Sequence[Token], position: int) -> bool:
    """Whether the name at ``position`` is a table's, followed by its column list (``INSERT INTO
    db.read_log (a, b)``, ``CREATE TABLE duckdb_x (…)``), not a function's."""
    while position >= 2 and tokens[position - 1].token_type == TokenType.DOT:
        position -= 2
    return position >= 1 and tokens[position - 1].text.upper() in ("INTO", "TABLE", "EXISTS")


def _is_word(token: Token) -> bool:
    return bool(_WORD.match(token.text))


def _check_statement(tokens: Sequence[Token], start: int) -> None:
    # the statement a PREPARE name AS … or an EXPLAIN [ANALYZE] … wraps
    while start < len(tokens) and tokens[start].text.upper() in ("EXPLAIN", "ANALYZE", "VERBOSE", "PREPARE"):
        if tokens[start].text.upper() == "PREPARE":
            start += 3 if start + 2 < len(tokens) and tokens[start + 2].text.upper() in ("AS", "FROM") else 2
        else:
            start += 1
    if start >= len(tokens):
        return
    first = tokens[start].text.upper()
    if first in DENIED_STATEMENTS:
        raise InvalidArgument(f"{first} statements are not allowed: {_WHAT}")
    if first == "UPDATE" and start + 1 < len(tokens) and tokens[start + 1].text.upper() == "EXTENSIONS":
        raise InvalidArgument(f"UPDATE EXTENSIONS is not allowed: {_WHAT}")
    if first == "CREATE":
        position = start + 1
        while position < len(tokens) and tokens[position].text.upper() in _CREATE_MODIFIERS:
            position += 1
        kind = tokens[position].text.upper() if position < len(tokens) else ""
        if kind in DENIED_CREATES:
            raise InvalidArgument(f"CREATE {kind} is not allowed: the query service runs SQL over catalog "
                                  "tables and defines no macros, functions, secrets or other engine objects")


def check_text(sql: str, dialect: str) -> None:
    """The token-level checks of :func:`check_tokens` on ``sql`` (a statement that does not tokenize is left
    to the parser, which reports the syntax error)."""
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError

    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        return
    check_tokens(tokens)
    for command, rest in itertools.pairwise(tokens):
        # sqlglot keeps what follows a command keyword (EXPLAIN, PREPARE, CALL …) as one string: read it too
        if command.token_type == TokenType.COMMAND and rest.token_type == TokenType.STRING:
            check_text(_unwrapped(command.text, rest.text), dialect)


def _unwrapped(command: str, rest: str) -> str:
    """The statement a command wraps: ``ANALYZE SELECT …`` of an EXPLAIN, ``SELECT …`` of ``PREPARE p AS``."""
    words = rest.split(None, 2)
    if command.upper() == "PREPARE" and len(words) == 3 and words[1].upper() in ("AS", "FROM"):
        return words[2]
    return rest


def check_tree(tree: exp.Expr) -> None:
    """Refuse a parsed statement that calls a refused function, calls a table function not on the
    allow-list, or reads a path as a table."""
    if isinstance(tree, exp.Copy | exp.Pragma | exp.Set | exp.Use):
        raise InvalidArgument(f"{type(tree).__name__.upper()} statements are not allowed: {_WHAT}")
    for node in tree.walk():
        if isinstance(node, exp.Func):
            for name in _names(node):
                if denied(name):
                    raise _refuse_function(name)
        if isinstance(node, exp.Table):
            source = node.this
            if isinstance(source, exp.Func) and not isinstance(source, exp.Unnest | exp.GenerateSeries):
                name = _names(source)[0]
                if name.lower() not in ALLOWED_TABLE_FUNCTIONS:
                    raise _refuse_function(name)
            elif isinstance(source, exp.Literal) or (node.name and _PATH_LIKE.search(node.name)):
                raise InvalidArgument(f"a file cannot be read as a table: {_WHAT}")


def _names(node: exp.Func) -> list[str]:
    """The names a function call goes by: sqlglot's and, for an unknown function, as written."""
    if isinstance(node, exp.Anonymous):
        return [str(node.name)]
    return [node.sql_name(), type(node).__name__]


# -- values ------------------------------------------------------------------------------------------------


def bounded(tree: exp.Expr) -> exp.Expr:
    """``tree`` with the functions that build one string of a size given as a number (``repeat``,
    ``lpad``, ``rpad``) bounded by :data:`MAX_STRING_BYTES`: DuckDB builds such a value in one piece,
    outside its memory limit and deaf to interrupts until it is done (``repeat('x', 2000000000)``: 2 GB
    and ~40 s), so the query fails at once instead, naming the function and the limit."""
    def bound(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Repeat) and node.args.get("times") is not None:
            node.set("times", _checked(node.args["times"], exp.func("strlen", node.this.copy()), "repeat"))
        elif isinstance(node, exp.Pad) and node.expression is not None:
            name = "lpad" if node.args.get("is_left") else "rpad"
            node.set("expression", _checked(node.expression, exp.Literal.number(1), name))
        return node

    return tree.transform(bound, copy=False)


#: The largest string ``repeat``/``lpad``/``rpad`` may build (bytes).
MAX_STRING_BYTES = 32 * 1024 * 1024


def _checked(count: exp.Expr, width: exp.Expr, name: str) -> exp.Expr:
    """``count``, or an error when ``count × width`` bytes are over :data:`MAX_STRING_BYTES`."""
    size = exp.Mul(this=exp.cast(count.copy(), "BIGINT"), expression=exp.cast(width, "BIGINT"))
    message = exp.Literal.string(f"{name}() would build a string of more than {MAX_STRING_BYTES} bytes, the "
                                 "limit of one value; build less, or aggregate")
    return exp.Case(ifs=[exp.If(this=exp.GT(this=size, expression=exp.Literal.number(MAX_STRING_BYTES)),
                                true=exp.func("error", message))], default=count.copy())


# -- run time ---------------------------------------------------------------------------------------


def sealed_database(config: dict[str, Any], *, paths: Iterable[str] = (), directories: Iterable[str] = (),
                    settings: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
    """A new DuckDB database that can reach only ``paths`` (files) and ``directories`` (see :func:`seal`)."""
    return seal(open_database(config), paths=paths, directories=directories, settings=settings)


def open_database(config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database, not sealed yet: extensions are neither installed nor loaded
    automatically and Python objects are not read as tables, whatever ``config`` says."""
    return duckdb.connect(config={**config, "autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False, "python_enable_replacements": False})


def seal(con: duckdb.DuckDBPyConnection, *, paths: Iterable[str] = (), directories: Iterable[str] = (),
         settings: Iterable[str] = ()) -> duckdb.DuckDBPyConnection:
    """Seal a database opened by :func:`open_database`: ``settings`` (``SET GLOBAL …`` statements) applied,
    external access off but for ``paths`` and ``directories``, and its configuration locked."""
    try:
        for statement in settings:
            con.execute(statement)
        allowed = sorted(set(_forms(paths)))
        if allowed:
            con.execute("SET allowed_paths = $1", [allowed])
        folders = sorted({d if d.endswith("/") else d + "/" for d in directories})
        if folders:
            con.execute("SET allowed_directories = $1", [folders])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _forms(paths: Iterable[str]) -> Iterable[str]:
    """Each path as DuckDB compares it: a registered filesystem's ``scheme://b/k`` also as ``scheme:///b/k``."""
    for path in paths:
        yield path
        scheme, sep, rest = path.partition("://")
        if sep and not rest.startswith("/"):
            yield f"{scheme}:///{rest}"
