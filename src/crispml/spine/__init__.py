"""The operation spine: every public action is declared once as an operation
and every call runs through the same steps — validate, authorize, run, audit,
measure. SDK methods, CLI commands and (later) REST routes are derived from the
declarations, so none of them can skip a step.
"""

from crispml.spine.models import Request, Response
from crispml.spine.operations import REGISTRY, OperationSpec, Service, operation

__all__ = ["REGISTRY", "OperationSpec", "Request", "Response", "Service", "operation"]
