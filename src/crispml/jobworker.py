"""A training job's worker process: ``python -m crispml.jobworker JOB``.

Started by CreateTrainingJob (``services/training/warm.py``) with the
platform's settings in ``CRISPML_WORKER_SETTINGS``; it opens the same home
and drives the job (``TrainingService.work``), then any job that claims it
while it is kept warm; a job with an ``Evaluation`` option is evaluated here
once it has completed (the evaluation service builds on training, so the
training service cannot call it). It lives beside the SDK because it opens a platform,
which services may not do.
"""

from __future__ import annotations

import sys

from crispml.platform import Platform


def main(argv: list[str]) -> int:
    from crispml.core.config import settings_from_environment
    from crispml.services.training.service import TrainingService

    settings = settings_from_environment() if len(argv) == 1 else None
    if settings is None:
        print("usage: CRISPML_WORKER_SETTINGS=... python -m crispml.jobworker JOB (started by CreateTrainingJob)",
              file=sys.stderr)
        return 2
    platform = Platform(settings)
    try:
        platform.peer(TrainingService).work(argv[0], after=lambda job, principal: evaluate(platform, job, principal))
    finally:
        platform.close()
    return 0


def evaluate(platform: Platform, job: str, principal: str) -> None:
    """A completed job's ``Evaluation`` option: an evaluation job ``<job>-evaluation`` of its model on its test
    channel, as the job's creator, its report under the job's output path. A failure is the evaluation's
    (recorded Failed, or refused before it starts) and is written to the workers' log; the job stays
    Completed."""
    from crispml.core.context import CallContext
    from crispml.core.errors import CrispmlError
    from crispml.services.evaluation.service import CreateEvaluationJobRequest, EvaluationService, ModelSource
    from crispml.services.training.service import TrainingJobRequest, TrainingService

    ctx = CallContext(principal=principal, source="training-job")
    described = platform.peer(TrainingService).describe_training_job(ctx, TrainingJobRequest(training_job_name=job))
    option = described.evaluation
    if option is None:
        return
    channel = next(c for c in described.input_data_config if c.channel_name == option.test_channel_name)
    try:
        platform.peer(EvaluationService).create_evaluation_job(ctx, CreateEvaluationJobRequest(
            evaluation_job_name=f"{job[:52]}-evaluation", model_source=ModelSource(training_job_name=job),
            test_data=channel, problem_type=option.problem_type, metrics=option.metrics,
            positive_label=option.positive_label,
            output_location=f"{described.output_data_config.s3_output_path}{job}/"))
    except CrispmlError as exc:
        print(f"crispml worker: the evaluation of {job} failed: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
