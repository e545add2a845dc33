"""Object operations: put, get (whole or a byte range), head, copy, delete, tags, restore."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, InvalidArgument, StorageFull, StorageReadOnly
from crispml.core.storage.base import BlobInfo
from crispml.services.lake.core import (
    LakeCore,
    _no_such_bucket,
    dumps,
    guess_content_type,
    is_restored,
    loads,
    object_crn,
    restore_header,
)
from crispml.services.lake.entities import ObjectBody, Tag
from crispml.services.lake.errors import InvalidObjectState, NoSuchKey, ObjectDataMissing
from crispml.services.lake.rules import (
    ARCHIVED,
    check_bucket_name,
    check_key,
    check_metadata,
    check_tags,
    parse_range,
    parse_tagging,
)
from crispml.services.lake.specs import (
    CopyObjectRequest,
    CopyObjectResponse,
    DeletedObject,
    DeleteError,
    DeleteObjectRequest,
    DeleteObjectResponse,
    DeleteObjectsRequest,
    DeleteObjectsResponse,
    GetObjectRequest,
    GetObjectResponse,
    HeadObjectResponse,
    ObjectVersionRequest,
    PutObjectRequest,
    PutObjectResponse,
    PutObjectTaggingRequest,
    RestoreObjectRequest,
    RestoreObjectResponse,
    TaggingResponse,
)
from crispml.services.lake.store import VersionRow
from crispml.spine.operations import operation

_READ_RETRIES = 3


def _version_out(row: VersionRow) -> str | None:
    return row.version_id


class ObjectOps(LakeCore):
    # -- write ---------------------------------------------------------------

    @operation("PutObject", resource=lambda r: object_crn(r.bucket, r.key))
    def put_object(self, ctx: CallContext, request: PutObjectRequest) -> PutObjectResponse:
        """Upload an object; its bytes are streamed, never held whole in memory."""
        self._require_bucket(request.bucket)
        tags = parse_tagging(request.tagging)
        metadata = check_metadata(request.metadata)
        body = request.body if request.body is not None else b""
        blob_key = self._new_blob_key(request.bucket)
        try:
            info = self.blobs.write(blob_key, body)
        except (StorageFull, StorageReadOnly) as exc:
            raise type(exc)(f"uploading lake://{request.bucket}/{request.key}: {exc.message}") from exc
        row = self._commit_object(
            request.bucket, request.key, blob_key, info,
            content_type=request.content_type or guess_content_type(request.key),
            user_metadata=dumps(metadata), tags=dumps(tags), storage_class=request.storage_class,
        )
        return PutObjectResponse(etag=row.etag, size=row.size, version_id=_version_out(row))

    # -- read ----------------------------------------------------------------

    @operation("HeadObject", resource=lambda r: object_crn(r.bucket, r.key), mutating=False)
    def head_object(self, ctx: CallContext, request: ObjectVersionRequest) -> HeadObjectResponse:
        """Show an object's size, type, ETag, metadata, storage class and restore state."""
        return HeadObjectResponse(**self._head_fields(
            self._current_version(request.bucket, request.key, request.version_id)))

    def _head_fields(self, row: VersionRow) -> dict[str, Any]:
        return {
            "key": row.key, "content_length": row.size, "content_type": row.content_type,
            "etag": row.etag, "last_modified": row.last_modified, "metadata": loads(row.user_metadata),
            "version_id": _version_out(row), "storage_class": row.storage_class,
            "tag_count": len(loads(row.tags)), "restore": restore_header(row, self.clock.now()),
            "parts_count": row.parts_count,
        }

    @operation("GetObject", resource=lambda r: object_crn(r.bucket, r.key), mutating=False, outfile=True)
    def get_object(self, ctx: CallContext, request: GetObjectRequest) -> GetObjectResponse:
        """Download an object, or a byte range of it; archived objects must be restored first."""
        previous: str | None = None
        for attempt in range(_READ_RETRIES):
            row = self._current_version(request.bucket, request.key, request.version_id)
            fields = self._head_fields(row)
            blob_key, size = row.blob_key, row.size
            if row.storage_class in ARCHIVED and not is_restored(row, self.clock.now()):
                raise _archived(request.bucket, request.key, row.storage_class)
            start, end = parse_range(request.range, size) if request.range else (0, size)
            assert blob_key is not None
            try:
                handle = self.blobs.open(blob_key)
            except KeyError:
                # A concurrent write replaced this version between the lookup and the open: read it again.
                # The same version twice without its bytes is no race: they are gone from the store.
                if blob_key == previous or attempt == _READ_RETRIES - 1:
                    raise self._missing_bytes(request.bucket, request.key, fields.get("version_id"),
                                              blob_key) from None
                previous = blob_key
                continue
            content_range = f"bytes {start}-{end - 1}/{size}" if request.range else None
            fields["content_length"] = end - start
            body = ObjectBody(handle, start, end - start, name=f"{request.bucket}/{request.key}")
            return GetObjectResponse(**fields, body=body,
                                     content_range=content_range)
        raise AssertionError("unreachable")

    def _missing_bytes(self, bucket: str, key: str, version_id: str | None, blob_key: str) -> ObjectDataMissing:
        version = f" (version {version_id})" if version_id and version_id != "null" else ""
        return ObjectDataMissing(
            f"object lake://{bucket}/{key}{version} is listed, but its bytes are missing from the lake store "
            f"({self.blobs.url.rstrip('/')}/{blob_key}): the file was deleted or lost outside crispml. "
            f"Retrying will not help: restore that file from a backup, or delete the object "
            f"(crispml lake rm lake://{bucket}/{key}) and upload it again")

    def _readable_paths(self, ctx: CallContext,
                        objects: list[tuple[str, str]]) -> list[str | CrispmlError | None]:
        """:meth:`LakeService.readable_paths`: each object a ``GetObject`` call of its own in the audit log
        (one ``run_each`` step), at a fraction of the cost of one round trip per file."""
        spec = type(self).operations["get_object"]  # type: ignore[attr-defined]
        requests = [{"bucket": bucket, "key": key} for bucket, key in objects]

        def body(validated: list[Any]) -> list[Any]:
            rows: dict[tuple[str, str], VersionRow | CrispmlError] = {}
            for bucket in dict.fromkeys(r.bucket for r in validated):
                keys = [r.key for r in validated if r.bucket == bucket]
                currents = self._hot().currents(bucket, keys)  # plain SQL: every query's plan runs it
                if currents is None:
                    rows.update(((bucket, key), _no_such_bucket(bucket)) for key in keys)
                    continue
                rows.update(((bucket, key), row) for key, row in currents.items())
            found: list[Any] = []
            for request in validated:
                row = rows.get((request.bucket, request.key))
                if row is None:
                    found.append(NoSuchKey(f"key {request.key!r} does not exist in bucket {request.bucket!r}"))
                elif isinstance(row, CrispmlError):
                    found.append(row)
                elif row.storage_class in ARCHIVED and not is_restored(row, self.clock.now()):
                    found.append(_archived(request.bucket, request.key, row.storage_class))
                else:
                    found.append(self.blobs.local_path(row.blob_key) if row.blob_key else None)
            return found

        return self.runtime.run_each(spec, ctx, requests, body)

    # -- copy ----------------------------------------------------------------

    @operation("CopyObject", resource=lambda r: object_crn(r.bucket, r.key))
    def copy_object(self, ctx: CallContext, request: CopyObjectRequest) -> CopyObjectResponse:
        """Copy an object (or one version of it) to a new key, optionally changing metadata or storage class."""
        source_bucket, source_key, source_version = _parse_copy_source(request.copy_source)
        with self._reading() as session:
            source = self._version(session, source_bucket, source_key, source_version)
            self._bucket(session, request.bucket)
            if source.storage_class in ARCHIVED and not is_restored(source, self.clock.now()):
                raise InvalidObjectState(
                    f"source object {source_key!r} is in {source.storage_class}; restore it before copying"
                )
            same = (source_bucket, source_key) == (request.bucket, request.key)
            if same and request.metadata_directive == "COPY" and request.storage_class in (None, source.storage_class) \
                    and request.tagging_directive == "COPY":
                raise InvalidArgument(
                    "copying an object to itself needs a change: use --metadata-directive REPLACE "
                    "or a different --storage-class"
                )
            replace = request.metadata_directive == "REPLACE"
            metadata = check_metadata(request.metadata) if replace else loads(source.user_metadata)
            content_type = source.content_type if request.metadata_directive == "COPY" else (
                request.content_type or guess_content_type(request.key))
            tags = loads(source.tags) if request.tagging_directive == "COPY" else parse_tagging(request.tagging)
            source_blob, info = source.blob_key, BlobInfo(size=source.size, md5="")
            etag, parts = source.etag, source.parts_count
            source_version_out = _version_out(source)
        assert source_blob is not None
        blob_key = self._new_blob_key(request.bucket)
        self.blobs.copy(source_blob, blob_key)
        row = self._commit_object(
            request.bucket, request.key, blob_key, info, etag=etag, parts_count=parts,
            content_type=content_type, user_metadata=dumps(metadata), tags=dumps(tags),
            storage_class=request.storage_class or "STANDARD",
        )
        return CopyObjectResponse(etag=row.etag, last_modified=row.last_modified,
                                  version_id=_version_out(row), copy_source_version_id=source_version_out)

    # -- delete --------------------------------------------------------------

    @operation("DeleteObject", resource=lambda r: object_crn(r.bucket, r.key))
    def delete_object(self, ctx: CallContext, request: DeleteObjectRequest) -> DeleteObjectResponse:
        """Delete an object: a delete marker in versioned buckets, or one version for good."""
        return self._delete_one(request.bucket, request.key, request.version_id)

    def _delete_one(self, bucket: str, key: str, version_id: str | None) -> DeleteObjectResponse:
        def work(session: Session) -> tuple[DeleteObjectResponse, list[str]]:
            bucket_row = self._bucket(session, bucket)
            if version_id is not None:
                for row in self._versions_of(session, bucket, key):
                    if row.version_id == version_id:
                        marker = row.is_delete_marker
                        return DeleteObjectResponse(delete_marker=marker, version_id=version_id), \
                            self._remove_version(session, row)
                return DeleteObjectResponse(version_id=version_id), []
            if bucket_row.versioning is None:
                current = self._current(session, bucket, key)
                if current is None:
                    return DeleteObjectResponse(), []
                return DeleteObjectResponse(), self._remove_version(session, current)
            marker_row, unreachable = self._commit_version(
                session, bucket_row, key, is_delete_marker=True, size=0, etag="", blob_key=None,
            )
            return DeleteObjectResponse(delete_marker=True, version_id=marker_row.version_id), unreachable

        response, unreachable = self._writing(work)
        self._drop_blobs(unreachable)
        return response

    @operation("DeleteObjects", resource=lambda r: object_crn(r.bucket, "*"))
    def delete_objects(self, ctx: CallContext, request: DeleteObjectsRequest) -> DeleteObjectsResponse:
        """Delete up to 1,000 objects (or versions) in one call; failures are listed, not raised."""
        deleted: list[DeletedObject] = []
        errors: list[DeleteError] = []
        self._require_bucket(request.bucket)
        for item in request.delete.objects:
            try:
                check_key(item.key)
                result = self._delete_one(request.bucket, item.key, item.version_id)
            except InvalidArgument as exc:
                errors.append(DeleteError(key=item.key, version_id=item.version_id, code=exc.code, message=exc.message))
                continue
            if not request.delete.quiet:
                deleted.append(DeletedObject(
                    key=item.key, version_id=item.version_id, delete_marker=result.delete_marker,
                    delete_marker_version_id=(
                        result.version_id if result.delete_marker and not item.version_id else None),
                ))
        return DeleteObjectsResponse(deleted=deleted, errors=errors)

    # -- tags ----------------------------------------------------------------

    @operation("PutObjectTagging", resource=lambda r: object_crn(r.bucket, r.key))
    def put_object_tagging(self, ctx: CallContext, request: PutObjectTaggingRequest) -> TaggingResponse:
        """Replace an object's tags (at most 10)."""
        tags = check_tags({t.key: t.value for t in request.tagging.tag_set})
        return self._set_tags(request.bucket, request.key, request.version_id, tags)

    @operation("GetObjectTagging", resource=lambda r: object_crn(r.bucket, r.key), mutating=False)
    def get_object_tagging(self, ctx: CallContext, request: ObjectVersionRequest) -> TaggingResponse:
        """Show an object's tags."""
        with self._reading() as session:
            row = self._version(session, request.bucket, request.key, request.version_id)
            return TaggingResponse(version_id=_version_out(row),
                                   tag_set=[Tag(key=k, value=v) for k, v in sorted(loads(row.tags).items())])

    @operation("DeleteObjectTagging", resource=lambda r: object_crn(r.bucket, r.key))
    def delete_object_tagging(self, ctx: CallContext, request: ObjectVersionRequest) -> TaggingResponse:
        """Remove all tags from an object."""
        return self._set_tags(request.bucket, request.key, request.version_id, {})

    def _set_tags(self, bucket: str, key: str, version_id: str | None, tags: dict[str, str]) -> TaggingResponse:
        def work(session: Session) -> TaggingResponse:
            row = self._version(session, bucket, key, version_id)
            row.tags = dumps(tags)
            return TaggingResponse(version_id=_version_out(row),
                                   tag_set=[Tag(key=k, value=v) for k, v in sorted(tags.items())])

        return self._writing(work)

    # -- archive -------------------------------------------------------------

    @operation("RestoreObject", resource=lambda r: object_crn(r.bucket, r.key))
    def restore_object(self, ctx: CallContext, request: RestoreObjectRequest) -> RestoreObjectResponse:
        """Make a temporary readable copy of an archived (GLACIER) object for a number of days."""
        def work(session: Session) -> RestoreObjectResponse:
            row = self._version(session, request.bucket, request.key, request.version_id)
            if row.storage_class not in ARCHIVED:
                raise InvalidObjectState(
                    f"object {request.key!r} is in {row.storage_class}, which is readable already; "
                    "only GLACIER objects are restored"
                )
            row.restore_expiry = self.clock.now() + timedelta(days=request.restore_request.days)
            header = restore_header(row, self.clock.now())
            assert header is not None
            return RestoreObjectResponse(restore=header)

        return self._writing(work)


def _archived(bucket: str, key: str, storage_class: str) -> InvalidObjectState:
    return InvalidObjectState(
        f"object {key!r} in {bucket!r} is in {storage_class} and cannot be read until restored; restore a "
        f"copy for a day with: crispml lake restore-object --bucket {bucket} --key {key} "
        f"--restore-request '{{\"Days\": 1}}'"
    )


def _parse_copy_source(source: str) -> tuple[str, str, str | None]:
    path, _, query = source.lstrip("/").partition("?")
    bucket, _, key = unquote(path).partition("/")
    if not bucket or not key:
        raise InvalidArgument(f"copy source {source!r} must be 'bucket/key' or 'bucket/key?versionId=ID'")
    version = parse_qs(query).get("versionId", [None])[0] if query else None
    return check_bucket_name(bucket), check_key(key), version
