"""Automatic model tuning (SageMaker hyperparameter tuning jobs)."""
