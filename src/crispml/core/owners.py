"""Who runs a piece of work, and whether that process still runs.

Long work that outlives one call — a crawl, a query execution, a Firehose
delivery, a load job — records its owner (``host:pid``, optionally followed by
``:token``) in the metadata DB. Another process that finds the work unfinished
asks :func:`owner_alive`: on this host the owner's pid decides at once (a
killed process, or a zombie its parent has not reaped, is gone); on another
host only a heartbeat can tell, so callers pass the owner's last heartbeat and
how old it may be. Written here because the standard library has no "is this
pid a live, non-zombie process" call, and four services need the same answer.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path


def process_owner(token: str | None = None) -> str:
    """This process as an owner: ``host:pid`` (``host:pid:token`` with a token)."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return f"{owner}:{token}" if token else owner


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owner_alive(owner: str | None, *, heartbeat_at: datetime | None = None, now: datetime | None = None,
                stale_after: timedelta | None = None) -> bool:
    """Whether the process named ``owner`` may still run: by pid on this host; elsewhere by a heartbeat
    younger than ``stale_after`` when one is given, else assumed to run (the caller's lease decides)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.split(":", 1)[0]
    if host == socket.gethostname() and pid.isdigit():
        return pid_alive(int(pid))
    if stale_after is None:
        return True
    return heartbeat_at is not None and now is not None and now - heartbeat_at < stale_after
