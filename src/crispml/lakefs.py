"""``lake://`` for fsspec: the entry point pandas, pyarrow and ``fsspec.filesystem("lake")`` find by name.

``storage_options={"client": client}`` (what ``client.storage_options`` gives)
acts as that SDK client; with no client, the home named by ``home=`` (or
``CRISPML_HOME``) is opened directly on the platform, as ``principal=`` (or
``CRISPML_PRINCIPAL``). Either way the filesystem itself is the lake service's
(:meth:`crispml.services.lake.service.LakeService.filesystem`): every read and
write is a lake operation as that caller.
"""

from __future__ import annotations

from typing import Any

from crispml.core.config import load_settings
from crispml.core.context import CallContext
from crispml.platform import Platform
from crispml.services.lake import service as lake


class LakeFileSystem(lake.LakeFileSystem):
    """``fsspec.filesystem("lake", client=client)`` or ``fsspec.filesystem("lake", home=..., principal=...)``."""

    def __init__(self, client: Any = None, home: str | None = None, principal: str | None = None,
                 **storage_options: Any) -> None:
        if client is not None:
            platform: Platform = client.platform
            ctx: CallContext = client.context()
        else:
            settings = load_settings(home=home)
            platform = Platform(settings)
            ctx = CallContext(principal=principal or settings.principal, source="lake-fs")
        super().__init__(platform.peer(lake.LakeService), ctx, **storage_options)
