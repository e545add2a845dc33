"""The ingest service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'ingest',
    'help': 'Glue/DMS batch loads: files and SQL databases into catalog tables, full or incremental.',
    'aliases': {},
    'operations': [
        {
            'name': 'BatchStopJobRun',
            'method': 'batch_stop_job_run',
            'command': 'batch-stop-job-run',
            'summary': 'Ask runs in progress to stop: STOPPING now, STOPPED at their next batch, with nothing committed.',
            'doc': 'Ask runs in progress to stop: STOPPING now, STOPPED at their next batch, with nothing committed.',
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
                {'name': 'job_run_ids', 'option': '--job-run-ids', 'kind': 'json', 'type': 'str', 'required': True, 'help': '1-25 run ids.'},
            ],
        },
        {
            'name': 'CreateJob',
            'method': 'create_job',
            'command': 'create-job',
            'summary': 'Define a load job: a source (files or a database), a target table, full or incremental runs.',
            'doc': 'Define a load job: a source (files or a database), a target table, full or incremental runs.',
            'fields': [
                {'name': 'name', 'option': '--name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'source', 'option': '--source', 'kind': 'json', 'type': 'str', 'required': True, 'help': '{"FileSource": {"Paths": ["s3://bucket/raw/"], "Format": "csv"}} or {"DatabaseSource": {"ConnectionUrl": "postgresql://user@host/db", "Table": "orders"}}.'},
                {'name': 'target', 'option': '--target', 'kind': 'json', 'type': 'str', 'required': True, 'help': '{"DatabaseName": "sales", "TableName": "orders", "WriteMode": "APPEND"}; a missing table is created from the source (a managed table; "TableFormat": "parquet" for an external one) at "Location" or under the database\'s LocationUri, and "TargetTablePrepMode" (DROP_AND_CREATE | TRUNCATE_BEFORE_LOAD | DO_NOTHING) says what each full load does to an existing one.'},
                {'name': 'job_bookmark_option', 'option': '--job-bookmark-option', 'kind': 'choice', 'type': 'str', 'required': False, 'help': 'job-bookmark-enable: each run loads only what is new; disable: everything each run; pause: what is new, without moving the bookmark.', 'choices': ['job-bookmark-enable', 'job-bookmark-disable', 'job-bookmark-pause']},
                {'name': 'job_bookmark_keys', 'option': '--job-bookmark-keys', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'The watermark column of a database source, e.g. ["updated_at"].'},
            ],
        },
        {
            'name': 'DeleteJob',
            'method': 'delete_job',
            'command': 'delete-job',
            'summary': 'Delete a job, its run history and its bookmark (not while it runs); its table keeps its rows.',
            'doc': 'Delete a job, its run history and its bookmark (not while it runs); its table keeps its rows.',
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
            ],
        },
        {
            'name': 'GetJob',
            'method': 'get_job',
            'command': 'get-job',
            'summary': "Show a job's definition (the connection URL without its password).",
            'doc': "Show a job's definition (the connection URL without its password).",
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
            ],
        },
        {
            'name': 'GetJobBookmark',
            'method': 'get_job_bookmark',
            'command': 'get-job-bookmark',
            'summary': "Show where the job's next incremental run starts (its watermark, or the files it loaded).",
            'doc': "Show where the job's next incremental run starts (its watermark, or the files it loaded).",
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
            ],
        },
        {
            'name': 'GetJobRun',
            'method': 'get_job_run',
            'command': 'get-job-run',
            'summary': 'Show one run: state, rows and bytes read and written, times, error message.',
            'doc': 'Show one run: state, rows and bytes read and written, times, error message.',
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
                {'name': 'run_id', 'option': '--run-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job run id (jr-…).'},
            ],
        },
        {
            'name': 'GetJobRuns',
            'method': 'get_job_runs',
            'command': 'get-job-runs',
            'summary': "List a job's runs, newest first, a page at a time.",
            'doc': "List a job's runs, newest first, a page at a time.",
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Runs per page (1-200), newest first.'},
            ],
        },
        {
            'name': 'ListJobs',
            'method': 'list_jobs',
            'command': 'list-jobs',
            'summary': "List the jobs' names, a page at a time.",
            'doc': "List the jobs' names, a page at a time.",
            'fields': [
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Job names per page (1-1000).'},
            ],
        },
        {
            'name': 'ResetJobBookmark',
            'method': 'reset_job_bookmark',
            'command': 'reset-job-bookmark',
            'summary': "Forget the job's bookmark (not while it runs): its next run loads everything again.",
            'doc': "Forget the job's bookmark (not while it runs): its next run loads everything again.",
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
            ],
        },
        {
            'name': 'StartJobRun',
            'method': 'start_job_run',
            'command': 'start-job-run',
            'summary': 'Run a load job now, as the caller; returns the run when it has ended (SUCCEEDED or STOPPED).',
            'doc': 'Run a load job now, as the caller; returns the run when it has ended (SUCCEEDED or STOPPED).',
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
            ],
        },
        {
            'name': 'UpdateJob',
            'method': 'update_job',
            'command': 'update-job',
            'summary': "Replace a job's definition (not while it runs); a new source or bookmark key resets the bookmark.",
            'doc': "Replace a job's definition (not while it runs); a new source or bookmark key resets the bookmark.",
            'fields': [
                {'name': 'job_name', 'option': '--job-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Job name.'},
                {'name': 'job_update', 'option': '--job-update', 'kind': 'json', 'type': 'str', 'required': True, 'help': 'The whole new definition (Source, Target, bookmark options). A ConnectionUrl whose password is *** keeps the stored password.'},
            ],
        },
    ],
}
