"""Settings, with one precedence: explicit argument > ``CRISPML_*`` environment >
``crispml.toml`` > defaults.

Every setting is declared once below with a one-line description; its
environment variable is ``CRISPML_`` + the upper-cased name. ``crispml.toml``
is read from ``$CRISPML_CONFIG`` if set (a missing file there is an error), else
from ``<home>/crispml.toml`` if it exists; it holds the same names as flat keys
(``db_url = "postgresql://…"``). Nothing is read at import time:
:func:`load_settings` reads when called. The repr of settings hides secrets and
passwords inside URLs.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from crispml.core.errors import InvalidArgument
from crispml.core.plugins import redact

ENV_PREFIX = "CRISPML_"


class Settings(BaseModel):
    """Where crispml keeps its state and who it acts as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Field(description="Folder for the embedded metadata DB, lake and reports.")
    db_url: str = Field(description="Metadata DB: sqlite:///PATH or postgresql://USER@HOST/DB.")
    lake_url: str = Field(description="Where lake bytes live: file://PATH or s3://BUCKET/PREFIX.")
    s3_endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible store (MinIO, moto); None for AWS."
    )
    s3_access_key_id: str | None = Field(None, description="Access key id for the S3 store.")
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret key for the S3 store.")
    s3_region: str = Field("us-east-1", description="Region name sent to the S3 store.")
    principal: str = Field("root", description="Principal that embedded calls act as.")
    serving_host: str = Field("127.0.0.1", description="Address the serving runtime front listens on.")
    serving_port: int = Field(0, ge=0, le=65535, description="Port of the serving runtime front; 0 picks a free "
                                                             "one on first start and keeps it.")
    serving_autostart: bool = Field(True, description="Start the serving runtime when an endpoint operation needs "
                                                      "it (else only 'crispml serving start-runtime' starts it).")
    serving_scaling_period: float = Field(60.0, ge=1.0, le=3600.0,
                                          description="Seconds of invocations endpoint autoscaling averages "
                                                      "InvocationsPerInstance (per minute) over: CloudWatch's "
                                                      "period, 60; shorter reacts sooner.")
    debug: bool = Field(False, description="Show tracebacks for unexpected errors in the CLI.")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A URL may carry a password (postgresql://user:pw@host/db); never show it.
        for name, value in super().__repr_args__():
            yield name, redact(value) if name in _URLS and isinstance(value, str) else value


#: Settings that are URLs and may embed a password.
_URLS = frozenset({"db_url", "lake_url", "s3_endpoint_url"})


#: Settings whose defaults depend on home, filled in after home is known.
_DERIVED: dict[str, Callable[[Path], str]] = {
    "db_url": lambda home: f"sqlite:///{home / 'meta.db'}",
    "lake_url": lambda home: f"file://{home / 'lake'}",
}


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = environ.get(ENV_PREFIX + name.upper())
        if value not in (None, ""):
            found[name] = value
    return found


def _from_toml(path: Path, *, required: bool = False) -> dict[str, Any]:
    if not path.is_file():
        if required:
            raise InvalidArgument(
                f"settings file {path} (named by {ENV_PREFIX}CONFIG) does not exist; "
                f"fix or unset {ENV_PREFIX}CONFIG"
            )
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument(f"cannot read settings file {path}: {exc}") from exc
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise InvalidArgument(
            f"settings file {path} has unknown keys {unknown}; "
            f"known: {sorted(Settings.model_fields)}"
        )
    if "home" in data:
        raise InvalidArgument(f"settings file {path} cannot set 'home' (it lives inside home)")
    return data


def load_settings(environ: dict[str, str] | None = None, **explicit: Any) -> Settings:
    """Build settings from explicit arguments, the environment, crispml.toml and defaults."""
    env = dict(os.environ if environ is None else environ)
    explicit = {k: v for k, v in explicit.items() if v is not None}
    unknown = sorted(set(explicit) - set(Settings.model_fields))
    if unknown:
        raise InvalidArgument(f"unknown settings {unknown}; known: {sorted(Settings.model_fields)}")
    from_env = _from_env(env)
    home = Path(explicit.get("home") or from_env.get("home") or Path.home() / ".crispml")
    home = home.expanduser().resolve()
    named = env.get(ENV_PREFIX + "CONFIG")
    config_path = Path(named).expanduser() if named else home / "crispml.toml"
    merged: dict[str, Any] = {name: derive(home) for name, derive in _DERIVED.items()}
    merged.update(_from_toml(config_path, required=bool(named)))
    merged.update(from_env)
    merged.update(explicit)
    merged["home"] = home
    try:
        return Settings(**merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidArgument(f"invalid settings: {problems}") from exc


#: The environment variable that hands a child process (a job worker, the serving runtime) its parent's settings.
SETTINGS_VARIABLE = "CRISPML_WORKER_SETTINGS"


def settings_environment(settings: Settings) -> dict[str, str]:
    """This process's environment plus :data:`SETTINGS_VARIABLE`: ``settings`` as JSON, secrets included (the
    child opens the same home with them)."""
    import json

    document = settings.model_dump(mode="json")
    if settings.s3_secret_access_key is not None:
        document["s3_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    return {**os.environ, SETTINGS_VARIABLE: json.dumps(document)}


def settings_from_environment() -> Settings | None:
    """The settings a parent handed this process in :data:`SETTINGS_VARIABLE` (removed from the environment,
    so this process's own children do not inherit it by accident), or None."""
    import json

    document = os.environ.pop(SETTINGS_VARIABLE, None)
    return None if document is None else Settings.model_validate(json.loads(document))


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, environment variable, description) for every setting, for docs and --help."""
    return [
        (name, ENV_PREFIX + name.upper(), field.description or "")
        for name, field in Settings.model_fields.items()
    ]
