"""Parameters and prepared-statement SQL: ``?`` placeholders, ``PREPARE``, ``EXECUTE … USING``, ``DEALLOCATE``.

Athena's rules, kept here:

- A query's ``?`` placeholders take ``ExecutionParameters`` (or, for
  ``EXECUTE name``, the ``USING`` list) in the order they appear in the text;
  the counts must match. Each value is a SQL literal — ``'text'``, ``42``,
  ``-1.5``, ``true``, ``NULL``, ``DATE '2024-01-01'``, ``TIMESTAMP '…'``,
  ``DECIMAL '1.20'``, ``INTERVAL '1' DAY``, ``ARRAY[1, 2]`` — anything else
  (a column, a function call, a subquery, a second statement) is refused.
- Values are bound into the parsed statement's tree, never pasted into its
  text: the statement is tokenized, each ``?`` token becomes a numbered
  placeholder, the tokens are parsed, and each placeholder node is replaced by
  the value's own parsed literal node; the engine gets the tree rendered back
  as SQL. A value therefore cannot change the statement's shape.
- ``PREPARE name FROM statement`` stores (or replaces) a workgroup's prepared
  statement, ``DEALLOCATE PREPARE name`` deletes one, ``EXECUTE name [USING
  v, …]`` runs one; sqlglot reads these three only as opaque commands, so
  they are recognised here from the statement's tokens.

sqlglot does the tokenizing, parsing and rendering; only the binding is
written here, because no library binds Trino-style ``?`` parameters into a
statement that is then rewritten for another engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crispml.services.query.errors import InvalidRequestException

if TYPE_CHECKING:
    from sqlglot import exp

DIALECT = "athena"
_MAYBE = re.compile(r"\b(prepare|execute|deallocate)\b", re.IGNORECASE)
_DIRECTIVES = ("PREPARE", "EXECUTE", "DEALLOCATE")


@dataclass
class Directive:
    """A ``PREPARE``, ``EXECUTE`` or ``DEALLOCATE PREPARE`` statement, read from its tokens."""

    kind: str  # PREPARE | EXECUTE | DEALLOCATE
    name: str
    statement: str | None = None  # PREPARE's statement text
    using: list[str] | None = None  # EXECUTE's USING values, each a SQL literal


def _tokens(sql: str) -> list[Any]:
    import sqlglot.dialects.athena  # noqa: F401  (imported whole: see engines/duckdb/sql.py DIALECT)
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import TokenError

    try:
        return list(Dialect.get_or_raise(DIALECT).tokenize(sql))
    except TokenError as exc:
        raise InvalidRequestException(f"the statement cannot be read: {exc}") from None


def _words(tokens: list[Any]) -> list[str]:
    return [str(t.text).upper() for t in tokens]


def _name(tokens: list[Any], position: int, kind: str) -> str:
    from sqlglot import TokenType

    from crispml.services.query.specs import check_statement_name

    if position >= len(tokens) or tokens[position].token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
        raise InvalidRequestException(f"{kind} needs a statement name, e.g. '{kind} my_statement …'")
    return check_statement_name(str(tokens[position].text))


def directive(sql: str) -> Directive | None:
    """The PREPARE / EXECUTE / DEALLOCATE PREPARE a statement is, or None for any other statement."""
    if not _MAYBE.search(sql):
        return None
    first = next(iter(_tokens(sql)), None)
    head = str(first.text).upper().split() if first is not None else []
    if not head or head[0] not in _DIRECTIVES:
        return None
    assert first is not None
    # sqlglot reads what follows these command keywords as one string: read it again as tokens
    rest = sql[first.end + 1:]
    tokens = [first] * len(head) + (_tokens(rest) if rest.strip() else [])
    while len(tokens) > len(head) and str(tokens[-1].text) == ";":
        tokens.pop()
    words = head + _words(tokens[len(head):])
    if words[0] == "PREPARE":
        name = _name(tokens, 1, "PREPARE")
        if len(words) < 4 or words[2] != "FROM":
            raise InvalidRequestException(f"PREPARE needs a statement: 'PREPARE {name} FROM SELECT …'")
        statement = rest[tokens[3].start:tokens[-1].end + 1]
        check_statement(statement)
        return Directive("PREPARE", name, statement=statement)
    if words[0] == "DEALLOCATE":
        if len(words) < 2 or words[1] != "PREPARE":
            raise InvalidRequestException("DEALLOCATE needs PREPARE: 'DEALLOCATE PREPARE my_statement'")
        name = _name(tokens, 2, "DEALLOCATE PREPARE")
        if len(words) > 3:
            raise InvalidRequestException(f"unexpected {tokens[3].text!r} after 'DEALLOCATE PREPARE {name}'")
        return Directive("DEALLOCATE", name)
    name = _name(tokens, 1, "EXECUTE")
    if len(words) == 2:
        return Directive("EXECUTE", name)
    if words[2] != "USING" or len(words) == 3:
        raise InvalidRequestException(f"EXECUTE takes its values after USING: 'EXECUTE {name} USING 'a', 2'")
    return Directive("EXECUTE", name, using=_using(rest[tokens[3].start:tokens[-1].end + 1]))


def _using(text: str) -> list[str]:
    """The values of an EXECUTE's USING list, each checked to be a literal and rendered as one."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        parsed = sqlglot.parse_one(f"SELECT {text}", read=DIALECT)
    except ParseError as exc:
        raise InvalidRequestException(f"EXECUTE … USING takes literal values separated by commas: {exc}") from None
    if not isinstance(parsed, exp.Select) or any(v for k, v in parsed.args.items() if k != "expressions"):
        raise InvalidRequestException("EXECUTE … USING takes literal values separated by commas, nothing else")
    values = []
    for position, value in enumerate(parsed.expressions, 1):
        _check_literal(value, f"EXECUTE … USING value {position}")
        values.append(value.sql(DIALECT))
    return values


#: The expression nodes a parameter value may be made of: literals, typed literals, arrays of them.
def _allowed() -> tuple[type[Any], ...]:
    from sqlglot import exp

    return (exp.Literal, exp.Boolean, exp.Null, exp.Neg, exp.Cast, exp.DataType, exp.DataTypeParam, exp.Array,
            exp.Interval, exp.Var, exp.HexString, exp.Paren)


def _check_literal(node: exp.Expr, what: str) -> None:
    from sqlglot import exp

    allowed = _allowed()
    for child in node.walk():
        if not isinstance(child, allowed):
            raise InvalidRequestException(
                f"{what} ({node.sql(DIALECT)!r}) is not a SQL literal; pass values such as 'text', 42, true, NULL "
                "or DATE '2024-01-01'")
        if isinstance(child, exp.Var) and not isinstance(child.parent, exp.Interval):
            raise InvalidRequestException(f"{what} ({node.sql(DIALECT)!r}) is not a SQL literal")
        if isinstance(child, exp.Cast) and not isinstance(child.this, exp.Literal):
            raise InvalidRequestException(f"{what} ({node.sql(DIALECT)!r}) is not a SQL literal")


def literal(value: str, position: int) -> exp.Expr:
    """One ExecutionParameters value as its literal node (refused unless it is a literal)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    what = f"ExecutionParameters value {position}"
    try:
        node = sqlglot.parse_one(value, read=DIALECT, into=exp.Condition)
    except (ParseError, TokenError):
        raise InvalidRequestException(
            f"{what} ({value!r}) is not a SQL literal; strings need quotes ('books'), dates a type (DATE "
            "'2024-01-01')") from None
    _check_literal(node, what)
    return _typed(node)


def _typed(node: exp.Expr) -> exp.Expr:
    """``DECIMAL '12.50'`` with the type Trino gives it (``decimal(4,2)``), not the engine's default decimal."""
    from sqlglot import exp

    if (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DECIMAL and not node.to.expressions
            and isinstance(node.this, exp.Literal)):
        whole, _, fraction = node.this.name.strip().lstrip("+-").partition(".")
        scale = len(fraction)
        precision = max(len(whole.lstrip("0")) + scale, 1)
        if not (whole + fraction).isdigit() or precision > 38:
            raise InvalidRequestException(f"{node.this.name!r} is not a decimal of at most 38 digits")
        node.set("to", exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    return node


def placeholders(sql: str) -> int:
    """How many ``?`` parameters a statement has (``'?'`` in a string or a comment is none)."""
    if "?" not in sql:
        return 0
    from sqlglot import TokenType

    return sum(1 for t in _tokens(sql) if t.token_type == TokenType.PLACEHOLDER)


def bind(sql: str, values: list[str] | None) -> str:
    """``sql`` with its ``?`` parameters bound to ``values`` (SQL literals), as SQL; checked as Athena does."""
    count = placeholders(sql)
    given = len(values or [])
    if count != given:
        if not given:
            raise InvalidRequestException(
                f"the query has {count} parameter(s) ('?') but no values were given; pass ExecutionParameters "
                "(or EXECUTE … USING) with one SQL literal per '?'")
        raise InvalidRequestException(
            f"the query has {count} parameter(s) ('?') but {given} value(s) were given; pass one SQL literal per '?'")
    if not count:
        return sql
    nodes = [literal(v, i) for i, v in enumerate(values or [], 1)]
    tree = _numbered_tree(sql)
    from sqlglot import exp

    for node in list(tree.find_all(exp.Placeholder)):
        name = str(node.this or "")
        if name.startswith("__crispml_p"):
            node.replace(nodes[int(name[len("__crispml_p"):])].copy())
    rendered: str = tree.sql(DIALECT)
    return rendered


def _numbered_tree(sql: str) -> exp.Expr:
    """``sql`` parsed with its i-th ``?`` as the placeholder ``:__crispml_p<i>`` (numbered in text order)."""
    from sqlglot import Token, TokenType
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.errors import ParseError

    numbered: list[Any] = []
    position = 0
    for token in _tokens(sql):
        if token.token_type == TokenType.PLACEHOLDER:
            numbered.append(Token(TokenType.COLON, ":", token.line, token.col, token.start, token.end))
            numbered.append(Token(TokenType.VAR, f"__crispml_p{position}", token.line, token.col, token.start,
                                  token.end))
            position += 1
        else:
            numbered.append(token)
    try:
        trees = [t for t in Dialect.get_or_raise(DIALECT).parser().parse(numbered, sql) if t is not None]
    except ParseError as exc:
        raise InvalidRequestException(f"the statement cannot be parsed: {exc}") from None
    if len(trees) != 1:
        raise InvalidRequestException(f"a query runs one statement, but {len(trees)} were given")
    return trees[0]


def check_statement(sql: str) -> None:
    """Refuse a prepared statement's SQL that does not parse, or that is itself PREPARE/EXECUTE/DEALLOCATE."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    from crispml.services.query.engines.duckdb import seal  # the engine's refusals hold for what is prepared

    words = _words(_tokens(sql))
    if words and words[0] in _DIRECTIVES:
        raise InvalidRequestException(f"a prepared statement cannot be a {words[0]} statement; prepare a SELECT, "
                                      "CREATE TABLE AS SELECT or INSERT INTO")
    seal.check_text(sql, DIALECT)
    try:
        trees = [t for t in sqlglot.parse(sql.strip().rstrip(";"), read=DIALECT) if t is not None]
    except (ParseError, TokenError) as exc:
        raise InvalidRequestException(f"the prepared statement cannot be parsed: {exc}") from None
    if len(trees) != 1:
        raise InvalidRequestException(f"a prepared statement is one statement, but {len(trees)} were given")
    seal.check_tree(trees[0])
