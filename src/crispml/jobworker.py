"""A training job's worker process: ``python -m crispml.jobworker JOB``.

Started by CreateTrainingJob (``services/training/warm.py``) with the
platform's settings in ``CRISPML_WORKER_SETTINGS``; it opens the same home
and drives the job (``TrainingService.work``), then any job that claims it
while it is kept warm. It lives beside the SDK because it opens a platform,
which services may not do.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    from crispml.core.config import Settings
    from crispml.platform import Platform
    from crispml.services.training.service import SETTINGS_VARIABLE, TrainingService

    if len(argv) != 1 or SETTINGS_VARIABLE not in os.environ:
        print("usage: CRISPML_WORKER_SETTINGS=... python -m crispml.jobworker JOB (started by CreateTrainingJob)",
              file=sys.stderr)
        return 2
    settings = Settings.model_validate(json.loads(os.environ.pop(SETTINGS_VARIABLE)))
    platform = Platform(settings)
    try:
        platform.peer(TrainingService).work(argv[0])
    finally:
        platform.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
