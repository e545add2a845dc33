"""IAM: who exists, and whether a caller may run an action on a resource.

In this version the only principal is the root account, created when a home
is first opened. The check is real and runs on every operation: an unknown or
inactive principal is refused, the root account is allowed everything, and any
other principal is refused until policies exist (implicit deny).
"""

from __future__ import annotations

import functools
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.ids import new_id
from crispml.core.names import crn
from crispml.services.iam.entities import Principal
from crispml.services.iam.errors import AccessDenied, InactivePrincipal, UnknownPrincipal
from crispml.services.iam.specs import (
    GetCallerIdentityRequest,
    GetCallerIdentityResponse,
)
from crispml.services.iam.store import PrincipalRow
from crispml.spine.operations import Service, operation

ROOT = "root"
#: Actions every active principal may call without a policy (as STS GetCallerIdentity).
ALWAYS_ALLOWED = frozenset({"iam:GetCallerIdentity"})


_PRINCIPALS = PrincipalRow.__table__


@functools.cache
def _select_principal(mark: str) -> str:
    """The caller lookup every operation runs, as plain SQL for the driver's placeholder ``mark``."""
    return (f"SELECT name, principal_id, kind, account_id, status, created_at FROM {PrincipalRow.__tablename__} "
            f"WHERE name = {mark}")


def principal_arn(kind: str, name: str, account_id: str) -> str:
    if kind == "Root":
        return crn("iam", "root", account=account_id)
    return crn("iam", f"{kind.lower()}/{name}", account=account_id)


def _entity(row: PrincipalRow) -> Principal:
    return Principal(
        name=row.name, principal_id=row.principal_id, kind=row.kind, account_id=row.account_id,
        arn=principal_arn(row.kind, row.name, row.account_id), status=row.status, created_at=row.created_at,
    )

#: What other services and shells may import: the service, its operations' requests, and what they share.
__all__ = [
    "GetCallerIdentityRequest", "IamService"
]


class IamService(Service):
    name = "iam"

    def bootstrap(self) -> Principal:
        """Create the root account if this home has none; return it. A home that has one is only read
        (opening a home writes nothing when nothing changed)."""
        found = self.principal(ROOT)
        if found is not None:
            return found
        try:
            with self.db.write() as session:
                row = session.get(PrincipalRow, ROOT)
                if row is None:
                    row = PrincipalRow(
                        name=ROOT, principal_id=new_id("aid").upper(), kind="Root",
                        account_id=f"{secrets.randbelow(10**12):012d}", status="Active",
                        created_at=self.clock.now(),
                    )
                    session.add(row)
                root = _entity(row)
        except IntegrityError:
            # Another process created root between our read and our insert
            # (PostgreSQL does not serialize the two as SQLite's BEGIN IMMEDIATE does).
            found = self.principal(ROOT)
            if found is None:
                raise
            return found
        return root

    def principal(self, name: str) -> Principal | None:
        """The principal called ``name`` as the database has it now, or None."""
        # Read on every call by authorize(), so never cached (a principal disabled by another process
        # must be refused at once), but read as plain SQL on the driver's cursor (Database.cursor).
        with self.db.cursor() as cursor:
            cursor.execute(_select_principal(self.db.mark), (name,))
            row = cursor.fetchone()
        if row is None:
            return None
        name, principal_id, kind, account_id, status, created_at = row
        return Principal(name=name, principal_id=principal_id, kind=kind, account_id=account_id,
                         arn=principal_arn(kind, name, account_id), status=status,
                         created_at=self.db.from_driver(_PRINCIPALS.c.created_at)(created_at))

    def authorize(self, ctx: CallContext, action: str, resource: str) -> Principal:
        """Allow or refuse ``ctx.principal`` calling ``action`` on ``resource``."""
        found = self._active_caller(ctx)
        refusal = _refusal(found, action, resource)
        if refusal is not None:
            raise refusal
        return found

    def authorize_each(self, ctx: CallContext, action: str, resources: list[str]) -> list[CrispmlError | None]:
        """:meth:`authorize` for several resources of one action, the principal read once: per resource,
        None if allowed or the error refusing it."""
        try:
            found = self._active_caller(ctx)
        except CrispmlError as exc:
            return [exc for _ in resources]
        return [_refusal(found, action, r) for r in resources]

    def _active_caller(self, ctx: CallContext) -> Principal:
        """The calling principal, if it exists and is active."""
        found = self.principal(ctx.principal)
        if found is None:
            raise UnknownPrincipal(
                f"unknown principal {ctx.principal!r}; call as an existing principal "
                f"(set CRISPML_PRINCIPAL, default 'root')"
            )
        if found.status != "Active":
            raise InactivePrincipal(
                f"principal {ctx.principal!r} is {found.status.lower()}; "
                "an administrator must activate it before it can call anything"
            )
        return found

    def list_principals(self) -> list[Principal]:
        with self.db.read() as session:
            return [_entity(r) for r in session.scalars(select(PrincipalRow).order_by(PrincipalRow.name))]

    @operation("GetCallerIdentity", resource=lambda r: crn("iam", "caller"), mutating=False)
    def get_caller_identity(self, ctx: CallContext, request: GetCallerIdentityRequest) -> GetCallerIdentityResponse:
        """Show who you are calling as: user id, account and ARN."""
        found = self.principal(ctx.principal)
        assert found is not None  # authorize() already refused unknown principals
        return GetCallerIdentityResponse(user_id=found.principal_id, account=found.account_id, arn=found.arn)


def _refusal(found: Principal, action: str, resource: str) -> AccessDenied | None:
    """Why ``found`` may not call ``action`` on ``resource``, or None if it may."""
    if found.kind == "Root" or action in ALWAYS_ALLOWED:
        return None
    return AccessDenied(f"{found.arn} is not authorized to perform {action} on {resource}: no policy allows it")
