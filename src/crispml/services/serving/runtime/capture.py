"""Data capture in SageMaker's format: JSON lines, spooled on disk, then delivered to the lake.

One record per captured request, as SageMaker Model Monitor reads it::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "1.0,2.0", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "{...}", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "…", "inferenceTime": "2026-12-05T22:10:01Z", "inferenceId": "…"},
     "eventVersion": "0"}

``encoding`` is ``CSV`` or ``JSON`` (the data as text) for the content types
the endpoint's ``CaptureContentTypeHeader`` lists (by default ``text/csv``
and the ``application/json*`` types), else ``BASE64``.

The front hands each record to :meth:`Spool.append` before the answer
leaves: one ``write`` to an append-only file under
``<home>/serving/capture/``, which a killed process cannot tear (the kernel
keeps what was written), so a request that was answered is never lost. A
spool file holds one endpoint variant's records of one hour; :meth:`Spool.
deliver` (the supervisor's loop, every few seconds, and at start-up for what
a killed runtime left) seals each file and copies it to
``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<id>.jsonl``;
the object's name comes from the spool file's, so delivering a file twice
(killed between the copy and the removal) writes the same object again, never
a duplicate.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crispml.services.serving.runtime.front import Capture

DEFAULT_CSV = frozenset({"text/csv"})
DEFAULT_JSON = frozenset({"application/json", "application/jsonlines", "application/x-ndjson"})


def _encoding(content_type: str, capture: Capture) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (capture.csv_types or DEFAULT_CSV):
        return "CSV"
    if base in (capture.json_types or DEFAULT_JSON):
        return "JSON"
    return "BASE64"


def _part(mode: str, content_type: str, data: bytes, capture: Capture) -> dict[str, str]:
    encoding = _encoding(content_type, capture)
    text = base64.b64encode(data).decode() if encoding == "BASE64" else data.decode("utf-8", "replace")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def record(capture: Capture, input_type: str, body: bytes | None, output_type: str, output: bytes | None,
           inference_id: str | None, when: datetime | None = None) -> dict[str, Any]:
    """One capture record (``body``/``output`` None when that side is not captured)."""
    data: dict[str, Any] = {}
    if body is not None:
        data["endpointInput"] = _part("INPUT", input_type, body, capture)
    if output is not None:
        data["endpointOutput"] = _part("OUTPUT", output_type, output, capture)
    moment = when or datetime.now(UTC)
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}


class Spool:
    """Capture records on local disk until they are delivered to the lake."""

    def __init__(self, folder: Path, now: Callable[[], datetime]) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._now = now
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], tuple[str, int, Path]] = {}  # (endpoint, variant) → (hour, fd, path)

    def append(self, endpoint: str, variant: str, item: dict[str, Any], destination: str) -> None:
        """Keep one record of ``endpoint``'s ``variant``, bound for the lake prefix ``destination``."""
        line = (json.dumps(item, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = self._fd(endpoint, variant, destination)
            os.write(fd, line)

    def _fd(self, endpoint: str, variant: str, destination: str) -> int:
        hour = self._now().strftime("%Y%m%d%H")
        current = self._open.get((endpoint, variant))
        if current is not None and current[0] == hour:
            return current[1]
        if current is not None:
            os.close(current[1])
        moment = self._now()
        path = self.folder / (f"{endpoint}~{variant}~{moment.strftime('%Y%m%d%H%M%S')}"
                              f"{moment.microsecond // 1000:03d}~{uuid.uuid4().hex[:12]}.open")
        # where its records go, beside it before the first record: an endpoint deleted meanwhile still has them
        path.with_suffix(".dest").write_text(destination)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._open[(endpoint, variant)] = (hour, fd, path)
        return fd

    def seal(self) -> None:
        """Close every open spool file, so the next records start new ones and these can be delivered."""
        with self._lock:
            for _, fd, _ in self._open.values():
                os.close(fd)
            self._open.clear()

    def sealed(self) -> list[Path]:
        """Spool files no process writes any more: those not open here (after :meth:`seal`, or left by a
        runtime that was killed)."""
        with self._lock:
            writing = {path for _, _, path in self._open.values()}
        return sorted(p for p in self.folder.glob("*.open") if p not in writing)

    def deliver(self, destination: Callable[[str], str | None], put: Callable[[str, bytes], None]) -> int:
        """Copy every sealed spool file to the lake and remove it; the records delivered. ``destination``
        gives an endpoint's capture prefix when a spool file does not say (None: its records are dropped)."""
        delivered = 0
        for path in self.sealed():
            endpoint, variant, stamp, ident = path.stem.split("~")
            data = path.read_bytes()
            beside = path.with_suffix(".dest")
            prefix = beside.read_text() if beside.exists() else destination(endpoint)
            if prefix is not None and data:
                key = (f"{prefix}{endpoint}/{variant}/{stamp[0:4]}/{stamp[4:6]}/{stamp[6:8]}/{stamp[8:10]}/"
                       f"{stamp[10:12]}-{stamp[12:14]}-{stamp[14:17]}-{ident}.jsonl")
                put(key, data)
                delivered += data.count(b"\n")
            path.unlink()
            beside.unlink(missing_ok=True)
        return delivered
