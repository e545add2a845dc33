"""Listing: ListObjectsV2 (current objects) and ListObjectVersions (all versions).

Keys come back in UTF-8 binary order, as S3 returns them. With a delimiter,
keys that share a prefix up to the delimiter are rolled into one common prefix
and the scan jumps past them, so a folder of a million keys costs one row, not
a million. Common prefixes count toward ``max_keys`` as in S3.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.lake.core import LakeCore, _no_such_bucket, bucket_crn, decode_token, encode_token
from crispml.services.lake.entities import CommonPrefix, ObjectSummary, ObjectVersion
from crispml.services.lake.specs import (
    ListObjectsV2Request,
    ListObjectsV2Response,
    ListObjectVersionsRequest,
    ListObjectVersionsResponse,
)
from crispml.services.lake.store import CurrentRow, VersionRow
from crispml.spine.operations import operation

_BATCH = 1000
#: Keys read right after jumping past a folder (the next folder often starts at once).
_FIRST_BATCH = 16
#: Sorts after every character, so "prefix/" + _TOP is past every key under "prefix/".
_TOP = "\U0010ffff"


def _rollup(key: str, prefix: str, delimiter: str | None) -> str | None:
    if not delimiter:
        return None
    cut = key.find(delimiter, len(prefix))
    return key[: cut + len(delimiter)] if cut >= 0 else None


class ListingOps(LakeCore):
    @operation("ListObjectsV2", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def list_objects_v2(self, ctx: CallContext, request: ListObjectsV2Request) -> ListObjectsV2Response:
        """List current objects by prefix, grouped by a delimiter, 1,000 at most per page."""
        prefix = request.prefix
        marker = decode_token(request.continuation_token) if request.continuation_token else request.start_after
        contents: list[ObjectSummary] = []
        prefixes: list[CommonPrefix] = []
        last = None
        truncated = False
        if not request.delimiter:  # a flat listing (every query plans with some): one plain statement (hot.py)
            found = self._hot().listing(request.bucket, prefix, marker, request.max_keys + 1)
            if found is None:
                raise _no_such_bucket(request.bucket)
            truncated = len(found) > request.max_keys
            contents = [ObjectSummary(key=key, last_modified=modified, etag=etag, size=size, storage_class=storage)
                        for key, modified, etag, size, storage in found[:request.max_keys]]
            last = contents[-1].key if contents else None
        else:
            with self._reading() as session:
                self._bucket(session, request.bucket)
                for name, row in self._scan_current(session, request.bucket, prefix, marker, request.delimiter):
                    if len(contents) + len(prefixes) >= request.max_keys:
                        truncated = True
                        break
                    if row is None:
                        prefixes.append(CommonPrefix(prefix=name))
                    else:
                        contents.append(ObjectSummary(key=name, last_modified=row.last_modified, etag=row.etag,
                                                      size=row.size, storage_class=row.storage_class))
                    last = name
        return ListObjectsV2Response(
            name=request.bucket, prefix=prefix, delimiter=request.delimiter, max_keys=request.max_keys,
            key_count=len(contents) + len(prefixes), is_truncated=truncated, contents=contents,
            common_prefixes=prefixes, continuation_token=request.continuation_token,
            next_continuation_token=encode_token(last) if truncated and last is not None else None,
        )

    def _scan_current(self, session: Session, bucket: str, prefix: str, marker: str | None,
                      delimiter: str | None) -> Iterator[tuple[str, VersionRow | None]]:
        """Current objects after ``marker`` as (key, row), and rolled-up folders as (prefix, None).

        The scan reads keys only (cheap tuples); version rows are loaded in bulk for the
        keys that are listed as objects. After a jump past a folder it reads a small
        batch, growing again while no folder interrupts it.
        """
        position, inclusive = (prefix, True)
        if marker and marker >= prefix:
            position, inclusive = marker, False
            rolled = _rollup(marker, prefix, delimiter)
            if rolled is not None and marker == rolled:
                position = rolled + _TOP  # the previous page ended on this folder
        batch = _FIRST_BATCH if delimiter else _BATCH
        while True:
            keys = session.execute(
                select(CurrentRow.key, CurrentRow.seq)
                .where(CurrentRow.bucket == bucket)
                .where(CurrentRow.key >= position if inclusive else CurrentRow.key > position)
                .order_by(CurrentRow.key)
                .limit(batch)
            ).all()
            listed: list[tuple[str, int | None]] = []
            jumped = ended = False
            for key, seq in keys:
                if not key.startswith(prefix):
                    ended = True
                    break
                rolled = _rollup(key, prefix, delimiter)
                if rolled is None:
                    listed.append((key, seq))
                    position, inclusive = key, False
                    continue
                listed.append((rolled, None))
                position, inclusive, jumped = rolled + _TOP, False, True
                break
            wanted = [s for _, s in listed if s is not None]
            rows = {r.seq: r for r in session.scalars(select(VersionRow).where(VersionRow.seq.in_(wanted)))} \
                if wanted else {}
            for name, found in listed:
                if found is None:
                    yield name, None
                elif found in rows:  # else deleted between the two reads (READ COMMITTED): not listed
                    yield name, rows[found]
            if ended or (not jumped and len(keys) < batch):
                return
            batch = _FIRST_BATCH if jumped else min(batch * 4, _BATCH)

    @operation("ListObjectVersions", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def list_object_versions(self, ctx: CallContext, request: ListObjectVersionsRequest) -> ListObjectVersionsResponse:
        """List every version and delete marker of the keys under a prefix, newest first per key."""
        prefix = request.prefix
        versions: list[ObjectVersion] = []
        markers: list[ObjectVersion] = []
        prefixes: list[CommonPrefix] = []
        truncated = False
        next_key = next_version = None
        count = 0
        with self._reading() as session:
            self._bucket(session, request.bucket)
            start = max(prefix, request.key_marker or "")
            if request.key_marker and _rollup(request.key_marker, prefix, request.delimiter) == request.key_marker:
                # the previous page ended on this common prefix: resume after every key under it
                start = request.key_marker + _TOP
            query = (
                select(VersionRow).where(VersionRow.bucket == request.bucket, VersionRow.key >= start)
                .order_by(VersionRow.key, VersionRow.seq.desc())
            )
            skipping_key = request.key_marker if request.key_marker and not request.version_id_marker else None
            seen_marker = request.version_id_marker is None
            previous_key = None
            for row in session.scalars(query.execution_options(yield_per=_BATCH)):
                if not row.key.startswith(prefix):
                    break
                is_latest = row.key != previous_key
                previous_key = row.key
                if skipping_key is not None and row.key == skipping_key:
                    continue
                if not seen_marker:
                    if row.key != request.key_marker:
                        seen_marker = True
                    else:
                        if row.version_id == request.version_id_marker:
                            seen_marker = True
                        continue
                rolled = _rollup(row.key, prefix, request.delimiter)
                if rolled is not None:
                    if prefixes and prefixes[-1].prefix == rolled:
                        continue
                    if count >= request.max_keys:
                        truncated = True
                        break
                    prefixes.append(CommonPrefix(prefix=rolled))
                    count += 1
                    next_key, next_version = rolled, None
                    continue
                if count >= request.max_keys:
                    truncated = True
                    break
                entry = ObjectVersion(key=row.key, version_id=row.version_id, is_latest=is_latest,
                                      last_modified=row.last_modified)
                if row.is_delete_marker:
                    markers.append(entry)
                else:
                    entry.etag, entry.size, entry.storage_class = row.etag, row.size, row.storage_class
                    versions.append(entry)
                count += 1
                next_key, next_version = row.key, row.version_id
        return ListObjectVersionsResponse(
            name=request.bucket, prefix=prefix, is_truncated=truncated, versions=versions,
            delete_markers=markers, common_prefixes=prefixes,
            next_key_marker=next_key if truncated else None,
            next_version_id_marker=next_version if truncated else None,
        )
