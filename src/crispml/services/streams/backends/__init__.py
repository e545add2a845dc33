"""Record stores by URL: ``embedded`` (the metadata DB) or ``redis://HOST:PORT/DB`` (Redis Streams).

A stream names its store when it is created (``CreateStream``'s ``RecordStore``,
default ``embedded``); the name is kept with the stream, so each stream keeps
its records where they started. Redis is an optional extra: opening a
``redis://`` store without the ``redis`` package names ``crispml[redis]``.
"""

from __future__ import annotations

from crispml.core.errors import InvalidArgument
from crispml.core.metadb.engine import Database
from crispml.core.plugins import PluginRegistry, redact
from crispml.services.streams.backends.base import RecordStore
from crispml.services.streams.errors import InvalidArgumentException

EMBEDDED = "embedded"

RECORD_STORES = PluginRegistry("stream record store")
RECORD_STORES.register("redis", "crispml.services.streams.backends.redis:RedisRecordStore", extra="redis")
RECORD_STORES.register("rediss", "crispml.services.streams.backends.redis:RedisRecordStore", extra="redis")


def open_record_store(url: str, db: Database) -> RecordStore:
    """The store a stream's ``record_store`` names."""
    if url == EMBEDDED:
        from crispml.services.streams.backends.embedded import EmbeddedRecordStore

        return EmbeddedRecordStore(url, db)
    if "://" not in url:
        raise InvalidArgumentException(
            f"RecordStore {redact(url)!r} is not valid; use 'embedded' or redis://HOST:PORT/DB"
        )
    try:
        cls: type[RecordStore] = RECORD_STORES.resolve(url)
    except InvalidArgument as exc:  # unknown scheme, or the extra is not installed
        raise InvalidArgumentException(exc.message) from exc
    return cls(url, db)
