"""IAM value objects."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class Principal(BaseModel):
    name: str
    principal_id: str
    kind: str
    account_id: str
    arn: str
    status: str
    created_at: datetime
