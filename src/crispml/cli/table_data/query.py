"""The query service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'query',
    'help': "Athena: SQL over the catalog's tables, workgroups, query history, results in the lake.",
    'aliases': {},
    'operations': [
        {
            'name': 'BatchGetQueryExecution',
            'method': 'batch_get_query_execution',
            'command': 'batch-get-query-execution',
            'summary': 'Show up to 50 query executions at once; ids that do not exist are listed as unprocessed.',
            'doc': 'Show up to 50 query executions at once; ids that do not exist are listed as unprocessed.',
            'fields': [
                {'name': 'query_execution_ids', 'option': '--query-execution-ids', 'kind': 'json', 'type': 'str', 'required': True, 'help': '1-50 query execution ids.'},
            ],
        },
        {
            'name': 'CreateWorkGroup',
            'method': 'create_work_group',
            'command': 'create-work-group',
            'summary': 'Create a workgroup: its results location, bytes-scanned cutoff and metrics setting.',
            'doc': 'Create a workgroup: its results location, bytes-scanned cutoff and metrics setting.',
            'fields': [
                {'name': 'name', 'option': '--name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'configuration', 'option': '--configuration', 'kind': 'json', 'type': 'str', 'required': False, 'help': '{"ResultConfiguration": {"OutputLocation": "lake://bucket/results/"}, "BytesScannedCutoffPerQuery": 10000000}.'},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'tags', 'option': '--tags', 'kind': 'json', 'type': 'str', 'required': False, 'help': '[{"Key": "team", "Value": "ml"}].'},
            ],
        },
        {
            'name': 'DeleteWorkGroup',
            'method': 'delete_work_group',
            'command': 'delete-work-group',
            'summary': 'Delete a workgroup (not primary); with RecursiveDeleteOption also its query history.',
            'doc': 'Delete a workgroup (not primary); with RecursiveDeleteOption also its query history.',
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'recursive_delete_option', 'option': '--recursive-delete-option', 'kind': 'flag', 'type': 'bool', 'required': False, 'help': "Also delete the workgroup's query history (its result files stay in the lake)."},
            ],
        },
        {
            'name': 'GetQueryExecution',
            'method': 'get_query_execution',
            'command': 'get-query-execution',
            'summary': 'Show a query execution: its state, statistics, error and where its results are.',
            'doc': 'Show a query execution: its state, statistics, error and where its results are.',
            'fields': [
                {'name': 'query_execution_id', 'option': '--query-execution-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The query execution id.'},
            ],
        },
        {
            'name': 'GetQueryResults',
            'method': 'get_query_results',
            'command': 'get-query-results',
            'summary': "Read a finished query's rows, a page at a time (the header is the first row of the first page).",
            'doc': "Read a finished query's rows, a page at a time (the header is the first row of the first page).",
            'fields': [
                {'name': 'query_execution_id', 'option': '--query-execution-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The query execution id.'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Rows per page (1-1000; the header counts).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
            ],
        },
        {
            'name': 'GetWorkGroup',
            'method': 'get_work_group',
            'command': 'get-work-group',
            'summary': 'Show a workgroup: state, configuration, description.',
            'doc': 'Show a workgroup: state, configuration, description.',
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
            ],
        },
        {
            'name': 'ListQueryExecutions',
            'method': 'list_query_executions',
            'command': 'list-query-executions',
            'summary': "List a workgroup's query execution ids, newest first, a page at a time.",
            'doc': "List a workgroup's query execution ids, newest first, a page at a time.",
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'The workgroup (default primary).'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Ids per page (1-50).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
            ],
        },
        {
            'name': 'ListWorkGroups',
            'method': 'list_work_groups',
            'command': 'list-work-groups',
            'summary': 'List workgroups by name, a page at a time.',
            'doc': 'List workgroups by name, a page at a time.',
            'fields': [
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Workgroups per page (1-50).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
            ],
        },
        {
            'name': 'StartQueryExecution',
            'method': 'start_query_execution',
            'command': 'start-query-execution',
            'summary': 'Check a SQL statement and start running it; returns its id at once (poll GetQueryExecution).',
            'doc': 'Check a SQL statement and start running it; returns its id at once (poll GetQueryExecution).',
            'fields': [
                {'name': 'query_string', 'option': '--query-string', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The SQL statement (Athena/Trino dialect).'},
                {'name': 'query_execution_context', 'option': '--query-execution-context', 'kind': 'json', 'type': 'str', 'required': False, 'help': '{"Database": "sales"}: where unqualified table names are looked up.'},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'The workgroup (default primary).'},
                {'name': 'result_configuration', 'option': '--result-configuration', 'kind': 'json', 'type': 'str', 'required': False, 'help': '{"OutputLocation": "lake://bucket/results/"} (ignored if the workgroup enforces its own).'},
                {'name': 'client_request_token', 'option': '--client-request-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Makes the call idempotent: the same token starts the query once.'},
            ],
        },
        {
            'name': 'StopQueryExecution',
            'method': 'stop_query_execution',
            'command': 'stop-query-execution',
            'summary': 'Stop a queued or running query (CANCELLED); stopping a finished one changes nothing.',
            'doc': 'Stop a queued or running query (CANCELLED); stopping a finished one changes nothing.',
            'fields': [
                {'name': 'query_execution_id', 'option': '--query-execution-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The query execution id.'},
            ],
        },
        {
            'name': 'UpdateWorkGroup',
            'method': 'update_work_group',
            'command': 'update-work-group',
            'summary': "Change a workgroup's state, description or configuration; fields left out keep their value.",
            'doc': "Change a workgroup's state, description or configuration; fields left out keep their value.",
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'configuration_updates', 'option': '--configuration-updates', 'kind': 'json', 'type': 'str', 'required': False, 'help': '{"BytesScannedCutoffPerQuery": 20000000, "PublishCloudWatchMetricsEnabled": true}.'},
                {'name': 'state', 'option': '--state', 'kind': 'choice', 'type': 'str', 'required': False, 'help': '', 'choices': ['ENABLED', 'DISABLED']},
            ],
        },
    ],
}
