"""One contract suite for every blob store (file, memory, S3 on a real moto server).

Each test in the first part runs once per backend and checks what the lake
relies on: correct size and MD5 from any source shape, whole and ranged reads,
seekable readers, listing, copies, and atomic writes (an interrupted write
leaves nothing visible). The later parts check what only one backend has: S3
error translation against a closed port and a missing bucket, and the local
store's temporary folder.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crispml.core.config import load_settings
from crispml.core.errors import InvalidArgument, Unavailable
from crispml.core.storage.base import CHUNK_SIZE, BlobStore, open_blob_store
from tests.fixtures.servers import S3Lake, free_port, s3_client

MiB = 1024 * 1024


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Boom(Exception):
    """Raised by a source on purpose, to interrupt a write."""


def failing_source(chunks: list[bytes], error: Exception) -> Iterator[bytes]:
    yield from chunks
    raise error


@pytest.fixture(
    params=[
        "file",
        "memory",
        pytest.param("s3", marks=pytest.mark.s3),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A fresh, empty blob store of each backend."""
    kwargs: dict[str, Any] = {}
    if request.param == "file":
        url = f"file://{tmp_path / 'lake'}"
    elif request.param == "memory":
        url = f"memory://test-{uuid.uuid4().hex}"
    else:
        lake: S3Lake = request.getfixturevalue("s3_lake_url")
        url, kwargs = lake.url, lake.kwargs
    settings = load_settings(environ={}, home=tmp_path, lake_url=url, **kwargs)
    opened = open_blob_store(settings.lake_url, settings)
    if request.param == "s3":
        # the smallest part S3 allows, so that test-sized blobs take the multipart path
        opened.part_size = 5 * MiB  # type: ignore[attr-defined]
    return opened


def reopen(store: BlobStore) -> BlobStore:
    """A second store on the same URL and settings, as another part of the program would open."""
    return open_blob_store(store.url, store.settings)


# -- the contract, on every backend -------------------------------------------------


@pytest.mark.parametrize("shape", ["bytes", "bytearray", "memoryview", "bytesio", "file", "chunks"])
def test_write_from_any_source_returns_size_and_md5(
    store: BlobStore, shape: str, tmp_path: Path
) -> None:
    data = payload(300_001, seed=1)
    source: Any
    if shape == "bytes":
        source = data
    elif shape == "bytearray":
        source = bytearray(data)
    elif shape == "memoryview":
        source = memoryview(data)
    elif shape == "bytesio":
        source = io.BytesIO(data)
    elif shape == "file":
        path = tmp_path / "source.bin"
        path.write_bytes(data)
        source = path.open("rb")
    else:  # uneven chunks, with an empty one in the middle
        source = iter([data[:1], data[1:1000], b"", data[1000:]])

    info = store.write("dir/blob.bin", source)

    assert info.size == len(data)
    assert info.md5 == md5(data)
    assert store.read_bytes("dir/blob.bin") == data
    assert store.size("dir/blob.bin") == len(data)


def test_empty_blob(store: BlobStore) -> None:
    info = store.write("empty", b"")
    assert (info.size, info.md5) == (0, md5(b""))
    assert store.exists("empty")
    assert store.size("empty") == 0
    assert store.read_bytes("empty") == b""


def test_overwrite_replaces_the_bytes(store: BlobStore) -> None:
    store.write("k", b"old bytes, longer than the new")
    store.write("k", b"new")
    assert store.read_bytes("k") == b"new"
    assert store.size("k") == 3


def test_text_source_is_rejected_and_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(InvalidArgument, match="bytes"):
        store.write("k", "some text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="'rb'"):
        store.write("k", io.StringIO("some text"))  # type: ignore[arg-type]
    assert not store.exists("k")
    assert list(store.list()) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, 10),
        (5, 17),
        (1000, 1001),
        (4000, None),
        (3999, 4000),
        (100, 5000),
        (4000, 4100),
        (9000, None),
        (7, 7),
        (50, 20),
    ],
)
def test_read_byte_ranges(store: BlobStore, start: int, end: int | None) -> None:
    data = payload(4000, seed=2)
    store.write("ranges", data)
    expected = data[start:] if end is None else data[start:end]
    assert store.read_bytes("ranges", start, end) == expected


def test_open_is_seekable(store: BlobStore) -> None:
    data = payload(100_000, seed=3)
    store.write("seek", data)
    with store.open("seek") as handle:
        assert handle.seekable()
        handle.seek(40_000)
        assert handle.tell() == 40_000
        assert handle.read(10) == data[40_000:40_010]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == data[-5:]
        handle.seek(0)
        handle.seek(123, io.SEEK_CUR)
        assert handle.read(7) == data[123:130]
        handle.seek(0)
        assert handle.read() == data


def test_size_exists_delete(store: BlobStore) -> None:
    store.write("a/b", b"12345")
    assert store.exists("a/b")
    assert store.size("a/b") == 5
    assert not store.exists("a")  # a prefix of other keys is not a blob
    assert not store.exists("a/c")

    store.delete("a/b")
    assert not store.exists("a/b")
    store.delete("a/b")  # deleting a missing blob is not an error
    store.delete("never/written")
    assert list(store.list()) == []


def test_missing_key_raises_key_error(store: BlobStore) -> None:
    store.write("present", b"x")
    for read in (store.open, store.size, store.read_bytes):
        with pytest.raises(KeyError):
            read("absent")
    with pytest.raises(KeyError):
        store.read_bytes("absent", 2, 5)
    with pytest.raises(KeyError):
        store.copy("absent", "target")
    assert not store.exists("target")


def test_prefix_of_keys_is_not_a_blob(store: BlobStore) -> None:
    store.write("folder/blob", b"x")
    with pytest.raises(KeyError):
        store.open("folder")
    with pytest.raises(KeyError):
        store.size("folder")


def test_copy(store: BlobStore) -> None:
    data = payload(70_000, seed=4)
    store.write("src/one", data)
    store.write("dst/two", b"to be replaced")

    store.copy("src/one", "dst/new")
    store.copy("src/one", "dst/two")

    assert store.read_bytes("dst/new") == data
    assert store.read_bytes("dst/two") == data
    assert store.read_bytes("src/one") == data  # the source stays
    store.delete("src/one")
    assert store.read_bytes("dst/new") == data  # a copy, not a link


def test_list_yields_exactly_the_written_keys(store: BlobStore) -> None:
    keys = ["a/1", "a/2", "a/b/3", "ab", "b/1", "top"]
    for key in keys:
        store.write(key, key.encode())

    assert sorted(store.list()) == keys
    assert sorted(store.list("")) == keys
    assert sorted(store.list("a/")) == ["a/1", "a/2", "a/b/3"]
    assert sorted(store.list("a")) == ["a/1", "a/2", "a/b/3", "ab"]
    assert sorted(store.list("a/b/")) == ["a/b/3"]
    assert list(store.list("zzz")) == []

    store.delete("a/2")
    assert sorted(store.list("a/")) == ["a/1", "a/b/3"]


def test_interrupted_write_leaves_no_blob(store: BlobStore) -> None:
    store.write("keep", b"kept")
    store.write("old", b"the previous version")
    boom = Boom("the source failed halfway")
    # three 6 MiB chunks: on S3 (5 MiB parts) two parts are uploaded before the failure
    chunks = [payload(6 * MiB, seed=seed) for seed in range(3)]

    with pytest.raises(Boom) as raised:
        store.write("new/blob", failing_source(chunks, boom))
    with pytest.raises(Boom):
        store.write("old", failing_source(chunks, Boom("again")))

    assert raised.value is boom  # the source's own error, untranslated
    assert not store.exists("new/blob")
    assert sorted(store.list()) == ["keep", "old"]
    assert store.read_bytes("old") == b"the previous version"
    assert not reopen(store).exists("new/blob")


def test_large_write_round_trips(store: BlobStore) -> None:
    data = payload(20 * MiB + 12_345, seed=5)
    assert len(data) > 2 * CHUNK_SIZE

    info = store.write("big", (data[i : i + MiB] for i in range(0, len(data), MiB)))

    assert (info.size, info.md5) == (len(data), md5(data))
    assert store.size("big") == len(data)
    assert md5(store.read_bytes("big")) == md5(data)
    with store.open("big") as handle:
        assert md5(handle.read()) == md5(data)
        handle.seek(len(data) - 100)
        assert handle.read() == data[-100:]
    assert store.read_bytes("big", 9 * MiB - 3, 9 * MiB + 5) == data[9 * MiB - 3 : 9 * MiB + 5]
    store.delete("big")


def test_another_store_on_the_same_url_sees_the_blobs(store: BlobStore) -> None:
    store.write("shared", b"seen by both")
    other = reopen(store)
    assert other.read_bytes("shared") == b"seen by both"
    other.delete("shared")
    assert not store.exists("shared")


@pytest.mark.parametrize("key", ["", "/abs", "../up", "a/../b", "a//b"])
def test_keys_must_be_plain_relative(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidArgument, match="plain relative key"):
        store.write(key, b"x")


def test_check_passes(store: BlobStore) -> None:
    store.check()


# -- S3 only -------------------------------------------------------------------------

SECRET = "sekret-never-in-messages"


def s3_store(tmp_path: Path, url: str, **overrides: Any) -> BlobStore:
    kwargs: dict[str, Any] = {
        "s3_access_key_id": "testing",
        "s3_secret_access_key": SECRET,
        "s3_region": "us-east-1",
        **overrides,
    }
    settings = load_settings(environ={}, home=tmp_path, lake_url=url, **kwargs)
    return open_blob_store(settings.lake_url, settings)


@pytest.mark.s3
@pytest.mark.timeout(30)  # a hang guard: with default retries this would take minutes
def test_s3_unreachable_endpoint_is_unavailable(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = s3_store(tmp_path, "s3://bucket/lake", s3_endpoint_url=endpoint)

    calls: dict[str, Callable[[], object]] = {
        "check": store.check,
        "write": lambda: store.write("k", b"data"),
        "open": lambda: store.open("k"),
        "read_bytes": lambda: store.read_bytes("k", 1, 2),
        "exists": lambda: store.exists("k"),
        "list": lambda: list(store.list()),
        "delete": lambda: store.delete("k"),
        "copy": lambda: store.copy("k", "k2"),
    }
    for name, call in calls.items():
        with pytest.raises(Unavailable) as raised:
            call()
        message = str(raised.value)
        assert endpoint in message, name
        assert "CRISPML_S3_ENDPOINT_URL" in message, name
        assert SECRET not in message, name
        assert raised.value.__cause__ is not None, name
        assert isinstance(raised.value, ConnectionError)


@pytest.mark.s3
def test_s3_missing_bucket_is_unavailable(tmp_path: Path, moto_server: str) -> None:
    bucket = f"no-such-bucket-{uuid.uuid4().hex[:12]}"
    store = s3_store(tmp_path, f"s3://{bucket}/lake", s3_endpoint_url=moto_server)

    for call in (store.check, lambda: store.write("k", b"x"), lambda: list(store.list())):
        with pytest.raises(Unavailable, match="does not exist") as raised:
            call()
        assert bucket in str(raised.value)
        assert SECRET not in str(raised.value)


@pytest.fixture
def s3_only_store(tmp_path: Path, s3_lake_url: S3Lake) -> BlobStore:
    settings = load_settings(
        environ={}, home=tmp_path, lake_url=s3_lake_url.url, **s3_lake_url.kwargs
    )
    opened = open_blob_store(settings.lake_url, settings)
    opened.part_size = 5 * MiB  # type: ignore[attr-defined]
    return opened


@pytest.mark.s3
def test_s3_interrupted_write_aborts_its_upload(
    s3_only_store: BlobStore, s3_lake_url: S3Lake
) -> None:
    store = s3_only_store
    client = s3_client(s3_lake_url.endpoint)
    chunks = [payload(6 * MiB, seed=seed) for seed in range(2)]

    with pytest.raises(Boom):
        store.write("aborted", failing_source(chunks, Boom("stop")))

    uploads = client.list_multipart_uploads(Bucket=s3_lake_url.bucket).get("Uploads", [])
    assert uploads == []
    assert client.list_objects_v2(Bucket=s3_lake_url.bucket).get("KeyCount") == 0


@pytest.mark.s3
def test_s3_blobs_live_under_the_url_prefix(s3_only_store: BlobStore, s3_lake_url: S3Lake) -> None:
    store = s3_only_store
    client = s3_client(s3_lake_url.endpoint)
    bucket = s3_lake_url.bucket
    client.put_object(Bucket=bucket, Key="lakeside/outside", Body=b"not ours")
    client.put_object(Bucket=bucket, Key="outside", Body=b"not ours")

    store.write("x/y", b"ours")

    head = client.head_object(Bucket=bucket, Key="lake/x/y")
    assert head["ContentLength"] == 4
    assert sorted(store.list()) == ["x/y"]
    assert not store.exists("outside")


# -- memory and file only ------------------------------------------------------------


def test_memory_stores_with_different_names_are_separate(tmp_path: Path) -> None:
    first = open_blob_store(f"memory://one-{uuid.uuid4().hex}")
    second = open_blob_store(f"memory://two-{uuid.uuid4().hex}")
    first.write("k", b"first")
    assert not second.exists("k")
    assert list(second.list()) == []


def test_file_interrupted_write_leaves_only_an_empty_tmp_folder(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    store = open_blob_store(f"file://{root}")

    with pytest.raises(Boom):
        store.write("dir/blob", failing_source([b"x" * 1000, b"y" * 1000], Boom("stop")))

    assert [p.relative_to(root).as_posix() for p in root.rglob("*")] == [".tmp"]
