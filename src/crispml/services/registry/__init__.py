"""The registry service: SageMaker models and Model Registry (see ``service.py``)."""
