"""iam — the root account, the caller's identity, and the authorization check."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

import crispml
from crispml.core.clock import FixedClock
from crispml.core.config import load_settings
from crispml.core.context import CallContext
from crispml.core.errors import PermissionDenied, Unauthenticated
from crispml.core.metadb.engine import Database
from crispml.platform import Platform
from crispml.sdk.client import Client
from crispml.services.iam.service import IamService
from crispml.services.iam.store import PrincipalRow


def _principal_count(client: Client) -> int:
    with client.platform.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(PrincipalRow)) or 0)


def _add(client: Client, name: str, *, kind: str = "User", status: str = "Active") -> None:
    with client.platform.db.write() as session:
        session.add(PrincipalRow(name=name, principal_id=f"AID-{name.upper()}", kind=kind,
                                 account_id=client.platform.root.account_id, status=status,
                                 created_at=client.platform.clock.now()))


def _iam(client: Client) -> IamService:
    service = client.platform.service("iam")
    assert isinstance(service, IamService)
    return service


def test_a_fresh_home_has_exactly_a_root_account(home: Path, db_url: str, clock: FixedClock) -> None:
    # a new, empty database (not the template copy db_client starts from): opening it writes the root
    with crispml.connect(home=str(home), db_url=db_url, clock=clock) as client:
        root = client.platform.root
        assert (root.name, root.kind, root.status) == ("root", "Root", "Active")
        assert len(root.account_id) == 12 and root.account_id.isdigit()
        assert root.principal_id.startswith("AID-")
        assert root.arn == f"crn:crispml:iam::{root.account_id}:root"
        assert root.created_at == clock.now()
        assert _principal_count(client) == 1


def test_bootstrap_is_idempotent(db_client: Client) -> None:
    first = db_client.platform.root
    assert _iam(db_client).bootstrap() == first
    assert _iam(db_client).bootstrap() == first
    assert _principal_count(db_client) == 1


def test_reopening_a_home_keeps_the_same_root(home: Path, db_url: str) -> None:
    with crispml.connect(home=str(home), db_url=db_url) as client:
        first = client.platform.root
    with crispml.connect(home=str(home), db_url=db_url) as client:
        assert client.platform.root == first
        assert _principal_count(client) == 1


def test_platforms_bootstrapping_together_make_one_root(db_url: str, tmp_path: Path) -> None:
    """Several platforms open one fresh database at the same moment (SQLite and PostgreSQL)."""
    Database(db_url).upgrade()  # the race under test is the bootstrap, not the migration
    settings = load_settings(environ={}, home=str(tmp_path / "h"), db_url=db_url)
    start = threading.Barrier(6)
    roots: list[str] = []
    errors: list[BaseException] = []

    def open_platform() -> None:
        try:
            start.wait()
            platform = Platform(settings)
            roots.append(platform.root.account_id)
            platform.close()
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_platform) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(roots) == 6 and len(set(roots)) == 1


def test_get_caller_identity_as_root(db_client: Client) -> None:
    root = db_client.platform.root
    who = db_client.iam.get_caller_identity()
    assert (who.user_id, who.account, who.arn) == (root.principal_id, root.account_id, root.arn)


def test_get_caller_identity_refuses_unknown_and_inactive_principals(db_client: Client) -> None:
    with pytest.raises(Unauthenticated, match="mallory") as unknown:
        db_client.as_principal("mallory").iam.get_caller_identity()
    assert unknown.value.code == "UnrecognizedClientException"
    assert unknown.value.http_status == 401
    _add(db_client, "ivan", status="Inactive")
    with pytest.raises(Unauthenticated, match="ivan") as inactive:
        db_client.as_principal("ivan").iam.get_caller_identity()
    assert inactive.value.code == "InvalidClientTokenId"


def test_a_principal_disabled_elsewhere_is_refused_on_its_next_call(
    db_client: Client, home: Path, db_url: str
) -> None:
    # authorize() reads the principal on every call: no cache may let a disabled one through
    _add(db_client, "uma")
    uma = db_client.as_principal("uma")
    assert uma.iam.get_caller_identity().user_id == "AID-UMA"
    with crispml.connect(home=str(home), db_url=db_url) as admin, admin.platform.db.write() as session:
        row = session.get(PrincipalRow, "uma")
        assert row is not None
        row.status = "Inactive"
    with pytest.raises(Unauthenticated, match="uma"):
        uma.iam.get_caller_identity()


def test_any_active_principal_may_ask_who_it_is(db_client: Client) -> None:
    _add(db_client, "uma")
    identity = db_client.as_principal("uma").iam.get_caller_identity()
    assert identity.user_id == "AID-UMA"
    assert identity.arn == f"crn:crispml:iam::{db_client.platform.root.account_id}:user/uma"
    with pytest.raises(PermissionDenied):  # ... but nothing else without a policy
        db_client.as_principal("uma").lake.list_buckets()


def test_authorize(local_client: Client) -> None:
    iam = _iam(local_client)
    resource = "crn:crispml:lake:::bucket/b"
    assert iam.authorize(CallContext(principal="root"), "lake:DeleteBucket", resource).kind == "Root"
    _add(local_client, "uma")
    with pytest.raises(PermissionDenied) as denied:
        iam.authorize(CallContext(principal="uma"), "lake:DeleteBucket", resource)
    message = str(denied.value)
    assert "lake:DeleteBucket" in message and resource in message
    assert f"crn:crispml:iam::{local_client.platform.root.account_id}:user/uma" in message
    assert denied.value.http_status == 403
    _add(local_client, "olga", kind="Root", status="Inactive")  # even a root kind, if inactive
    with pytest.raises(Unauthenticated):
        iam.authorize(CallContext(principal="olga"), "lake:ListBuckets", "crn:crispml:lake:::bucket/*")


def test_principal_names_are_exact(local_client: Client) -> None:
    for name in ("Root", "root ", " root", "ROOT"):
        with pytest.raises(Unauthenticated):
            local_client.as_principal(name).iam.get_caller_identity()


def test_list_principals(local_client: Client) -> None:
    _add(local_client, "uma")
    _add(local_client, "ivan", status="Inactive")
    listed = _iam(local_client).list_principals()
    assert [(p.name, p.status) for p in listed] == [
        ("ivan", "Inactive"), ("root", "Active"), ("uma", "Active")]
    assert _iam(local_client).principal("nobody") is None
