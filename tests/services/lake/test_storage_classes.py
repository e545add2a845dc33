"""Storage classes: GLACIER objects must be restored before reading; restores expire."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crispml.core.errors import Conflict, InvalidArgument
from crispml.services.lake.errors import InvalidObjectState

from .support import etag_of, read

_RESTORE = re.compile(r'^ongoing-request="false", expiry-date="(.+)"$')


def test_a_glacier_object_cannot_be_read_but_can_be_headed(lake: Any, bucket: str) -> None:
    put = lake.put_object(bucket=bucket, key="archive/2019.parquet", body=b"old rows",
                          storage_class="GLACIER")
    with pytest.raises(InvalidObjectState) as caught:
        lake.get_object(bucket=bucket, key="archive/2019.parquet")
    assert isinstance(caught.value, Conflict)
    assert caught.value.code == "InvalidObjectState"
    assert "GLACIER" in caught.value.message
    assert "restore" in caught.value.message
    with pytest.raises(InvalidObjectState):  # a byte range is a read too
        lake.get_object(bucket=bucket, key="archive/2019.parquet", range="bytes=0-1")

    head = lake.head_object(bucket=bucket, key="archive/2019.parquet")
    assert head.storage_class == "GLACIER"
    assert head.restore is None
    assert (head.etag, head.content_length) == (put.etag, 8)
    listed = lake.list_objects_v2(bucket=bucket).contents
    assert [(o.key, o.storage_class) for o in listed] == [("archive/2019.parquet", "GLACIER")]


def test_standard_ia_is_readable_without_a_restore(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="ia", body=b"warm", storage_class="STANDARD_IA")
    assert read(lake, bucket, "ia") == b"warm"
    assert lake.head_object(bucket=bucket, key="ia").storage_class == "STANDARD_IA"
    with pytest.raises(InvalidObjectState, match="readable already"):
        lake.restore_object(bucket=bucket, key="ia", restore_request={"Days": 1})


def test_an_unknown_storage_class_is_rejected(lake: Any, bucket: str) -> None:
    with pytest.raises(InvalidArgument, match="storage_class"):
        lake.put_object(bucket=bucket, key="k", body=b"x", storage_class="DEEP_FREEZE")


def test_restore_makes_it_readable_until_the_days_run_out(lake: Any, bucket: str,
                                                          clock: Any) -> None:
    lake.put_object(bucket=bucket, key="cold.bin", body=b"frozen bytes", storage_class="GLACIER")
    restored = lake.restore_object(bucket=bucket, key="cold.bin", restore_request={"Days": 2})
    match = _RESTORE.match(restored.restore)
    assert match is not None, restored.restore
    assert match.group(1).endswith("GMT")

    head = lake.head_object(bucket=bucket, key="cold.bin")
    assert head.restore == restored.restore
    assert head.storage_class == "GLACIER"  # a restore is a temporary copy; the class stays
    assert read(lake, bucket, "cold.bin") == b"frozen bytes"
    assert read(lake, bucket, "cold.bin", range="bytes=-5") == b"bytes"

    clock.advance(days=1)
    assert lake.apply_lifecycle(bucket=bucket).actions == []
    assert read(lake, bucket, "cold.bin") == b"frozen bytes"

    clock.advance(days=2)
    applied = lake.apply_lifecycle(bucket=bucket)
    assert [(a.key, a.action) for a in applied.actions] == [("cold.bin", "RestoreExpired")]
    assert applied.evaluated_at == clock.now()
    assert lake.head_object(bucket=bucket, key="cold.bin").restore is None
    with pytest.raises(InvalidObjectState):
        lake.get_object(bucket=bucket, key="cold.bin")


def test_an_expired_restore_is_unreadable_even_before_lifecycle_runs(lake: Any, bucket: str,
                                                                    clock: Any) -> None:
    lake.put_object(bucket=bucket, key="cold", body=b"x", storage_class="GLACIER")
    lake.restore_object(bucket=bucket, key="cold", restore_request={"Days": 1})
    clock.advance(days=1, seconds=1)
    with pytest.raises(InvalidObjectState):
        lake.get_object(bucket=bucket, key="cold")
    assert lake.head_object(bucket=bucket, key="cold").restore is None


def test_restoring_again_extends_the_restore(lake: Any, bucket: str, clock: Any) -> None:
    lake.put_object(bucket=bucket, key="cold", body=b"x", storage_class="GLACIER")
    lake.restore_object(bucket=bucket, key="cold", restore_request={"Days": 1})
    clock.advance(hours=12)
    lake.restore_object(bucket=bucket, key="cold", restore_request={"Days": 5})
    clock.advance(days=4)
    assert read(lake, bucket, "cold") == b"x"


def test_restore_request_days_must_be_positive(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="cold", body=b"x", storage_class="GLACIER")
    with pytest.raises(InvalidArgument):
        lake.restore_object(bucket=bucket, key="cold", restore_request={"Days": 0})


def test_copy_changes_the_storage_class(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="hot", body=b"data", metadata={"a": "1"})
    lake.copy_object(bucket=bucket, key="frozen", copy_source=f"{bucket}/hot",
                     storage_class="GLACIER")
    head = lake.head_object(bucket=bucket, key="frozen")
    assert (head.storage_class, head.metadata, head.etag) == ("GLACIER", {"a": "1"}, etag_of(b"data"))
    with pytest.raises(InvalidObjectState):
        lake.get_object(bucket=bucket, key="frozen")

    # an object may be copied onto itself to change only its class
    lake.copy_object(bucket=bucket, key="hot", copy_source=f"{bucket}/hot",
                     storage_class="STANDARD_IA")
    head = lake.head_object(bucket=bucket, key="hot")
    assert (head.storage_class, head.metadata) == ("STANDARD_IA", {"a": "1"})
    assert read(lake, bucket, "hot") == b"data"


def test_an_archived_source_must_be_restored_before_copying(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="cold", body=b"archived", storage_class="GLACIER")
    with pytest.raises(InvalidObjectState, match="restore"):
        lake.copy_object(bucket=bucket, key="warm", copy_source=f"{bucket}/cold")
    lake.restore_object(bucket=bucket, key="cold", restore_request={"Days": 1})
    lake.copy_object(bucket=bucket, key="warm", copy_source=f"{bucket}/cold",
                     storage_class="STANDARD")
    head = lake.head_object(bucket=bucket, key="warm")
    assert (head.storage_class, head.restore) == ("STANDARD", None)
    assert read(lake, bucket, "warm") == b"archived"
