"""The ``crispml`` command line: one group per service, commands derived from operations."""
