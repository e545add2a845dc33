"""Lake requests and responses: S3's operations and fields, in snake_case.

Nested shapes (versioning, tagging, lifecycle) also accept S3's PascalCase
JSON, so a document written for AWS validates unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from crispml.services.lake.entities import (
    Bucket,
    CommonPrefix,
    ObjectBody,
    ObjectSummary,
    ObjectVersion,
    Part,
    Tag,
    Upload,
)
from crispml.services.lake.lifecycle import LifecycleConfiguration
from crispml.services.lake.rules import StorageClass, check_body, check_bucket_name, check_key, check_prefix
from crispml.spine.models import Request, Response, Shape

BucketName = Annotated[str, AfterValidator(check_bucket_name), Field(description="Bucket name.")]
ObjectKey = Annotated[str, AfterValidator(check_key), Field(description="Object key.")]
Prefix = Annotated[str, AfterValidator(check_prefix)]
Body = Annotated[Any, AfterValidator(check_body)]
STREAM: Any = {"stream": True}


# -- buckets -----------------------------------------------------------------

class CreateBucketRequest(Request):
    bucket: BucketName


class CreateBucketResponse(Response):
    location: str


class BucketRequest(Request):
    bucket: BucketName


class ListBucketsRequest(Request):
    prefix: str | None = Field(None, description="Only buckets whose names start with this.")


class ListBucketsResponse(Response):
    buckets: list[Bucket]


class HeadBucketResponse(Response):
    bucket: str
    creation_date: datetime
    versioning: str | None = None


class EmptyResponse(Response):
    """An operation that returns nothing but success."""


class VersioningConfiguration(Shape):
    status: Literal["Enabled", "Suspended"]


class PutBucketVersioningRequest(Request):
    bucket: BucketName
    versioning_configuration: VersioningConfiguration = Field(
        description='{"Status": "Enabled"} or {"Status": "Suspended"}.'
    )


class GetBucketVersioningResponse(Response):
    status: str | None = None


class PutBucketLifecycleConfigurationRequest(Request):
    bucket: BucketName
    lifecycle_configuration: LifecycleConfiguration = Field(
        description="Lifecycle rules in S3's JSON shape ({\"Rules\": [...]}); file://rules.json works."
    )


class GetBucketLifecycleConfigurationResponse(Response):
    rules: list[dict[str, Any]]


class ApplyLifecycleRequest(Request):
    bucket: BucketName | None = Field(None, description="Only this bucket (default: every bucket with rules).")


class LifecycleAction(Shape):
    bucket: str
    key: str
    version_id: str | None = None
    action: str
    rule_id: str | None = None
    detail: str | None = None


class ApplyLifecycleResponse(Response):
    evaluated_at: datetime
    actions: list[LifecycleAction]


# -- objects -----------------------------------------------------------------

class PutObjectRequest(Request):
    bucket: BucketName
    key: ObjectKey
    body: Body = Field(None, description="The bytes: a file path on the CLI; bytes or a binary file in Python.",
                      json_schema_extra=STREAM)
    content_type: str | None = Field(None, description="MIME type (default: guessed from the key).")
    metadata: dict[str, str] = Field(default_factory=dict, description="User metadata (x-amz-meta-*).")
    tagging: str | None = Field(None, description="Tags as 'key1=value1&key2=value2'.")
    storage_class: StorageClass = Field("STANDARD", description="STANDARD, STANDARD_IA or GLACIER.")


class PutObjectResponse(Response):
    etag: str
    size: int
    version_id: str | None = None


class GetObjectRequest(Request):
    bucket: BucketName
    key: ObjectKey
    version_id: str | None = Field(None, description="A specific version (default: the current one).")
    range: str | None = Field(None, description="Byte range, e.g. 'bytes=0-1023'.")


class HeadObjectResponse(Response):
    key: str
    content_length: int
    content_type: str
    etag: str
    last_modified: datetime
    metadata: dict[str, str]
    version_id: str | None = None
    storage_class: str
    tag_count: int = 0
    restore: str | None = None
    parts_count: int | None = None


class GetObjectResponse(HeadObjectResponse):
    body: ObjectBody = Field(json_schema_extra=STREAM)
    content_range: str | None = None
    accept_ranges: str = "bytes"


class CopyObjectRequest(Request):
    bucket: BucketName = Field(description="Target bucket.")
    key: ObjectKey = Field(description="Target key.")
    copy_source: str = Field(description="'bucket/key' or 'bucket/key?versionId=ID'.")
    metadata_directive: Literal["COPY", "REPLACE"] = "COPY"
    metadata: dict[str, str] = Field(default_factory=dict)
    content_type: str | None = None
    tagging_directive: Literal["COPY", "REPLACE"] = "COPY"
    tagging: str | None = None
    storage_class: StorageClass | None = Field(None, description="Storage class of the copy (default: STANDARD).")


class CopyObjectResponse(Response):
    etag: str
    last_modified: datetime
    version_id: str | None = None
    copy_source_version_id: str | None = None


class DeleteObjectRequest(Request):
    bucket: BucketName
    key: ObjectKey
    version_id: str | None = Field(None, description="Delete this version permanently.")


class DeleteObjectResponse(Response):
    delete_marker: bool = False
    version_id: str | None = None


class ObjectIdentifier(Shape):
    key: str
    version_id: str | None = None


class Delete(Shape):
    objects: list[ObjectIdentifier] = Field(max_length=1000)
    quiet: bool = False


class DeleteObjectsRequest(Request):
    bucket: BucketName
    delete: Delete = Field(description='{"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "…"}]}.')


class DeletedObject(Shape):
    key: str
    version_id: str | None = None
    delete_marker: bool = False
    delete_marker_version_id: str | None = None


class DeleteError(Shape):
    key: str
    version_id: str | None = None
    code: str
    message: str


class DeleteObjectsResponse(Response):
    deleted: list[DeletedObject]
    errors: list[DeleteError]


class ListObjectsV2Request(Request):
    bucket: BucketName
    prefix: Prefix = Field("", description="Only keys that start with this.")
    delimiter: str | None = Field(None, description="Group keys by this character (usually '/').")
    max_keys: int = Field(1000, ge=1, le=1000, description="Keys per page (1-1000).")
    continuation_token: str | None = Field(None, description="Token from the previous page.")
    start_after: str | None = Field(None, description="Start listing after this key.")


class ListObjectsV2Response(Response):
    name: str
    prefix: str
    delimiter: str | None = None
    max_keys: int
    key_count: int
    is_truncated: bool
    contents: list[ObjectSummary]
    common_prefixes: list[CommonPrefix]
    continuation_token: str | None = None
    next_continuation_token: str | None = None


class ListObjectVersionsRequest(Request):
    bucket: BucketName
    prefix: Prefix = ""
    delimiter: str | None = None
    max_keys: int = Field(1000, ge=1, le=1000)
    key_marker: str | None = None
    version_id_marker: str | None = None


class ListObjectVersionsResponse(Response):
    name: str
    prefix: str
    is_truncated: bool
    versions: list[ObjectVersion]
    delete_markers: list[ObjectVersion]
    common_prefixes: list[CommonPrefix]
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None


class TagInput(Shape):
    """One tag in a request: ``{"Key": "team", "Value": "ml"}`` (or snake_case)."""

    key: str
    value: str


class Tagging(Shape):
    tag_set: list[TagInput] = Field(max_length=10)


class PutObjectTaggingRequest(Request):
    bucket: BucketName
    key: ObjectKey
    version_id: str | None = None
    tagging: Tagging = Field(description='{"TagSet": [{"Key": "team", "Value": "ml"}]}.')


class ObjectVersionRequest(Request):
    bucket: BucketName
    key: ObjectKey
    version_id: str | None = None


class TaggingResponse(Response):
    version_id: str | None = None
    tag_set: list[Tag] = Field(default_factory=list)


class RestoreRequestShape(Shape):
    days: int = Field(ge=1, le=30000)


class RestoreObjectRequest(Request):
    bucket: BucketName
    key: ObjectKey
    version_id: str | None = None
    restore_request: RestoreRequestShape = Field(description='{"Days": 7}: how long the restored copy stays readable.')


class RestoreObjectResponse(Response):
    restore: str


# -- multipart uploads -------------------------------------------------------

class CreateMultipartUploadRequest(Request):
    bucket: BucketName
    key: ObjectKey
    content_type: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    tagging: str | None = None
    storage_class: StorageClass = "STANDARD"


class CreateMultipartUploadResponse(Response):
    bucket: str
    key: str
    upload_id: str


class UploadPartRequest(Request):
    bucket: BucketName
    key: ObjectKey
    upload_id: str
    part_number: int = Field(ge=1, le=10000)
    body: Body = Field(None, json_schema_extra=STREAM)


class UploadPartResponse(Response):
    etag: str


class CompletedPart(Shape):
    part_number: int = Field(ge=1, le=10000)
    etag: str = Field(alias="ETag")


class CompletedMultipartUpload(Shape):
    parts: list[CompletedPart] = Field(min_length=1)


class CompleteMultipartUploadRequest(Request):
    bucket: BucketName
    key: ObjectKey
    upload_id: str
    multipart_upload: CompletedMultipartUpload


class CompleteMultipartUploadResponse(Response):
    bucket: str
    key: str
    etag: str
    version_id: str | None = None


class UploadRequest(Request):
    bucket: BucketName
    key: ObjectKey
    upload_id: str


class ListMultipartUploadsRequest(Request):
    bucket: BucketName
    prefix: Prefix = ""


class ListMultipartUploadsResponse(Response):
    bucket: str
    uploads: list[Upload]


class ListPartsResponse(Response):
    bucket: str
    key: str
    upload_id: str
    parts: list[Part]
