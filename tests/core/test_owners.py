"""Owners of running work: this process, a finished child, an unreaped (zombie) child, another host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from crispml.core.owners import owner_alive, pid_alive, process_owner

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_this_process_and_its_token_are_alive() -> None:
    assert owner_alive(process_owner()) and owner_alive(process_owner("t0k3n"))
    assert process_owner("t0k3n").endswith(f":{os.getpid()}:t0k3n")
    assert not owner_alive(None) and not owner_alive("")


def test_a_killed_child_is_gone_even_before_it_is_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    host = process_owner().split(":")[0]
    assert owner_alive(f"{host}:{child.pid}")
    child.send_signal(signal.SIGKILL)
    deadline = datetime.now() + timedelta(seconds=10)
    while pid_alive(child.pid) and datetime.now() < deadline:  # a zombie until waited for
        os.sched_yield()
    assert not owner_alive(f"{host}:{child.pid}:token")
    child.wait()
    assert not pid_alive(child.pid)


def test_another_host_is_judged_by_its_heartbeat_when_given() -> None:
    elsewhere = "some-other-host:4242"
    assert owner_alive(elsewhere)  # no heartbeat to judge by: the caller's lease decides
    fresh, stale = NOW - timedelta(seconds=30), NOW - timedelta(minutes=11)
    assert owner_alive(elsewhere, heartbeat_at=fresh, now=NOW, stale_after=timedelta(minutes=10))
    assert not owner_alive(elsewhere, heartbeat_at=stale, now=NOW, stale_after=timedelta(minutes=10))
    assert not owner_alive(elsewhere, heartbeat_at=None, now=NOW, stale_after=timedelta(minutes=10))
