"""The lake:// fsspec filesystem: pandas and pyarrow read and write through it, and
every access is a lake operation (authorized and audited)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from crispml.core.errors import PermissionDenied, Unauthenticated
from crispml.sdk.client import Client


@pytest.fixture
def lake(client: Client) -> Client:
    client.lake.create_bucket(bucket="fs-test")
    return client


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": range(500),
        "species": ["Adelie", "Gentoo", None, "Chinstrap", "Adelie"] * 100,
        "mass": [3750.0, None, 4200.5, 3000.25, 5000.0] * 100,
    })


def test_pandas_round_trips_csv_and_parquet(lake: Client) -> None:
    options = lake.storage_options
    frame = _frame()
    frame.to_csv("lake://fs-test/raw/data.csv", index=False, storage_options=options)
    frame.to_parquet("lake://fs-test/curated/data.parquet", storage_options=options)

    back_csv = pd.read_csv("lake://fs-test/raw/data.csv", storage_options=options)
    back_parquet = pd.read_parquet("lake://fs-test/curated/data.parquet", storage_options=options)

    pd.testing.assert_frame_equal(back_csv, frame, check_dtype=False)
    pd.testing.assert_frame_equal(back_parquet, frame)
    head = lake.lake.head_object(bucket="fs-test", key="raw/data.csv")
    assert head.content_type == "text/csv"


def test_pyarrow_writes_and_reads_a_partitioned_dataset(lake: Client) -> None:
    fs = lake.fs
    table = pa.table({"year": [2007, 2007, 2008, 2009], "mass": [1.0, 2.0, 3.0, 4.0]})
    pq.write_to_dataset(table, "fs-test/ds", partition_cols=["year"], filesystem=fs)

    keys = fs.find("fs-test/ds")
    assert sorted({k.split("/")[2] for k in keys}) == ["year=2007", "year=2008", "year=2009"]
    dataset = ds.dataset("fs-test/ds", filesystem=fs, format="parquet", partitioning="hive")
    result = dataset.to_table().sort_by("mass")
    assert result.column("mass").to_pylist() == [1.0, 2.0, 3.0, 4.0]
    assert sorted(set(result.column("year").to_pylist())) == [2007, 2008, 2009]


def test_listing_info_and_ranges(lake: Client) -> None:
    fs = lake.fs
    fs.pipe_file("lake://fs-test/a/one.txt", b"0123456789")
    fs.pipe_file("lake://fs-test/a/b/two.txt", b"hello")
    fs.pipe_file("lake://fs-test/top.txt", b"top")

    assert "fs-test" in fs.ls("", detail=False)
    assert sorted(fs.ls("lake://fs-test", detail=False)) == ["fs-test/a", "fs-test/top.txt"]
    assert sorted(fs.ls("fs-test/a", detail=False)) == ["fs-test/a/b", "fs-test/a/one.txt"]
    assert fs.find("fs-test/a") == ["fs-test/a/b/two.txt", "fs-test/a/one.txt"]
    assert fs.info("fs-test/a/one.txt")["size"] == 10
    assert fs.info("fs-test/a")["type"] == "directory"
    assert fs.isdir("fs-test") and fs.isfile("fs-test/top.txt") and not fs.exists("fs-test/nope")
    assert fs.cat_file("fs-test/a/one.txt", 2, 5) == b"234"
    assert fs.cat_file("fs-test/a/one.txt", -3) == b"789"
    with fs.open("fs-test/a/one.txt", "rb") as handle:
        handle.seek(7)
        assert handle.read() == b"789"
    with pytest.raises(FileNotFoundError):
        fs.cat_file("fs-test/missing")


def test_streaming_write_is_invisible_until_closed_and_abandoned_on_error(lake: Client) -> None:
    fs = lake.fs
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with fs.open("fs-test/big.bin", "wb") as handle:
        for _ in range(12):
            handle.write(chunk)
        assert not fs.exists("fs-test/big.bin")
    head = lake.lake.head_object(bucket="fs-test", key="big.bin")
    assert head.content_length == 12 * len(chunk)
    assert head.etag == f'"{hashlib.md5(chunk * 12).hexdigest()}"'

    with pytest.raises(RuntimeError), fs.open("fs-test/half.bin", "wb") as handle:
        handle.write(chunk * 6)
        raise RuntimeError("the producer failed halfway")
    assert not fs.exists("fs-test/half.bin")
    assert lake.lake.list_objects_v2(bucket="fs-test", prefix="half").key_count == 0


def test_put_get_copy_and_remove(lake: Client, tmp_path: Path) -> None:
    fs = lake.fs
    source = tmp_path / "src"
    (source / "nested").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"alpha")
    (source / "nested" / "b.txt").write_bytes(b"beta")

    fs.put(str(source) + "/", "fs-test/up/", recursive=True)
    assert fs.find("fs-test/up") == ["fs-test/up/a.txt", "fs-test/up/nested/b.txt"]
    fs.copy("fs-test/up/a.txt", "fs-test/copy/a.txt")
    target = tmp_path / "down"
    fs.get("fs-test/up/", str(target) + "/", recursive=True)
    assert (target / "nested" / "b.txt").read_bytes() == b"beta"
    assert fs.cat_file("fs-test/copy/a.txt") == b"alpha"

    fs.rm("fs-test/up", recursive=True)
    assert fs.find("fs-test/up") == []
    with pytest.raises(IsADirectoryError):
        fs.rm("fs-test/copy")


def test_every_access_is_an_audited_operation(lake: Client) -> None:
    fs = lake.fs
    fs.pipe_file("fs-test/audited.txt", b"x")
    fs.cat_file("fs-test/audited.txt")
    fs.ls("fs-test")
    events = lake.audit.list_events(action="lake:*", max_results=3).events
    assert [e.action for e in events] == ["lake:ListObjectsV2", "lake:GetObject", "lake:PutObject"]
    assert events[1].resource == "crn:crispml:lake:::bucket/fs-test/audited.txt"
    assert all(e.outcome == "Success" and e.principal == "root" for e in events)


def test_a_refused_principal_reads_nothing_through_the_filesystem(lake: Client) -> None:
    lake.fs.pipe_file("fs-test/secret.txt", b"secret")
    stranger = lake.as_principal("mallory")
    with pytest.raises((Unauthenticated, PermissionDenied)):
        stranger.fs.cat_file("fs-test/secret.txt")
    with pytest.raises((Unauthenticated, PermissionDenied)):
        stranger.fs.pipe_file("fs-test/planted.txt", b"x")
    assert not lake.fs.exists("fs-test/planted.txt")


def test_fsspec_finds_lake_by_protocol_and_opens_the_configured_home(
    local_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_client.lake.create_bucket(bucket="by-env")
    local_client.fs.pipe_file("by-env/x.txt", b"from the env home")
    monkeypatch.setenv("CRISPML_HOME", str(local_client.settings.home))
    fs = fsspec.filesystem("lake", skip_instance_cache=True)
    assert fs.cat_file("lake://by-env/x.txt") == b"from the env home"
    with fsspec.open("lake://by-env/x.txt", "rb", skip_instance_cache=True) as handle:
        assert handle.read() == b"from the env home"
