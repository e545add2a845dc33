"""Base classes for operation requests and responses.

Requests forbid unknown fields (a typo is an error, not a silent default) and
accept AWS's PascalCase names as aliases of the snake_case fields, so that a
JSON document copied from AWS (a lifecycle configuration, say) validates as is.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_pascal

from crispml.core.errors import CrispmlError, InvalidArgument


def _pascal(name: str) -> str:
    return "ID" if name == "id" else to_pascal(name)


_AWS_ALIASES = AliasGenerator(validation_alias=_pascal)


class _Input(BaseModel):
    """What callers give: built in code (``BucketRequest(bucket=name)``, as a service calling another does),
    input that does not validate raises the same typed error the spine gives a caller's bad input, not
    pydantic's."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid(type(self).__name__, exc) from None

    # Validation of an enclosing model must not run this __init__ (its errors would lose their path):
    # marked as pydantic marks its own, it is called only when the class is called.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]



class Request(_Input):
    """A validated operation request."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=_AWS_ALIASES,
        loc_by_alias=False,  # errors name the field ('bucket'), whichever spelling was given
        arbitrary_types_allowed=True,
        str_strip_whitespace=False,
        defer_build=True,
    )


class Response(BaseModel):
    """An operation's result: a plain value object."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The response as JSON-ready data (bodies and streams left out)."""
        return self.model_dump(mode="json", exclude=set(_stream_fields(self)))


class Shape(_Input):
    """A nested value inside requests (rules, filters, tags), with AWS aliases."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=_AWS_ALIASES,
                              loc_by_alias=False, defer_build=True)


def _stream_fields(model: BaseModel) -> list[str]:
    return [
        name
        for name, field in type(model).model_fields.items()
        if (field.json_schema_extra or {}).get("stream")  # type: ignore[union-attr]
    ]


def invalid(what: str, exc: ValidationError, fields: list[str] | None = None) -> CrispmlError:
    """One uniform error for input that failed validation: the service's own error if a validator
    raised one (``InvalidBucketName``), else InvalidArgument naming every problem and field."""
    for error in exc.errors():
        original = (error.get("ctx") or {}).get("error")
        if isinstance(original, CrispmlError):
            return original
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "request"
        if error["type"] == "extra_forbidden":
            known = f" (fields: {', '.join(fields)})" if fields else ""
            problems.append(f"unknown field '{where}'{known}")
        elif error["type"] == "missing":
            problems.append(f"'{where}' is required")
        else:
            problems.append(f"'{where}': {error['msg']}")
    return InvalidArgument(f"invalid {what}: " + "; ".join(problems))
