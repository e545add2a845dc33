"""A CTAS that was killed midway leaves nothing that blocks its retry.

A CTAS writes files at its location, then registers its table (an Iceberg CTAS
registers the table, then commits its rows). Neither step can be undone by a
process that is killed between them, so before writing anything the CTAS puts
a *claim* at its location: a Hive-hidden object
``_crispml_ctas_<query id>`` (readers skip ``_…`` files) naming the process
that runs it and the table it makes, and deletes the claim once the table is
complete. A later CTAS that finds the location (or a table of its name) left
by a claim whose process no longer runs knows the work was abandoned: it
deletes that table and every object under the location, then starts afresh.
A claim of a live process, or of another host's (whose liveness cannot be
told), is respected: the location is not empty.

Written here because neither the lake nor the catalog has a transaction that
spans files and a table; the process-liveness rule is ``core.owners``'.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass

from crispml.core.errors import CrispmlError
from crispml.core.owners import owner_alive, process_owner
from crispml.services.catalog.service import TableRequest
from crispml.services.lake.service import (
    DeleteObjectRequest,
    GetObjectRequest,
    ListObjectsV2Request,
    PutObjectRequest,
)
from crispml.services.query.engines.base import Caller
from crispml.services.query.engines.duckdb.scan import split_location

#: The file name prefix of a claim (hidden from readers, as Hive hides ``_…`` files).
PREFIX = "_crispml_ctas_"
#: At most this many objects are looked at (and cleared) under an abandoned location.
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Claim:
    bucket: str
    key: str


def _prefix(location: str) -> tuple[str, str]:
    bucket, prefix = split_location(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def put(caller: Caller, location: str, query_id: str, table: str) -> Claim:
    """Claim ``location`` for the CTAS ``query_id`` writing ``table`` (``db.name``)."""
    bucket, prefix = _prefix(location)
    key = f"{prefix}{PREFIX}{query_id}"
    body = json.dumps({"owner": process_owner(), "table": table, "query_execution_id": query_id}).encode()
    caller.lake.put_object(caller.ctx, PutObjectRequest(bucket=bucket, key=key, body=io.BytesIO(body)))
    return Claim(bucket, key)


def release(caller: Caller, claim: Claim) -> None:
    """The CTAS is complete (or undone): its claim goes."""
    with contextlib.suppress(CrispmlError):  # a claim left behind is found dead and cleared later
        caller.lake.delete_object(caller.ctx, DeleteObjectRequest(bucket=claim.bucket, key=claim.key))


def keys_under(caller: Caller, location: str, limit: int = MAX_KEYS) -> list[str]:
    bucket, prefix = _prefix(location)
    keys: list[str] = []
    token: str | None = None
    while len(keys) < limit:
        page = caller.lake.list_objects_v2(caller.ctx, ListObjectsV2Request(
            bucket=bucket, prefix=prefix, continuation_token=token))
        keys += [o.key for o in page.contents]
        token = page.next_continuation_token
        if not page.is_truncated or not token:
            break
    return keys


def abandoned(caller: Caller, location: str, table: str, keys: list[str] | None = None) -> list[str] | None:
    """The keys under ``location`` if every object there was left by killed CTAS statements (each claim's
    process is gone, and none of them made a table other than ``table``); else None."""
    from crispml.services.query.engines.duckdb.resolve import exists

    bucket, _ = _prefix(location)
    found = keys if keys is not None else keys_under(caller, location)
    claims = [k for k in found if k.rsplit("/", 1)[-1].startswith(PREFIX)]
    if not claims:
        return None
    for key in claims:
        try:
            response = caller.lake.get_object(caller.ctx, GetObjectRequest(bucket=bucket, key=key))
            info = json.loads(_read(response.body))
        except (CrispmlError, ValueError):
            return None
        if not isinstance(info, dict) or owner_alive(str(info.get("owner") or "")):
            return None
        made = str(info.get("table") or "")
        if made != table and "." in made and exists(caller, *made.split(".", 1)):
            return None  # another table's CTAS got as far as registering it: those files are its data
    return found


def _read(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    read = getattr(body, "read", None)
    if read is None:
        return b""
    data = read()
    return data if isinstance(data, bytes) else bytes(data)


def clear(caller: Caller, location: str, keys: list[str]) -> None:
    """Delete an abandoned CTAS's objects: its files first, its claims last (so a kill meanwhile leaves a
    claim that the next try finds)."""
    bucket, _ = _prefix(location)
    ordered = sorted(keys, key=lambda k: k.rsplit("/", 1)[-1].startswith(PREFIX))
    for key in ordered:
        caller.lake.delete_object(caller.ctx, DeleteObjectRequest(bucket=bucket, key=key))


def undo_table(caller: Caller, database: str, name: str, location: str) -> bool:
    """If table ``database.name`` was registered by a CTAS that was killed before it finished (its claim's
    process is gone), delete the table and its files and return True."""
    keys = abandoned(caller, location, f"{database}.{name}")
    if keys is None:
        return False
    claimed = [k for k in keys if k.rsplit("/", 1)[-1].startswith(PREFIX)]
    bucket, _ = _prefix(location)
    names = set()
    for key in claimed:
        with contextlib.suppress(CrispmlError, ValueError):
            response = caller.lake.get_object(caller.ctx, GetObjectRequest(bucket=bucket, key=key))
            names.add(str(json.loads(_read(response.body)).get("table")))
    if f"{database}.{name}" not in names:
        return False
    caller.catalog.delete_table(caller.ctx, TableRequest(database_name=database, name=name))
    clear(caller, location, keys)
    return True
