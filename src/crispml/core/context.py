"""The explicit context every operation receives: who calls, which request, from where.

Nothing in crispml reads a global "current user"; shells build a context and
pass it down, and a service acting for its caller passes the same context on to
the operations of other services it calls.

A request id names one call. A context's own id goes to the first call that
runs with it; every later call with the same context (a service calling the lake
three times for one request of its own) runs under a fresh id of the same
principal and source, so no two audit events of two calls share an id, however
the context travels (across helper objects or worker threads).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from crispml.core.ids import new_id


@dataclass(frozen=True)
class CallContext:
    """Who is calling (a principal name), the request id, and the source of the call."""

    principal: str
    request_id: str = field(default_factory=lambda: new_id("req"))
    source: str = "sdk"
    _uses: itertools.count[int] = field(default_factory=itertools.count, init=False, repr=False, compare=False)

    def child(self) -> CallContext:
        """The same caller with a fresh request id."""
        return CallContext(principal=self.principal, source=self.source)

    def for_call(self) -> CallContext:
        """The context one call runs under: this one for its first call, a :meth:`child` after that.
        (``next`` on a count is atomic under the GIL, so two threads never both get the first use.)"""
        return self if next(self._uses) == 0 else self.child()
