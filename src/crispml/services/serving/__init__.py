"""Serving: endpoints, the runtime that answers them, data capture, autoscaling and batch transform."""
