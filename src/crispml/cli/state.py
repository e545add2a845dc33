"""What every command shares: the global options and a lazily opened client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # the SDK opens the platform: imported when a command first needs the client
    from crispml.sdk.client import Client


@dataclass
class CliState:
    home: str | None = None
    principal: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        """The client for this invocation, opened on first use (so --help needs no home)."""
        if self._client is None:
            from crispml.sdk.client import connect

            self._client = connect(home=self.home, principal=self.principal, source="cli")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def state_of(ctx: typer.Context) -> CliState:
    root: Any = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    state: CliState = root.obj
    return state

