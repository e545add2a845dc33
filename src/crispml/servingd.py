"""The serving runtime's process: ``python -m crispml.servingd``.

Started by the serving service on first need (``services/serving/runtime/
control.py``) with the platform's settings in ``CRISPML_WORKER_SETTINGS``, or
by hand (then from the environment and ``crispml.toml``, as the command line
reads them). It opens the home and runs the front and the supervisor
(``ServingService.supervise``) until SIGTERM or SIGINT. It lives beside the SDK
because it opens a platform, which services may not do.
"""

from __future__ import annotations

import sys

from crispml.platform import Platform


def main() -> int:
    from crispml.core.config import load_settings, settings_from_environment
    from crispml.services.serving.service import ServingService

    settings = settings_from_environment() or load_settings()
    platform = Platform(settings)
    try:
        return platform.peer(ServingService).supervise()
    finally:
        platform.close()


if __name__ == "__main__":
    sys.exit(main())
