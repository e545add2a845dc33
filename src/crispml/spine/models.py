"""Base classes for operation requests and responses.

Requests forbid unknown fields (a typo is an error, not a silent default) and
accept AWS's PascalCase names as aliases of the snake_case fields, so that a
JSON document copied from AWS (a lifecycle configuration, say) validates as is.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasGenerator, BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal


def _pascal(name: str) -> str:
    return "ID" if name == "id" else to_pascal(name)


_AWS_ALIASES = AliasGenerator(validation_alias=_pascal)


class Request(BaseModel):
    """A validated operation request."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=_AWS_ALIASES,
        loc_by_alias=False,  # errors name the field ('bucket'), whichever spelling was given
        arbitrary_types_allowed=True,
        str_strip_whitespace=False,
    )


class Response(BaseModel):
    """An operation's result: a plain value object."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The response as JSON-ready data (bodies and streams left out)."""
        return self.model_dump(mode="json", exclude=set(_stream_fields(self)))


class Shape(BaseModel):
    """A nested value inside requests (rules, filters, tags), with AWS aliases."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=_AWS_ALIASES,
                              loc_by_alias=False)


def _stream_fields(model: BaseModel) -> list[str]:
    return [
        name
        for name, field in type(model).model_fields.items()
        if (field.json_schema_extra or {}).get("stream")  # type: ignore[union-attr]
    ]
