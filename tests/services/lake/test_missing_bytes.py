"""An object whose bytes were lost from the store, outside crispml: named and said missing, on file:// and s3://.

The object's blob is deleted through the home's own blob store (a file removed
on file://, an S3 object deleted on s3://), as a user's ``rm`` or a bucket
policy would. Reading the object must fail at once with ObjectDataMissing,
naming the object and its blob, saying that retrying will not help and how to
recover — not NoSuchKey's "changed while being read; try again".
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crispml.core.errors import CrispmlError
from crispml.sdk.client import Client
from crispml.services.lake.store import VersionRow
from tests.cli.support import Run, assert_refused


def _lose_bytes(client: Client, bucket: str, key: str) -> str:
    """Delete the blob under ``bucket/key``'s current version from the store; return its blob key."""
    with client.platform.db.read() as session:
        blob_key = session.scalars(select(VersionRow.blob_key).where(
            VersionRow.bucket == bucket, VersionRow.key == key)).one()
    assert blob_key is not None
    client.platform.blobs.delete(blob_key)
    assert not client.platform.blobs.exists(blob_key)
    return blob_key


def test_reading_an_object_whose_bytes_are_gone_names_it_and_says_missing(
    client: Client, lake: Any, bucket: str,
) -> None:
    lake.put_object(bucket=bucket, key="tables/sales/part-0.parquet", body=b"PAR1...")
    lake.put_object(bucket=bucket, key="tables/sales/part-1.parquet", body=b"PAR1 kept")
    blob_key = _lose_bytes(client, bucket, "tables/sales/part-0.parquet")
    with pytest.raises(CrispmlError) as info:
        lake.get_object(bucket=bucket, key="tables/sales/part-0.parquet")
    assert info.value.code == "ObjectDataMissing" and info.value.http_status == 404
    message = info.value.message
    for text in (f"lake://{bucket}/tables/sales/part-0.parquet", "missing", blob_key, "will not help"):
        assert text in message, (text, message)
    assert "try again" not in message
    assert lake.get_object(bucket=bucket, key="tables/sales/part-1.parquet").body.read() == b"PAR1 kept"
    # what the message offers: delete the object and upload it again
    lake.delete_object(bucket=bucket, key="tables/sales/part-0.parquet")
    lake.put_object(bucket=bucket, key="tables/sales/part-0.parquet", body=b"again")
    assert lake.get_object(bucket=bucket, key="tables/sales/part-0.parquet").body.read() == b"again"


def test_the_cli_get_object_says_missing_in_one_line(local_client: Client, run: Run, tmp_path: Any) -> None:
    local_client.lake.create_bucket(bucket="data")
    local_client.lake.put_object(bucket="data", key="t/f.csv", body=b"a\n")
    _lose_bytes(local_client, "data", "t/f.csv")
    result = run("lake", "get-object", "--bucket", "data", "--key", "t/f.csv", str(tmp_path / "out.csv"))
    assert_refused(result, "ObjectDataMissing", "lake://data/t/f.csv", "missing")
