"""Small helpers shared by the lake contract tests."""

from __future__ import annotations

import hashlib
from typing import Any


def etag_of(data: bytes) -> str:
    """S3's ETag of a single-part object: the quoted MD5 hex of its bytes."""
    return f'"{hashlib.md5(data).hexdigest()}"'


def read(lake: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    """The whole body of ``key`` (or of the version / range in ``kwargs``)."""
    response = lake.get_object(bucket=bucket, key=key, **kwargs)
    with response.body as body:
        data: bytes = body.read()
    return data


def keys(lake: Any, bucket: str, **kwargs: Any) -> list[str]:
    """The keys of one ListObjectsV2 page."""
    return [o.key for o in lake.list_objects_v2(bucket=bucket, **kwargs).contents]


def walk(lake: Any, bucket: str, **kwargs: Any) -> list[Any]:
    """Every ListObjectsV2 page, following continuation tokens to the end."""
    pages = [lake.list_objects_v2(bucket=bucket, **kwargs)]
    while pages[-1].is_truncated:
        assert pages[-1].next_continuation_token, "a truncated page must carry a token"
        assert len(pages) < 100, "pagination does not end"
        pages.append(lake.list_objects_v2(
            bucket=bucket, continuation_token=pages[-1].next_continuation_token, **kwargs))
    assert pages[-1].next_continuation_token is None
    return pages


def entries(page: Any) -> list[str]:
    """Keys and common prefixes of a page, in S3 order (both sorted together)."""
    return sorted([o.key for o in page.contents] + [p.prefix for p in page.common_prefixes])


def versions_of(lake: Any, bucket: str, key: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(object versions, delete markers) of ``key`` as (version id, is latest), in listed order."""
    listing = lake.list_object_versions(bucket=bucket, prefix=key)
    versions = [(v.version_id, v.is_latest) for v in listing.versions if v.key == key]
    markers = [(m.version_id, m.is_latest) for m in listing.delete_markers if m.key == key]
    return versions, markers
