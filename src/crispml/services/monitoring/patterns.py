"""FilterLogEvents' filter patterns for unstructured log events: terms, quoted phrases, ``?`` and ``-``.

``ERROR "out of memory"`` matches events holding both; ``?ERROR ?WARN`` events holding
either; ``-DEBUG`` excludes events holding ``DEBUG``. Matching is case-sensitive, as in
CloudWatch Logs. JSON (``{ $.level = "x" }``) and space-delimited (``[ip, user, …]``)
patterns are not supported: they are refused with InvalidParameterException rather than
read as plain terms that would match something else.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crispml.services.monitoring.errors import InvalidParameterException

_TERM = re.compile(r'[?-]?"(?:[^"\\]|\\.)*"|\S+')


def _unquote(term: str) -> str:
    if len(term) >= 2 and term[0] == term[-1] == '"':
        return re.sub(r"\\(.)", r"\1", term[1:-1])
    return term


def compile_pattern(pattern: str | None) -> Callable[[str], bool]:
    """A predicate telling whether a message matches ``pattern`` (every message matches an empty one)."""
    text = (pattern or "").strip()
    if not text or text == '""':
        return lambda message: True
    if text[0] in "{[":
        raise InvalidParameterException(
            f"filter pattern {pattern!r}: JSON and space-delimited patterns are not supported; use terms "
            'that must all occur, such as ERROR "out of memory" (?term for any of, -term to exclude)')
    required: list[str] = []
    anyof: list[str] = []
    excluded: list[str] = []
    for raw in _TERM.findall(text):
        kind = raw[0] if raw[0] in "?-" and len(raw) > 1 else ""
        term = _unquote(raw[1:] if kind else raw)
        if len(re.findall(r'(?<!\\)"', raw)) % 2:
            raise InvalidParameterException(f"filter pattern {pattern!r} has an unclosed quote")
        if not term:
            continue
        {"": required, "?": anyof, "-": excluded}[kind].append(term)

    def matches(message: str) -> bool:
        return (all(t in message for t in required)
                and (not anyof or any(t in message for t in anyof))
                and not any(t in message for t in excluded))

    return matches
