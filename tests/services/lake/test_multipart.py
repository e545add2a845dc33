"""Multipart uploads: S3's part rules and ETag, abort, listings, and invisibility until done."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from crispml.services.lake.errors import InvalidPart, NoSuchKey, NoSuchUpload

from .support import etag_of, keys, read

MIB = 1024 * 1024


def _multipart_etag(*parts: bytes) -> str:
    """S3's ETag of a multipart object: MD5 of the parts' binary MD5s, then '-<count>'."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_two_parts_complete_into_their_concatenation(lake: Any, bucket: str) -> None:
    first = random.Random(1).randbytes(5 * MIB)  # every part but the last: at least 5 MiB
    last = b"the short last part"
    key = "models/weights.bin"
    created = lake.create_multipart_upload(bucket=bucket, key=key, metadata={"Run": "7"},
                                           tagging="stage=train", content_type="application/x-npy")
    upload = created.upload_id
    assert (created.bucket, created.key) == (bucket, key)
    # part numbers need not be contiguous
    e1 = lake.upload_part(bucket=bucket, key=key, upload_id=upload, part_number=1, body=first).etag
    e3 = lake.upload_part(bucket=bucket, key=key, upload_id=upload, part_number=3, body=last).etag
    assert (e1, e3) == (etag_of(first), etag_of(last))

    parts = lake.list_parts(bucket=bucket, key=key, upload_id=upload).parts
    assert [(p.part_number, p.etag, p.size) for p in parts] == [(1, e1, 5 * MIB),
                                                                 (3, e3, len(last))]
    # nothing is visible under the key before completion
    with pytest.raises(NoSuchKey):
        lake.head_object(bucket=bucket, key=key)
    assert keys(lake, bucket) == []

    done = lake.complete_multipart_upload(bucket=bucket, key=key, upload_id=upload,
                                          multipart_upload={"Parts": [
                                              {"PartNumber": 1, "ETag": e1},
                                              {"PartNumber": 3, "ETag": e3}]})
    assert done.etag == _multipart_etag(first, last)
    assert done.etag.endswith('-2"')
    assert done.etag != etag_of(first + last)
    assert read(lake, bucket, key) == first + last
    assert read(lake, bucket, key, range=f"bytes={5 * MIB - 2}-{5 * MIB + 2}") == first[-2:] + b"the"

    head = lake.head_object(bucket=bucket, key=key)
    assert head.etag == done.etag
    assert head.content_length == 5 * MIB + len(last)
    assert head.parts_count == 2
    assert (head.metadata, head.content_type, head.tag_count) == (
        {"run": "7"}, "application/x-npy", 1)
    assert [o.etag for o in lake.list_objects_v2(bucket=bucket).contents] == [done.etag]
    # the upload is finished: it is neither listed nor usable any more
    assert lake.list_multipart_uploads(bucket=bucket).uploads == []
    with pytest.raises(NoSuchUpload):
        lake.list_parts(bucket=bucket, key=key, upload_id=upload)
    with pytest.raises(NoSuchUpload):
        lake.complete_multipart_upload(bucket=bucket, key=key, upload_id=upload,
                                       multipart_upload={"Parts": [{"PartNumber": 1, "ETag": e1}]})


def test_a_single_small_part_is_allowed(lake: Any, versioned: str) -> None:
    upload = lake.create_multipart_upload(bucket=versioned, key="small.csv").upload_id
    etag = lake.upload_part(bucket=versioned, key="small.csv", upload_id=upload, part_number=1,
                            body=b"a,b\n").etag
    done = lake.complete_multipart_upload(bucket=versioned, key="small.csv", upload_id=upload,
                                          multipart_upload={"Parts": [
                                              {"PartNumber": 1, "ETag": etag}]})
    assert done.etag == _multipart_etag(b"a,b\n")
    assert done.version_id not in (None, "null")
    head = lake.head_object(bucket=versioned, key="small.csv")
    assert (head.version_id, head.content_type, head.parts_count) == (done.version_id, "text/csv", 1)


def _upload(lake: Any, bucket: str, key: str, *bodies: bytes) -> tuple[str, list[str]]:
    upload = lake.create_multipart_upload(bucket=bucket, key=key).upload_id
    etags = [lake.upload_part(bucket=bucket, key=key, upload_id=upload, part_number=n,
                              body=body).etag for n, body in enumerate(bodies, start=1)]
    return upload, etags


def _complete(lake: Any, bucket: str, key: str, upload: str,
              parts: list[tuple[int, str]]) -> Any:
    return lake.complete_multipart_upload(
        bucket=bucket, key=key, upload_id=upload,
        multipart_upload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})


def test_a_too_small_part_before_the_last_is_invalid_part(lake: Any, bucket: str) -> None:
    upload, (e1, e2) = _upload(lake, bucket, "k", b"tiny", b"last")
    with pytest.raises(InvalidPart) as caught:
        _complete(lake, bucket, "k", upload, [(1, e1), (2, e2)])
    assert caught.value.code == "InvalidPart"
    assert "part 1" in caught.value.message
    assert "5242880" in caught.value.message
    # the upload is still open and nothing became visible
    assert [u.upload_id for u in lake.list_multipart_uploads(bucket=bucket).uploads] == [upload]
    assert keys(lake, bucket) == []


def test_wrong_missing_or_unordered_parts_are_invalid_part(lake: Any, bucket: str) -> None:
    upload, (e1,) = _upload(lake, bucket, "k", b"only part")
    for parts in ([(1, etag_of(b"something else"))],  # wrong ETag
                  [(2, e1)],  # never uploaded
                  [(1, e1), (1, e1)]):  # listed twice
        with pytest.raises(InvalidPart):
            _complete(lake, bucket, "k", upload, parts)
    with pytest.raises(InvalidPart, match="ascending"):
        _complete(lake, bucket, "k", upload, [(2, e1), (1, e1)])
    assert keys(lake, bucket) == []
    done = _complete(lake, bucket, "k", upload, [(1, e1.strip('"'))])  # quotes are optional
    assert read(lake, bucket, "k") == b"only part"
    assert done.etag == _multipart_etag(b"only part")


def test_uploading_a_part_again_replaces_it(lake: Any, bucket: str) -> None:
    upload, (old,) = _upload(lake, bucket, "k", b"first try")
    new = lake.upload_part(bucket=bucket, key="k", upload_id=upload, part_number=1,
                           body=b"second try").etag
    parts = lake.list_parts(bucket=bucket, key="k", upload_id=upload).parts
    assert [(p.part_number, p.etag) for p in parts] == [(1, new)]
    with pytest.raises(InvalidPart):
        _complete(lake, bucket, "k", upload, [(1, old)])
    _complete(lake, bucket, "k", upload, [(1, new)])
    assert read(lake, bucket, "k") == b"second try"


def test_abort_removes_the_upload(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="k", body=b"existing")
    upload, (e1,) = _upload(lake, bucket, "k", b"never seen")
    lake.abort_multipart_upload(bucket=bucket, key="k", upload_id=upload)
    assert lake.list_multipart_uploads(bucket=bucket).uploads == []
    with pytest.raises(NoSuchUpload):
        lake.upload_part(bucket=bucket, key="k", upload_id=upload, part_number=2, body=b"x")
    with pytest.raises(NoSuchUpload):
        _complete(lake, bucket, "k", upload, [(1, e1)])
    with pytest.raises(NoSuchUpload):
        lake.abort_multipart_upload(bucket=bucket, key="k", upload_id=upload)
    assert read(lake, bucket, "k") == b"existing"  # the object under the key is untouched
    lake.delete_object(bucket=bucket, key="k")
    lake.delete_bucket(bucket=bucket)  # and no parts are left behind


def test_an_upload_id_belongs_to_its_bucket_and_key(lake: Any, bucket: str) -> None:
    upload = lake.create_multipart_upload(bucket=bucket, key="right").upload_id
    with pytest.raises(NoSuchUpload) as caught:
        lake.upload_part(bucket=bucket, key="wrong", upload_id=upload, part_number=1, body=b"x")
    assert upload in caught.value.message
    with pytest.raises(NoSuchUpload):
        lake.list_parts(bucket=bucket, key="right", upload_id="no-such-upload")


def test_list_multipart_uploads(lake: Any, bucket: str, clock: Any) -> None:
    first = lake.create_multipart_upload(bucket=bucket, key="b/data",
                                         storage_class="GLACIER").upload_id
    clock.advance(seconds=1)
    second = lake.create_multipart_upload(bucket=bucket, key="b/data").upload_id
    third = lake.create_multipart_upload(bucket=bucket, key="a/data").upload_id
    listed = lake.list_multipart_uploads(bucket=bucket).uploads
    assert [(u.key, u.upload_id) for u in listed] == [("a/data", third), ("b/data", first),
                                                      ("b/data", second)]
    assert listed[1].storage_class == "GLACIER"
    assert listed[1].initiated < listed[2].initiated
    assert [u.upload_id for u in lake.list_multipart_uploads(bucket=bucket, prefix="b/").uploads] \
        == [first, second]
    assert lake.list_parts(bucket=bucket, key="a/data", upload_id=third).parts == []


def test_two_uploads_of_one_key_are_independent(lake: Any, bucket: str) -> None:
    one, (e1,) = _upload(lake, bucket, "k", b"from upload one")
    two, (e2,) = _upload(lake, bucket, "k", b"from upload two")
    _complete(lake, bucket, "k", two, [(1, e2)])
    assert read(lake, bucket, "k") == b"from upload two"
    _complete(lake, bucket, "k", one, [(1, e1)])  # the later completion wins
    assert read(lake, bucket, "k") == b"from upload one"
    assert lake.list_multipart_uploads(bucket=bucket).uploads == []


def test_upload_prefixes_are_literal_not_patterns(lake: Any, bucket: str) -> None:
    for key in ("a_b", "axb", "a%c"):
        lake.create_multipart_upload(bucket=bucket, key=key)
    assert [u.key for u in lake.list_multipart_uploads(bucket=bucket, prefix="a_").uploads] \
        == ["a_b"]
    assert [u.key for u in lake.list_multipart_uploads(bucket=bucket, prefix="a%").uploads] \
        == ["a%c"]
