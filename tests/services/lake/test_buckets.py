"""Buckets: S3's naming rules, create/head/list/delete, and what counts as empty."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from crispml.services.lake.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidBucketName,
    NoSuchBucket,
    NoSuchLifecycleConfiguration,
)

INVALID_NAMES = [
    ("ab", "3-63 characters"),
    ("a" * 64, "3-63 characters"),
    ("Upper-case", "lowercase"),
    ("under_score", "lowercase"),
    ("-leading-hyphen", "starting and ending with a letter or digit"),
    ("trailing-hyphen-", "starting and ending with a letter or digit"),
    (".leading-dot", "starting and ending with a letter or digit"),
    ("two..dots", "two adjacent dots"),
    ("dot.-hyphen", "a dot must not be next to a hyphen"),
    ("hyphen-.dot", "a dot must not be next to a hyphen"),
    ("192.168.5.4", "IP address"),
    ("xn--punycode", "must not start with 'xn--'"),
    ("sthree-bucket", "sthree-"),
    ("data-s3alias", "-s3alias"),
    ("data--ol-s3", "--ol-s3"),
    ("has space", "lowercase"),
]

VALID_EDGE_NAMES = ["abc", "a" * 63, "0-9", "1.2.3", "my.bucket-2024", "xn-single-hyphen"]


def test_invalid_bucket_names_are_rejected_saying_why(lake: Any) -> None:
    for name, why in INVALID_NAMES:
        with pytest.raises(InvalidBucketName) as caught:
            lake.create_bucket(bucket=name)
        assert caught.value.code == "InvalidBucketName"
        assert isinstance(caught.value, InvalidArgument)
        assert repr(name) in caught.value.message
        assert why in caught.value.message, name
    assert lake.list_buckets().buckets == []


def test_valid_edge_case_names_are_accepted(lake: Any) -> None:
    for name in VALID_EDGE_NAMES:
        assert lake.create_bucket(bucket=name).location == f"/{name}"
    assert [b.name for b in lake.list_buckets().buckets] == sorted(VALID_EDGE_NAMES)


def test_other_operations_check_the_bucket_name_before_existence(lake: Any) -> None:
    with pytest.raises(InvalidBucketName):
        lake.put_object(bucket="Bad_Name", key="k", body=b"x")
    with pytest.raises(InvalidBucketName):
        lake.list_objects_v2(bucket="ab")


def test_creating_a_bucket_twice_is_already_owned_by_you(lake: Any) -> None:
    lake.create_bucket(bucket="twice")
    with pytest.raises(BucketAlreadyOwnedByYou) as caught:
        lake.create_bucket(bucket="twice")
    assert isinstance(caught.value, AlreadyExists)
    assert caught.value.code == "BucketAlreadyOwnedByYou"
    assert "'twice'" in caught.value.message
    assert [b.name for b in lake.list_buckets().buckets] == ["twice"]


def test_head_and_list_buckets(lake: Any, clock: Any) -> None:
    created_at = clock.now()
    for name in ("zeta", "alpha", "alpine", "beta"):
        lake.create_bucket(bucket=name)
    head = lake.head_bucket(bucket="alpha")
    assert head.bucket == "alpha"
    assert head.creation_date == created_at
    assert head.versioning is None
    listed = lake.list_buckets().buckets
    assert [b.name for b in listed] == ["alpha", "alpine", "beta", "zeta"]
    assert all(b.creation_date == created_at for b in listed)
    assert [b.name for b in lake.list_buckets(prefix="alp").buckets] == ["alpha", "alpine"]


def test_versioning_state_is_none_then_enabled_then_suspended(lake: Any, bucket: str) -> None:
    assert lake.get_bucket_versioning(bucket=bucket).status is None
    lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Enabled"})
    assert lake.get_bucket_versioning(bucket=bucket).status == "Enabled"
    assert lake.head_bucket(bucket=bucket).versioning == "Enabled"
    lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Suspended"})
    assert lake.get_bucket_versioning(bucket=bucket).status == "Suspended"
    with pytest.raises(InvalidArgument):
        lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Disabled"})


def test_delete_empty_bucket_then_it_is_gone(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="k", body=b"x")
    lake.delete_object(bucket=bucket, key="k")
    lake.delete_bucket(bucket=bucket)
    assert lake.list_buckets().buckets == []
    with pytest.raises(NoSuchBucket):
        lake.head_bucket(bucket=bucket)
    lake.create_bucket(bucket=bucket)  # the name is free again, and the new bucket is empty
    assert lake.list_objects_v2(bucket=bucket).key_count == 0


def test_a_recreated_bucket_starts_with_no_settings(lake: Any, bucket: str) -> None:
    lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Enabled"})
    lake.put_bucket_lifecycle_configuration(bucket=bucket, lifecycle_configuration={
        "Rules": [{"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}}]})
    lake.delete_bucket(bucket=bucket)
    lake.create_bucket(bucket=bucket)
    assert lake.get_bucket_versioning(bucket=bucket).status is None
    with pytest.raises(NoSuchLifecycleConfiguration):
        lake.get_bucket_lifecycle_configuration(bucket=bucket)


def test_delete_bucket_with_an_object_is_bucket_not_empty(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="data/part-0.csv", body=b"a,b\n")
    with pytest.raises(BucketNotEmpty) as caught:
        lake.delete_bucket(bucket=bucket)
    assert isinstance(caught.value, Conflict)
    assert repr(bucket) in caught.value.message
    assert lake.head_bucket(bucket=bucket).bucket == bucket


def test_a_lone_delete_marker_keeps_the_bucket_non_empty(lake: Any, versioned: str) -> None:
    version = lake.put_object(bucket=versioned, key="k", body=b"x").version_id
    lake.delete_object(bucket=versioned, key="k")  # adds a delete marker
    lake.delete_object(bucket=versioned, key="k", version_id=version)  # only the marker is left
    assert lake.list_objects_v2(bucket=versioned).key_count == 0
    with pytest.raises(BucketNotEmpty):
        lake.delete_bucket(bucket=versioned)
    marker = lake.list_object_versions(bucket=versioned).delete_markers[0]
    lake.delete_object(bucket=versioned, key="k", version_id=marker.version_id)
    lake.delete_bucket(bucket=versioned)


def test_noncurrent_versions_keep_the_bucket_non_empty(lake: Any, versioned: str) -> None:
    lake.put_object(bucket=versioned, key="k", body=b"x")
    lake.delete_object(bucket=versioned, key="k")
    with pytest.raises(BucketNotEmpty):
        lake.delete_bucket(bucket=versioned)


def test_an_unfinished_multipart_upload_keeps_the_bucket_non_empty(lake: Any, bucket: str) -> None:
    upload = lake.create_multipart_upload(bucket=bucket, key="big.bin").upload_id
    with pytest.raises(BucketNotEmpty) as caught:
        lake.delete_bucket(bucket=bucket)
    assert "multipart" in caught.value.message
    lake.abort_multipart_upload(bucket=bucket, key="big.bin", upload_id=upload)
    lake.delete_bucket(bucket=bucket)


MISSING_BUCKET_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("head_bucket", {}),
    ("delete_bucket", {}),
    ("get_bucket_versioning", {}),
    ("put_bucket_versioning", {"versioning_configuration": {"Status": "Enabled"}}),
    ("put_object", {"key": "k", "body": b"x"}),
    ("get_object", {"key": "k"}),
    ("head_object", {"key": "k"}),
    ("delete_object", {"key": "k"}),
    ("delete_objects", {"delete": {"Objects": [{"Key": "k"}]}}),
    ("copy_object", {"key": "k", "copy_source": "missing-bucket/other"}),
    ("list_objects_v2", {}),
    ("list_object_versions", {}),
    ("create_multipart_upload", {"key": "k"}),
    ("list_multipart_uploads", {}),
    ("get_bucket_lifecycle_configuration", {}),
    ("apply_lifecycle", {}),
]


def test_operations_on_a_missing_bucket_raise_no_such_bucket(lake: Any) -> None:
    for operation, fields in MISSING_BUCKET_CALLS:
        with pytest.raises(NoSuchBucket) as caught:
            getattr(lake, operation)(bucket="missing-bucket", **fields)
        assert isinstance(caught.value, NotFound)
        assert isinstance(caught.value, LookupError)
        assert caught.value.code == "NoSuchBucket"
        assert "'missing-bucket'" in caught.value.message, operation
