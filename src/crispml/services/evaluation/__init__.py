"""Model evaluation (SageMaker Clarify / model quality): metrics, curves, comparisons, HTML reports.

This package holds the evaluation engine as plain functions over arrays — ``metrics`` (classification,
regression, clustering, anomaly scores, threshold sweeps), ``compare`` (two models on the same rows:
deltas with paired bootstrap intervals, McNemar's test) and ``report`` (one self-contained HTML file).
It does not yet register a service: the operations (``CreateEvaluationJob`` …), the store and the job
that runs a model over a test table come on top of it.
"""
