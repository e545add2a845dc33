"""The evaluation service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'evaluation',
    'help': 'Model quality: metrics, curves, thresholds, HTML reports, two models compared.',
    'aliases': {},
    'operations': [
        {
            'name': 'CompareEvaluations',
            'method': 'compare_evaluations',
            'command': 'compare-evaluations',
            'summary': "Compare two models evaluated on the same test rows: B − A with bootstrap intervals, McNemar's test.",
            'doc': "Compare two models evaluated on the same test rows: B − A with bootstrap intervals, McNemar's test.",
            'fields': [
                {'name': 'evaluation_job_name_a', 'option': '--evaluation-job-name-a', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "Model A's evaluation (the one in production, say)."},
                {'name': 'evaluation_job_name_b', 'option': '--evaluation-job-name-b', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "Model B's evaluation, on the same test data."},
                {'name': 'metrics', 'option': '--metrics', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'Default: accuracy and f1 (classifiers), rmse, mae and r2 (regressors).'},
                {'name': 'resamples', 'option': '--resamples', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'confidence', 'option': '--confidence', 'kind': 'plain', 'type': 'float', 'required': False, 'help': ''},
                {'name': 'seed', 'option': '--seed', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'CreateEvaluationJob',
            'method': 'create_evaluation_job',
            'command': 'create-evaluation-job',
            'summary': 'Judge a model on held-out rows: metrics, curves, a threshold, feature importance, an HTML report.',
            'doc': 'Judge a model on held-out rows: metrics, curves, a threshold, feature importance, an HTML report.',
            'fields': [
                {'name': 'evaluation_job_name', 'option': '--evaluation-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '1-63 letters, digits or hyphens; unique.'},
                {'name': 'model_source', 'option': '--model-source', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'test_data', 'option': '--test-data', 'kind': 'json', 'type': 'str', 'required': True, 'help': 'The held-out rows: a catalog table with its LabelColumn, or a lake prefix of label-first CSV or Parquet.'},
                {'name': 'problem_type', 'option': '--problem-type', 'kind': 'choice', 'type': 'str', 'required': True, 'help': '', 'choices': ['BinaryClassification', 'MulticlassClassification', 'Regression', 'Clustering', 'AnomalyDetection']},
                {'name': 'metrics', 'option': '--metrics', 'kind': 'json', 'type': 'str', 'required': False, 'help': "Metrics that must apply (default: all of the problem type's)."},
                {'name': 'positive_label', 'option': '--positive-label', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Binary: the positive class (default: the largest label).'},
                {'name': 'threshold_metric', 'option': '--threshold-metric', 'kind': 'choice', 'type': 'str', 'required': False, 'help': 'Binary: the best threshold by this metric.', 'choices': ['accuracy', 'precision', 'recall', 'specificity', 'f1']},
                {'name': 'cost', 'option': '--cost', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'Binary: also the threshold of least expected cost.'},
                {'name': 'feature_importance', 'option': '--feature-importance', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': 'Permutation importance of each feature (on at most 5,000 rows).'},
                {'name': 'output_location', 'option': '--output-location', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "Where the report and predictions go: 'lake://bucket/prefix/'."},
            ],
        },
        {
            'name': 'DescribeEvaluationJob',
            'method': 'describe_evaluation_job',
            'command': 'describe-evaluation-job',
            'summary': 'Show an evaluation: its model, test data, metrics, threshold, importances and report.',
            'doc': 'Show an evaluation: its model, test data, metrics, threshold, importances and report.',
            'fields': [
                {'name': 'evaluation_job_name', 'option': '--evaluation-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'ListEvaluationJobs',
            'method': 'list_evaluation_jobs',
            'command': 'list-evaluation-jobs',
            'summary': 'List evaluations, newest first, by the model they judged or their status.',
            'doc': 'List evaluations, newest first, by the model they judged or their status.',
            'fields': [
                {'name': 'model_source_contains', 'option': '--model-source-contains', 'kind': 'plain', 'type': 'str', 'required': False, 'help': "Only evaluations of models whose source ('training-job/…', 'model/…') holds this."},
                {'name': 'status_equals', 'option': '--status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['InProgress', 'Completed', 'Failed']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
    ],
}
