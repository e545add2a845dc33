"""Invocations that reached the front directly (boto3, curl) in the audit log.

The spine authorizes and audits each operation call; a request to the front
does not pass through an operation, so the supervisor writes one audit event
per such invocation (``serving:InvokeEndpoint`` on the endpoint, as the
runtime's principal — the front has no credentials of its own to check yet),
a batch per publication in one transaction. The SDK's and the command line's
InvokeEndpoint, already audited by the spine, are marked and not written twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError, Unavailable
from crispml.services.audit.service import AuditService
from crispml.services.serving.core import endpoint_crn
from crispml.services.serving.errors import ModelError, ValidationException

if TYPE_CHECKING:
    from crispml.services.serving.service import ServingService


def _error(status: int) -> CrispmlError | None:
    if status == 200:
        return None
    if status == 424:
        return ModelError("the model failed")
    if status < 500:
        return ValidationException(f"the front answered {status}")
    return Unavailable(f"the front answered {status}")


def record_invocations(service: ServingService, calls: list[tuple[str, str, int]], owners: dict[str, str],
                       principal: str) -> None:
    """One audit event per ``(endpoint, inference id, status)``."""
    ctx = CallContext(principal=principal, source="serving-runtime")
    service.peer(AuditService).record_many(
        ctx, "serving:InvokeEndpoint",
        [(endpoint_crn(endpoint), _error(status), {"endpoint_name": endpoint, "inference_id": inference_id,
                                                   **({"endpoint_owner": owners[endpoint]} if endpoint in owners
                                                      else {})})
         for endpoint, inference_id, status in calls], duration_ms=0.0)
