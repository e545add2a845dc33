"""Trino functions whose DuckDB twins differ, rewritten on the parsed statement before it is rendered.

- ``date_trunc(unit, d)`` and ``date_add(unit, n, d)`` (and ``d ± INTERVAL``)
  on a DATE return a DATE in Trino; DuckDB's return a TIMESTAMP. The rewrite
  casts the result back to DATE when the argument is a DATE: a DATE literal or
  cast, ``current_date``, a catalog column of type ``date``, or such a call
  itself. (sqlglot renders the calls; what it cannot know is the column types,
  which come from the catalog here.)
- ``format_datetime(t, 'yyyy-MM-dd')`` formats with a Joda-Time pattern;
  DuckDB has ``strftime``. The pattern is translated by hand (no library reads
  Joda patterns into strftime ones); a pattern letter without a strftime twin
  is refused naming it.

Deliberately not here: functions sqlglot already transpiles faithfully.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from crispml.core.errors import InvalidArgument
from crispml.services.query.engines.duckdb.resolve import TableRef

#: Units that keep a DATE a DATE in Trino's date_trunc / date_add.
_DATE_UNITS = {"day", "week", "month", "quarter", "year"}
#: Joda-Time pattern letters (by run length; the longest run listed first) → strftime.
_JODA: dict[str, list[tuple[int, str]]] = {
    "y": [(4, "%Y"), (3, "%Y"), (2, "%y"), (1, "%Y")],
    "Y": [(4, "%Y"), (2, "%y"), (1, "%Y")],
    "M": [(4, "%B"), (3, "%b"), (2, "%m"), (1, "%-m")],
    "d": [(2, "%d"), (1, "%-d")],
    "H": [(2, "%H"), (1, "%-H")],
    "h": [(2, "%I"), (1, "%-I")],
    "m": [(2, "%M"), (1, "%-M")],
    "s": [(2, "%S"), (1, "%-S")],
    "S": [(6, "%f"), (3, "%g"), (1, "%g")],
    "E": [(4, "%A"), (1, "%a")],
    "a": [(1, "%p")],
    "D": [(3, "%j"), (1, "%-j")],
    "Z": [(1, "%z")],
    "z": [(1, "%Z")],
}
_RUN = re.compile(r"'[^']*'|([A-Za-z])\1*|[^A-Za-z']+")


def joda_to_strftime(pattern: str) -> str:
    """A Joda-Time format pattern as a strftime one (``yyyy-MM-dd HH:mm`` → ``%Y-%m-%d %H:%M``)."""
    out: list[str] = []
    for match in _RUN.finditer(pattern):
        text = match.group(0)
        if text.startswith("'"):
            out.append("'" if text == "''" else text[1:-1].replace("%", "%%"))
        elif text[0].isalpha():
            choices = _JODA.get(text[0])
            if choices is None:
                raise InvalidArgument(f"format_datetime pattern {pattern!r}: the letter {text[0]!r} is not "
                                      f"supported (supported: {''.join(sorted(_JODA))}); quote literal text "
                                      "with '...'")
            out.append(next(code for length, code in choices if len(text) >= length))
        else:
            out.append(text.replace("%", "%%"))
    return "".join(out)


def _date_columns(refs: Sequence[TableRef]) -> tuple[dict[str, set[str]], set[str], set[str]]:
    """DATE columns by alias; unqualified names that are DATE in some table, and those that are not."""
    by_alias: dict[str, set[str]] = {}
    dates: set[str] = set()
    others: set[str] = set()
    for ref in refs:
        for column in [*ref.columns, *ref.keys]:
            name = column.name.lower()
            if column.hive_type.strip().lower() == "date":
                by_alias.setdefault(ref.alias.lower(), set()).add(name)
                dates.add(name)
            else:
                others.add(name)
    return by_alias, dates, others


class _Dates:
    def __init__(self, refs: Sequence[TableRef]) -> None:
        self.by_alias, self.dates, self.others = _date_columns(refs)

    def is_date(self, node: exp.Expr | None) -> bool:
        if node is None:
            return False
        if isinstance(node, exp.Paren):
            return self.is_date(node.this)
        if isinstance(node, exp.Cast):
            return bool(node.to.this == exp.DataType.Type.DATE)
        if isinstance(node, exp.CurrentDate):
            return True
        if isinstance(node, exp.Column):
            name, table = node.name.lower(), node.table.lower()
            if table:
                return name in self.by_alias.get(table, set())
            return name in self.dates and name not in self.others
        return False


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return (unit.name if isinstance(unit, exp.Expr) else str(unit or "day")).lower()


def rewrite_functions(tree: exp.Expr, refs: Sequence[TableRef]) -> exp.Expr:
    """Rewrite ``tree`` in place (see the module docstring); returns its root."""
    dates = _Dates(refs)
    root = tree
    # children before parents, so a call over a rewritten call sees its DATE
    for node in reversed(list(tree.walk(bfs=False))):
        replacement: exp.Expr | None = None
        if isinstance(node, exp.TimestampTrunc | exp.DateTrunc | exp.DateAdd | exp.DateSub):
            if _unit(node) in _DATE_UNITS and dates.is_date(node.this):
                replacement = exp.cast(node.copy(), exp.DataType.Type.DATE)
        elif isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
            if _unit(node.expression) in _DATE_UNITS and dates.is_date(node.this):
                replacement = exp.cast(node.copy(), exp.DataType.Type.DATE)
        elif isinstance(node, exp.Anonymous) and str(node.this).lower() == "format_datetime":
            replacement = _format_datetime(node)
        if replacement is not None:
            if node is root:
                root = replacement
            else:
                node.replace(replacement)
    return root


def _format_datetime(node: exp.Anonymous) -> exp.Expr:
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        raise InvalidArgument("format_datetime(value, format) needs a string literal format, e.g. "
                              "format_datetime(ts, 'yyyy-MM-dd HH:mm')")
    return exp.Anonymous(this="strftime", expressions=[args[0].copy(),
                                                       exp.Literal.string(joda_to_strftime(args[1].this))])
