"""DuckDB's exceptions → the engine contract's :class:`QueryFailed` / :class:`QueryCancelled`.

DuckDB names the files it failed on by the paths it opened — blob paths on a
``file://`` lake — and quotes the SQL it ran, which is the rewritten statement,
not the user's. Messages keep DuckDB's first paragraph (``Binder Error: …``)
with every blob path put back as ``lake://bucket/key``; the quoted SQL is
dropped. The ``error_type`` is the :mod:`crispml.core.errors` class a
synchronous caller raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb
from crispml.core.errors import CrispmlError
from crispml.services.query.engines.base import QueryCancelled, QueryFailed

_NOT_FOUND = re.compile(r"no files found|no such file|not found: |does not exist|cannot open file", re.IGNORECASE)
#: A lake file that vanished, as the lake's filesystem reports it from inside DuckDB (with a Python traceback).
_MISSING = re.compile(r"FileNotFoundError: (lake://[^\s:]+):?([^\n]*)")
_CORE_NAMES = ("InvalidArgument", "NotFound", "AlreadyExists", "Conflict", "PermissionDenied", "Unauthenticated",
               "LimitExceeded", "Unavailable", "Internal")
#: DuckDB's exception classes by the name its messages start with: an error met while the rows stream out
#: comes through Arrow's stream as a plain ``OSError`` holding DuckDB's message (``Conversion Error: …``).
_STREAMED: dict[str, type[duckdb.Error]] = {
    "Binder Error": duckdb.BinderException, "Catalog Error": duckdb.CatalogException,
    "Parser Error": duckdb.ParserException, "Conversion Error": duckdb.ConversionException,
    "Invalid Input Error": duckdb.InvalidInputException, "Not implemented Error": duckdb.NotImplementedException,
    "Out of Range Error": duckdb.OutOfRangeException, "Constraint Error": duckdb.ConstraintException,
    "Mismatch Type Error": duckdb.TypeMismatchException, "IO Error": duckdb.IOException,
    "Syntax Error": duckdb.SyntaxException, "Out of Memory Error": duckdb.OutOfMemoryException,
    "Permission Error": duckdb.PermissionException, "INTERRUPT Error": duckdb.InterruptException,
}
_STREAMED_NAME = re.compile(r"^(" + "|".join(re.escape(n) for n in _STREAMED) + r"):")


def lake_message(text: str, paths: Mapping[str, str]) -> str:
    """``text`` with every real path in ``paths`` shown as its ``lake://`` URI (longest paths first)."""
    for real in sorted(paths, key=len, reverse=True):
        if real in text:
            text = text.replace(real, paths[real])
    return text


def _other_form(path: str) -> str:
    """``scheme://b/k`` as DuckDB also spells a registered filesystem's path: ``scheme:///b/k``."""
    scheme, sep, rest = path.partition("://")
    return f"{scheme}:///{rest}" if sep and not rest.startswith("/") else path


def error_type(exc: CrispmlError) -> str:
    """The name a synchronous caller raises for a platform error met while running (its core family)."""
    for cls in type(exc).__mro__:
        if cls.__name__ == "InvalidObjectState" or cls.__name__ in _CORE_NAMES:
            return cls.__name__
    return "Internal"


def translate(exc: BaseException, paths: Mapping[str, str]) -> QueryFailed | QueryCancelled:
    """What a DuckDB (or platform) exception means to the caller of ``execute``."""
    if isinstance(exc, QueryFailed | QueryCancelled):
        return exc
    if isinstance(exc, duckdb.InterruptException | KeyboardInterrupt):
        return QueryCancelled("the query was cancelled")
    if isinstance(exc, CrispmlError):
        return QueryFailed(lake_message(exc.message, paths), error_type(exc))
    text = str(exc).split("\n\nLINE ", 1)[0].strip()
    streamed = _STREAMED_NAME.match(text) if type(exc) is OSError else None
    if streamed is not None:  # DuckDB's own error, met as the rows streamed out: what it would have raised
        return translate(_STREAMED[streamed.group(1)](str(exc)), paths)
    if isinstance(exc, duckdb.PermissionException):
        named = [paths[p] for p in sorted(paths, key=len, reverse=True) if p in text or _other_form(p) in text]
        if named:  # one of the statement's own files, refused after a lookup DuckDB makes when it is gone
            return QueryFailed(f"data file {named[0]} cannot be read: it was deleted after the query was planned "
                               "— run it again", "NotFound")
        # the seal held (seal.py): DuckDB names the file it refused, which the message must not show
        return QueryFailed("the statement reached for a file, an extension or a setting outside the tables it "
                           "reads, which the engine does not allow; query catalog tables only", "InvalidArgument")
    text = lake_message(text, paths)
    missing = _MISSING.search(text)
    if missing is not None:  # the lake's filesystem raised inside DuckDB: its traceback is no message
        return QueryFailed(f"data file {missing.group(1)} is missing from the lake ({missing.group(2).strip()}); "
                           "put the object again, or delete it and run the table's crawler again", "NotFound")
    if isinstance(exc, duckdb.IOException) and _NOT_FOUND.search(text):
        return QueryFailed(f"{text}; the file was deleted after the query was planned — run it again",
                           "NotFound")
    if isinstance(exc, duckdb.BinderException | duckdb.CatalogException | duckdb.ParserException
                  | duckdb.ConversionException | duckdb.InvalidInputException | duckdb.NotImplementedException
                  | duckdb.OutOfRangeException | duckdb.ConstraintException | duckdb.TypeMismatchException
                  | duckdb.IOException | duckdb.SyntaxException):
        return QueryFailed(text, "InvalidArgument")
    if isinstance(exc, duckdb.OutOfMemoryException):
        first = text.splitlines()[0] if text else "Out of Memory Error"
        return QueryFailed(f"{first}; the query needs more memory than one query may use (the engine's memory_limit)"
                           " — filter, aggregate or limit the rows, or join smaller tables", "LimitExceeded")
    return QueryFailed(f"the SQL engine failed: {text}", "Internal")
