"""The Python SDK: ``crispml.connect()``, the client it returns, and SageMaker-style estimators."""

from crispml.sdk.client import Client, connect
from crispml.sdk.estimator import CatalogInput, Estimator, SKLearn, TrainingInput, XGBoost

__all__ = ["CatalogInput", "Client", "Estimator", "SKLearn", "TrainingInput", "XGBoost", "connect"]
