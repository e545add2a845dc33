"""The lake's hot statements in plain SQL: reading a key's current version, committing a new one, listing.

Every ``PutObject`` commits a version and every ``GetObject`` or
``HeadObject`` reads one; a query runs both (its results are put, then read
back). Through ORM sessions each cost several times the SQL itself — a
session, a unit-of-work flush, an identity map, statements built and compiled
per call — so these run as text on the driver's cursor
(:meth:`~crispml.core.metadb.engine.Database.cursor`), as the spine's audit
insert does. They do what ``LakeCore._version`` and ``LakeCore._commit_version``
do for these cases; a listing without a delimiter (how a query finds a table's
files) is one joined read instead of ``ListingOps._scan_current``'s two, and the
rest of the lake (delete markers, lifecycle, listings by folder) keeps the ORM.
The values pass through the columns' own converters (``to_driver``/
``from_driver``), so what is stored is what Core would store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from crispml.core.metadb.engine import Database, detached
from crispml.services.lake.store import VersionRow

_VERSIONS = cast(Table, VersionRow.__table__)
#: Every column of a version, in the order the statements below read and write them.
COLUMNS = tuple(c.name for c in _VERSIONS.columns)
_WRITTEN = tuple(c for c in COLUMNS if c != "seq")
#: Keys looked up in one statement (SQLite allows 32,766 parameters; PostgreSQL 65,535).
KEYS_PER_STATEMENT = 500
#: How often a commit runs again after losing a race on the current-version pointer (PostgreSQL).
_RETRIES = 8


class HotStatements:
    """The statements of one :class:`Database` (its placeholders, its converters)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        m = db.mark
        columns = ", ".join(f"v.{c}" for c in COLUMNS)
        self.read_current = (
            f"SELECT b.versioning, {columns} FROM lake_buckets b "
            f"LEFT JOIN lake_current c ON c.bucket = b.name AND c.key = {m} "
            f"LEFT JOIN lake_versions v ON v.seq = c.seq WHERE b.name = {m}")
        self.bucket = f"SELECT versioning FROM lake_buckets WHERE name = {m}"
        self.old_null = (f"SELECT seq, blob_key FROM lake_versions WHERE bucket = {m} AND key = {m} "
                         f"AND version_id = {m}")
        self.drop_current = f"DELETE FROM lake_current WHERE seq = {m}"
        self.drop_version = f"DELETE FROM lake_versions WHERE seq = {m}"
        self.insert = (f"INSERT INTO lake_versions ({', '.join(_WRITTEN)}) "
                       f"VALUES ({', '.join([m] * len(_WRITTEN))}) RETURNING seq")
        self.point = f"UPDATE lake_current SET seq = {m} WHERE bucket = {m} AND key = {m}"
        self.add_pointer = f"INSERT INTO lake_current (bucket, key, seq) VALUES ({m}, {m}, {m})"
        listed = (f"SELECT c.key, v.last_modified, v.etag, v.size, v.storage_class FROM lake_current c "
                  f"JOIN lake_versions v ON v.seq = c.seq WHERE c.bucket = {m} AND c.key {{}} {m}{{}} "
                  f"ORDER BY c.key LIMIT {m}")
        below = f" AND c.key < {m}"
        #: a flat listing's statement by (from a key after the prefix, below a bound)
        self.listed = {(after, bounded): listed.format(">" if after else ">=", below if bounded else "")
                       for after in (False, True) for bounded in (False, True)}
        self._to = {c: db.to_driver(_VERSIONS.c[c]) for c in COLUMNS}
        self._from: list[Callable[[Any], Any]] = [db.from_driver(_VERSIONS.c[c]) for c in COLUMNS]

    def current(self, bucket: str, key: str) -> tuple[bool, VersionRow | None]:
        """Whether ``bucket`` exists, and ``key``'s current version in it (None if it has none)."""
        with self.db.cursor() as cursor:
            cursor.execute(self.read_current, (key, bucket))
            found = cursor.fetchone()
        if found is None:
            return False, None
        if found[1] is None:
            return True, None
        return True, self.row(found[1:])

    def currents(self, bucket: str, keys: list[str]) -> dict[str, VersionRow] | None:
        """The current version of each of ``keys`` in ``bucket`` that has one; None if there is no such
        bucket. A few hundred keys per statement, in one read transaction."""
        found: dict[str, VersionRow] = {}
        m = self.db.mark
        columns = ", ".join(f"v.{c}" for c in COLUMNS)
        with self.db.cursor() as cursor:
            cursor.execute(self.bucket, (bucket,))
            if cursor.fetchone() is None:
                return None
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                chunk = keys[start:start + KEYS_PER_STATEMENT]
                cursor.execute(f"SELECT {columns} FROM lake_current c JOIN lake_versions v ON v.seq = c.seq "
                               f"WHERE c.bucket = {m} AND c.key IN ({', '.join([m] * len(chunk))})",
                               (bucket, *chunk))
                for values in cursor.fetchall():
                    row = self.row(values)
                    found[row.key] = row
        return found

    def listing(self, bucket: str, prefix: str, after: str | None, limit: int) -> list[tuple[Any, ...]] | None:
        """Up to ``limit`` current objects under ``prefix`` (after the key ``after``, if given), in key order, as
        (key, last modified, ETag, size, storage class); None if there is no such bucket. One read transaction."""
        last_modified = self._from[COLUMNS.index("last_modified")]
        start = after if after is not None and after >= prefix else None
        bound = above(prefix)
        values = (bucket, prefix if start is None else start, *([bound] if bound is not None else []), limit)
        with self.db.cursor() as cursor:
            cursor.execute(self.bucket, (bucket,))
            if cursor.fetchone() is None:
                return None
            cursor.execute(self.listed[start is not None, bound is not None], values)
            return [(key, last_modified(modified), etag, size, storage_class)
                    for key, modified, etag, size, storage_class in cursor.fetchall()]

    def row(self, values: Any) -> VersionRow:
        """A (detached) version from its column values as the driver returned them."""
        return detached(VersionRow, {c: convert(v) for c, convert, v in zip(COLUMNS, self._from, values, strict=True)})

    def commit(self, bucket: str, key: str, values: dict[str, Any],
               missing_bucket: Callable[[], Exception]) -> tuple[VersionRow, list[str]]:
        """Commit ``values`` (every column but ``seq``, ``bucket``, ``key``, ``version_id``) as the newest
        version of ``key``; the row and the blobs it made unreachable. Unversioned buckets keep one ``null``
        version per key (the old one is replaced); the version id of a versioned bucket is made by
        ``values['version_id']`` when the bucket turns out to be versioned (a callable)."""
        for attempt in range(_RETRIES):
            try:
                return self._commit(bucket, key, values, missing_bucket)
            except IntegrityError:  # a concurrent first put of the key made its pointer first: again
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _commit(self, bucket: str, key: str, values: dict[str, Any],
                missing_bucket: Callable[[], Exception]) -> tuple[VersionRow, list[str]]:
        unreachable: list[str] = []
        with self.db.cursor(write=True) as cursor:
            cursor.execute(self.bucket, (bucket,))
            found = cursor.fetchone()
            if found is None:
                raise missing_bucket()
            fields = {**values, "bucket": bucket, "key": key}
            if found[0] == "Enabled":
                fields["version_id"] = values["version_id"]()
            else:
                fields["version_id"] = "null"
                cursor.execute(self.old_null, (bucket, key, "null"))
                old = cursor.fetchone()
                if old is not None:
                    if old[1]:
                        unreachable.append(old[1])
                    cursor.execute(self.drop_current, (old[0],))
                    cursor.execute(self.drop_version, (old[0],))
            cursor.execute(self.insert, tuple(self._to[c](fields[c]) for c in _WRITTEN))
            seq = cursor.fetchone()[0]
            cursor.execute(self.point, (seq, bucket, key))
            if not cursor.rowcount:
                cursor.execute(self.add_pointer, (bucket, key, seq))
        return detached(VersionRow, {"seq": seq, **fields}), unreachable


def above(prefix: str) -> str | None:
    """The least key above every key that starts with ``prefix`` (in UTF-8 byte order, which is code point
    order): its last character's successor; None for the empty prefix (nothing is above every key)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # surrogates are not characters
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]  # nothing follows U+10FFFF: the bound of the shorter prefix
    return None
