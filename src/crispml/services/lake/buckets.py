"""Bucket operations: create, list, head, delete, versioning."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.lake.core import LakeCore, bucket_crn
from crispml.services.lake.entities import Bucket
from crispml.services.lake.errors import BucketAlreadyOwnedByYou, BucketNotEmpty
from crispml.services.lake.specs import (
    BucketRequest,
    CreateBucketRequest,
    CreateBucketResponse,
    EmptyResponse,
    GetBucketVersioningResponse,
    HeadBucketResponse,
    ListBucketsRequest,
    ListBucketsResponse,
    PutBucketVersioningRequest,
)
from crispml.services.lake.store import BucketRow, UploadRow, VersionRow
from crispml.spine.operations import operation


class BucketOps(LakeCore):
    @operation("CreateBucket", resource=lambda r: bucket_crn(r.bucket))
    def create_bucket(self, ctx: CallContext, request: CreateBucketRequest) -> CreateBucketResponse:
        """Create a bucket (S3 naming rules: 3-63 lowercase letters, digits, dots, hyphens)."""
        def work(session: Session) -> None:
            if session.get(BucketRow, request.bucket) is not None:
                raise BucketAlreadyOwnedByYou(f"bucket {request.bucket!r} already exists")
            session.add(BucketRow(name=request.bucket, created_at=self.clock.now()))

        try:
            self._writing(work)
        except IntegrityError as exc:
            raise BucketAlreadyOwnedByYou(f"bucket {request.bucket!r} already exists") from exc
        return CreateBucketResponse(location=f"/{request.bucket}")

    @operation("ListBuckets", resource=lambda r: bucket_crn(None), mutating=False)
    def list_buckets(self, ctx: CallContext, request: ListBucketsRequest) -> ListBucketsResponse:
        """List buckets, by name."""
        query = select(BucketRow).order_by(BucketRow.name)
        if request.prefix:
            query = query.where(BucketRow.name.startswith(request.prefix))
        with self._reading() as session:
            rows = session.scalars(query).all()
            return ListBucketsResponse(buckets=[Bucket(name=r.name, creation_date=r.created_at) for r in rows])

    @operation("HeadBucket", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def head_bucket(self, ctx: CallContext, request: BucketRequest) -> HeadBucketResponse:
        """Check that a bucket exists; show when it was made and its versioning state."""
        with self._reading() as session:
            row = self._bucket(session, request.bucket)
            return HeadBucketResponse(bucket=row.name, creation_date=row.created_at, versioning=row.versioning)

    @operation("DeleteBucket", resource=lambda r: bucket_crn(r.bucket))
    def delete_bucket(self, ctx: CallContext, request: BucketRequest) -> EmptyResponse:
        """Delete an empty bucket (no objects, versions, delete markers or uploads)."""
        def work(session: Session) -> None:
            row = self._bucket(session, request.bucket)
            has_version = session.scalars(
                select(VersionRow.seq).where(VersionRow.bucket == request.bucket).limit(1)
            ).first()
            has_upload = session.scalars(
                select(UploadRow.upload_id).where(UploadRow.bucket == request.bucket).limit(1)
            ).first()
            if has_version is not None or has_upload is not None:
                what = "objects or object versions" if has_version is not None else "unfinished multipart uploads"
                raise BucketNotEmpty(
                    f"bucket {request.bucket!r} is not empty (it holds {what}); delete them first, "
                    f"e.g. 'crispml lake rm --recursive lake://{request.bucket}/'"
                )
            session.delete(row)

        self._writing(work)
        return EmptyResponse()

    @operation("PutBucketVersioning", resource=lambda r: bucket_crn(r.bucket))
    def put_bucket_versioning(self, ctx: CallContext, request: PutBucketVersioningRequest) -> EmptyResponse:
        """Enable or suspend versioning on a bucket (once enabled it can only be suspended)."""
        def work(session: Session) -> None:
            self._bucket(session, request.bucket).versioning = request.versioning_configuration.status

        self._writing(work)
        return EmptyResponse()

    @operation("GetBucketVersioning", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def get_bucket_versioning(self, ctx: CallContext, request: BucketRequest) -> GetBucketVersioningResponse:
        """Show a bucket's versioning state: Enabled, Suspended, or none."""
        with self._reading() as session:
            return GetBucketVersioningResponse(status=self._bucket(session, request.bucket).versioning)
