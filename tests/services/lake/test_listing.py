"""ListObjectsV2: UTF-8 binary order, prefixes, delimiters, pagination and start_after.

The ordering and pagination checks also run on each metadata DB (SQLite and
PostgreSQL), since the order comes from the database's comparison of keys.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client

from .support import entries, keys, walk

#: 25 keys whose UTF-8 binary order differs from a locale-aware ("natural") order:
#: '-' < '/' < digits < uppercase < '_' < lowercase < '~' < non-ASCII.
MIXED_KEYS = [
    "Zebra", "apple", "Apple", "apple-pie", "apple/core", "apple0", "apple_tart",
    "b", "B", "10", "9", "100", "-dash", "~tilde", "été", "eta", "Éclair",
    "dir/a", "dir/B", "dir-x", "dir0", "dir/sub/c", "zz", "z", "日本",
]


def _put_all(lake: Any, bucket: str, names: list[str]) -> None:
    for name in names:
        lake.put_object(bucket=bucket, key=name, body=name.encode())


def check_binary_order_and_pagination(lake: Any) -> None:
    lake.create_bucket(bucket="listing")
    assert len(set(MIXED_KEYS)) == 25
    _put_all(lake, "listing", MIXED_KEYS)
    expected = sorted(MIXED_KEYS, key=lambda k: k.encode("utf-8"))
    assert expected[:4] == ["-dash", "10", "100", "9"]
    assert expected[-3:] == ["Éclair", "été", "日本"]

    pages = walk(lake, "listing", max_keys=7)
    assert [len(p.contents) for p in pages] == [7, 7, 7, 4]
    assert [p.key_count for p in pages] == [7, 7, 7, 4]
    assert [p.is_truncated for p in pages] == [True, True, True, False]
    assert all(p.max_keys == 7 for p in pages)
    listed = [o.key for p in pages for o in p.contents]
    assert listed == expected  # every key exactly once, in UTF-8 binary order
    for previous, page in itertools.pairwise(pages):
        assert page.continuation_token == previous.next_continuation_token

    whole = lake.list_objects_v2(bucket="listing")
    assert [o.key for o in whole.contents] == expected
    assert not whole.is_truncated
    assert whole.next_continuation_token is None
    summary = {o.key: o for o in whole.contents}["日本"]
    assert (summary.size, summary.storage_class) == (len("日本".encode()), "STANDARD")


def test_binary_order_and_pagination(client: Client) -> None:
    check_binary_order_and_pagination(client.lake)


def test_binary_order_and_pagination_on_each_db(db_client: Client) -> None:
    check_binary_order_and_pagination(db_client.lake)


TREE = [
    "photos/2023/a.jpg", "photos/2023/b.jpg", "photos/2024/c.jpg", "photos/readme.txt",
    "photos/", "videos/x.mp4", "root.txt", "photosynthesis.txt",
]


def test_prefix_and_delimiter_make_common_prefixes(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, TREE)
    top = lake.list_objects_v2(bucket=bucket, delimiter="/")
    assert [o.key for o in top.contents] == ["photosynthesis.txt", "root.txt"]
    assert [p.prefix for p in top.common_prefixes] == ["photos/", "videos/"]
    assert top.key_count == 4
    assert top.delimiter == "/"

    photos = lake.list_objects_v2(bucket=bucket, prefix="photos/", delimiter="/")
    assert [o.key for o in photos.contents] == ["photos/", "photos/readme.txt"]
    assert [p.prefix for p in photos.common_prefixes] == ["photos/2023/", "photos/2024/"]
    assert photos.prefix == "photos/"

    assert keys(lake, bucket, prefix="photos/2023/") == ["photos/2023/a.jpg", "photos/2023/b.jpg"]
    assert keys(lake, bucket, prefix="photos") == sorted(k for k in TREE if k.startswith("photos"))
    empty = lake.list_objects_v2(bucket=bucket, prefix="nothing/")
    assert (empty.key_count, empty.contents, empty.common_prefixes) == (0, [], [])


def test_a_delimiter_other_than_slash(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, ["2024-01-01", "2024-01-02", "2024-02-01", "2025-01-01", "2025"])
    listing = lake.list_objects_v2(bucket=bucket, prefix="2024-", delimiter="-")
    assert [p.prefix for p in listing.common_prefixes] == ["2024-01-", "2024-02-"]
    assert listing.contents == []
    listing = lake.list_objects_v2(bucket=bucket, delimiter="-")
    assert [o.key for o in listing.contents] == ["2025"]
    assert [p.prefix for p in listing.common_prefixes] == ["2024-", "2025-"]


def test_common_prefixes_count_toward_max_keys(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, ["a/1", "a/2", "b/1", "c", "d/1"])
    page = lake.list_objects_v2(bucket=bucket, delimiter="/", max_keys=2)
    assert [p.prefix for p in page.common_prefixes] == ["a/", "b/"]
    assert page.contents == []
    assert page.key_count == 2
    assert page.is_truncated


def check_delimiter_pagination(lake: Any) -> None:
    lake.create_bucket(bucket="folders")
    _put_all(lake, "folders", ["a.txt", "b/1", "b/2", "b/3", "c.txt", "d/1", "d/2/x", "e.txt"])
    expected = ["a.txt", "b/", "c.txt", "d/", "e.txt"]
    for max_keys in (1, 2, 3, 4, 5):
        pages = walk(lake, "folders", delimiter="/", max_keys=max_keys)
        seen = [entry for page in pages for entry in entries(page)]
        assert seen == expected, f"max_keys={max_keys}"
        assert len(pages) == -(-len(expected) // max_keys), f"max_keys={max_keys}"
    # the first page ends on the common prefix "b/"; the next one must not repeat it
    first = lake.list_objects_v2(bucket="folders", delimiter="/", max_keys=2)
    assert entries(first) == ["a.txt", "b/"]
    second = lake.list_objects_v2(bucket="folders", delimiter="/", max_keys=2,
                                  continuation_token=first.next_continuation_token)
    assert entries(second) == ["c.txt", "d/"]


def test_delimiter_pagination_across_common_prefixes(client: Client) -> None:
    check_delimiter_pagination(client.lake)


def test_delimiter_pagination_across_common_prefixes_on_each_db(db_client: Client) -> None:
    check_delimiter_pagination(db_client.lake)


def test_start_after(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, ["a", "b", "b/1", "ba", "c", "x/1", "x/2"])
    assert keys(lake, bucket, start_after="b") == ["b/1", "ba", "c", "x/1", "x/2"]
    assert keys(lake, bucket, start_after="bb") == ["c", "x/1", "x/2"]  # need not be a key
    assert keys(lake, bucket, start_after="zzz") == []
    assert keys(lake, bucket, start_after="") == ["a", "b", "b/1", "ba", "c", "x/1", "x/2"]
    # before the prefix it changes nothing; inside it, it skips
    assert keys(lake, bucket, prefix="x/", start_after="a") == ["x/1", "x/2"]
    assert keys(lake, bucket, prefix="x/", start_after="x/1") == ["x/2"]
    pages = walk(lake, bucket, start_after="b", max_keys=2)
    assert [o.key for p in pages for o in p.contents] == ["b/1", "ba", "c", "x/1", "x/2"]
    # with a delimiter, a folder that still has keys after the marker is listed
    listing = lake.list_objects_v2(bucket=bucket, delimiter="/", start_after="x/1")
    assert (listing.contents, [p.prefix for p in listing.common_prefixes]) == ([], ["x/"])


def test_continuation_token_wins_over_start_after(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, ["a", "b", "c", "d"])
    first = lake.list_objects_v2(bucket=bucket, max_keys=2)
    second = lake.list_objects_v2(bucket=bucket, max_keys=2, start_after="a",
                                  continuation_token=first.next_continuation_token)
    assert [o.key for o in second.contents] == ["c", "d"]


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_a_bogus_continuation_token_is_invalid_argument(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="a", body=b"x")
    for token in ("not a token!", _token("plain text"), _token('{"k": 5}'),
                  _token('{"other": "a"}'), _token("[1, 2]")):
        with pytest.raises(InvalidArgument) as caught:
            lake.list_objects_v2(bucket=bucket, continuation_token=token)
        assert "continuation token" in caught.value.message, token


def test_a_negative_max_keys_is_invalid_argument(lake: Any, bucket: str) -> None:
    with pytest.raises(InvalidArgument, match="max_keys"):
        lake.list_objects_v2(bucket=bucket, max_keys=-1)


def test_a_prefix_cannot_climb_out_of_the_bucket(lake: Any, bucket: str) -> None:
    with pytest.raises(InvalidArgument):
        lake.list_objects_v2(bucket=bucket, prefix="../other-bucket/")


def test_listing_shows_the_current_state(lake: Any, bucket: str) -> None:
    lake.put_object(bucket=bucket, key="k", body=b"short")
    lake.put_object(bucket=bucket, key="k", body=b"much longer body")
    lake.put_object(bucket=bucket, key="cold", body=b"x", storage_class="GLACIER")
    lake.put_object(bucket=bucket, key="gone", body=b"x")
    lake.delete_object(bucket=bucket, key="gone")
    listed = {o.key: o for o in lake.list_objects_v2(bucket=bucket).contents}
    assert sorted(listed) == ["cold", "k"]
    assert listed["k"].size == 16
    assert listed["k"].etag == lake.head_object(bucket=bucket, key="k").etag
    assert listed["cold"].storage_class == "GLACIER"


def test_prefixes_are_literal_not_patterns(lake: Any, bucket: str) -> None:
    _put_all(lake, bucket, ["a_b", "axb", "a%c", "abc", "a\\d"])
    assert keys(lake, bucket, prefix="a_") == ["a_b"]
    assert keys(lake, bucket, prefix="a%") == ["a%c"]
    assert keys(lake, bucket, prefix="a\\") == ["a\\d"]


def check_prefixes_at_the_ends_of_unicode(lake: Any) -> None:
    """A flat listing bounds its prefix by the next character: keys whose next character is the last code
    point, or whose prefix ends just below the surrogates, are still under it; the next prefix's are not."""
    lake.create_bucket(bucket="edges")
    names = ["a\U0010ffffz", "a\U0010ffff", "ab", "a", "b", "\ud7ffx", "\ud7ff", "\ue000", "\U0010ffff\U0010ffffq",
             "\U0010ffff"]
    _put_all(lake, "edges", names)
    for prefix in ("a", "a\U0010ffff", "\ud7ff", "\U0010ffff", "\U0010ffff\U0010ffff", ""):
        expected = sorted((n for n in names if n.startswith(prefix)), key=lambda k: k.encode("utf-8"))
        assert keys(lake, "edges", prefix=prefix) == expected, prefix
        paged = [o.key for p in walk(lake, "edges", prefix=prefix, max_keys=1) for o in p.contents]
        assert paged == expected, prefix


def test_prefixes_at_the_ends_of_unicode_on_each_db(db_client: Client) -> None:
    check_prefixes_at_the_ends_of_unicode(db_client.lake)
