"""The monitoring service's commands, generated from the operation declarations by ``python -m crispml.cli.tablegen``.

Do not edit: change the operation and run the generator (see :mod:`crispml.cli.table`).
"""

from typing import Any

SERVICE: dict[str, Any] = {
    'name': 'monitoring',
    'help': 'CloudWatch: call metrics (alarms and Model Monitor later).',
    'aliases': {},
    'operations': [
        {
            'name': 'GetCallMetrics',
            'method': 'get_call_metrics',
            'command': 'get-call-metrics',
            'summary': 'Calls, errors and latency per action, from the audit record.',
            'doc': 'Calls, errors and latency per action, from the audit record.',
            'fields': [
                {'name': 'action', 'option': '--action', 'kind': 'plain', 'type': 'str', 'required': False, 'help': "Only this action; 'lake:*' for a whole service."},
                {'name': 'start_time', 'option': '--start-time', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Only calls at or after this time.'},
                {'name': 'end_time', 'option': '--end-time', 'kind': 'plain', 'type': 'str', 'required': False, 'help': 'Only calls before this time.'},
            ],
        },
    ],
}
