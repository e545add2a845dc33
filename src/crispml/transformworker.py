"""A batch transform job's worker process: ``python -m crispml.transformworker JOB``.

Started by CreateTransformJob (``services/serving/transform.py``) with the
platform's settings in ``CRISPML_WORKER_SETTINGS``; it opens the same home and
runs the job (``ServingService.work_transform``): the job's instances are its
children and end with it. It lives beside the SDK because it opens a
platform, which services may not do.
"""

from __future__ import annotations

import sys

from crispml.platform import Platform


def main(argv: list[str]) -> int:
    from crispml.core.config import settings_from_environment
    from crispml.services.serving.service import ServingService

    settings = settings_from_environment() if len(argv) == 1 else None
    if settings is None:
        print("usage: CRISPML_WORKER_SETTINGS=... python -m crispml.transformworker JOB (started by "
              "CreateTransformJob)", file=sys.stderr)
        return 2
    platform = Platform(settings)
    try:
        platform.peer(ServingService).work_transform(argv[0])
    finally:
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
