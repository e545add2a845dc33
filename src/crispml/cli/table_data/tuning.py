"""The tuning service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'tuning',
    'help': 'SageMaker automatic model tuning: Grid, Random, Bayesian and Hyperband searches of training jobs.',
    'aliases': {},
    'operations': [
        {
            'name': 'CreateHyperParameterTuningJob',
            'method': 'create_hyper_parameter_tuning_job',
            'command': 'create-hyper-parameter-tuning-job',
            'summary': 'Start a tuning job: trials of a training job definition over hyperparameter ranges, by a strategy.',
            'doc': 'Start a tuning job: trials of a training job definition over hyperparameter ranges, by a strategy.',
            'fields': [
                {'name': 'hyper_parameter_tuning_job_name', 'option': '--hyper-parameter-tuning-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '1-32 letters, digits or hyphens; unique.'},
                {'name': 'hyper_parameter_tuning_job_config', 'option': '--hyper-parameter-tuning-job-config', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'training_job_definition', 'option': '--training-job-definition', 'kind': 'json', 'type': 'str', 'required': True, 'help': ''},
                {'name': 'warm_start_config', 'option': '--warm-start-config', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'tags', 'option': '--tags', 'kind': 'json', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'DescribeHyperParameterTuningJob',
            'method': 'describe_hyper_parameter_tuning_job',
            'command': 'describe-hyper-parameter-tuning-job',
            'summary': 'Show a tuning job: its status, trial counts, objective counts and best training job.',
            'doc': 'Show a tuning job: its status, trial counts, objective counts and best training job.',
            'fields': [
                {'name': 'hyper_parameter_tuning_job_name', 'option': '--hyper-parameter-tuning-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
        {
            'name': 'ListHyperParameterTuningJobs',
            'method': 'list_hyper_parameter_tuning_jobs',
            'command': 'list-hyper-parameter-tuning-jobs',
            'summary': 'List tuning jobs, filtered by name, status or times, sorted by name, status or creation time.',
            'doc': 'List tuning jobs, filtered by name, status or times, sorted by name, status or creation time.',
            'fields': [
                {'name': 'name_contains', 'option': '--name-contains', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'status_equals', 'option': '--status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped']},
                {'name': 'creation_time_after', 'option': '--creation-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'creation_time_before', 'option': '--creation-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'last_modified_time_after', 'option': '--last-modified-time-after', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'last_modified_time_before', 'option': '--last-modified-time-before', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'sort_by', 'option': '--sort-by', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Name', 'Status', 'CreationTime']},
                {'name': 'sort_order', 'option': '--sort-order', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Ascending', 'Descending']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'ListTrainingJobsForHyperParameterTuningJob',
            'method': 'list_training_jobs_for_hyper_parameter_tuning_job',
            'command': 'list-training-jobs-for-hyper-parameter-tuning-job',
            'summary': "List a tuning job's training jobs (its trials) with their hyperparameters and final objective.",
            'doc': "List a tuning job's training jobs (its trials) with their hyperparameters and final objective.",
            'fields': [
                {'name': 'hyper_parameter_tuning_job_name', 'option': '--hyper-parameter-tuning-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
                {'name': 'status_equals', 'option': '--status-equals', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['InProgress', 'Completed', 'Failed', 'Stopping', 'Stopped']},
                {'name': 'sort_by', 'option': '--sort-by', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Name', 'CreationTime', 'Status', 'FinalObjectiveMetricValue']},
                {'name': 'sort_order', 'option': '--sort-order', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['Ascending', 'Descending']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': ''},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'StopHyperParameterTuningJob',
            'method': 'stop_hyper_parameter_tuning_job',
            'command': 'stop-hyper-parameter-tuning-job',
            'summary': 'Stop a tuning job: its running training jobs are stopped; it ends Stopped.',
            'doc': 'Stop a tuning job: its running training jobs are stopped; it ends Stopped.',
            'fields': [
                {'name': 'hyper_parameter_tuning_job_name', 'option': '--hyper-parameter-tuning-job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': '', 'positional': True},
            ],
        },
    ],
}
