"""Objects: put, get, head, byte ranges, keys, tags, copy and delete, with S3's semantics."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.services.lake.errors import InvalidKey, InvalidRange, NoSuchBucket, NoSuchKey

from .support import etag_of, keys, read

# -- put / get / head ----------------------------------------------------------


def test_put_then_get_and_head_report_etag_size_type_and_metadata(
    lake: Any, bucket: str, clock: Any
) -> None:
    data = b"id,amount\n1,9.5\n2,3.25\n"
    put = lake.put_object(bucket=bucket, key="sales/2024.csv", body=data,
                          metadata={"Owner": "ml-team", "source": "crm"})
    assert put.etag == etag_of(data) == f'"{hashlib.md5(data).hexdigest()}"'
    assert put.size == len(data)

    head = lake.head_object(bucket=bucket, key="sales/2024.csv")
    assert head.key == "sales/2024.csv"
    assert head.etag == put.etag
    assert head.content_length == len(data)
    assert head.content_type == "text/csv"
    assert head.metadata == {"owner": "ml-team", "source": "crm"}  # S3 lowercases the names
    assert head.storage_class == "STANDARD"
    assert head.last_modified == clock.now()
    assert head.tag_count == 0
    assert head.restore is None

    got = lake.get_object(bucket=bucket, key="sales/2024.csv")
    with got.body as body:
        assert body.read() == data
    assert got.etag == put.etag
    assert got.content_length == len(data)
    assert got.content_type == "text/csv"
    assert got.metadata == head.metadata
    assert got.content_range is None
    assert got.accept_ranges == "bytes"


def test_content_type_is_guessed_from_the_key(lake: Any, bucket: str) -> None:
    guesses = {"table.csv": "text/csv", "rows.json": "application/json", "page.html": "text/html",
               "model.weights-no-extension": "binary/octet-stream"}
    for key in guesses:
        lake.put_object(bucket=bucket, key=key, body=b"x")
    found = {key: lake.head_object(bucket=bucket, key=key).content_type for key in guesses}
    assert found == guesses


def test_given_content_type_wins_over_the_guess(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="data.csv", body=b"x", content_type="application/x-parquet")
    assert lake.head_object(bucket=bucket, key="data.csv").content_type == "application/x-parquet"


def test_empty_object(lake: Any, bucket: str) -> None:
    put = lake.put_object(bucket=bucket, key="empty")
    assert put.size == 0
    assert put.etag == etag_of(b"")
    assert read(lake, bucket, "empty") == b""


def test_a_str_body_is_rejected_and_nothing_is_stored(lake: Any, bucket: str) -> None:
    with pytest.raises(InvalidArgument, match="encode it"):
        lake.put_object(bucket=bucket, key="text.txt", body="not bytes")
    with pytest.raises(NoSuchKey):
        lake.head_object(bucket=bucket, key="text.txt")


def test_user_metadata_is_limited_to_2_kib(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="ok", body=b"x", metadata={"k": "v" * 2000})
    with pytest.raises(InvalidArgument, match="2048"):
        lake.put_object(bucket=bucket, key="too-much", body=b"x", metadata={"k": "v" * 2048})


def test_put_overwrites_the_object_in_an_unversioned_bucket(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="k.txt", body=b"first", metadata={"v": "1"})
    second = lake.put_object(bucket=bucket, key="k.txt", body=b"second!")
    assert read(lake, bucket, "k.txt") == b"second!"
    head = lake.head_object(bucket=bucket, key="k.txt")
    assert (head.etag, head.content_length, head.metadata) == (second.etag, 7, {})
    assert len(lake.list_object_versions(bucket=bucket).versions) == 1


def test_tags_round_trip_and_count(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="t", body=b"x",
                    tagging="team=ml&stage=raw%20data&empty=")
    assert lake.head_object(bucket=bucket, key="t").tag_count == 3
    tags = lake.get_object_tagging(bucket=bucket, key="t").tag_set
    assert [(t.key, t.value) for t in tags] == [
        ("empty", ""), ("stage", "raw data"), ("team", "ml")]

    lake.put_object_tagging(bucket=bucket, key="t",
                            tagging={"TagSet": [{"Key": "stage", "Value": "clean"}]})
    tags = lake.get_object_tagging(bucket=bucket, key="t").tag_set
    assert [(t.key, t.value) for t in tags] == [("stage", "clean")]
    assert lake.get_object(bucket=bucket, key="t").tag_count == 1

    lake.delete_object_tagging(bucket=bucket, key="t")
    assert lake.get_object_tagging(bucket=bucket, key="t").tag_set == []
    assert lake.head_object(bucket=bucket, key="t").tag_count == 0
    assert read(lake, bucket, "t") == b"x"  # tagging does not touch the bytes


def test_more_than_ten_tags_are_rejected(lake: Any, bucket: str) -> None:
    tagging = "&".join(f"k{i}=v" for i in range(11))
    with pytest.raises(InvalidArgument, match="at most 10 tags"):
        lake.put_object(bucket=bucket, key="t", body=b"x", tagging=tagging)
    with pytest.raises(NoSuchKey):
        lake.head_object(bucket=bucket, key="t")


# -- byte ranges -----------------------------------------------------------------

BODY20 = b"0123456789abcdefghij"


RANGES = [
    ("bytes=0-9", b"0123456789", "bytes 0-9/20"),
    ("bytes=5-", b"56789abcdefghij", "bytes 5-19/20"),
    ("bytes=-3", b"hij", "bytes 17-19/20"),
    ("bytes=19-19", b"j", "bytes 19-19/20"),
    ("bytes=15-1000", b"fghij", "bytes 15-19/20"),
    ("bytes=-100", BODY20, "bytes 0-19/20"),
]


def test_byte_ranges(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="r.bin", body=BODY20)
    for header, expected, content_range in RANGES:
        got = lake.get_object(bucket=bucket, key="r.bin", range=header)
        with got.body as body:
            assert body.read() == expected, header
        assert got.content_range == content_range, header
        assert got.content_length == len(expected), header
        assert got.etag == etag_of(BODY20), header  # the ETag is the whole object's


def test_invalid_ranges_are_invalid_range(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="r.bin", body=BODY20)
    for header in ("bytes=20-", "bytes=25-30", "bytes=9-3", "bytes=-0", "bytes=-", "bytes=a-b",
                   "items=0-1", "0-9"):
        with pytest.raises(InvalidRange) as caught:
            lake.get_object(bucket=bucket, key="r.bin", range=header)
        assert caught.value.code == "InvalidRange"
        assert header in caught.value.message


def test_no_range_of_an_empty_object_is_satisfiable(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="empty", body=b"")
    for header in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        with pytest.raises(InvalidRange):
            lake.get_object(bucket=bucket, key="empty", range=header)


def test_a_range_body_is_seekable_within_the_range(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="r.bin", body=BODY20)
    got = lake.get_object(bucket=bucket, key="r.bin", range="bytes=10-14")
    with got.body as body:
        assert body.read(2) == b"ab"
        body.seek(0)
        assert body.read() == b"abcde"
        assert body.read() == b""


def test_a_20_mib_body_from_a_file_object_round_trips(lake: Any, bucket: str,
                                                     tmp_path: Path) -> None:
    data = random.Random(20).randbytes(20 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    with source.open("rb") as handle:
        put = lake.put_object(bucket=bucket, key="big/blob.bin", body=handle)
    assert put.etag == etag_of(data)
    assert put.size == len(data)
    got = lake.get_object(bucket=bucket, key="big/blob.bin")
    digest = hashlib.md5()
    with got.body as body:
        for chunk in body.iter_chunks(4 * 1024 * 1024):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.md5(data).hexdigest()
    tail = read(lake, bucket, "big/blob.bin", range="bytes=-1000")
    assert tail == data[-1000:]


# -- keys --------------------------------------------------------------------------


def test_missing_key_is_no_such_key(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="present", body=b"x")
    for call in (lake.get_object, lake.head_object, lake.get_object_tagging):
        with pytest.raises(NoSuchKey) as caught:
            call(bucket=bucket, key="absent")
        assert caught.value.code == "NoSuchKey"
        assert "'absent'" in caught.value.message
        assert repr(bucket) in caught.value.message


def test_keys_with_dot_segments_are_invalid(lake: Any, bucket: str) -> None:
    for key in ("../escape", "a/../b", "a/./b", "./a", "a/..", "a/.", ".", ".."):
        with pytest.raises(InvalidKey) as caught:
            lake.put_object(bucket=bucket, key=key, body=b"x")
        assert isinstance(caught.value, InvalidArgument)
        assert caught.value.code == "InvalidKey"
        assert "segment" in caught.value.message
        assert repr(key) in caught.value.message
        with pytest.raises(InvalidKey):
            lake.get_object(bucket=bucket, key=key)
    assert lake.list_objects_v2(bucket=bucket).key_count == 0


def test_empty_and_nul_keys_are_invalid(lake: Any, bucket: str) -> None:
    for key in ("", "a\x00b"):
        with pytest.raises(InvalidKey):
            lake.put_object(bucket=bucket, key=key, body=b"x")


def test_keys_are_limited_to_1024_utf8_bytes(lake: Any, bucket: str) -> None:
    longest = "é" * 512  # 1,024 bytes in UTF-8, 512 characters
    lake.put_object(bucket=bucket, key=longest, body=b"x")
    assert read(lake, bucket, longest) == b"x"
    with pytest.raises(InvalidKey) as caught:
        lake.put_object(bucket=bucket, key="é" * 512 + "a", body=b"x")
    assert caught.value.code == "KeyTooLongError"
    assert "1025 bytes" in caught.value.message


UNUSUAL_KEYS = [
    "données/été 2024.csv",
    "数据/文件.txt",
    "emoji/😀.bin",
    "spaces and+plus%20percent?.txt",
    "a..b/...",
    ".hidden",
    "dir//double-slash",
    "trailing/",
]


def test_unicode_and_unusual_keys_round_trip(lake: Any, bucket: str) -> None:
    for i, key in enumerate(UNUSUAL_KEYS):
        lake.put_object(bucket=bucket, key=key, body=str(i).encode())
    for i, key in enumerate(UNUSUAL_KEYS):
        assert read(lake, bucket, key) == str(i).encode()
        assert lake.head_object(bucket=bucket, key=key).key == key
    assert keys(lake, bucket) == sorted(UNUSUAL_KEYS)


# -- delete --------------------------------------------------------------------------


def test_delete_object_removes_it_and_deleting_a_missing_key_succeeds(lake: Any,
                                                                      bucket: str) -> None:
    lake.put_object(bucket=bucket, key="gone", body=b"x")
    response = lake.delete_object(bucket=bucket, key="gone")
    assert response.delete_marker is False
    with pytest.raises(NoSuchKey):
        lake.get_object(bucket=bucket, key="gone")
    assert lake.list_object_versions(bucket=bucket).versions == []
    lake.delete_object(bucket=bucket, key="never-existed")  # S3 answers 204 here too


def test_delete_objects_reports_each_key(lake: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        lake.put_object(bucket=bucket, key=key, body=key.encode())
    result = lake.delete_objects(bucket=bucket, delete={"Objects": [
        {"Key": "a"}, {"Key": "b"}, {"Key": "missing"}, {"Key": "bad/../key"},
    ]})
    assert sorted(d.key for d in result.deleted) == ["a", "b", "missing"]
    assert all(d.delete_marker is False for d in result.deleted)
    assert [(e.key, e.code) for e in result.errors] == [("bad/../key", "InvalidKey")]
    assert keys(lake, bucket) == ["c"]


def test_delete_objects_quiet_lists_only_errors(lake: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        lake.put_object(bucket=bucket, key=key, body=b"x")
    result = lake.delete_objects(bucket=bucket, delete={"Objects": [{"Key": "a"}, {"Key": "c"}],
                                                        "Quiet": True})
    assert result.deleted == []
    assert result.errors == []
    assert keys(lake, bucket) == ["b"]


def test_delete_objects_in_a_versioned_bucket_adds_markers(lake: Any, versioned: str) -> None:
    v1 = lake.put_object(bucket=versioned, key="a", body=b"1").version_id
    lake.put_object(bucket=versioned, key="b", body=b"2")
    result = lake.delete_objects(bucket=versioned, delete={"Objects": [
        {"Key": "a"}, {"Key": "b"},
    ]})
    by_key = {d.key: d for d in result.deleted}
    assert by_key["a"].delete_marker and by_key["b"].delete_marker
    markers = {m.key: m.version_id for m in lake.list_object_versions(bucket=versioned).delete_markers}
    assert by_key["a"].delete_marker_version_id == markers["a"]
    assert keys(lake, versioned) == []
    assert read(lake, versioned, "a", version_id=v1) == b"1"
    # a version id deletes that version for good, with no new marker
    result = lake.delete_objects(bucket=versioned, delete={"Objects": [{"Key": "a", "VersionId": v1}]})
    assert [(d.key, d.version_id, d.delete_marker) for d in result.deleted] == [("a", v1, False)]
    assert [v.key for v in lake.list_object_versions(bucket=versioned).versions] == ["b"]


# -- copy --------------------------------------------------------------------------


def test_copy_object_copies_bytes_metadata_and_tags(lake: Any, bucket: str) -> None:
    lake.create_bucket(bucket="other-bucket")
    data = b"some,csv\n"
    lake.put_object(bucket=bucket, key="src.csv", body=data, metadata={"a": "1"}, tagging="t=v")
    copied = lake.copy_object(bucket="other-bucket", key="copies/dst.bin",
                              copy_source=f"{bucket}/src.csv")
    assert copied.etag == etag_of(data)
    head = lake.head_object(bucket="other-bucket", key="copies/dst.bin")
    assert head.metadata == {"a": "1"}
    assert head.content_type == "text/csv"  # COPY keeps the source's type, not a guess
    assert head.tag_count == 1
    assert head.etag == etag_of(data)
    assert read(lake, "other-bucket", "copies/dst.bin") == data


def test_copy_with_replace_takes_the_new_metadata(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="src.csv", body=b"x", metadata={"a": "1", "b": "2"},
                    tagging="t=v")
    lake.copy_object(bucket=bucket, key="dst.json", copy_source=f"{bucket}/src.csv",
                     metadata_directive="REPLACE", metadata={"c": "3"},
                     tagging_directive="REPLACE", tagging="n=m&o=p")
    head = lake.head_object(bucket=bucket, key="dst.json")
    assert head.metadata == {"c": "3"}
    assert head.content_type == "application/json"
    assert head.tag_count == 2
    lake.copy_object(bucket=bucket, key="dst2", copy_source=f"{bucket}/src.csv",
                     metadata_directive="REPLACE", content_type="text/plain")
    head = lake.head_object(bucket=bucket, key="dst2")
    assert (head.metadata, head.content_type) == ({}, "text/plain")


def test_a_copy_is_independent_of_its_source(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="src", body=b"original")
    lake.copy_object(bucket=bucket, key="dst", copy_source=f"{bucket}/src")
    lake.put_object(bucket=bucket, key="src", body=b"overwritten")
    assert read(lake, bucket, "dst") == b"original"
    lake.delete_object(bucket=bucket, key="src")
    assert read(lake, bucket, "dst") == b"original"


def test_copy_of_a_specific_version(lake: Any, versioned: str) -> None:
    v1 = lake.put_object(bucket=versioned, key="src", body=b"version one").version_id
    lake.put_object(bucket=versioned, key="src", body=b"version two")
    copied = lake.copy_object(bucket=versioned, key="dst",
                              copy_source=f"{versioned}/src?versionId={v1}")
    assert copied.copy_source_version_id == v1
    assert copied.etag == etag_of(b"version one")
    assert copied.version_id not in (None, "null", v1)
    assert read(lake, versioned, "dst") == b"version one"
    assert read(lake, versioned, "src") == b"version two"


def test_copy_source_with_url_encoded_key(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="dir/été data.csv", body=b"x")
    lake.copy_object(bucket=bucket, key="copy.csv",
                     copy_source=f"/{bucket}/dir/%C3%A9t%C3%A9%20data.csv")
    assert read(lake, bucket, "copy.csv") == b"x"


def test_copy_onto_itself_needs_a_change(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="same.txt", body=b"x", metadata={"a": "1"})
    with pytest.raises(InvalidArgument) as caught:
        lake.copy_object(bucket=bucket, key="same.txt", copy_source=f"{bucket}/same.txt")
    assert "REPLACE" in caught.value.message
    lake.copy_object(bucket=bucket, key="same.txt", copy_source=f"{bucket}/same.txt",
                     metadata_directive="REPLACE", metadata={"a": "2"})
    head = lake.head_object(bucket=bucket, key="same.txt")
    assert head.metadata == {"a": "2"}
    assert read(lake, bucket, "same.txt") == b"x"


def test_copy_errors(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="src", body=b"x")
    with pytest.raises(NoSuchKey):
        lake.copy_object(bucket=bucket, key="dst", copy_source=f"{bucket}/absent")
    with pytest.raises(NoSuchBucket):
        lake.copy_object(bucket="no-such-target", key="dst", copy_source=f"{bucket}/src")
    with pytest.raises(InvalidArgument, match="bucket/key"):
        lake.copy_object(bucket=bucket, key="dst", copy_source="just-a-bucket")
    with pytest.raises(InvalidKey):
        lake.copy_object(bucket=bucket, key="dst", copy_source=f"{bucket}/a/../src")
    assert keys(lake, bucket) == ["src"]


# -- many reads in one step (the query engine's files) ------------------------------------------


def test_readable_paths_authorizes_and_audits_each_object_in_one_step(client: Any, lake: Any, bucket: str) -> None:
    from crispml.services.lake.errors import InvalidObjectState

    lake.put_object(bucket=bucket, key="t/a.csv", body=b"a\n1\n")
    lake.put_object(bucket=bucket, key="t/old.csv", body=b"a\n2\n", storage_class="GLACIER")
    service = client.platform.service("lake")
    found = service.readable_paths(client.context(), [(bucket, "t/a.csv"), (bucket, "t/gone.csv"),
                                                      (bucket, "t/old.csv"), ("Bad_Bucket", "x")])
    local, gone, archived, invalid = found
    if client.settings.lake_url.startswith("file"):
        assert Path(str(local)).read_bytes() == b"a\n1\n"  # the real file behind the object
    else:
        assert local is None  # an s3:// lake has no local file to hand out
    assert isinstance(gone, NoSuchKey) and isinstance(archived, InvalidObjectState)
    assert isinstance(invalid, InvalidArgument)
    reads = client.audit.list_events(action="lake:GetObject", max_results=10).events
    outcomes = sorted((e.resource.rsplit("/", 1)[-1], e.outcome) for e in reads)
    assert outcomes == [("a.csv", "Success"), ("crn:crispml:lake:::*", "Failure"),  # the invalid bucket name
                        ("gone.csv", "Failure"), ("old.csv", "Failure")]
    assert len({e.request_id for e in reads}) == 1  # one step, one request
