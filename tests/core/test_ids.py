"""Prefixed ULIDs: shape, uniqueness, order by time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import crispml
from crispml.core.ids import new_id, ulid

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_SHAPE = re.compile(r"^req-[0-9A-HJKMNP-TV-Z]{26}$")


def _millis(ulid_text: str) -> int:
    value = 0
    for char in ulid_text[:10]:
        value = value * 32 + _CROCKFORD.index(char)
    return value


def test_shape() -> None:
    assert ID_SHAPE.match(new_id("req"))
    assert len(ulid()) == 26


def test_the_time_part_is_the_creation_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    body = ulid()
    after = time.time_ns() // 1_000_000
    assert before <= _millis(body) <= after


def test_ten_thousand_ids_are_unique_and_already_in_order() -> None:
    ids = [new_id("evt") for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_later_ids_sort_after_earlier_ones() -> None:
    first = new_id("evt")
    time.sleep(0.003)
    second = new_id("evt")
    assert first < second
    assert _millis(first[4:]) < _millis(second[4:])


def test_ids_from_another_process_sort_by_time() -> None:
    # the random part differs per process; only the time decides across processes
    first = new_id("evt")
    time.sleep(0.003)
    other = subprocess.run(
        [sys.executable, "-c", "from crispml.core.ids import new_id; print(new_id('evt'))"],
        check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(crispml.__file__).parents[1])},
    ).stdout.strip()
    time.sleep(0.003)
    last = new_id("evt")
    assert first < other < last


@pytest.mark.parametrize("prefix", ["", "Req", "re-q", "1req", "a" * 17, "req_id"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        new_id(prefix)
