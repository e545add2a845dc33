"""Shared machinery of the lake's operations: finding buckets and versions,
committing a new version of a key, and keeping the current-version pointer right.

A write is always: stream the bytes into a fresh blob, then commit the version
row in one transaction, then delete blobs the commit made unreachable. A crash
before the commit leaves an unreachable blob and nothing visible; a crash after
it leaves at most an orphaned blob. Two writers of one key each write their own
blob, and the later commit becomes the current version — never a mix of both.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from crispml.core import paging
from crispml.core.errors import InvalidArgument
from crispml.core.ids import ulid
from crispml.core.names import crn
from crispml.core.storage.base import BlobInfo
from crispml.services.lake.errors import MethodNotAllowed, NoSuchBucket, NoSuchKey, NoSuchVersion
from crispml.services.lake.hot import HotStatements
from crispml.services.lake.store import BucketRow, CurrentRow, VersionRow
from crispml.spine.operations import RuntimeAccess

NULL_VERSION = "null"


def bucket_crn(bucket: str | None) -> str:
    return crn("lake", f"bucket/{bucket}" if bucket else "bucket/*")


def object_crn(bucket: str, key: str) -> str:
    return crn("lake", f"bucket/{bucket}/{key}")


def quoted(md5_hex: str) -> str:
    return f'"{md5_hex}"'


def guess_content_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "binary/octet-stream"


def encode_token(value: str) -> str:
    return paging.encode_token(value)


def decode_token(token: str) -> str:
    try:
        value = paging.decode_token(token)
    except ValueError as exc:
        raise InvalidArgument("the continuation token is not valid; pass the one from the previous page") from exc
    if not isinstance(value, str):
        raise InvalidArgument("the continuation token is not valid; pass the one from the previous page")
    return value


class LakeCore(RuntimeAccess):
    """Helpers shared by the lake's operation groups (buckets, objects, uploads, lifecycle)."""


    # -- lookups -------------------------------------------------------------

    @staticmethod
    def _bucket(session: Session, name: str) -> BucketRow:
        row = session.get(BucketRow, name)
        if row is None:
            raise _no_such_bucket(name)
        return row

    def _require_bucket(self, name: str) -> None:
        """Refuse early, before any bytes move, if bucket ``name`` does not exist.

        Only a pre-check: a write looks the bucket up again in its own
        transaction. One plain statement (``hot.py``), as it runs on every put.
        """
        with self.db.cursor() as cursor:
            cursor.execute(self._hot().bucket, (name,))
            found = cursor.fetchone()
        if found is None:
            raise _no_such_bucket(name)

    @staticmethod
    def _current(session: Session, bucket: str, key: str) -> VersionRow | None:
        # one statement through the pointer, not a lookup of the pointer and then of its version
        return session.scalars(
            select(VersionRow).join(CurrentRow, CurrentRow.seq == VersionRow.seq)
            .where(CurrentRow.bucket == bucket, CurrentRow.key == key)
        ).first()

    def _version(self, session: Session, bucket: str, key: str, version_id: str | None) -> VersionRow:
        """The version a read names: the current one, or ``version_id``."""
        self._bucket(session, bucket)
        if version_id is None:
            row = self._current(session, bucket, key)
            if row is None:
                raise NoSuchKey(f"key {key!r} does not exist in bucket {bucket!r}")
            return row
        row = session.scalars(select(VersionRow).where(
            VersionRow.bucket == bucket, VersionRow.key == key, VersionRow.version_id == version_id
        )).first()
        if row is None:
            raise NoSuchVersion(f"version {version_id!r} of {key!r} does not exist in bucket {bucket!r}")
        if row.is_delete_marker:
            raise MethodNotAllowed(f"version {version_id!r} of {key!r} is a delete marker and has no content")
        return row

    @staticmethod
    def _versions_of(session: Session, bucket: str, key: str) -> list[VersionRow]:
        """Every version of a key, newest first."""
        return list(session.scalars(select(VersionRow).where(
            VersionRow.bucket == bucket, VersionRow.key == key
        ).order_by(VersionRow.seq.desc())))

    # -- writes --------------------------------------------------------------

    @staticmethod
    def _new_blob_key(bucket: str) -> str:
        blob = ulid()
        return f"{bucket}/{blob[-2:].lower()}/{blob}"

    def _commit_version(
        self, session: Session, bucket: BucketRow, key: str, **fields: Any
    ) -> tuple[VersionRow, list[str]]:
        """Add a new version of ``key`` (object or delete marker); return it and blobs it made unreachable."""
        unreachable: list[str] = []
        versioned = bucket.versioning == "Enabled"
        version_id = ulid() if versioned else NULL_VERSION
        if not versioned:
            # statements, not ORM objects: every put runs this, and a unit-of-work flush costs more than it
            old = session.execute(select(VersionRow.seq, VersionRow.blob_key).where(
                VersionRow.bucket == bucket.name, VersionRow.key == key, VersionRow.version_id == NULL_VERSION
            )).first()
            if old is not None:
                if old.blob_key:
                    unreachable.append(old.blob_key)
                session.execute(delete(CurrentRow).where(CurrentRow.seq == old.seq))
                session.execute(delete(VersionRow).where(VersionRow.seq == old.seq))
        fields.setdefault("last_modified", self.clock.now())
        row = VersionRow(bucket=bucket.name, key=key, version_id=version_id, **fields)
        session.add(row)
        session.flush()
        self._point_current(session, bucket.name, key, None if row.is_delete_marker else row.seq)
        return row, unreachable

    def _commit_object(self, bucket: str, key: str, blob_key: str, info: BlobInfo,
                       etag: str | None = None, **fields: Any) -> VersionRow:
        """Commit a complete blob as the newest version of ``key``; drop the blob if that fails.

        Plain SQL (``hot.py``): every put runs it."""
        values = {"blob_key": blob_key, "size": info.size, "etag": etag or quoted(info.md5),
                  "is_delete_marker": False, "version_id": ulid, "user_metadata": "{}", "tags": "{}",
                  "content_type": "binary/octet-stream", "storage_class": "STANDARD", "restore_expiry": None,
                  "parts_count": None, "last_modified": self.clock.now(), **fields}
        try:
            row, unreachable = self._hot().commit(bucket, key, values, lambda: _no_such_bucket(bucket))
        except BaseException:
            self._drop_blobs([blob_key])
            raise
        self._drop_blobs(unreachable)
        return row

    def _hot(self) -> HotStatements:
        """The lake's plain-SQL statements for this platform's metadata DB."""
        return self.db.statements(HotStatements)

    def _current_version(self, bucket: str, key: str, version_id: str | None) -> VersionRow:
        """The version a read names, as :meth:`_version` finds it; the current one in one plain statement."""
        if version_id is not None:
            with self._reading() as session:
                return self._version(session, bucket, key, version_id)
        exists, row = self._hot().current(bucket, key)
        if not exists:
            raise _no_such_bucket(bucket)
        if row is None:
            raise NoSuchKey(f"key {key!r} does not exist in bucket {bucket!r}")
        return row

    @staticmethod
    def _point_current(session: Session, bucket: str, key: str, seq: int | None) -> None:
        where = (CurrentRow.bucket == bucket, CurrentRow.key == key)
        if seq is None:
            session.execute(delete(CurrentRow).where(*where))
        elif not session.execute(update(CurrentRow).where(*where).values(seq=seq)).rowcount:  # type: ignore[attr-defined]
            session.execute(insert(CurrentRow).values(bucket=bucket, key=key, seq=seq))

    def _remove_version(self, session: Session, row: VersionRow) -> list[str]:
        """Delete one version for good and repoint the key's current version."""
        bucket, key = row.bucket, row.key
        blob = [row.blob_key] if row.blob_key else []
        session.execute(delete(CurrentRow).where(CurrentRow.seq == row.seq))
        session.delete(row)
        session.flush()
        newest = session.scalars(select(VersionRow).where(
            VersionRow.bucket == bucket, VersionRow.key == key
        ).order_by(VersionRow.seq.desc()).limit(1)).first()
        self._point_current(session, bucket, key,
                            newest.seq if newest is not None and not newest.is_delete_marker else None)
        return blob

    def _drop_blobs(self, keys: list[str]) -> None:
        """Delete blobs no version points at any more (best effort: an orphan is harmless)."""
        for key in keys:
            with contextlib.suppress(Exception):  # an orphaned blob is invisible and collectable
                self.blobs.delete(key)


def _no_such_bucket(name: str) -> NoSuchBucket:
    return NoSuchBucket(
        f"bucket {name!r} does not exist; create it with 'crispml lake create-bucket --bucket {name}'"
    )


def is_restored(row: VersionRow, now: datetime) -> bool:
    return row.restore_expiry is not None and row.restore_expiry > now


def restore_header(row: VersionRow, now: datetime) -> str | None:
    if not is_restored(row, now):
        return None
    assert row.restore_expiry is not None
    expiry = row.restore_expiry.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return f'ongoing-request="false", expiry-date="{expiry}"'


def loads(text: str | None) -> dict[str, str]:
    return dict(json.loads(text)) if text else {}


def dumps(value: dict[str, str]) -> str:
    return json.dumps(value, sort_keys=True)
