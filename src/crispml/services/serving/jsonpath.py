"""The JSONPath of batch transform's ``InputFilter`` and ``OutputFilter``: the operators SageMaker supports.

A path starts at ``$`` (the record: a CSV row is a JSON array of its fields,
a JSON line its value) and goes on with any of:

- ``.name`` or ``['name']`` — an object's member; ``['a','b']`` several,
  which keeps an object of those members (``$['id','SageMakerOutput']``);
- ``[2]``, ``[-1]`` — an array's element; ``[0,2]``, ``[1:]``, ``[:3]``,
  ``[0,5:]`` — several elements and slices (end exclusive), which keep an
  array;
- ``.*`` or ``[*]`` — every member or element.

Written here because the rules are SageMaker's (a single index gives the
element, several give an array; several names keep an object), not those of
any general JSONPath library, and they fit in a hundred lines. Not here: deep
scan (``..``), filter expressions (``[?()]``), steps in a slice, and anything
after a step that selects several values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crispml.services.serving.errors import ValidationException

#: What the error messages offer as examples.
EXAMPLES = "'$', '$[1:]', '$[0,-1]', '$.features', \"$['id','SageMakerOutput']\""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_SLICE = re.compile(r"^(-?\d+)?:(-?\d+)?$")


@dataclass(frozen=True)
class Step:
    """One step: members by ``names``, elements by ``indices`` (ints and (start, end) slices), or ``every``."""

    names: tuple[str, ...] = ()
    indices: tuple[int | tuple[int | None, int | None], ...] = ()
    every: bool = False

    @property
    def single(self) -> bool:
        """Whether the step selects one value (so a further step may follow)."""
        one_name = len(self.names) == 1 and not self.indices
        one_index = len(self.indices) == 1 and isinstance(self.indices[0], int)
        return not self.every and (one_name or one_index)


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps

    def apply(self, value: Any) -> Any:
        """The part of ``value`` the path selects; ValueError naming what is missing."""
        for step in self.steps:
            value = _apply(step, value)
        return value


def parse(text: str, what: str) -> Path:
    """``text`` as a :class:`Path`; ValidationException (naming ``what``) for anything else."""
    source = text.strip()
    if not source.startswith("$"):
        raise _bad(text, what, "it must start with '$'")
    rest, steps = source[1:], []
    while rest:
        if rest.startswith(".*") or rest.startswith("[*]"):
            steps.append(Step(every=True))
            rest = rest[2:] if rest.startswith(".*") else rest[3:]
        elif rest.startswith("."):
            match = _NAME.match(rest, 1)
            if match is None:
                raise _bad(text, what, f"no member name after '.' in {rest!r}")
            steps.append(Step(names=(match.group(),)))
            rest = rest[match.end():]
        elif rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                raise _bad(text, what, "a '[' is not closed")
            steps.append(_bracket(rest[1:end], text, what))
            rest = rest[end + 1:]
        else:
            raise _bad(text, what, f"unexpected {rest!r}")
    for step in steps[:-1]:
        if not step.single:
            raise _bad(text, what, "only the last step may select several values")
    return Path(source, tuple(steps))


def _bracket(inner: str, text: str, what: str) -> Step:
    parts = [p.strip() for p in inner.split(",")]
    if not inner.strip() or any(not p for p in parts):
        raise _bad(text, what, f"an empty selector in [{inner}]")
    if all(p[0] in "'\"" for p in parts):
        names = []
        for part in parts:
            if len(part) < 2 or part[-1] != part[0]:
                raise _bad(text, what, f"an unclosed quote in [{inner}]")
            names.append(part[1:-1])
        return Step(names=tuple(names))
    indices: list[int | tuple[int | None, int | None]] = []
    for part in parts:
        slice_match = _SLICE.match(part)
        if slice_match is not None:
            start, stop = slice_match.groups()
            indices.append((int(start) if start else None, int(stop) if stop else None))
        elif re.fullmatch(r"-?\d+", part):
            indices.append(int(part))
        else:
            raise _bad(text, what, f"[{inner}] mixes names and indices, or holds {part!r}")
    return Step(indices=tuple(indices))


def _apply(step: Step, value: Any) -> Any:
    if step.every:
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return value
        raise ValueError(f"'*' needs an object or an array, not {type(value).__name__}")
    if step.names:
        if not isinstance(value, dict):
            raise ValueError(f"member {step.names[0]!r} of a {type(value).__name__}, which has no members")
        missing = [n for n in step.names if n not in value]
        if missing:
            raise ValueError(f"no member {missing[0]!r} (members: {', '.join(map(str, value))})")
        return value[step.names[0]] if len(step.names) == 1 else {n: value[n] for n in step.names}
    if not isinstance(value, list):
        raise ValueError(f"an index of a {type(value).__name__}, which is not an array")
    chosen: list[Any] = []
    for index in step.indices:
        if isinstance(index, int):
            if not -len(value) <= index < len(value):
                raise ValueError(f"index {index} is outside the {len(value)} values")
            chosen.append(value[index])
        else:
            chosen.extend(value[index[0]:index[1]])
    return chosen[0] if step.single else chosen


def _bad(text: str, what: str, why: str) -> ValidationException:
    return ValidationException(f"{what} {text!r} is not a JSONPath batch transform supports: {why}; e.g. "
                               f"{EXAMPLES}")
