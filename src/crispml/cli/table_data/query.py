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
            'name': 'BatchGetNamedQuery',
            'method': 'batch_get_named_query',
            'command': 'batch-get-named-query',
            'summary': 'Show up to 50 named queries at once; ids that do not exist are listed as unprocessed.',
            'doc': 'Show up to 50 named queries at once; ids that do not exist are listed as unprocessed.',
            'fields': [
                {'name': 'named_query_ids', 'option': '--named-query-ids', 'kind': 'json', 'type': 'str', 'required': True, 'help': '1-50 named query ids.'},
            ],
        },
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
            'name': 'CreateNamedQuery',
            'method': 'create_named_query',
            'command': 'create-named-query',
            'summary': 'Save a query with a name and database in a workgroup; returns its NamedQueryId.',
            'doc': 'Save a query with a name and database in a workgroup; returns its NamedQueryId.',
            'fields': [
                {'name': 'name', 'option': '--name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The query's name."},
                {'name': 'database', 'option': '--database', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The database the query runs in.'},
                {'name': 'query_string', 'option': '--query-string', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The SQL statement.'},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'The workgroup (default primary).'},
                {'name': 'client_request_token', 'option': '--client-request-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Makes the call idempotent: the same token creates the named query once.'},
            ],
        },
        {
            'name': 'CreatePreparedStatement',
            'method': 'create_prepared_statement',
            'command': 'create-prepared-statement',
            'summary': 'Save a SQL statement under a name in a workgroup, to run later with EXECUTE … USING.',
            'doc': 'Save a SQL statement under a name in a workgroup, to run later with EXECUTE … USING.',
            'fields': [
                {'name': 'statement_name', 'option': '--statement-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The prepared statement's name."},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'query_statement', 'option': '--query-statement', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The SQL statement; '?' marks a parameter."},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
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
            'name': 'DeleteNamedQuery',
            'method': 'delete_named_query',
            'command': 'delete-named-query',
            'summary': 'Delete a named query.',
            'doc': 'Delete a named query.',
            'fields': [
                {'name': 'named_query_id', 'option': '--named-query-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The named query id.'},
            ],
        },
        {
            'name': 'DeletePreparedStatement',
            'method': 'delete_prepared_statement',
            'command': 'delete-prepared-statement',
            'summary': 'Delete a prepared statement (DEALLOCATE PREPARE does the same in SQL).',
            'doc': 'Delete a prepared statement (DEALLOCATE PREPARE does the same in SQL).',
            'fields': [
                {'name': 'statement_name', 'option': '--statement-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The prepared statement's name."},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
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
            'name': 'GetNamedQuery',
            'method': 'get_named_query',
            'command': 'get-named-query',
            'summary': 'Show a named query: its name, database, SQL and workgroup.',
            'doc': 'Show a named query: its name, database, SQL and workgroup.',
            'fields': [
                {'name': 'named_query_id', 'option': '--named-query-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The named query id.'},
            ],
        },
        {
            'name': 'GetPreparedStatement',
            'method': 'get_prepared_statement',
            'command': 'get-prepared-statement',
            'summary': 'Show a prepared statement: its SQL, description and when it last changed.',
            'doc': 'Show a prepared statement: its SQL, description and when it last changed.',
            'fields': [
                {'name': 'statement_name', 'option': '--statement-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The prepared statement's name."},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
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
            'name': 'ListNamedQueries',
            'method': 'list_named_queries',
            'command': 'list-named-queries',
            'summary': "List a workgroup's named query ids, oldest first, a page at a time.",
            'doc': "List a workgroup's named query ids, oldest first, a page at a time.",
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'The workgroup (default primary).'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Ids per page (1-50).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
            ],
        },
        {
            'name': 'ListPreparedStatements',
            'method': 'list_prepared_statements',
            'command': 'list-prepared-statements',
            'summary': "List a workgroup's prepared statements by name, a page at a time.",
            'doc': "List a workgroup's prepared statements by name, a page at a time.",
            'fields': [
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Statements per page (1-50).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from the previous page.'},
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
                {'name': 'execution_parameters', 'option': '--execution-parameters', 'kind': 'json', 'type': 'str', 'required': False, 'help': 'Values of the query\'s \'?\' parameters, in order, each a SQL literal: ["\'books\'", "2024", "DATE \'2024-01-01\'"].'},
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
            'name': 'UpdateNamedQuery',
            'method': 'update_named_query',
            'command': 'update-named-query',
            'summary': "Change a named query's name, description and SQL.",
            'doc': "Change a named query's name, description and SQL.",
            'fields': [
                {'name': 'named_query_id', 'option': '--named-query-id', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The named query id.'},
                {'name': 'name', 'option': '--name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The query's name."},
                {'name': 'query_string', 'option': '--query-string', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'The SQL statement.'},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
            ],
        },
        {
            'name': 'UpdatePreparedStatement',
            'method': 'update_prepared_statement',
            'command': 'update-prepared-statement',
            'summary': "Replace a prepared statement's SQL (and description).",
            'doc': "Replace a prepared statement's SQL (and description).",
            'fields': [
                {'name': 'statement_name', 'option': '--statement-name', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The prepared statement's name."},
                {'name': 'work_group', 'option': '--work-group', 'kind': 'plain', 'type': 'str', 'required': True, 'help': 'Workgroup name.'},
                {'name': 'query_statement', 'option': '--query-statement', 'kind': 'plain', 'type': 'str', 'required': True, 'help': "The SQL statement; '?' marks a parameter."},
                {'name': 'description', 'option': '--description', 'kind': 'plain', 'type': 'str', 'required': False, 'help': ''},
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
