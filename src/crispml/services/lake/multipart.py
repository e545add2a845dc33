"""Multipart uploads: create, upload parts, complete (or abort), list.

As in S3, every part but the last must be at least 5 MiB, and the completed
object's ETag is the MD5 of the parts' binary MD5s followed by ``-<parts>``.
Completing concatenates the part blobs into one new blob and commits it as a
version in one step; until then nothing is visible under the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.ids import ulid
from crispml.services.lake.core import (
    LakeCore,
    bucket_crn,
    dumps,
    guess_content_type,
    object_crn,
    quoted,
)
from crispml.services.lake.entities import Part, Upload
from crispml.services.lake.errors import InvalidPart, NoSuchUpload
from crispml.services.lake.rules import check_metadata, parse_tagging
from crispml.services.lake.specs import (
    CompleteMultipartUploadRequest,
    CompleteMultipartUploadResponse,
    CreateMultipartUploadRequest,
    CreateMultipartUploadResponse,
    EmptyResponse,
    ListMultipartUploadsRequest,
    ListMultipartUploadsResponse,
    ListPartsResponse,
    UploadPartRequest,
    UploadPartResponse,
    UploadRequest,
)
from crispml.services.lake.store import PartRow, UploadRow
from crispml.spine.operations import operation

MIN_PART_SIZE = 5 * 1024 * 1024


class MultipartOps(LakeCore):
    @operation("CreateMultipartUpload", resource=lambda r: object_crn(r.bucket, r.key))
    def create_multipart_upload(
        self, ctx: CallContext, request: CreateMultipartUploadRequest
    ) -> CreateMultipartUploadResponse:
        """Start a multipart upload; upload parts, then complete it to make the object visible."""
        upload_id = ulid() + ulid()[10:]
        tags, metadata = parse_tagging(request.tagging), check_metadata(request.metadata)

        def work(session: Session) -> None:
            self._bucket(session, request.bucket)
            session.add(UploadRow(
                upload_id=upload_id, bucket=request.bucket, key=request.key, initiated=self.clock.now(),
                content_type=request.content_type or guess_content_type(request.key),
                user_metadata=dumps(metadata), tags=dumps(tags), storage_class=request.storage_class,
            ))

        self._writing(work)
        return CreateMultipartUploadResponse(bucket=request.bucket, key=request.key, upload_id=upload_id)

    def _upload(self, session: Session, bucket: str, key: str, upload_id: str) -> UploadRow:
        row = session.get(UploadRow, upload_id)
        if row is None or row.bucket != bucket or row.key != key:
            raise NoSuchUpload(
                f"no multipart upload {upload_id!r} for {key!r} in {bucket!r}; it may have been "
                "completed or aborted"
            )
        return row

    @operation("UploadPart", resource=lambda r: object_crn(r.bucket, r.key))
    def upload_part(self, ctx: CallContext, request: UploadPartRequest) -> UploadPartResponse:
        """Upload one part (1-10,000) of a multipart upload; uploading a number again replaces it."""
        with self._reading() as session:
            self._upload(session, request.bucket, request.key, request.upload_id)
        blob_key = self._new_blob_key(request.bucket)
        info = self.blobs.write(blob_key, request.body if request.body is not None else b"")

        def work(session: Session) -> list[str]:
            self._upload(session, request.bucket, request.key, request.upload_id)
            old = session.get(PartRow, (request.upload_id, request.part_number))
            replaced = [old.blob_key] if old is not None else []
            if old is not None:
                session.delete(old)
                session.flush()
            session.add(PartRow(upload_id=request.upload_id, part_number=request.part_number,
                                etag=quoted(info.md5), size=info.size, blob_key=blob_key,
                                last_modified=self.clock.now()))
            return replaced

        try:
            replaced = self._writing(work)
        except BaseException:
            self._drop_blobs([blob_key])
            raise
        self._drop_blobs(replaced)
        return UploadPartResponse(etag=quoted(info.md5))

    @operation("CompleteMultipartUpload", resource=lambda r: object_crn(r.bucket, r.key))
    def complete_multipart_upload(
        self, ctx: CallContext, request: CompleteMultipartUploadRequest
    ) -> CompleteMultipartUploadResponse:
        """Assemble the listed parts, in ascending order, into the object."""
        wanted = request.multipart_upload.parts
        numbers = [p.part_number for p in wanted]
        if numbers != sorted(set(numbers)):
            raise InvalidPart("parts must be listed once each, in ascending part-number order")
        with self._reading() as session:
            upload = self._upload(session, request.bucket, request.key, request.upload_id)
            stored = {p.part_number: p for p in session.scalars(
                select(PartRow).where(PartRow.upload_id == request.upload_id))}
            fields = {"content_type": upload.content_type, "user_metadata": upload.user_metadata,
                      "tags": upload.tags, "storage_class": upload.storage_class}
        chosen: list[PartRow] = []
        for i, part in enumerate(wanted):
            row = stored.get(part.part_number)
            if row is None or row.etag.strip('"') != part.etag.strip('"'):
                raise InvalidPart(f"part {part.part_number} was not uploaded or its ETag does not match")
            if i < len(wanted) - 1 and row.size < MIN_PART_SIZE:
                raise InvalidPart(f"part {part.part_number} is {row.size} bytes; every part but the last "
                                  f"must be at least {MIN_PART_SIZE} bytes (EntityTooSmall)")
            chosen.append(row)
        digest = hashlib.md5(usedforsecurity=False)
        for row in chosen:
            digest.update(bytes.fromhex(row.etag.strip('"')))
        etag = f'"{digest.hexdigest()}-{len(chosen)}"'
        blob_key = self._new_blob_key(request.bucket)
        info = self.blobs.write(blob_key, self._concatenated(chosen))
        version = self._commit_object(request.bucket, request.key, blob_key, info, etag=etag,
                                      parts_count=len(chosen), **fields)
        part_blobs = self._writing(lambda s: self._finish_upload(s, request.upload_id))
        self._drop_blobs(part_blobs)
        return CompleteMultipartUploadResponse(bucket=request.bucket, key=request.key, etag=etag,
                                               version_id=version.version_id)

    def _concatenated(self, parts: list[PartRow]) -> Iterator[bytes]:
        for part in parts:
            with self.blobs.open(part.blob_key) as handle:
                while chunk := handle.read(8 * 1024 * 1024):
                    yield chunk

    @staticmethod
    def _finish_upload(session: Session, upload_id: str) -> list[str]:
        parts = list(session.scalars(select(PartRow).where(PartRow.upload_id == upload_id)))
        for part in parts:
            session.delete(part)
        upload = session.get(UploadRow, upload_id)
        if upload is not None:
            session.delete(upload)
        return [p.blob_key for p in parts]

    @operation("AbortMultipartUpload", resource=lambda r: object_crn(r.bucket, r.key))
    def abort_multipart_upload(self, ctx: CallContext, request: UploadRequest) -> EmptyResponse:
        """Abort a multipart upload and delete its parts."""
        def work(session: Session) -> list[str]:
            self._upload(session, request.bucket, request.key, request.upload_id)
            return self._finish_upload(session, request.upload_id)

        self._drop_blobs(self._writing(work))
        return EmptyResponse()

    @operation("ListMultipartUploads", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def list_multipart_uploads(
        self, ctx: CallContext, request: ListMultipartUploadsRequest
    ) -> ListMultipartUploadsResponse:
        """List multipart uploads that were started and not yet completed or aborted."""
        with self._reading() as session:
            self._bucket(session, request.bucket)
            rows = session.scalars(select(UploadRow).where(
                UploadRow.bucket == request.bucket, UploadRow.key.startswith(request.prefix, autoescape=True)
            ).order_by(UploadRow.key, UploadRow.initiated))
            return ListMultipartUploadsResponse(bucket=request.bucket, uploads=[
                Upload(upload_id=r.upload_id, key=r.key, initiated=r.initiated, storage_class=r.storage_class)
                for r in rows
            ])

    @operation("ListParts", resource=lambda r: object_crn(r.bucket, r.key), mutating=False)
    def list_parts(self, ctx: CallContext, request: UploadRequest) -> ListPartsResponse:
        """List the parts uploaded so far for a multipart upload."""
        with self._reading() as session:
            self._upload(session, request.bucket, request.key, request.upload_id)
            rows = session.scalars(select(PartRow).where(PartRow.upload_id == request.upload_id)
                                   .order_by(PartRow.part_number))
            return ListPartsResponse(bucket=request.bucket, key=request.key, upload_id=request.upload_id, parts=[
                Part(part_number=r.part_number, etag=r.etag, size=r.size, last_modified=r.last_modified)
                for r in rows
            ])
