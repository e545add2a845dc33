"""GetPartitions' Expression: a SQL-like filter on partition keys, as Glue reads it.

Supported: comparisons ``= <> != < <= > >=`` between a key and a literal,
``[NOT] IN (...)``, ``BETWEEN a AND b``, ``[NOT] LIKE 'pat%'``, ``AND``, ``OR``,
``NOT`` and parentheses. Keys of integral and floating types compare as
numbers, others as strings (dates in ISO form compare correctly as strings).
Written by hand: the grammar is thirty lines, and a full SQL parser would
accept far more than Glue does and still need this evaluator.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.rules import NUMERIC_TYPES, base_type

Predicate = Callable[[list[str]], bool]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*|"[^"]+"|`[^`]+`)
    )""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "between", "like"}
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def compile_expression(text: str, keys: list[tuple[str, str]]) -> Predicate:
    """A predicate over a partition's values for ``text``; ``keys`` are (name, type) in order."""
    parser = _Parser(text, keys)
    predicate = parser.parse_or()
    if parser.peek() is not None:
        parser.fail(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return predicate


class _Parser:
    def __init__(self, text: str, keys: list[tuple[str, str]]) -> None:
        self.text = text
        self.keys = {name: (i, base_type(type_) in NUMERIC_TYPES) for i, (name, type_) in enumerate(keys)}
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                self.fail(f"cannot read {text[pos:].strip()[:20]!r}")
            assert match is not None
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind == "word" and value.lower() in _KEYWORDS:
                kind, value = "keyword", value.lower()
            self.tokens.append((kind, value))
            pos = match.end()
        self.index = 0

    def fail(self, problem: str) -> None:
        raise InvalidInputException(f"Expression {self.text!r}: {problem}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            self.fail("it ends too early")
        assert token is not None
        self.index += 1
        return token

    def accept(self, kind: str, value: str | None = None) -> bool:
        token = self.peek()
        if token is not None and token[0] == kind and (value is None or token[1] == value):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, value: str) -> None:
        if not self.accept(kind, value):
            found = self.peek()
            self.fail(f"expected {value!r}, found {found[1] if found else 'the end'!r}")

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.accept("keyword", "or"):
            right = self.parse_and()
            left = (lambda a, b: lambda v: a(v) or b(v))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while self.accept("keyword", "and"):
            right = self.parse_not()
            left = (lambda a, b: lambda v: a(v) and b(v))(left, right)
        return left

    def parse_not(self) -> Predicate:
        if self.accept("keyword", "not"):
            inner = self.parse_not()
            return lambda v: not inner(v)
        if self.accept("op", "("):
            inner = self.parse_or()
            self.expect("op", ")")
            return inner
        return self.parse_condition()

    def parse_condition(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            self.fail(f"expected a partition key, found {word!r}")
        name = word.strip('"`').lower()
        if name not in self.keys:
            self.fail(f"{name!r} is not a partition key (keys: {', '.join(self.keys) or 'none'})")
        index, numeric = self.keys[name]

        def value_of(values: list[str]) -> object:
            return _as(values[index], numeric)

        negate = self.accept("keyword", "not")
        if self.accept("keyword", "in"):
            self.expect("op", "(")
            options = [self.literal(numeric)]
            while self.accept("op", ","):
                options.append(self.literal(numeric))
            self.expect("op", ")")
            return lambda v: (value_of(v) in options) != negate
        if self.accept("keyword", "like"):
            pattern = self.literal(False)
            regex = re.compile("".join(".*" if c == "%" else "." if c == "_" else re.escape(c)
                                       for c in str(pattern)), re.DOTALL)
            return lambda v: (regex.fullmatch(v[index]) is not None) != negate
        if self.accept("keyword", "between"):
            low = self.literal(numeric)
            self.expect("keyword", "and")
            high = self.literal(numeric)
            return lambda v: (low <= value_of(v) <= high) != negate  # type: ignore[operator]
        if negate:
            self.fail("NOT must be followed by IN, LIKE or BETWEEN here")
        kind, op = self.take()
        if kind != "op" or op not in _COMPARE:
            self.fail(f"expected a comparison after {name!r}, found {op!r}")
        right = self.literal(numeric)
        compare = _COMPARE[op]
        return lambda v: _safe(compare, value_of(v), right)

    def literal(self, numeric: bool) -> object:
        kind, value = self.take()
        if kind == "string":
            return _as(value[1:-1].replace("''", "'"), numeric)
        if kind == "number":
            return _as(value, numeric)
        self.fail(f"expected a value ('text' or a number), found {value!r}")
        raise AssertionError("unreachable")


def _as(value: str, numeric: bool) -> object:
    if not numeric:
        return value
    try:
        return float(value)
    except ValueError:
        return value


def _safe(compare: Callable[[object, object], bool], left: object, right: object) -> bool:
    try:
        return compare(left, right)
    except TypeError:  # a number key holding text: compare as text
        return compare(str(left), str(right))
