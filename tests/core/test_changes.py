"""Change notices: a waiter wakes when its key is posted, not for other keys, and never misses a post made
between reading the version and waiting."""

from __future__ import annotations

import threading

import pytest

from crispml.core import changes as changes_module
from crispml.core.changes import Changes


def test_a_post_wakes_the_waiter_of_its_key() -> None:
    changes = Changes()
    seen = changes.version("q/1")
    waiting, woke = threading.Event(), []

    def waiter() -> None:
        waiting.set()
        woke.append(changes.wait("q/1", seen, timeout=30))

    thread = threading.Thread(target=waiter)
    thread.start()
    waiting.wait(30)
    changes.post("q/2")  # another key: no wake-up for q/1 (its wait goes on)
    changes.post("q/1")
    thread.join(30)
    assert woke == [True]


def test_a_post_before_the_wait_is_not_missed() -> None:
    changes = Changes()
    seen = changes.version("q/1")
    changes.post("q/1")  # the state changed after it was read, before the wait began
    assert changes.wait("q/1", seen, timeout=30) is True


def test_no_post_means_the_wait_times_out() -> None:
    changes = Changes()
    assert changes.wait("q/1", changes.version("q/1"), timeout=0.01) is False


def test_only_the_newest_keys_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(changes_module, "MAX_KEYS", 3)
    changes = Changes()
    for key in ("a", "b", "c", "a", "d"):
        changes.post(key)
    assert [changes.version(k) for k in ("a", "b", "c", "d")] == [2, 0, 1, 1]  # b, the oldest, dropped
