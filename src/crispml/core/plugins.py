"""A lazy registry of backends picked by URI scheme.

Each family (metadata DB, blob store, compute) maps schemes to
``"module:Class"`` strings; the module is imported only when a URI with that
scheme is opened, so a heavy or optional dependency is needed only by those who
use it. An unknown scheme lists the known ones; a missing optional dependency
names the extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from crispml.core.errors import InvalidArgument


@dataclass
class PluginRegistry:
    """Backends of one family, by URI scheme."""

    family: str
    entries: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)

    def register(self, scheme: str, target: str, *, extra: str | None = None) -> None:
        self.entries[scheme] = target
        if extra:
            self.extras[scheme] = extra

    def resolve(self, uri: str) -> Any:
        """The class registered for the scheme of ``uri``, imported now."""
        scheme = scheme_of(uri)
        target = self.entries.get(scheme)
        if target is None:
            known = ", ".join(f"{s}://" for s in sorted(self.entries))
            raise InvalidArgument(
                f"unknown {self.family} URI scheme {scheme!r} in {redact(uri)!r}; known: {known}"
            )
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            extra = self.extras.get(scheme)
            hint = f"; install it with: pip install 'crispml[{extra}]'" if extra else ""
            raise InvalidArgument(
                f"the {self.family} backend for {scheme}:// needs a package that is "
                f"not installed ({exc.name}){hint}"
            ) from exc
        return getattr(module, attr)


def scheme_of(uri: str) -> str:
    scheme = urlsplit(uri).scheme
    return scheme.split("+", 1)[0] if scheme else "file"


def redact(uri: str) -> str:
    """A URI without its password, for messages and logs."""
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return uri


#: Blob stores behind the lake.
BLOB_STORES = PluginRegistry("lake storage")
BLOB_STORES.register("file", "crispml.core.storage.local:LocalBlobStore")
BLOB_STORES.register("s3", "crispml.core.storage.s3:S3BlobStore", extra="s3")
BLOB_STORES.register("memory", "crispml.core.storage.memory:MemoryBlobStore")

#: Metadata databases (the SQLAlchemy driver is the thing imported).
METADATA_DBS = PluginRegistry("metadata database")
METADATA_DBS.register("sqlite", "sqlite3:connect")
METADATA_DBS.register("postgresql", "psycopg:connect", extra="postgres")
