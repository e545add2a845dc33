"""The audit service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'audit',
    'help': 'CloudTrail: the record of every operation.',
    'aliases': {},
    'operations': [
        {
            'name': 'ListEvents',
            'method': 'list_events',
            'command': 'list-events',
            'summary': 'List audit events, newest first, filtered by action, principal, time and outcome.',
            'doc': 'List audit events, newest first, filtered by action, principal, time and outcome.',
            'fields': [
                {'name': 'action', 'option': '--action', 'kind': 'plain', 'type': 'str', 'required': False, 'help': "Only this action, e.g. lake:PutObject; 'lake:*' for a service."},
                {'name': 'principal', 'option': '--principal', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Only calls by this principal.'},
                {'name': 'start_time', 'option': '--start-time', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Only events at or after this time (ISO 8601).'},
                {'name': 'end_time', 'option': '--end-time', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Only events before this time (ISO 8601).'},
                {'name': 'outcome', 'option': '--outcome', 'kind': 'choice', 'type': 'str', 'required': False, 'help': 'Only successes or only failures.', 'choices': ['Success', 'Failure']},
                {'name': 'max_results', 'option': '--max-results', 'kind': 'plain', 'type': 'int', 'required': False, 'help': 'Events per page (1-1000).'},
                {'name': 'next_token', 'option': '--next-token', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Token from a previous page.'},
            ],
        },
    ],
}
