"""Versioning: versions, delete markers, permanent deletes, suspended buckets, "null" ids.

The main flows also run on each metadata DB (SQLite and PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import Conflict
from crispml.sdk.client import Client
from crispml.services.lake.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion

from .support import etag_of, keys, read, versions_of


def _enable(lake: Any, bucket: str) -> None:
    lake.create_bucket(bucket=bucket)
    lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Enabled"})


def check_versions_and_delete_markers(lake: Any) -> None:
    _enable(lake, "history")
    v1 = lake.put_object(bucket="history", key="model.bin", body=b"weights v1").version_id
    v2 = lake.put_object(bucket="history", key="model.bin", body=b"weights v2").version_id
    assert v1 and v2 and "null" not in (v1, v2) and v1 != v2

    # two versions, newest first; reads see the newest unless told otherwise
    assert versions_of(lake, "history", "model.bin") == ([(v2, True), (v1, False)], [])
    assert read(lake, "history", "model.bin") == b"weights v2"
    assert read(lake, "history", "model.bin", version_id=v1) == b"weights v1"
    head = lake.head_object(bucket="history", key="model.bin", version_id=v1)
    assert (head.version_id, head.etag) == (v1, etag_of(b"weights v1"))
    assert lake.head_object(bucket="history", key="model.bin").version_id == v2

    # a delete without a version id only adds a delete marker
    deleted = lake.delete_object(bucket="history", key="model.bin")
    assert deleted.delete_marker is True
    marker = deleted.version_id
    assert marker not in (None, "null", v1, v2)
    with pytest.raises(NoSuchKey):
        lake.get_object(bucket="history", key="model.bin")
    with pytest.raises(NoSuchKey):
        lake.head_object(bucket="history", key="model.bin")
    assert keys(lake, "history") == []
    assert versions_of(lake, "history", "model.bin") == (
        [(v2, False), (v1, False)], [(marker, True)])
    assert read(lake, "history", "model.bin", version_id=v2) == b"weights v2"
    with pytest.raises(MethodNotAllowed) as caught:
        lake.get_object(bucket="history", key="model.bin", version_id=marker)
    assert isinstance(caught.value, Conflict)

    # removing the marker by its version id brings the object back
    undeleted = lake.delete_object(bucket="history", key="model.bin", version_id=marker)
    assert (undeleted.delete_marker, undeleted.version_id) == (True, marker)
    assert read(lake, "history", "model.bin") == b"weights v2"
    assert keys(lake, "history") == ["model.bin"]
    assert versions_of(lake, "history", "model.bin") == ([(v2, True), (v1, False)], [])

    # deleting the current version for good makes the previous one current
    gone = lake.delete_object(bucket="history", key="model.bin", version_id=v2)
    assert (gone.delete_marker, gone.version_id) == (False, v2)
    assert read(lake, "history", "model.bin") == b"weights v1"
    assert lake.head_object(bucket="history", key="model.bin").version_id == v1
    assert versions_of(lake, "history", "model.bin") == ([(v1, True)], [])
    with pytest.raises(NoSuchVersion) as missing:
        lake.get_object(bucket="history", key="model.bin", version_id=v2)
    assert v2 in missing.value.message


def test_versions_and_delete_markers(client: Client) -> None:
    check_versions_and_delete_markers(client.lake)


def test_versions_and_delete_markers_on_each_db(db_client: Client) -> None:
    check_versions_and_delete_markers(db_client.lake)


def test_deleting_a_noncurrent_version_leaves_the_current_one(lake: Any, versioned: str) -> None:
    v1 = lake.put_object(bucket=versioned, key="k", body=b"1").version_id
    v2 = lake.put_object(bucket=versioned, key="k", body=b"2").version_id
    v3 = lake.put_object(bucket=versioned, key="k", body=b"3").version_id
    lake.delete_object(bucket=versioned, key="k", version_id=v2)
    assert read(lake, versioned, "k") == b"3"
    assert versions_of(lake, versioned, "k") == ([(v3, True), (v1, False)], [])
    assert read(lake, versioned, "k", version_id=v1) == b"1"


def test_a_delete_marker_on_a_marker_stacks(lake: Any, versioned: str) -> None:
    v1 = lake.put_object(bucket=versioned, key="k", body=b"1").version_id
    m1 = lake.delete_object(bucket=versioned, key="k").version_id
    m2 = lake.delete_object(bucket=versioned, key="k").version_id
    assert versions_of(lake, versioned, "k") == ([(v1, False)], [(m2, True), (m1, False)])
    lake.delete_object(bucket=versioned, key="k", version_id=m2)
    with pytest.raises(NoSuchKey):  # the older marker still hides the object
        lake.get_object(bucket=versioned, key="k")
    lake.delete_object(bucket=versioned, key="k", version_id=m1)
    assert read(lake, versioned, "k") == b"1"


def test_deleting_a_key_that_never_existed_adds_a_marker(lake: Any, versioned: str) -> None:
    marker = lake.delete_object(bucket=versioned, key="phantom")
    assert marker.delete_marker
    assert versions_of(lake, versioned, "phantom") == ([], [(marker.version_id, True)])


def test_suspended_versioning_writes_null_versions(lake: Any, versioned: str) -> None:
    v1 = lake.put_object(bucket=versioned, key="k", body=b"kept").version_id
    lake.put_bucket_versioning(bucket=versioned, versioning_configuration={"Status": "Suspended"})

    first_null = lake.put_object(bucket=versioned, key="k", body=b"null one")
    assert first_null.version_id == "null"
    second_null = lake.put_object(bucket=versioned, key="k", body=b"null two")
    assert second_null.version_id == "null"
    # the second null version replaced the first; the versioned one is untouched
    assert versions_of(lake, versioned, "k") == ([("null", True), (v1, False)], [])
    assert read(lake, versioned, "k") == b"null two"
    assert read(lake, versioned, "k", version_id="null") == b"null two"
    assert read(lake, versioned, "k", version_id=v1) == b"kept"

    # a delete while suspended puts a "null" delete marker in place of the null version
    deleted = lake.delete_object(bucket=versioned, key="k")
    assert (deleted.delete_marker, deleted.version_id) == (True, "null")
    assert versions_of(lake, versioned, "k") == ([(v1, False)], [("null", True)])
    with pytest.raises(NoSuchKey):
        lake.get_object(bucket=versioned, key="k")

    # re-enabling keeps the null marker; new writes get real ids again
    lake.put_bucket_versioning(bucket=versioned, versioning_configuration={"Status": "Enabled"})
    v3 = lake.put_object(bucket=versioned, key="k", body=b"three").version_id
    assert v3 not in ("null", v1)
    assert versions_of(lake, versioned, "k") == ([(v3, True), (v1, False)], [("null", False)])


def test_unversioned_buckets_report_the_null_version(lake: Any, bucket: str) -> None:
    put = lake.put_object(bucket=bucket, key="k", body=b"one")
    assert put.version_id == "null"
    assert lake.head_object(bucket=bucket, key="k").version_id == "null"
    assert lake.get_object(bucket=bucket, key="k").version_id == "null"
    assert lake.get_object_tagging(bucket=bucket, key="k").version_id == "null"
    assert read(lake, bucket, "k", version_id="null") == b"one"
    assert lake.put_object(bucket=bucket, key="k", body=b"two").version_id == "null"
    assert versions_of(lake, bucket, "k") == ([("null", True)], [])
    with pytest.raises(NoSuchVersion):
        lake.get_object(bucket=bucket, key="k", version_id="01JXXXXXXXXXXXXXXXXXXXXXXX")
    # an unversioned delete removes the object and leaves no marker
    deleted = lake.delete_object(bucket=bucket, key="k")
    assert deleted.delete_marker is False
    assert versions_of(lake, bucket, "k") == ([], [])


def test_an_object_written_before_versioning_becomes_the_null_version(lake: Any,
                                                                     bucket: str) -> None:
    lake.put_object(bucket=bucket, key="k", body=b"before")
    lake.put_bucket_versioning(bucket=bucket, versioning_configuration={"Status": "Enabled"})
    v2 = lake.put_object(bucket=bucket, key="k", body=b"after").version_id
    assert versions_of(lake, bucket, "k") == ([(v2, True), ("null", False)], [])
    assert read(lake, bucket, "k", version_id="null") == b"before"
    assert read(lake, bucket, "k") == b"after"


def test_versions_are_per_key(lake: Any, versioned: str) -> None:
    a1 = lake.put_object(bucket=versioned, key="a", body=b"a1").version_id
    b1 = lake.put_object(bucket=versioned, key="b", body=b"b1").version_id
    with pytest.raises(NoSuchVersion):  # a version id of another key does not resolve
        lake.get_object(bucket=versioned, key="a", version_id=b1)
    lake.delete_object(bucket=versioned, key="a", version_id=b1)  # names no version of "a"
    assert read(lake, versioned, "a", version_id=a1) == b"a1"
    assert read(lake, versioned, "b") == b"b1"


def check_version_listing_pagination(lake: Any) -> None:
    _enable(lake, "paged")
    expected: list[tuple[str, str]] = []
    for key in ("a", "b/x", "b/y", "c"):
        ids = [lake.put_object(bucket="paged", key=key, body=f"{key}{i}".encode()).version_id
               for i in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    marker = lake.delete_object(bucket="paged", key="c").version_id
    expected.insert(expected.index(("c", expected[-3][1])), ("c", marker))

    for max_keys in (1, 2, 4, 5, 13, 1000):
        seen: list[tuple[str, str]] = []
        key_marker = version_marker = None
        for _ in range(50):
            page = lake.list_object_versions(bucket="paged", max_keys=max_keys,
                                             key_marker=key_marker,
                                             version_id_marker=version_marker)
            listed = [(v.key, v.version_id) for v in page.versions + page.delete_markers]
            assert len(listed) <= max_keys
            seen += sorted(listed, key=expected.index)
            if not page.is_truncated:
                break
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
        assert seen == expected, f"max_keys={max_keys}"

    latest = {(v.key, v.version_id) for v in lake.list_object_versions(bucket="paged").versions
              if v.is_latest}
    assert latest == {("a", expected[0][1]), ("b/x", expected[3][1]), ("b/y", expected[6][1])}
    by_prefix = lake.list_object_versions(bucket="paged", prefix="b/")
    assert {v.key for v in by_prefix.versions} == {"b/x", "b/y"}
    folded = lake.list_object_versions(bucket="paged", delimiter="/")
    assert [p.prefix for p in folded.common_prefixes] == ["b/"]
    assert {v.key for v in folded.versions} == {"a", "c"}


def test_version_listing_pagination(client: Client) -> None:
    check_version_listing_pagination(client.lake)


def test_version_listing_pagination_on_each_db(db_client: Client) -> None:
    check_version_listing_pagination(db_client.lake)


def test_version_listing_pagination_with_a_delimiter(lake: Any, versioned: str) -> None:
    for key in ("a", "b/1", "b/2", "c", "d/1", "e"):
        lake.put_object(bucket=versioned, key=key, body=b"x")
        lake.put_object(bucket=versioned, key=key, body=b"y")
    seen: list[str] = []
    key_marker = version_marker = None
    for _ in range(50):
        page = lake.list_object_versions(bucket=versioned, delimiter="/", max_keys=2,
                                         key_marker=key_marker, version_id_marker=version_marker)
        seen += sorted([v.key for v in page.versions] + [p.prefix for p in page.common_prefixes])
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    assert seen == ["a", "a", "b/", "c", "c", "d/", "e", "e"]
