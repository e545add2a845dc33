"""The training service (SageMaker training jobs)."""
