"""A CTAS claims its location while it runs (``claims.py``): a claim of a live process keeps the location
busy; a claim whose process is gone marks what a killed CTAS left, which the next CTAS clears. (The kills
themselves are in ``test_dml_kills.py``.)"""

from __future__ import annotations

import json
import socket

import pytest

from crispml.core.owners import process_owner
from crispml.sdk.client import Client
from crispml.services.query.engines.base import QueryFailed
from tests.services.query.test_engine_support import BUCKET, DB, put, run, setup

CTAS = f"CREATE TABLE copy WITH (format='PARQUET', external_location='lake://{BUCKET}/copy/') AS SELECT 1 AS id"


def claim(client: Client, owner: str, table: str = f"{DB}.copy") -> None:
    put(client, "copy/_crispml_ctas_q-old", json.dumps({"owner": owner, "table": table}).encode())


def keys(client: Client) -> list[str]:
    return sorted(o.key for o in client.lake.list_objects_v2(bucket=BUCKET, prefix="copy/").contents)


def test_a_live_claim_keeps_the_location_busy(local_client: Client) -> None:
    setup(local_client)
    claim(local_client, process_owner())
    put(local_client, "copy/q-old-00000.parquet", b"half written")
    with pytest.raises(QueryFailed, match="is not empty") as busy:
        run(local_client, CTAS)
    assert busy.value.error_type == "AlreadyExists"
    assert keys(local_client) == ["copy/_crispml_ctas_q-old", "copy/q-old-00000.parquet"]


def test_what_a_dead_claim_left_is_cleared_by_the_next_ctas(local_client: Client) -> None:
    setup(local_client)
    claim(local_client, f"{socket.gethostname()}:999999999")  # no such process
    put(local_client, "copy/q-old-00000.parquet", b"half written")
    ran = run(local_client, CTAS)
    assert ran.rows == [{"rows": 1}]
    written = keys(local_client)
    assert len(written) == 1 and written[0].startswith(f"copy/{ran.query.query_execution_id}-")
    assert run(local_client, "SELECT id FROM copy").rows == [{"id": 1}]


def test_a_dead_claim_of_another_registered_table_is_its_data(local_client: Client) -> None:
    setup(local_client)
    run(local_client, f"CREATE TABLE other WITH (external_location='lake://{BUCKET}/copy/') AS SELECT 2 AS id")
    claim(local_client, f"{socket.gethostname()}:999999999", table=f"{DB}.other")
    with pytest.raises(QueryFailed, match="is not empty"):
        run(local_client, CTAS)
    assert run(local_client, "SELECT id FROM other").rows == [{"id": 2}]
