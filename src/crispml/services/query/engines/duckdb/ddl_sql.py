"""Reading Athena's DDL statements: what each asks for, before anything is looked up.

sqlglot parses ``CREATE EXTERNAL TABLE``, ``CREATE VIEW``, ``DESCRIBE``,
``DROP`` and ``ALTER TABLE … DROP PARTITION`` into trees, but falls back to
``exp.Command`` (the statement's first word and the rest as one string) for
``SHOW …``, ``MSCK REPAIR TABLE``, ``ALTER TABLE … ADD PARTITION``,
``EXPLAIN`` and ``CREATE DATABASE … WITH DBPROPERTIES``. Those are read here
from the tokens of the rest, with sqlglot's Hive tokenizer (Athena's DDL is
Hive's: backquoted names, single-quoted strings), by a small hand-written
reader: the statements are short, fixed phrases, and no library parses them.
The tree or the :class:`Ddl` found is kept on the statement for ``ddl.py``,
which runs it. Deliberately not here: catalog lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from crispml.core.errors import InvalidArgument

#: What Athena calls each statement (``SubstatementType``), by the action of :class:`Ddl`.
SHOW = ("SHOW_DATABASES", "SHOW_TABLES", "SHOW_VIEWS", "SHOW_COLUMNS", "SHOW_PARTITIONS", "SHOW_CREATE_TABLE",
        "SHOW_CREATE_VIEW", "DESCRIBE_TABLE")
CHANGE = ("CREATE_DATABASE", "CREATE_TABLE", "CREATE_VIEW", "ALTER_TABLE_ADD_PARTITION",
          "ALTER_TABLE_DROP_PARTITION", "MSCK_REPAIR_TABLE", "DROP_TABLE", "DROP_VIEW", "DROP_DATABASE")
ACTIONS = (*SHOW, *CHANGE, "EXPLAIN")

_SUPPORTED = ("SHOW DATABASES|SCHEMAS|TABLES|VIEWS|COLUMNS|PARTITIONS|CREATE TABLE|CREATE VIEW, DESCRIBE, "
              "CREATE DATABASE|EXTERNAL TABLE|TABLE (Iceberg)|VIEW, ALTER TABLE ADD|DROP PARTITION, "
              "MSCK REPAIR TABLE, DROP TABLE|VIEW|DATABASE, EXPLAIN")
_WORDS = (TokenType.VAR, TokenType.IDENTIFIER)
_NOT_NAMES = (TokenType.STRING, TokenType.NUMBER, TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA,
              TokenType.DOT, TokenType.EQ, TokenType.DASH, TokenType.SEMICOLON, TokenType.STAR)


@dataclass
class PartitionSpec:
    """``PARTITION (key = value, …) [LOCATION '…']`` of an ALTER TABLE."""

    values: dict[str, str]
    location: str | None = None


@dataclass
class Ddl:
    """One DDL statement as written: what it does and the names it gives (lower-case, unresolved)."""

    action: str
    database: str | None = None
    name: str | None = None
    pattern: str | None = None
    if_exists: bool = False
    cascade: bool = False
    formatted: bool = False
    partitions: list[PartitionSpec] = field(default_factory=list)
    #: CREATE DATABASE's COMMENT, LOCATION and DBPROPERTIES.
    comment: str | None = None
    location: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    #: The parsed CREATE TABLE / CREATE VIEW.
    tree: exp.Create | None = None
    #: EXPLAIN: the statement explained and its options (TYPE, FORMAT, ANALYZE).
    inner: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def read(tree: exp.Expr) -> Ddl | None:
    """The DDL statement ``tree`` is, or None if it is none of Athena's DDL."""
    if isinstance(tree, exp.Create):
        return _create(tree)
    if isinstance(tree, exp.Describe):
        return _describe(tree)
    if isinstance(tree, exp.Drop):
        return _drop(tree)
    if isinstance(tree, exp.Alter):
        return _words("ALTER", tree.sql("hive"))
    if isinstance(tree, exp.Command):
        rest = tree.expression.name if isinstance(tree.expression, exp.Literal) else str(tree.expression or "")
        return _words(str(tree.this).upper(), f"{tree.this} {rest}")
    return None


def _create(tree: exp.Create) -> Ddl | None:
    kind = str(tree.args.get("kind") or "").upper()
    if kind in ("DATABASE", "SCHEMA"):
        table = tree.this
        name = (table.name or table.db) if isinstance(table, exp.Table) else ""
        ddl = Ddl("CREATE_DATABASE", name=name.lower(), if_exists=bool(tree.args.get("exists")))
        properties = tree.args.get("properties")
        for prop in properties.expressions if properties is not None else []:
            if isinstance(prop, exp.SchemaCommentProperty):
                ddl.comment = prop.this.name
            elif isinstance(prop, exp.LocationProperty):
                ddl.location = prop.this.name
            elif isinstance(prop, exp.Property):
                ddl.properties[prop.name] = prop.args["value"].name
            else:
                raise InvalidArgument(f"CREATE DATABASE does not take {prop.sql('hive')!r}; write CREATE DATABASE "
                                      "name [COMMENT '…'] [LOCATION 's3://…'] [WITH DBPROPERTIES ('k'='v')]")
        return ddl
    if kind == "TABLE":
        return Ddl("CREATE_TABLE", if_exists=bool(tree.args.get("exists")), tree=tree)
    if kind == "VIEW":
        if not isinstance(tree.expression, exp.Query):
            raise InvalidArgument("CREATE VIEW needs a query: CREATE [OR REPLACE] VIEW name AS SELECT …")
        return Ddl("CREATE_VIEW", tree=tree)
    return None


def _describe(tree: exp.Describe) -> Ddl:
    table = tree.this
    if not isinstance(table, exp.Table) or not table.name:
        raise InvalidArgument("DESCRIBE takes a table or view name: DESCRIBE [FORMATTED] db.table")
    style = str(tree.args.get("style") or "").upper()
    return Ddl("DESCRIBE_TABLE", database=_lower(table.db), name=table.name.lower(),
               formatted=style in ("FORMATTED", "EXTENDED"))


def _drop(tree: exp.Drop) -> Ddl | None:
    kind = str(tree.args.get("kind") or "").upper()
    tables = tree.args.get("tables") or [tree.this]
    if len(tables) != 1 or not isinstance(tables[0], exp.Table):
        raise InvalidArgument(f"DROP {kind} drops one name at a time")
    table = tables[0]
    exists = bool(tree.args.get("exists"))
    if kind in ("DATABASE", "SCHEMA"):
        return Ddl("DROP_DATABASE", name=(table.name or table.db).lower(), if_exists=exists,
                   cascade=bool(tree.args.get("cascade")))
    if kind in ("TABLE", "VIEW"):
        return Ddl(f"DROP_{kind}", database=_lower(table.db), name=table.name.lower(), if_exists=exists)
    return None


def _lower(name: str | None) -> str | None:
    return name.lower() if name else None


# -- statements sqlglot leaves as commands --------------------------------------------------------------


def _words(first: str, text: str) -> Ddl | None:
    if first not in ("SHOW", "MSCK", "MSCK REPAIR", "ALTER", "EXPLAIN", "CREATE"):
        return None
    if first == "EXPLAIN":
        return _explain(text.split(None, 1)[1] if " " in text.strip() else "")
    rest = text.strip()[len(first):].strip()
    if first == "MSCK REPAIR":
        rest = f"REPAIR {rest}"
    try:
        tokens = Dialect.get_or_raise("hive").tokenize(rest)
    except TokenError as exc:
        raise InvalidArgument(f"line 1:1: {exc}") from None
    words = _Words(tokens, text)
    if first == "SHOW":
        return _show(words)
    if first.startswith("MSCK"):
        words.expect("REPAIR")
        words.expect("TABLE")
        database, name = words.table()
        return words.done(Ddl("MSCK_REPAIR_TABLE", database=database, name=name))
    if first == "CREATE":
        return _create_database(words)
    return _alter(words)


def _show(words: _Words) -> Ddl:
    if words.accept("DATABASES") or words.accept("SCHEMAS"):
        return words.done(Ddl("SHOW_DATABASES", pattern=_like(words)))
    for kind in ("TABLES", "VIEWS"):
        if words.accept(kind):
            database = words.name() if words.accept("IN") or words.accept("FROM") else None
            return words.done(Ddl(f"SHOW_{kind}", database=database, pattern=_like(words)))
    if words.accept("COLUMNS"):
        if not (words.accept("IN") or words.accept("FROM")):
            raise words.error("SHOW COLUMNS IN db.table (or SHOW COLUMNS IN table IN db)")
        database, name = words.table()
        if words.accept("IN") or words.accept("FROM"):
            database = words.name()
        return words.done(Ddl("SHOW_COLUMNS", database=database, name=name))
    if words.accept("PARTITIONS"):
        database, name = words.table()
        return words.done(Ddl("SHOW_PARTITIONS", database=database, name=name))
    if words.accept("CREATE"):
        shown = "VIEW" if words.accept("VIEW") else "TABLE" if words.accept("TABLE") else None
        if shown is None:
            raise words.error("SHOW CREATE TABLE db.table or SHOW CREATE VIEW db.view")
        database, name = words.table()
        return words.done(Ddl(f"SHOW_CREATE_{shown}", database=database, name=name))
    raise words.error(f"SHOW … is one of {_SUPPORTED.split(', DESCRIBE')[0]}")


def _like(words: _Words) -> str | None:
    words.accept("LIKE")
    return words.string() if words.peek_type() == TokenType.STRING else None


def _create_database(words: _Words) -> Ddl:
    if not (words.accept("DATABASE") or words.accept("SCHEMA")):
        raise InvalidArgument(f"this CREATE statement is not supported; the query service runs {_SUPPORTED}")
    ddl = Ddl("CREATE_DATABASE")
    if words.accept("IF"):
        words.expect("NOT")
        words.expect("EXISTS")
        ddl.if_exists = True
    ddl.name = words.name()
    while not words.at_end():
        if words.accept("COMMENT"):
            ddl.comment = words.string()
        elif words.accept("LOCATION"):
            ddl.location = words.string()
        elif words.accept("WITH"):
            words.expect("DBPROPERTIES")
            ddl.properties = words.properties()
        else:
            raise words.error("CREATE DATABASE name [COMMENT '…'] [LOCATION 's3://…'] [WITH DBPROPERTIES ('k'='v')]")
    return ddl


def _alter(words: _Words) -> Ddl:
    words.expect("TABLE")
    database, name = words.table()
    if words.accept("ADD"):
        ddl = Ddl("ALTER_TABLE_ADD_PARTITION", database=database, name=name)
        if words.accept("IF"):
            words.expect("NOT")
            words.expect("EXISTS")
            ddl.if_exists = True
        while words.accept("PARTITION"):
            spec = PartitionSpec(words.partition_values())
            if words.accept("LOCATION"):
                spec.location = words.string()
            ddl.partitions.append(spec)
    elif words.accept("DROP"):
        ddl = Ddl("ALTER_TABLE_DROP_PARTITION", database=database, name=name)
        if words.accept("IF"):
            words.expect("EXISTS")
            ddl.if_exists = True
        while words.accept("PARTITION"):
            ddl.partitions.append(PartitionSpec(words.partition_values()))
            words.accept_type(TokenType.COMMA)
    else:
        raise words.error("ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (k='v') [LOCATION '…'] … or ALTER TABLE t "
                          "DROP [IF EXISTS] PARTITION (k='v'), …; other changes go through 'crispml catalog "
                          "update-table'")
    if not ddl.partitions:
        raise words.error("name at least one PARTITION (key = 'value', …)")
    return words.done(ddl)


def _explain(inner: str) -> Ddl:
    ddl = Ddl("EXPLAIN")
    text = inner.strip()
    if text[:7].upper() == "ANALYZE":
        ddl.options["ANALYZE"] = "true"
        text = text[7:].strip()
        if text[:7].upper() == "VERBOSE":
            text = text[7:].strip()
    if text.startswith("("):
        end = text.find(")")
        if end < 0:
            raise InvalidArgument("EXPLAIN (TYPE …, FORMAT …) is missing its ')'")
        for option in text[1:end].split(","):
            key, _, value = option.strip().partition(" ")
            if key.upper() not in ("TYPE", "FORMAT") or not value.strip():
                raise InvalidArgument(f"EXPLAIN option {option.strip()!r} is not known; use TYPE LOGICAL|"
                                      "DISTRIBUTED|VALIDATE or FORMAT TEXT")
            ddl.options[key.upper()] = value.strip().upper()
        text = text[end + 1:].strip()
    if not text:
        raise InvalidArgument("EXPLAIN needs a statement: EXPLAIN SELECT …")
    ddl.inner = text
    return ddl


class _Words:
    """A cursor over the tokens of a command's text, with Athena's messages for what it does not expect."""

    def __init__(self, tokens: list[Token], text: str) -> None:
        self.tokens = [t for t in tokens if t.token_type != TokenType.SEMICOLON]
        self.text = text
        self.at = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def peek_type(self) -> TokenType | None:
        token = self.peek()
        return token.token_type if token is not None else None

    def at_end(self) -> bool:
        return self.at >= len(self.tokens)

    def accept(self, word: str) -> bool:
        token = self.peek()
        if token is None or token.token_type in (TokenType.STRING, TokenType.IDENTIFIER):
            return False
        if token.text.upper() == word:
            self.at += 1
            return True
        return False

    def accept_type(self, kind: TokenType) -> Token | None:
        token = self.peek()
        if token is not None and token.token_type == kind:
            self.at += 1
            return token
        return None

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise self.error(f"expected {word}")

    def string(self) -> str:
        token = self.accept_type(TokenType.STRING)
        if token is None:
            raise self.error("expected a quoted string ('…')")
        return token.text

    def name(self) -> str:
        token = self.peek()
        if token is None or token.token_type in _NOT_NAMES:
            raise self.error("expected a name")
        self.at += 1
        return token.text.lower()

    def table(self) -> tuple[str | None, str]:
        """``[catalog.][db.]name``."""
        parts = [self.name()]
        while self.accept_type(TokenType.DOT):
            parts.append(self.name())
        if len(parts) == 3 and parts[0] == "awsdatacatalog":
            parts = parts[1:]
        if len(parts) > 2:
            raise self.error(f"{'.'.join(parts)!r} is not a table name (db.table)")
        return (parts[0] if len(parts) == 2 else None), parts[-1]

    def properties(self) -> dict[str, str]:
        """``('k' = 'v', …)``."""
        found: dict[str, str] = {}
        self._expect_type(TokenType.L_PAREN, "(")
        while True:
            key = self.string()
            self._expect_type(TokenType.EQ, "=")
            found[key] = self.string()
            if not self.accept_type(TokenType.COMMA):
                break
        self._expect_type(TokenType.R_PAREN, ")")
        return found

    def partition_values(self) -> dict[str, str]:
        """``(key = 'value' | number, …)``: the values as strings, as the catalog keeps them."""
        found: dict[str, str] = {}
        self._expect_type(TokenType.L_PAREN, "(")
        while True:
            key = self.name()
            self._expect_type(TokenType.EQ, "=")
            negative = self.accept_type(TokenType.DASH) is not None
            token = self.accept_type(TokenType.STRING) or self.accept_type(TokenType.NUMBER)
            if token is None:
                raise self.error(f"partition key {key!r} needs a value: {key} = 'value'")
            if key in found:
                raise self.error(f"partition key {key!r} is given twice")
            found[key] = ("-" if negative else "") + token.text
            if not self.accept_type(TokenType.COMMA):
                break
        self._expect_type(TokenType.R_PAREN, ")")
        return found

    def _expect_type(self, kind: TokenType, shown: str) -> None:
        if self.accept_type(kind) is None:
            raise self.error(f"expected {shown!r}")

    def done(self, ddl: Ddl) -> Ddl:
        if not self.at_end():
            raise self.error("unexpected text after the statement")
        return ddl

    def error(self, hint: str) -> InvalidArgument:
        token = self.peek()
        near = f" at {token.text!r}" if token is not None else " at the end of the statement"
        return InvalidArgument(f"{self.text.strip()[:200]!r}: {hint}{near}")
