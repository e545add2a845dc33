"""``python -m crispml`` runs the CLI."""

from crispml.cli.main import entrypoint

entrypoint()
