"""The lake service (S3): one class combining the operation groups.

Buckets (``buckets.py``), objects (``objects.py``), listings (``listing.py``),
multipart uploads (``multipart.py``) and lifecycle rules (``lifecycle_ops.py``)
share the helpers in ``core.py``. Bytes move through the platform's blob store;
all object metadata lives in the metadata DB.

Besides its operations, the lake offers other services two things, both as a
caller and through its operations' checks:

- :meth:`LakeService.filesystem` — ``lake://`` as an fsspec filesystem (``fs.py``)
  acting as one caller, for pandas, pyarrow, DuckDB and pyiceberg;
- :meth:`LakeService.readable_paths` — many ``GetObject`` authorizations in one
  step, with the real file behind each object on a ``file://`` lake (the trusted
  fast path of DESIGN.md §6, for the query engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.services.lake.buckets import BucketOps
from crispml.services.lake.lifecycle_ops import LifecycleOps
from crispml.services.lake.listing import ListingOps
from crispml.services.lake.multipart import MultipartOps
from crispml.services.lake.objects import ObjectOps
from crispml.services.lake.specs import (
    ApplyLifecycleRequest,
    BucketRequest,
    CompleteMultipartUploadRequest,
    CopyObjectRequest,
    CreateBucketRequest,
    CreateMultipartUploadRequest,
    DeleteObjectRequest,
    DeleteObjectsRequest,
    GetObjectRequest,
    ListBucketsRequest,
    ListMultipartUploadsRequest,
    ListObjectsV2Request,
    ListObjectVersionsRequest,
    ObjectVersionRequest,
    PutBucketLifecycleConfigurationRequest,
    PutBucketVersioningRequest,
    PutObjectRequest,
    PutObjectTaggingRequest,
    RestoreObjectRequest,
    UploadPartRequest,
    UploadRequest,
)
from crispml.spine.operations import Service

if TYPE_CHECKING:
    from crispml.services.lake.fs import LakeFileSystem as LakeFileSystem

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "ApplyLifecycleRequest", "BucketRequest", "CompleteMultipartUploadRequest", "CopyObjectRequest",
    "CreateBucketRequest", "CreateMultipartUploadRequest", "DeleteObjectRequest", "DeleteObjectsRequest",
    "GetObjectRequest", "LakeFileSystem", "LakeService", "ListBucketsRequest", "ListMultipartUploadsRequest",
    "ListObjectVersionsRequest", "ListObjectsV2Request", "ObjectVersionRequest",
    "PutBucketLifecycleConfigurationRequest", "PutBucketVersioningRequest", "PutObjectRequest",
    "PutObjectTaggingRequest", "RestoreObjectRequest", "UploadPartRequest", "UploadRequest"
]


class LakeService(Service, BucketOps, ObjectOps, ListingOps, MultipartOps, LifecycleOps):
    name = "lake"

    def filesystem(self, ctx: CallContext, **storage_options: Any) -> LakeFileSystem:
        """``lake://`` as an fsspec filesystem whose every call is a lake operation as ``ctx``'s caller."""
        from crispml.services.lake.fs import LakeFileSystem

        return LakeFileSystem(self, ctx, skip_instance_cache=True, **storage_options)

    def readable_paths(self, ctx: CallContext, objects: list[tuple[str, str]]) -> list[str | CrispmlError | None]:
        """Authorize and audit a ``GetObject`` of each (bucket, key) as ``ctx``'s caller, in one step; per
        object, the real file behind it (None where there is none: an s3:// lake), or the error reading it
        would meet (NoSuchKey, InvalidObjectState for an archived object, AccessDenied)."""
        return self._readable_paths(ctx, objects)


def __getattr__(name: str) -> Any:
    """``LakeFileSystem`` on first use (it imports fsspec; the fsspec entry point subclasses it)."""
    if name == "LakeFileSystem":
        from crispml.services.lake.fs import LakeFileSystem

        return LakeFileSystem
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
