"""The training service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'training',
    'help': 'SageMaker training jobs: built-in algorithms and scripts, their logs, metrics and models.',
    'aliases': {},
    'operations': [
        {
            'name': 'CreateTrainingJob',
            'method': 'create_training_job',
            'command': 'create-training-job',
            'summary': 'Start a training job: a built-in algorithm or a script, on channels from the lake or the catalog.',
            'doc': 'Start a training job: a built-in algorithm or a script, on channels from the lake or the catalog.',
            'fields': [
                {'name': 'training_job_name', 'option': '--training-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '1-63 letters, digits or hyphens; unique.'},
                {'name': 'algorithm_specification', 'option': '--algorithm-specification', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'hyper_parameters', 'option': '--hyper-parameters', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'Strings, as on AWS.'},
                {'name': 'input_data_config', 'option': '--input-data-config', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'output_data_config', 'option': '--output-data-config', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'resource_config', 'option': '--resource-config', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'stopping_condition', 'option': '--stopping-condition', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'checkpoint_config', 'option': '--checkpoint-config', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'cross_validation', 'option': '--cross-validation', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'crispml: k-fold CV before the final fit.'},
                {'name': 'evaluation', 'option': '--evaluation', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'crispml: judge the model on one of the channels when the job completes.'},
                {'name': 'environment', 'option': '--environment', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'tags', 'option': '--tags', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'role_arn', 'option': '--role-arn', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Accepted for SageMaker compatibility; the job acts as its creator.'},
            ],
        },
        {
            'name': 'DescribeTrainingJob',
            'method': 'describe_training_job',
            'command': 'describe-training-job',
            'summary': 'Show a training job: its status and secondary statuses, metrics, artifacts and lineage.',
            'doc': 'Show a training job: its status and secondary statuses, metrics, artifacts and lineage.',
            'fields': [
                {'name': 'training_job_name', 'option': '--training-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'GetTrainingJobLogs',
            'method': 'get_training_job_logs',
            'command': 'get-training-job-logs',
            'summary': "A job's log lines (CloudWatch Logs group /aws/sagemaker/TrainingJobs), from NextToken on.",
            'doc': "A job's log lines (CloudWatch Logs group /aws/sagemaker/TrainingJobs), from NextToken on.",
            'fields': [
                {'name': 'training_job_name', 'option': '--training-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Where the previous call ended; omit to start at the top.'},
                {'name': 'limit', 'option': '--limit', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'ListTrainingJobs',
            'method': 'list_training_jobs',
            'command': 'list-training-jobs',
            'summary': 'List training jobs, newest first, filtered by name, status, times or warm pool status.',
            'doc': 'List training jobs, newest first, filtered by name, status, times or warm pool status.',
            'fields': [
                {'name': 'name_contains', 'option': '--name-contains', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'status_equals', 'option': '--status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped']},
                {'name': 'creation_time_after', 'option': '--creation-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_before', 'option': '--creation-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'last_modified_time_after', 'option': '--last-modified-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'last_modified_time_before', 'option': '--last-modified-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'warm_pool_status_equals', 'option': '--warm-pool-status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Available', 'Terminated', 'Reused', 'InUse']},
                {'name': 'sort_by', 'option': '--sort-by', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Name', 'CreationTime', 'Status']},
                {'name': 'sort_order', 'option': '--sort-order', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Ascending', 'Descending']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'StopTrainingJob',
            'method': 'stop_training_job',
            'command': 'stop-training-job',
            'summary': 'Stop a training job: its process gets SIGTERM (then SIGKILL); it ends Stopped.',
            'doc': 'Stop a training job: its process gets SIGTERM (then SIGKILL); it ends Stopped.',
            'fields': [
                {'name': 'training_job_name', 'option': '--training-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
    ],
}
