"""IAM requests and responses."""

from __future__ import annotations

from crispml.spine.models import Request, Response


class GetCallerIdentityRequest(Request):
    """No fields: the caller is who the context says."""


class GetCallerIdentityResponse(Response):
    user_id: str
    account: str
    arn: str
