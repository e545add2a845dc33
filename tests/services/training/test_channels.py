"""Channels over catalog tables and lake prefixes: pinned at start, written in the channel's content type,
linked in FastFile mode, and refused when missing or empty."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from tests.services.training.support import BUCKET, prefix_channel, script, script_job, wait

ECHO = """
import json, os
out = {}
for channel in json.loads(os.environ["SM_CHANNELS"]):
    folder = os.environ["SM_CHANNEL_" + channel.upper()]
    files = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        mode = "rb" if name.endswith(".parquet") else "r"
        with open(path, mode) as f:
            data = f.read()
        files[name] = {"link": os.path.islink(path), "text": data if isinstance(data, str) else len(data)}
    out[channel] = files
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(out, f)
"""


def _seen(client: Client, name: str) -> dict[str, dict[str, dict[str, object]]]:
    job = wait(client, name)
    assert job.training_job_status == "Completed", job.failure_reason
    with tarfile.open(fileobj=io.BytesIO(client.fs.cat_file(job.model_artifacts.s3_model_artifacts))) as archive:
        member = archive.extractfile("seen.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


def _managed(client: Client) -> None:
    client.catalog.create_database(database_input={"Name": "shop"})
    client.catalog.create_table(database_name="shop", table_input={
        "Name": "orders", "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"},
                        {"Name": "churned", "Type": "int"}],
            "Location": f"s3://{BUCKET}/tables/orders"}},
        open_table_format_input={"IcebergInput": {"MetadataOperation": "CREATE", "Version": "2"}})


def _append(client: Client, rows: list[tuple[int, float, int]]) -> None:
    data = pa.table({"id": pa.array([r[0] for r in rows], pa.int64()),
                     "amount": pa.array([r[1] for r in rows], pa.float64()),
                     "churned": pa.array([r[2] for r in rows], pa.int32())})
    client.catalog.append_table_data(database_name="shop", table_name="orders", body=data)


def _table_channel(**extra: object) -> dict[str, object]:
    return {"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"CatalogDataSource": {
        "DatabaseName": "shop", "TableName": "orders", "LabelColumn": "churned", **extra}}}


def test_a_managed_table_is_pinned_to_its_snapshot_and_a_rerun_reads_the_same_rows(
        local_home: Client, tmp_path: Path) -> None:
    client = local_home
    _managed(client)
    _append(client, [(1, 9.5, 0), (2, 20.0, 1)])
    source = script(tmp_path / "src", ECHO)
    script_job(client, "first", source, channels=[_table_channel()])
    first = _seen(client, "first")
    text = str(first["train"]["part-00000.csv"]["text"])
    assert sorted(text.splitlines()) == ["0,1,9.5", "1,2,20.0"]  # label first, no header
    pinned = client.training.describe_training_job(training_job_name="first").lineage.channels[0]
    assert pinned.snapshot_id is not None and pinned.rows == 2 and pinned.source == "table/shop.orders"
    _append(client, [(3, 1.0, 1)])
    script_job(client, "rerun", source, channels=[_table_channel(SnapshotId=pinned.snapshot_id)])
    script_job(client, "latest", source, channels=[_table_channel(Columns=["amount"])])
    assert _seen(client, "rerun") == first
    latest = str(_seen(client, "latest")["train"]["part-00000.csv"]["text"])
    assert sorted(latest.splitlines()) == ["0,9.5", "1,1.0", "1,20.0"]


def test_a_table_channel_as_parquet_keeps_the_types(local_home: Client, tmp_path: Path) -> None:
    _managed(local_home)
    _append(local_home, [(1, 9.5, 0)])
    source = script(tmp_path / "src", ECHO)
    script_job(local_home, "parquet", source, channels=[
        {**_table_channel(), "ContentType": "application/x-parquet"}])
    seen = _seen(local_home, "parquet")
    assert list(seen["train"]) == ["part-00000.parquet"]


def test_missing_tables_columns_and_empty_tables_are_refused_at_create(local_home: Client, tmp_path: Path) -> None:
    _managed(local_home)
    source = script(tmp_path / "src", ECHO)
    with pytest.raises(InvalidArgument, match=r"is empty: table shop.orders has no rows"):
        script_job(local_home, "empty", source, channels=[_table_channel()])
    _append(local_home, [(1, 9.5, 0)])
    with pytest.raises(InvalidArgument, match=r"has no column 'label' \(columns: id, amount, churned\)"):
        script_job(local_home, "nolabel", source, channels=[_table_channel(LabelColumn="label")])
    with pytest.raises(Exception, match="orders_x") as caught:
        script_job(local_home, "notable", source, channels=[
            {"ChannelName": "train", "DataSource": {"CatalogDataSource": {
                "DatabaseName": "shop", "TableName": "orders_x"}}}])
    assert type(caught.value).__name__ == "EntityNotFoundException"


def test_fastfile_links_the_lakes_own_files_and_file_mode_copies_them(local_home: Client, tmp_path: Path) -> None:
    local_home.fs.pipe_file(f"{BUCKET}/big/part-1.csv", b"1,2\n")
    source = script(tmp_path / "src", ECHO)
    script_job(local_home, "fast", source, channels=[prefix_channel("train", f"lake://{BUCKET}/big/")],
               algorithm={"TrainingInputMode": "FastFile"})
    script_job(local_home, "copied", source, channels=[prefix_channel("train", f"lake://{BUCKET}/big/")])
    fast = _seen(local_home, "fast")["train"]["part-1.csv"]
    copied = _seen(local_home, "copied")["train"]["part-1.csv"]
    assert fast == {"link": True, "text": "1,2\n"}
    assert copied == {"link": False, "text": "1,2\n"}


def test_a_key_prefix_and_a_manifest_select_objects(home_client: Client, tmp_path: Path) -> None:
    client = home_client
    for key in ("d/train-1.csv", "d/train-2.csv", "d/test.csv"):
        client.fs.pipe_file(f"{BUCKET}/{key}", key.encode())
    client.fs.pipe_file(f"{BUCKET}/manifest.json", json.dumps(
        [{"prefix": f"s3://{BUCKET}/d/"}, "test.csv", "train-2.csv"]).encode())
    source = script(tmp_path / "src", ECHO)
    script_job(client, "prefixed", source, channels=[
        prefix_channel("train", f"s3://{BUCKET}/d/train-"),
        {"ChannelName": "listed", "DataSource": {"S3DataSource": {
            "S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/manifest.json"}}}])
    seen = _seen(client, "prefixed")
    assert sorted(seen["train"]) == ["train-1.csv", "train-2.csv"]
    assert sorted(seen["listed"]) == ["test.csv", "train-2.csv"]
    assert os.path.basename(str(seen)) is not None


def test_an_external_partitioned_csv_table_is_read_from_its_pinned_files(local_home: Client, tmp_path: Path) -> None:
    client = local_home
    client.catalog.create_database(database_input={"Name": "shop"})
    client.catalog.create_table(database_name="shop", table_input={
        "Name": "visits", "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "csv"},
        "StorageDescriptor": {
            "Columns": [{"Name": "pages", "Type": "int"}, {"Name": "bought", "Type": "int"}],
            "Location": f"s3://{BUCKET}/visits/",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ",", "skip.header.line.count": "1"}}},
        "PartitionKeys": [{"Name": "country", "Type": "string"}]})
    for country, body in (("fr", b"pages,bought\n3,1\n1,0\n"), ("NA", b"pages,bought\n7,1\n")):
        client.fs.pipe_file(f"{BUCKET}/visits/country={country}/part.csv", body)
        client.catalog.create_partition(database_name="shop", table_name="visits",
                                        partition_input={"Values": [country]})
    source = script(tmp_path / "src", ECHO)
    script_job(client, "visits", source, channels=[{
        "ChannelName": "train", "ContentType": "text/csv", "DataSource": {"CatalogDataSource": {
            "DatabaseName": "shop", "TableName": "visits", "LabelColumn": "bought"}}}])
    text = str(_seen(client, "visits")["train"]["part-00000.csv"]["text"])
    # the label first, then the columns and the partition key; 'NA' (Namibia) stays a string
    assert sorted(text.splitlines()) == ["0,1,fr", "1,3,fr", "1,7,NA"]
    pinned = client.training.describe_training_job(training_job_name="visits").lineage.channels[0]
    assert pinned.snapshot_id is None and pinned.rows == 3
    assert {f.uri for f in pinned.files} == {f"lake://{BUCKET}/visits/country=fr/part.csv",
                                             f"lake://{BUCKET}/visits/country=NA/part.csv"}
    assert all(f.e_tag for f in pinned.files)
