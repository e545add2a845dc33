"""A tuning job's driver process: ``python -m crispml.tuningworker JOB``.

Started by CreateHyperParameterTuningJob (or by the next call that finds the
job's driver dead) with the platform's settings in ``CRISPML_WORKER_SETTINGS``;
it opens the same home and runs the job's search (``TuningService.drive``)
until the job ends. It lives beside the SDK because it opens a platform, which
services may not do.
"""

from __future__ import annotations

import sys

from crispml.platform import Platform


def main(argv: list[str]) -> int:
    from crispml.core.config import settings_from_environment
    from crispml.services.tuning.service import TuningService

    settings = settings_from_environment() if len(argv) == 1 else None
    if settings is None:
        print("usage: CRISPML_WORKER_SETTINGS=... python -m crispml.tuningworker JOB (started by "
              "CreateHyperParameterTuningJob)", file=sys.stderr)
        return 2
    platform = Platform(settings)
    try:
        platform.peer(TuningService).drive(argv[0])
    finally:
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
