"""The explicit context every operation receives: who calls, which request, from where.

Nothing in crispml reads a global "current user"; shells build a context and
pass it down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crispml.core.ids import new_id


@dataclass(frozen=True)
class CallContext:
    """Who is calling (a principal name), the request id, and the source of the call."""

    principal: str
    request_id: str = field(default_factory=lambda: new_id("req"))
    source: str = "sdk"

    def child(self) -> CallContext:
        """The same caller with a fresh request id (one per operation)."""
        return CallContext(principal=self.principal, source=self.source)
