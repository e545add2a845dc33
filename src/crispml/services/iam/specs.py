"""IAM requests and responses."""

from __future__ import annotations

from crispml.spine.models import Request, Response


class GetCallerIdentityRequest(Request):
    pass


class GetCallerIdentityResponse(Response):
    user_id: str
    account: str
    arn: str
